"""What the email provider tells us after a promotion email went out: delivered, opened, bounced, complaints.

Each email carries its delivery in anymail metadata — tenant, delivery id and a reference signed with
SECRET_KEY — so an event maps back to exactly one delivery of one tenant. The provider's signature is
checked by anymail's webhook view before anything here runs; the reference then makes sure the event is
about mail this instance sent for that tenant (a provider account's signing key may be shared with other
senders, who could put any metadata on their own mail).

Applied once: the event id is unique per tenant and provider (a replay is refused), and an event older
than EMAIL_EVENT_MAX_AGE_SECONDS is refused. Hard bounces and complaints suppress the address for the
tenant; EMAIL_SOFT_BOUNCE_LIMIT soft bounces in a row (no delivery between them) do too.
"""

import datetime
import hashlib
import logging

from anymail.exceptions import AnymailWebhookValidationFailure
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from promotions.email_providers import tracking_status_of
from promotions.models import (
    Channel,
    EmailEvent,
    PromotionDelivery,
    SuppressionReason,
    TrackingStatus,
)
from promotions.suppression import suppression_add

logger = logging.getLogger(__name__)

TENANT_KEY, DELIVERY_KEY, REFERENCE_KEY = "scrm_tenant", "scrm_delivery", "scrm_ref"
SALT = "promotions.email_events.delivery"
# How far a provider's clock may run ahead of ours.
FUTURE_SKEW = datetime.timedelta(minutes=5)
# A later report never takes a delivery back to an earlier step (an open arriving before its delivery report).
RANK = {"": 0, TrackingStatus.SOFT_BOUNCED: 1, TrackingStatus.DELIVERED: 2, TrackingStatus.OPENED: 3,
        TrackingStatus.CLICKED: 4, TrackingStatus.BOUNCED: 5, TrackingStatus.COMPLAINED: 6}
SUPPRESSING = {TrackingStatus.BOUNCED: SuppressionReason.HARD_BOUNCE, TrackingStatus.COMPLAINED: SuppressionReason.COMPLAINT}
# Reports that the address takes mail: they end a run of soft bounces.
REACHED = (TrackingStatus.DELIVERED, TrackingStatus.OPENED, TrackingStatus.CLICKED)


class EmailEventRefused(AnymailWebhookValidationFailure):
    """A verified webhook whose event we will not apply (replayed or too old): answered 400, nothing changes."""


def _reference(tenant_id, delivery_id):
    return salted_hmac(SALT, f"{tenant_id}:{delivery_id}", algorithm="sha256").hexdigest()[:32]


def delivery_metadata(*, tenant_id, delivery_id):
    """The metadata a promotion email carries so its provider events find their delivery."""
    return {TENANT_KEY: str(tenant_id), DELIVERY_KEY: str(delivery_id), REFERENCE_KEY: _reference(tenant_id, delivery_id)}


def _delivery_of(metadata):
    """The delivery an event's metadata names, when its reference is ours; None otherwise."""
    if not isinstance(metadata, dict):
        return None
    tenant_id, delivery_id, reference = (str(metadata.get(k) or "") for k in (TENANT_KEY, DELIVERY_KEY, REFERENCE_KEY))
    if not (tenant_id and delivery_id.isdigit() and reference):
        return None
    if not constant_time_compare(reference, _reference(tenant_id, delivery_id)):
        return None
    return PromotionDelivery.objects.select_related("member", "dispatch").filter(
        pk=int(delivery_id), dispatch__tenant_id=tenant_id, dispatch__channel=Channel.EMAIL).first()


def _event_id(event, provider):
    if event.event_id:
        return str(event.event_id)[:255]
    # Some providers give no id for some events: the event's own facts stand for one.
    facts = f"{provider}|{event.event_type}|{event.message_id}|{event.recipient}|{event.timestamp}"
    return "derived-" + hashlib.sha256(facts.encode()).hexdigest()


def email_event_apply(*, event, esp_name, now=None):
    """Apply one verified tracking event; says what became of it. Raises EmailEventRefused for a replay or an old event."""
    now = now or timezone.now()
    status = tracking_status_of(event, esp_name)
    if status is None:
        return "not tracked"
    delivery = _delivery_of(event.metadata)
    if delivery is None:
        return "not a promotion email of ours"
    occurred_at = event.timestamp or now
    if occurred_at < now - datetime.timedelta(seconds=settings.EMAIL_EVENT_MAX_AGE_SECONDS) or occurred_at > now + FUTURE_SKEW:
        raise EmailEventRefused("Email event refused: its timestamp is outside the accepted window.")
    tenant_id = delivery.dispatch.tenant_id
    provider = (esp_name or "").lower()
    address = (event.recipient or delivery.member.email or "").strip().lower()
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = EmailEvent.objects.create(
                    tenant_id=tenant_id, provider=provider, event_id=_event_id(event, provider), event_type=status,
                    delivery=delivery, address=address, occurred_at=occurred_at,
                    description=(event.description or event.mta_response or "")[:255],
                )
        except IntegrityError:
            raise EmailEventRefused("Email event refused: it was processed already.") from None
        lower = [value for value, rank in RANK.items() if rank < RANK[status]]
        PromotionDelivery.objects.filter(pk=delivery.pk, tracking_status__in=lower).update(
            tracking_status=status, tracking_at=occurred_at)
        if status in SUPPRESSING:
            suppression_add(tenant_id=tenant_id, channel=Channel.EMAIL, address=address, reason=SUPPRESSING[status],
                            source_event=row, at=occurred_at)
            return "suppressed"
        if status == TrackingStatus.SOFT_BOUNCED and _soft_bounces_in_a_row(tenant_id, address) >= settings.EMAIL_SOFT_BOUNCE_LIMIT:
            suppression_add(tenant_id=tenant_id, channel=Channel.EMAIL, address=address,
                            reason=SuppressionReason.SOFT_BOUNCES, source_event=row, at=occurred_at)
            return "suppressed"
    return "applied"


def _soft_bounces_in_a_row(tenant_id, address):
    events = EmailEvent.objects.filter(tenant_id=tenant_id, address=address)
    last_reached = events.filter(event_type__in=REACHED).order_by("-occurred_at").values_list("occurred_at", flat=True).first()
    soft = events.filter(event_type=TrackingStatus.SOFT_BOUNCED)
    if last_reached is not None:
        soft = soft.filter(occurred_at__gt=last_reached)
    return soft.count()


def on_tracking(sender, event, esp_name, **kwargs):
    """anymail's `tracking` signal: one verified event from the provider's webhook."""
    outcome = email_event_apply(event=event, esp_name=esp_name)
    logger.info("%s tracking event %s: %s", esp_name, event.event_type, outcome)
