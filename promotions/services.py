"""Writes on promotions: staff-made SPECIAL promotions, settings, tenant defaults, opt-outs, retries."""

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm.history import KEEP, acting
from crm.models import Member
from library.services import promotion_image_link
from promotions.models import (
    ChunkStatus,
    DeliveryStatus,
    DispatchStatus,
    EventPromotion,
    EventSourceType,
    EventStatus,
    PromotionDelivery,
    PromotionDispatch,
    PromotionSendChunk,
    SmsOptOut,
    validate_channels,
    validate_event_time,
    validate_reminder_days,
)
from promotions.planning import promotion_plan
from promotions.sms import sender_e164
from socialcrm.inputs import moment_in_range

# The settings staff may change on any promotion; the event's own details only on SPECIAL ones.
SETTING_FIELDS = (
    "channels", "announce_at", "reminder_days", "segment", "target_radius", "email_template", "sms_template",
    "social_content", "campaign", "is_active", "auto_promote",
)
EVENT_FIELDS = ("event_name", "event_starts_at", "event_location", "event_url", "event_image_url")


class EventAlreadyStarted(ValidationError):
    """A new promotion for an event that has already begun: there is nothing left to announce."""

    def __init__(self):
        super().__init__({"event_starts_at": "The event must be in the future."}, code="event_started")


def _check_event_time(starts_at, *, new, now=None):
    """Every event time stays in the range planning can work with; a new promotion's event is still to come."""
    if starts_at is None:
        return
    try:
        validate_event_time(starts_at)
    except ValidationError as exc:
        raise ValidationError({"event_starts_at": exc.messages}) from exc
    if new and starts_at <= (now or timezone.now()):
        raise EventAlreadyStarted()


def _check_related(promotion):
    """Related rows must be the promotion's tenant's (and the templates of the right channel)."""
    errors = {}
    for name in ("segment", "email_template", "sms_template", "campaign"):
        related = getattr(promotion, name)
        if related is not None and related.tenant_id != promotion.tenant_id:
            errors[name] = "Not found."
    if promotion.club.tenant_id != promotion.tenant_id:
        errors["club"] = "Not found."
    if promotion.email_template is not None and promotion.email_template.channel != "EMAIL":
        errors["email_template"] = "Choose an email template."
    if promotion.sms_template is not None and promotion.sms_template.channel != "SMS":
        errors["sms_template"] = "Choose an SMS template."
    for name in ("event_starts_at", "announce_at"):
        try:
            setattr(promotion, name, moment_in_range(getattr(promotion, name)))
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)
    _check_event_time(promotion.event_starts_at, new=False)
    promotion.full_clean(exclude=["tenant", "club", "segment", "email_template", "sms_template", "campaign"])


def _check_announcement(promotion):
    """Staff's announcement time must come before the event: an announcement after the start announces nothing."""
    announce, starts = promotion.announce_at, promotion.event_starts_at
    if announce is not None and starts is not None and announce >= starts:
        raise ValidationError({"announce_at": "The announcement must go out before the event starts."},
                              code="announce_after_start")


def _distinct_lists(fields):
    """A channel or reminder day given twice is meant once (a form may post a checkbox twice)."""
    for name in ("channels", "reminder_days"):
        if isinstance(fields.get(name), list):
            fields[name] = list(dict.fromkeys(fields[name]))


def _check_future(promotion, *, before=None):
    """A promotion is for an event still to come: checked whenever its start time is set or moved."""
    starts = promotion.event_starts_at
    if starts is not None and starts != before and starts <= timezone.now():
        raise EventAlreadyStarted()


@transaction.atomic
def promotion_create_special(*, tenant, club, by, **fields):
    """A promotion staff set up by hand, with the event's details typed in; planned at once."""
    unknown = set(fields) - set(SETTING_FIELDS) - set(EVENT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    _check_event_time(fields.get("event_starts_at"), new=True)
    fields.setdefault("channels", list(tenant.default_channels))
    fields.setdefault("reminder_days", list(tenant.default_reminder_days))
    _distinct_lists(fields)
    promotion = EventPromotion(
        tenant=tenant, club=club, source_type=EventSourceType.SPECIAL, source_id=f"special-{uuid.uuid4()}",
        created_by=getattr(by, "get_username", lambda: str(by))(), **fields,
    )
    _check_related(promotion)
    _check_future(promotion)
    _check_announcement(promotion)
    with acting(KEEP if by is None else by):
        promotion.save()
    promotion_image_link(promotion=promotion)
    promotion_plan(promotion=promotion)
    return promotion


@transaction.atomic
def promotion_update(*, promotion, by=None, **fields):
    """Change settings (and, for SPECIAL promotions, the event); what is still pending is re-planned."""
    allowed = set(SETTING_FIELDS) | (set(EVENT_FIELDS) if promotion.source_type == EventSourceType.SPECIAL else set())
    refused = set(fields) - allowed
    if refused:
        raise ValidationError({name: "The event's details come from its source system." for name in refused})
    _distinct_lists(fields)
    # Lock order: the promotion row, then its dispatches (as promotion_delete). Gone meanwhile: DoesNotExist.
    promotion = EventPromotion.objects.select_for_update().select_related("club").get(pk=promotion.pk)
    starts_before = promotion.event_starts_at
    for name, value in fields.items():
        setattr(promotion, name, value)
    _check_related(promotion)
    _check_future(promotion, before=starts_before)
    _check_announcement(promotion)
    verb = {True: "resumed it", False: "paused it"}.get(fields.get("is_active")) if set(fields) == {"is_active"} else None
    with acting(KEEP if by is None else by, verb or "edited it"):
        promotion.save()
    promotion_image_link(promotion=promotion)
    promotion_plan(promotion=promotion)
    return promotion


@transaction.atomic
def promotion_create_from_event(*, tenant, club, source_type, source_id, by, **event_fields):
    """A competition or club event published by its source: promoted with the tenant's defaults, planned at once."""
    _check_event_time(event_fields.get("event_starts_at"), new=True)
    promotion = EventPromotion(
        tenant=tenant, club=club, source_type=source_type, source_id=source_id, auto_promote=True,
        channels=list(tenant.default_channels), reminder_days=list(tenant.default_reminder_days),
        created_by=str(by)[:150], **event_fields,
    )
    _check_related(promotion)
    with acting(None):  # the event's source system, not a person
        promotion.save()
    promotion_image_link(promotion=promotion, strict=False)
    promotion_plan(promotion=promotion)
    return promotion


@transaction.atomic
def promotion_update_from_event(*, promotion, club, **event_fields):
    """The source changed its event (moved, renamed, re-published): the details follow and the plan moves with them."""
    unknown = set(event_fields) - set(EVENT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    promotion = EventPromotion.objects.select_for_update().select_related("club").get(pk=promotion.pk)
    for name, value in event_fields.items():
        setattr(promotion, name, value)
    promotion.club = club
    promotion.event_status = EventStatus.SCHEDULED
    _check_related(promotion)
    with acting(KEEP, "updated it from the event's source"):
        promotion.save()
    promotion_image_link(promotion=promotion, strict=False)
    promotion_plan(promotion=promotion)
    return promotion


@transaction.atomic
def promotion_cancel_event(*, promotion):
    """The source cancelled its event: whatever has not gone out yet is cancelled."""
    promotion = EventPromotion.objects.select_for_update().select_related("club").get(pk=promotion.pk)
    promotion.event_status = EventStatus.CANCELLED
    with acting(KEEP, "cancelled it (the event was cancelled)"):
        promotion.save(update_fields=["event_status", "updated_at"])
    promotion_plan(promotion=promotion)
    return promotion


def promotion_set_active(*, promotion, active, by=None):
    return promotion_update(promotion=promotion, by=by, is_active=active)


@transaction.atomic
def promotion_delete(*, promotion, by=None):
    """Delete a promotion and its plan. The promotion row is locked first, the order promotion_update
    takes, so a delete and an update of one promotion queue up instead of deadlocking."""
    locked = EventPromotion.objects.select_for_update().filter(pk=promotion.pk).first()
    if locked is None:
        raise EventPromotion.DoesNotExist("The promotion no longer exists.")
    with acting(KEEP if by is None else by):
        locked.delete()


def tenant_promotion_defaults_update(*, tenant, channels, reminder_days, send_time, auto_promote):
    channels = list(dict.fromkeys(channels))
    validate_channels(channels)
    validate_reminder_days(reminder_days)
    tenant.default_channels = channels
    tenant.default_reminder_days = sorted(set(reminder_days), reverse=True)
    tenant.default_send_time = send_time
    tenant.auto_promote = auto_promote
    tenant.save(update_fields=["default_channels", "default_reminder_days", "default_send_time", "auto_promote"])
    return tenant


DELIVERY_SETTINGS = ("sms_price_per_segment", "sms_price_currency", "utm_enabled", "utm_medium_social",
                     "utm_medium_email", "utm_medium_sms")


def tenant_delivery_settings_update(*, tenant, **values):
    """The tenant's SMS price (for cost estimates) and tracked-link settings (UTM on/off, medium per channel)."""
    unknown = set(values) - set(DELIVERY_SETTINGS)
    if unknown:
        raise TypeError(f"unknown settings: {sorted(unknown)}")
    for name, value in values.items():
        setattr(tenant, name, value)
    if tenant.sms_price_currency:
        tenant.sms_price_currency = tenant.sms_price_currency.upper()
    tenant.full_clean(exclude=[f.name for f in tenant._meta.fields if f.name not in values])
    tenant.save(update_fields=list(values))
    return tenant


def member_email_unsubscribe(*, member_id):
    """One-click unsubscribe: the member gets no more promotion emails. Returns the member, or None."""
    member = Member.objects.filter(pk=member_id).first()
    if member is not None and member.email_consent:
        Member.objects.filter(pk=member.pk).update(email_consent=False)
        member.email_consent = False
    return member


def sms_opt_out(*, phone, text=""):
    """A STOP reply: every member with that number stops getting texts; recorded for the audit trail.

    The sender's number is read as E.164 first (members' numbers are stored that way), so "447700900123"
    or "07700 900123" (in SMS_DEFAULT_REGION) finds "+447700900123"; a sender that is no phone number
    is a ValidationError.
    """
    number = sender_e164(phone)
    if number is None:
        raise ValidationError({"from": "Not a phone number we can read; send it in international format."})
    with transaction.atomic():
        count = Member.objects.filter(phone=number, sms_consent=True).update(sms_consent=False)
        # Kept for the audit trail as readable text: NUL and lone surrogates cannot be stored.
        kept = "".join(ch for ch in text if ch != "\x00" and not "\ud800" <= ch <= "\udfff")[:160]
        return SmsOptOut.objects.create(phone=number, text=kept, members_opted_out=count)


@transaction.atomic
def dispatch_retry_failed(*, dispatch):
    """Put the failed deliveries of a finished dispatch back in line; the dispatcher sends them on its next round."""
    dispatch = PromotionDispatch.objects.select_for_update().get(pk=dispatch.pk)
    if dispatch.status not in (DispatchStatus.SENT, DispatchStatus.FAILED, DispatchStatus.HELD):
        return 0
    retried = PromotionDelivery.objects.filter(dispatch=dispatch, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING, reason="", not_before=None, attempts=0
    )
    if retried:
        now = timezone.now()
        # Their chunks open again; a chunk without a failure among them finds nothing to claim and closes.
        PromotionSendChunk.objects.filter(dispatch=dispatch, status=ChunkStatus.DONE).update(
            status=ChunkStatus.PENDING, lease_until=None, updated_at=now)
        PromotionDispatch.objects.filter(pk=dispatch.pk).update(
            status=DispatchStatus.HELD, resume_at=now, failed_count=0, status_reason=f"retrying {retried} failed",
            completed_at=None, updated_at=now,
        )
    return retried
