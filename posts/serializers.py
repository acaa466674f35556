from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from connections.models import SocialConnection
from crm.models import Campaign
from crm.tenancy import scope_queryset
from platforms.fetch import validate_media_address
from posts.models import SocialPost
from posts.states import allowed_actions


class SocialPostSerializer(serializers.ModelSerializer):
    """Output: what a post is and where it stands."""

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

    def get_actions(self, post):
        return allowed_actions(post.status)

    def to_representation(self, post):
        data = super().to_representation(post)
        for name in post.metrics_unknown or []:  # never read from the platform: null, not 0
            if name in data:
                data[name] = None
        return data


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A related id resolved through the user's tenancy scope: anything else is simply "not found"."""

    default_error_messages = {"does_not_exist": "Not found.", "incorrect_type": "Not found."}

    def __init__(self, model, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        return scope_queryset(self.model.objects.all(), self.context["request"].user)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except DjangoValidationError:  # malformed UUID
            self.fail("does_not_exist", pk_value=data)


class PostInputSerializer(serializers.Serializer):
    """Input for create and update; the service checks the content rules and the status flow."""

    connection = ScopedRelatedField(SocialConnection)
    campaign = ScopedRelatedField(Campaign, required=False, allow_null=True)
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)
    hashtags = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=100)
    link_url = serializers.URLField(required=False, allow_null=True, allow_blank=True, max_length=2000)
    media_urls = serializers.ListField(child=serializers.URLField(max_length=2000, validators=[validate_media_address]),
                                       required=False, max_length=20)
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True)


class ScheduleInputSerializer(serializers.Serializer):
    scheduled_at = serializers.DateTimeField()


class RetryInputSerializer(serializers.Serializer):
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True)
