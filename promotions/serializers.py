from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from promotions.intake import EVENT_TYPES
from promotions.models import Channel, EventPromotion, PromotionDispatch
from socialcrm.api_inputs import DistinctListField, InputRulesMixin


class BlankAsNullURLField(serializers.URLField):
    """An optional link: absent is null in the output, never an empty string pretending to be a URI."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value):
        return value or None


class EventPromotionSerializer(serializers.ModelSerializer):
    """What the API shows of a promotion."""

    event_url = BlankAsNullURLField()
    event_image_url = BlankAsNullURLField()

    class Meta:
        model = EventPromotion
        fields = [
            "id", "tenant", "club", "source_type", "source_id", "auto_promote", "channels", "announce_at",
            "reminder_days", "segment", "target_radius", "email_template", "sms_template", "social_content",
            "campaign", "is_active", "last_promoted_at", "event_name", "event_starts_at", "event_location",
            "event_url", "event_image_url", "event_status", "created_at", "updated_at", "created_by",
        ]
        read_only_fields = fields


class PromotionInputSerializer(InputRulesMixin, serializers.ModelSerializer):
    """What a caller may write: settings, and for SPECIAL promotions the event's details.

    Related fields are limited to the caller's tenant by the view (other tenants' ids are "not found").
    """

    channels = DistinctListField(child=serializers.ChoiceField(choices=Channel.choices), allow_empty=False,
                                 what="channel")
    reminder_days = DistinctListField(child=serializers.IntegerField(min_value=1, max_value=365), required=False,
                                      what="reminder day")

    class Meta:
        model = EventPromotion
        fields = [
            "club", "channels", "announce_at", "reminder_days", "segment", "target_radius", "email_template",
            "sms_template", "social_content", "campaign", "is_active", "auto_promote", "event_name",
            "event_starts_at", "event_location", "event_url", "event_image_url",
        ]


class PlanMomentSerializer(serializers.Serializer):
    kind = serializers.CharField()
    days_before = serializers.IntegerField()
    channel = serializers.CharField()
    scheduled_for = serializers.DateTimeField()
    scheduled_for_local = serializers.CharField()
    skip_reason = serializers.CharField()


class PromotionDispatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = PromotionDispatch
        fields = [
            "id", "promotion", "kind", "days_before", "channel", "scheduled_for", "status", "status_reason",
            "planned_count", "sent_count", "skipped_count", "failed_count", "claimed_at", "resume_at",
            "completed_at", "created_at", "updated_at",
        ]
        read_only_fields = fields


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO-8601 moment that must carry its UTC offset: a bare local time is ambiguous across sources."""

    def to_internal_value(self, value):
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is not None and timezone.is_naive(parsed):
            raise serializers.ValidationError("Include the UTC offset, e.g. 2025-06-14T10:00:00+01:00.")
        return super().to_internal_value(value)


class InboundEventDataSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=255, help_text="The competition's or event's id in the source system.")
    club_id = serializers.CharField(max_length=64, required=False)
    name = serializers.CharField(max_length=255, required=False)
    starts_at = AwareDateTimeField(required=False, help_text="ISO-8601 with an offset.")
    location = serializers.CharField(max_length=255, required=False, allow_blank=True, allow_null=True)
    url = serializers.URLField(max_length=2000, required=False, allow_blank=True, allow_null=True)
    image_url = serializers.URLField(max_length=2000, required=False, allow_blank=True, allow_null=True)


class InboundEventSerializer(serializers.Serializer):
    """The signed event body (see the X-Signature and X-Signature-Timestamp headers)."""

    id = serializers.CharField(max_length=255, help_text="Unique event id; a redelivery with the same id is applied once.")
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    tenant_id = serializers.CharField(max_length=64)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    data = InboundEventDataSerializer()

    def validate(self, attrs):
        data = attrs["data"]
        if not attrs["type"].endswith(".cancelled"):
            missing = {name: "This field is required." for name in ("club_id", "name", "starts_at") if not data.get(name)}
            if missing:
                raise serializers.ValidationError({"data": missing})
        return attrs


class InboundEventAcceptedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["applied", "already applied"])
    outcome = serializers.CharField()
    promotion = serializers.UUIDField(allow_null=True)
