from rest_framework import serializers

from posts.models import SocialPost


class SocialPostSerializer(serializers.ModelSerializer):
    platform = serializers.CharField(source="connection.platform", read_only=True)

    class Meta:
        model = SocialPost
        fields = [
            "id", "tenant", "connection", "platform", "campaign", "content", "media_urls", "link_url", "hashtags",
            "status", "scheduled_at", "published_at", "platform_post_id", "platform_url", "error", "error_kind",
            "attempts", "likes", "comments", "shares", "reach", "impressions", "engagement_synced_at",
            "created_at", "updated_at", "created_by",
        ]
        read_only_fields = fields
