from rest_framework import serializers

from connections.models import PostingSlot, SocialConnection
from connections.selectors import connection_health, connection_missing_permissions
from crm.api_scoping import ScopedRelatedField


class SocialConnectionSerializer(serializers.ModelSerializer):
    """Health and identity of a connection. No token, and nothing derived from one, is ever included."""

    platform_display = serializers.CharField(source="get_platform_display", read_only=True)
    health = serializers.SerializerMethodField()
    missing_permissions = serializers.SerializerMethodField()

    class Meta:
        model = SocialConnection
        fields = [
            "id", "tenant", "club", "platform", "platform_display", "account_id", "account_name", "account_type",
            "permissions", "missing_permissions", "health", "token_expiry", "is_active", "last_used_at",
            "last_error_at", "last_error", "connected_by", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_health(self, connection) -> str:
        return connection_health(connection)

    def get_missing_permissions(self, connection) -> list[str]:
        return connection_missing_permissions(connection)


class DeleteOutcomeSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PostingSlotSerializer(serializers.ModelSerializer):
    """A weekly posting time of a connection, on its club's clock (weekday 0 = Monday)."""

    connection = ScopedRelatedField(SocialConnection)
    weekday_display = serializers.CharField(source="get_weekday_display", read_only=True)
    time = serializers.TimeField(format="%H:%M", input_formats=["%H:%M", "iso-8601"],
                                 help_text="On the club's clock, HH:MM (seconds are dropped).")

    class Meta:
        model = PostingSlot
        fields = ["id", "connection", "weekday", "weekday_display", "time", "created_at"]
        read_only_fields = ["id", "weekday_display", "created_at"]
        validators = []  # a repeated time is refused by posting_slot_add, in staff's words
