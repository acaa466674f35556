from rest_framework import serializers

from connections.models import SocialConnection


class SocialConnectionSerializer(serializers.ModelSerializer):
    """Health and identity of a connection. No token, and nothing derived from one, is ever included."""

    platform_display = serializers.CharField(source="get_platform_display", read_only=True)

    class Meta:
        model = SocialConnection
        fields = [
            "id", "tenant", "club", "platform", "platform_display", "account_id", "account_name", "account_type",
            "permissions", "token_expiry", "is_active", "last_used_at", "last_error_at", "last_error",
            "connected_by", "created_at", "updated_at",
        ]
        read_only_fields = fields
