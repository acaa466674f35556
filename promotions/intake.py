"""Signed inbound events from the tee-time system (and other sources): verified, then applied once.

Signature: ``X-Signature: sha256=<hex>`` where hex is HMAC-SHA256 with the tenant's secret over
``"<X-Signature-Timestamp>.<raw body>"``; the timestamp must be within the replay window.
"""

import hashlib
import hmac
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from crm.models import Club
from promotions.models import EventPromotion, EventSourceType, EventStatus, InboundEvent
from promotions.planning import promotion_plan

SOURCE_TYPES = {"competition": EventSourceType.COMPETITION, "club_event": EventSourceType.CLUB_EVENT}
ACTIONS = ("published", "updated", "cancelled")
EVENT_TYPES = [f"{source}.{action}" for source in SOURCE_TYPES for action in ACTIONS]


class SignatureError(Exception):
    """The request is not signed by the tenant (or the signature is stale): answered 401."""


class UnknownTarget(Exception):
    """The tenant or club named in the event does not exist here: answered 422."""


@dataclass(frozen=True)
class Outcome:
    applied: bool
    message: str
    promotion: EventPromotion | None = None


def sign(*, secret, timestamp, body):
    """The signature header value a sender computes; used by tests, docs and the demo sender."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def check_timestamp(timestamp_header, *, now=None):
    if not timestamp_header:
        raise SignatureError("Missing X-Signature-Timestamp header.")
    try:
        timestamp = int(timestamp_header)
    except (TypeError, ValueError):
        raise SignatureError("X-Signature-Timestamp must be unix seconds.") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > settings.INBOUND_EVENT_MAX_AGE_SECONDS:
        raise SignatureError("The signature timestamp is outside the accepted window.")
    return timestamp


def verify_signature(*, secret, timestamp_header, signature_header, body):
    if not signature_header:
        raise SignatureError("Missing X-Signature header.")
    scheme, _, provided = signature_header.partition("=")
    if scheme.strip().lower() != "sha256" or not provided:
        raise SignatureError("X-Signature must look like sha256=<hex>.")
    expected = sign(secret=secret, timestamp=timestamp_header, body=body).partition("=")[2]
    if not hmac.compare_digest(expected.encode(), provided.strip().lower().encode("ascii", "replace")):
        raise SignatureError("The signature does not match.")


def _event_fields(data):
    return {
        "event_name": data["name"],
        "event_starts_at": data["starts_at"],
        "event_location": data.get("location") or "",
        "event_url": data.get("url") or "",
        "event_image_url": data.get("image_url") or "",
    }


@transaction.atomic
def inbound_event_apply(*, tenant, event):
    """Apply one verified, validated event; the same event id a second time changes nothing.

    Everything happens in one transaction: the event row, the promotion and its plan.
    """
    try:
        with transaction.atomic():
            record = InboundEvent.objects.create(
                event_id=event["id"], tenant=tenant, type=event["type"], occurred_at=event.get("occurred_at"),
                payload=event["raw"],
            )
    except IntegrityError:
        earlier = InboundEvent.objects.filter(event_id=event["id"]).select_related("promotion").first()
        return Outcome(applied=False, message=earlier.outcome if earlier else "already applied",
                       promotion=earlier.promotion if earlier else None)

    source, action = event["type"].split(".", 1)
    source_type = SOURCE_TYPES[source]
    data = event["data"]
    promotion = (
        EventPromotion.objects.select_for_update()
        .filter(tenant=tenant, source_type=source_type, source_id=data["id"]).select_related("club").first()
    )

    if action == "cancelled":
        if promotion is None:
            outcome = "nothing to cancel: no promotion for this event"
        else:
            promotion.event_status = EventStatus.CANCELLED
            promotion.save(update_fields=["event_status", "updated_at"])
            promotion_plan(promotion=promotion)
            outcome = "event cancelled; pending dispatches cancelled"
    else:
        club = Club.objects.filter(tenant=tenant, pk=data["club_id"]).first()
        if club is None:
            raise UnknownTarget(f"Unknown club “{data['club_id']}” for tenant “{tenant.pk}”.")
        if promotion is not None:
            for name, value in _event_fields(data).items():
                setattr(promotion, name, value)
            promotion.club = club
            promotion.event_status = EventStatus.SCHEDULED
            promotion.save()
            promotion_plan(promotion=promotion)
            outcome = "promotion updated and re-planned"
        elif action == "published" and tenant.auto_promote:
            promotion = EventPromotion.objects.create(
                tenant=tenant, club=club, source_type=source_type, source_id=data["id"], auto_promote=True,
                channels=list(tenant.default_channels), reminder_days=list(tenant.default_reminder_days),
                created_by=f"event:{event['id']}"[:150], **_event_fields(data),
            )
            promotion_plan(promotion=promotion)
            outcome = "promotion created and planned"
        elif action == "published":
            outcome = "not promoted: auto-promote is off for this tenant"
        else:
            outcome = "nothing to update: no promotion for this event"
    record.promotion = promotion
    record.outcome = outcome
    record.save(update_fields=["promotion", "outcome"])
    return Outcome(applied=True, message=outcome, promotion=promotion)
