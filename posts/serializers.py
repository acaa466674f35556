from rest_framework import serializers

from connections.models import SocialConnection
from crm.api_scoping import ScopedRelatedField
from crm.models import Campaign
from platforms.fetch import validate_media_address
from posts.models import SocialPost
from posts.states import allowed_actions
from socialcrm.api_inputs import DistinctListField, InputRulesMixin
from socialcrm.api_output import PlannedOutputMixin


class SocialPostSerializer(PlannedOutputMixin, serializers.ModelSerializer):
    """Output: what a post is and where it stands (read cheaply: ``socialcrm/api_output.py``)."""

    platform = serializers.CharField(source="connection.platform", read_only=True)
    actions = serializers.SerializerMethodField()

    class Meta:
        model = SocialPost
        fields = [
            "id", "tenant", "connection", "platform", "campaign", "content", "media_urls", "link_url", "hashtags",
            "status", "scheduled_at", "published_at", "platform_post_id", "platform_url", "error", "error_kind",
            "attempts", "next_attempt_at", "likes", "comments", "shares", "reach", "impressions",
            "engagement_synced_at", "created_at", "updated_at", "created_by", "actions",
        ]
        read_only_fields = fields
        read_also = ["status", "error_kind", "metrics_unknown"]  # get_actions and to_representation

    def get_actions(self, post) -> list[str]:
        return allowed_actions(post.status, post.error_kind)

    def to_representation(self, post):
        data = super().to_representation(post)
        for name in post.metrics_unknown or []:  # never read from the platform: null, not 0
            if name in data:
                data[name] = None
        return data


class PostUpdateInputSerializer(InputRulesMixin, serializers.Serializer):
    """Input for update: what a draft or failed post may change (the publish time has its own action)."""

    connection = ScopedRelatedField(SocialConnection)
    campaign = ScopedRelatedField(Campaign, required=False, allow_null=True)
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)
    hashtags = DistinctListField(child=serializers.CharField(max_length=200), required=False, max_length=100,
                                 what="hashtag")
    link_url = serializers.URLField(required=False, allow_null=True, allow_blank=True, max_length=2000)
    media_urls = DistinctListField(child=serializers.URLField(max_length=2000, validators=[validate_media_address]),
                                   required=False, max_length=20, what="media URL")


class PostInputSerializer(PostUpdateInputSerializer):
    """Input for create; the service checks the content rules. With ``scheduled_at`` the post is scheduled."""

    scheduled_at = serializers.DateTimeField(required=False, allow_null=True)


class ScheduleInputSerializer(InputRulesMixin, serializers.Serializer):
    scheduled_at = serializers.DateTimeField()


class RetryInputSerializer(InputRulesMixin, serializers.Serializer):
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True)
