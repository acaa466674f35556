import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from crm.api_scoping import ScopedRelatedField
from platforms.fetch import validate_media_address
from promotions.intake import EVENT_TYPES
from promotions.models import Channel, DispatchKind, EventPromotion, PromotionDispatch, validate_event_time
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

    Related ids resolve within the caller's tenant and clubs (other tenants' ids are "not found").
    """

    serializer_related_field = ScopedRelatedField

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

    def validate_event_image_url(self, value):
        if value:
            validate_media_address(value)
        return value


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


class StrictTextMixin:
    """Text only: DRF's CharField quietly turns 42 into "42"; a sender who sends a number where text belongs is told so.

    NUL characters and lone surrogates are refused by DRF's CharField validators.
    """

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(f"Must be text, not {_json_kind(data)}.", code="invalid")
        return super().to_internal_value(data)


def _json_kind(value):
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


class StrictCharField(StrictTextMixin, serializers.CharField):
    pass


class StrictURLField(StrictTextMixin, serializers.URLField):
    pass


class EventTimeField(serializers.DateTimeField):
    """An ISO-8601 moment that really exists, within the range events may have (see ``validate_event_time``).

    With ``require_offset`` a bare local time is refused: it is ambiguous across sources.
    """

    def __init__(self, *, require_offset=True, **kwargs):
        self.require_offset = require_offset
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        if not isinstance(value, str):
            raise serializers.ValidationError(f"Must be an ISO-8601 date and time as text, not {_json_kind(value)}.")
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:  # well-formed, but no such moment: 30 February, 25:00, an offset of 24 hours, year 0
            raise serializers.ValidationError("No such date and time (check the day, the hour and the offset).") from None
        if parsed is None:
            raise serializers.ValidationError("Use ISO-8601, e.g. 2025-06-14T10:00:00+01:00.")
        if self.require_offset and timezone.is_naive(parsed):
            raise serializers.ValidationError("Include the UTC offset, e.g. 2025-06-14T10:00:00+01:00.")
        if timezone.is_naive(parsed):
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        try:
            validate_event_time(parsed)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return self.enforce_timezone(parsed)


class InboundEventDataSerializer(serializers.Serializer):
    id = StrictCharField(max_length=255, help_text="The competition's or event's id in the source system.")
    club_id = StrictCharField(max_length=64, required=False)
    name = StrictCharField(max_length=255, required=False)
    starts_at = EventTimeField(required=False, help_text="ISO-8601 with an offset.")
    location = StrictCharField(max_length=255, required=False, allow_blank=True, allow_null=True)
    url = StrictURLField(max_length=2000, required=False, allow_blank=True, allow_null=True)
    image_url = StrictURLField(max_length=2000, required=False, allow_blank=True, allow_null=True,
                               validators=[validate_media_address])


class InboundEventSerializer(serializers.Serializer):
    """The signed event body (see the X-Signature and X-Signature-Timestamp headers); unknown fields are ignored."""

    id = StrictCharField(max_length=255,
                         help_text="The event's id, unique per tenant; a redelivery with the same id is applied once.")
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    tenant_id = StrictCharField(max_length=64)
    occurred_at = EventTimeField(require_offset=False, required=False, allow_null=True,
                                 help_text="ISO-8601; without an offset it is read as UTC.")
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


class SmsEstimateStepSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DispatchKind.choices)
    days_before = serializers.IntegerField()
    label = serializers.CharField()
    recipients = serializers.IntegerField()
    segments = serializers.IntegerField()
    encoding = serializers.ChoiceField(choices=["GSM-7", "UCS-2"])
    segments_per_text = serializers.IntegerField()


class SmsEstimateSerializer(serializers.Serializer):
    """What the promotion's texts take: recipients, segments per step and in all, and the cost at the tenant's price."""

    recipients = serializers.IntegerField()
    segments = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True,
                                    help_text="Null when the tenant set no price per segment.")
    currency = serializers.CharField()
    problem = serializers.CharField(help_text="Why no estimate could be made (a refused template); empty otherwise.")
    steps = SmsEstimateStepSerializer(many=True)


class ReportRowSerializer(serializers.Serializer):
    section = serializers.CharField()
    measure = serializers.CharField()
    value = serializers.CharField(help_text="As shown on the page and in the CSV export (a count, or a cost with its currency).")


class ReportSerializer(serializers.Serializer):
    """A promotion's or campaign's report: the same rows as its page and CSV export."""

    title = serializers.CharField()
    rows = ReportRowSerializer(many=True)
