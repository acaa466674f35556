from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from connections.models import SocialConnection
from crm.api_scoping import ScopedRelatedField
from crm.history import actor_label
from crm.models import Campaign
from platforms.fetch import validate_media_address
from posts.approvals import approval_actions
from posts.models import VERSION_FIELDS, ApprovalState, Composition, SocialPost
from posts.states import allowed_actions
from socialcrm.api_inputs import DistinctListField, InputRulesMixin
from socialcrm.api_output import PlannedOutputMixin


class ApprovalSerializer(serializers.Serializer):
    """Where a post stands with its approvers: beside the status, never instead of it."""

    state = serializers.ChoiceField(source="approval_state", choices=ApprovalState.choices, read_only=True)
    state_label = serializers.CharField(source="get_approval_state_display", read_only=True)
    requested_by = serializers.SerializerMethodField()
    requested_at = serializers.DateTimeField(source="approval_requested_at", read_only=True, allow_null=True)
    decided_by = serializers.SerializerMethodField()
    decided_at = serializers.DateTimeField(source="approval_decided_at", read_only=True, allow_null=True)
    comment = serializers.CharField(source="approval_comment", read_only=True)
    actions = serializers.SerializerMethodField(help_text="What the caller may do now: submit, approve, send_back.")

    def get_requested_by(self, post) -> str | None:
        return actor_label(post.approval_requested_by) if post.approval_requested_by_id else None

    def get_decided_by(self, post) -> str | None:
        return actor_label(post.approval_decided_by) if post.approval_decided_by_id else None

    def get_actions(self, post) -> list[str]:
        request = self.context.get("request")
        return approval_actions(post=post, user=getattr(request, "user", None))


class SocialPostSerializer(PlannedOutputMixin, serializers.ModelSerializer):
    """Output: what a post is and where it stands (read cheaply: ``socialcrm/api_output.py``)."""

    platform = serializers.CharField(source="connection.platform", read_only=True)
    actions = serializers.SerializerMethodField()
    approval = ApprovalSerializer(source="*", read_only=True)

    class Meta:
        model = SocialPost
        fields = [
            "id", "tenant", "connection", "platform", "campaign", "content", "media_urls", "link_url", "hashtags",
            "status", "scheduled_at", "published_at", "platform_post_id", "platform_url", "error", "error_kind",
            "attempts", "next_attempt_at", "likes", "comments", "shares", "reach", "impressions",
            "engagement_synced_at", "created_at", "updated_at", "created_by", "actions", "approval", "composition",
            "overridden_fields",
        ]
        read_only_fields = fields
        read_also = ["status", "error_kind", "metrics_unknown",  # get_actions and to_representation
                     # the approval object (ApprovalSerializer) and the rules behind its actions
                     "approval_state", "approval_requested_by", "approval_requested_at", "approval_decided_by",
                     "approval_decided_at", "approval_comment", "tenant__posts_need_approval", "connection__club"]
        read_generic = ["approval"]

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
    add_to_queue = serializers.BooleanField(
        required=False, default=False,
        help_text="Schedule at the connection's next free posting slot (instead of scheduled_at).")

    def validate(self, data):
        if data.get("add_to_queue") and data.get("scheduled_at"):
            raise serializers.ValidationError({"add_to_queue": "Add to the queue, or give scheduled_at — not both."})
        return data


class ScheduleInputSerializer(InputRulesMixin, serializers.Serializer):
    scheduled_at = serializers.DateTimeField()


class RetryInputSerializer(InputRulesMixin, serializers.Serializer):
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True)


class ApproveInputSerializer(InputRulesMixin, serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, trim_whitespace=True)


class SendBackInputSerializer(InputRulesMixin, serializers.Serializer):
    comment = serializers.CharField(max_length=2000, help_text="What should change; shown to the author.")


class HourHintSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(help_text="0 = Monday, on the club's clock.")
    hour = serializers.IntegerField(help_text="Hour of the day, 0–23, on the club's clock.")
    label = serializers.CharField()
    average = serializers.FloatField(help_text="Likes, comments and shares per post on average.")
    posts = serializers.IntegerField()


class BestTimesSerializer(serializers.Serializer):
    """Best-time hints; ``enough_data`` is false (and ``hours`` empty) below the threshold."""

    enough_data = serializers.BooleanField()
    min_posts = serializers.IntegerField(help_text="Published posts with metrics needed for a hint.")
    sample = serializers.IntegerField()
    hours = HourHintSerializer(many=True)


# ----------------------------------------------------------------------------- compositions


class CompositionVersionSerializer(serializers.ModelSerializer):
    """Output: one network's version of a composition, as it will be (or was) published, and where it stands."""

    platform = serializers.CharField(source="connection.platform", read_only=True)
    account_name = serializers.CharField(source="connection.account_name", read_only=True)
    actions = serializers.SerializerMethodField()

    class Meta:
        model = SocialPost
        fields = ["id", "connection", "platform", "account_name", "content", "hashtags", "link_url", "media_urls",
                  "overridden_fields", "status", "scheduled_at", "published_at", "platform_url", "error", "error_kind",
                  "actions"]
        read_only_fields = fields

    def get_actions(self, post) -> list[str]:
        return allowed_actions(post.status, post.error_kind)


class CompositionSerializer(serializers.ModelSerializer):
    """Output: the base of a composition and each of its versions (those the caller may see)."""

    versions = serializers.SerializerMethodField()

    class Meta:
        model = Composition
        fields = ["id", "tenant", "club", "campaign", "content", "hashtags", "link_url", "media_urls", "created_by",
                  "created_at", "updated_at", "versions"]
        read_only_fields = fields

    @extend_schema_field(CompositionVersionSerializer(many=True))
    def get_versions(self, composition):
        versions = getattr(composition, "visible_versions", None)
        if versions is None:
            versions = list(composition.versions.select_related("connection").order_by("connection__platform", "pk"))
        return CompositionVersionSerializer(versions, many=True, context=self.context).data


class TypedScopedRelatedField(ScopedRelatedField):
    """A scoped id whose type the schema reads from the model's primary key (lookups still use the caller's scope)."""

    def __init__(self, model=None, **kwargs):
        super().__init__(model, **kwargs)
        self.queryset = model.objects.none()


class _VersionFields(InputRulesMixin, serializers.Serializer):
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    hashtags = DistinctListField(child=serializers.CharField(max_length=200), required=False, max_length=100,
                                 what="hashtag")
    link_url = serializers.URLField(required=False, allow_null=True, allow_blank=True, max_length=2000)
    media_urls = DistinctListField(child=serializers.URLField(max_length=2000, validators=[validate_media_address]),
                                   required=False, max_length=20, what="media URL")


class VersionInputSerializer(_VersionFields):
    """One network's version: the fields it sets apart from the base (absent fields follow the base), and
    on update the fields to let follow the base again (``reset``)."""

    connection = TypedScopedRelatedField(SocialConnection)
    reset = serializers.ListField(child=serializers.ChoiceField(choices=VERSION_FIELDS), required=False,
                                  max_length=len(VERSION_FIELDS))


class CompositionInputSerializer(_VersionFields):
    """Input for create: the base, the accounts, each version's own fields; scheduled when ``scheduled_at``."""

    connections = TypedScopedRelatedField(SocialConnection, many=True)
    campaign = ScopedRelatedField(Campaign, required=False, allow_null=True)
    versions = VersionInputSerializer(many=True, required=False)
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_connections(self, value):
        if not value:
            raise serializers.ValidationError("Choose at least one account to post to.")
        return list(dict.fromkeys(value))

    def validate(self, data):
        chosen = {c.pk for c in data.get("connections", [])}
        seen = set()
        for version in data.get("versions", []):
            pk = version["connection"].pk
            if pk not in chosen:
                raise serializers.ValidationError({"versions": "Each version must be for one of the chosen connections."})
            if pk in seen:
                raise serializers.ValidationError({"versions": "Give each connection's version once."})
            seen.add(pk)
        return data


class CompositionUpdateInputSerializer(_VersionFields):
    """Input for update: base fields to change (versions follow where they do not override) and versions' own."""

    campaign = ScopedRelatedField(Campaign, required=False, allow_null=True)
    versions = VersionInputSerializer(many=True, required=False)


class CompositionPreviewInputSerializer(CompositionInputSerializer):
    """Input for a preview of a composition not yet saved (nothing is stored)."""


class LinkCardSerializer(serializers.Serializer):
    url = serializers.CharField()
    domain = serializers.CharField()


class PreviewImageSerializer(serializers.Serializer):
    url = serializers.CharField()
    name = serializers.CharField()
    src = serializers.CharField(allow_null=True)


class VersionPreviewSerializer(serializers.Serializer):
    """What one network will show: its card's text (cut as the feed cuts it), count, link card and images."""

    connection = serializers.CharField(allow_null=True)
    platform = serializers.CharField()
    network = serializers.CharField()
    account_name = serializers.CharField()
    avatar_initial = serializers.CharField()
    text = serializers.CharField()
    full_text = serializers.CharField()
    cut = serializers.BooleanField()
    more_label = serializers.CharField()
    length = serializers.IntegerField()
    limit = serializers.IntegerField()
    length_note = serializers.CharField()
    link_card = LinkCardSerializer(allow_null=True)
    images = PreviewImageSerializer(many=True)
    carousel = serializers.BooleanField()
    videos = serializers.IntegerField()
    violations = serializers.ListField(child=serializers.CharField())


class CompositionPreviewSerializer(serializers.Serializer):
    versions = VersionPreviewSerializer(many=True)
