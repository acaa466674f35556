"""Signed inbound events from the tee-time system (and other sources): verified, then applied once per tenant.

Signature: ``X-Signature: sha256=<hex>`` where hex is HMAC-SHA256 with the tenant's secret over
``"<X-Signature-Timestamp>.<raw body>"``; the timestamp must be within the replay window.
"""

import hashlib
import hmac
import json
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from crm.models import Club, Tenant
from promotions import services
from promotions.models import EventPromotion, EventSourceType, InboundEvent

SOURCE_TYPES = {"competition": EventSourceType.COMPETITION, "club_event": EventSourceType.CLUB_EVENT}
ACTIONS = ("published", "updated", "cancelled")
EVENT_TYPES = [f"{source}.{action}" for source in SOURCE_TYPES for action in ACTIONS]

# No event needs more than a few levels; a deeper body is refused before anything walks it.
MAX_BODY_DEPTH = 20
# NUL cannot be stored by PostgreSQL and a lone surrogate cannot be encoded: neither is text anyone meant to send.
FORBIDDEN_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
# The answer to a wrong signature and to an unknown tenant alike, so nobody can learn which tenants exist.
NOT_SIGNED = "The signature does not match."
# Compared against when the tenant is unknown, so that answer takes as long as a wrong signature.
_NO_TENANT_SECRET = "no tenant has this secret"
# The promotion's field names as the event's "data" calls them.
DATA_FIELDS = {"event_name": "name", "event_starts_at": "starts_at", "event_location": "location",
               "event_url": "url", "event_image_url": "image_url", "club": "club_id", "source_id": "id"}


class SignatureError(Exception):
    """The request is not signed by the tenant (or the signature is stale): answered 401."""


class MalformedBody(Exception):
    """The body is not a JSON object this endpoint can read: answered 400."""


class UnknownTarget(Exception):
    """The club named in a verified event does not exist in its tenant: answered 422."""


class InvalidEvent(Exception):
    """A verified event whose values cannot make a promotion: answered 400 with field errors."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class Outcome:
    applied: bool
    message: str
    promotion: EventPromotion | None = None


def sign(*, secret, timestamp, body):
    """The signature header value a sender computes; used by tests, docs and the demo sender."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


def _unique_keys(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("an object repeats a key")
    return dict(pairs)


def _check_values(body):
    """Walk the decoded body without recursion: depth and the characters of every key and string."""
    pending = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_BODY_DEPTH:
            raise MalformedBody(f"The body is nested more than {MAX_BODY_DEPTH} levels deep.")
        if isinstance(value, dict):
            for key, item in value.items():
                if FORBIDDEN_CHARACTERS.search(key):
                    raise MalformedBody("The body holds a NUL character or a lone surrogate in a key.")
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and FORBIDDEN_CHARACTERS.search(value):
            raise MalformedBody("The body holds a NUL character or a lone surrogate in a text value.")


def parse_body(raw):
    """The body as a dict, or MalformedBody saying in words what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("The body is not UTF-8 text.") from None
    try:
        body = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                          object_pairs_hook=_unique_keys)
    except RecursionError:
        raise MalformedBody(f"The body is nested more than {MAX_BODY_DEPTH} levels deep.") from None
    except ValueError as exc:
        raise MalformedBody(f"The body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise MalformedBody("The body must be a JSON object.")
    _check_values(body)
    return body


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
        raise SignatureError(NOT_SIGNED)


def inbound_event_verify(*, body, raw, timestamp_header, signature_header, now=None):
    """The tenant that signed this event, or SignatureError: replay window, tenant, then the HMAC.

    An unknown tenant fails exactly like a wrong signature (same message, same work done).
    """
    check_timestamp(timestamp_header, now=now)
    tenant_id = body.get("tenant_id")
    tenant = Tenant.objects.filter(pk=tenant_id).first() if isinstance(tenant_id, str) and tenant_id else None
    verify_signature(secret=tenant.inbound_event_secret if tenant else _NO_TENANT_SECRET,
                     timestamp_header=timestamp_header, signature_header=signature_header, body=raw)
    if tenant is None:
        raise SignatureError(NOT_SIGNED)
    return tenant


def _event_fields(data):
    return {
        "event_name": data["name"],
        "event_starts_at": data["starts_at"],
        "event_location": data.get("location") or "",
        "event_url": data.get("url") or "",
        "event_image_url": data.get("image_url") or "",
    }


def _as_event_errors(exc):
    """A promotion's validation errors in the event's own words ({"data": {"starts_at": [...]}})."""
    messages = exc.message_dict if hasattr(exc, "error_dict") else {"event": exc.messages}
    return {"data": {DATA_FIELDS.get(name, name): errors for name, errors in messages.items()}}


@transaction.atomic
def inbound_event_apply(*, tenant, event, payload):
    """Apply one verified, validated event; the same event id from the same tenant a second time changes nothing.

    Everything happens in one transaction: the event row, the promotion and its plan. ``payload`` is
    what is kept of the body (the known fields only).
    """
    try:
        with transaction.atomic():
            record = InboundEvent.objects.create(
                event_id=event["id"], tenant=tenant, type=event["type"], occurred_at=event.get("occurred_at"),
                payload=payload,
            )
    except IntegrityError:
        earlier = InboundEvent.objects.filter(tenant=tenant, event_id=event["id"]).select_related("promotion").first()
        return Outcome(applied=False, message=earlier.outcome if earlier else "already applied",
                       promotion=earlier.promotion if earlier else None)

    source, action = event["type"].split(".", 1)
    source_type = SOURCE_TYPES[source]
    data = event["data"]
    promotion = (
        EventPromotion.objects.select_for_update()
        .filter(tenant=tenant, source_type=source_type, source_id=data["id"]).select_related("club").first()
    )

    try:
        if action == "cancelled":
            if promotion is None:
                outcome = "nothing to cancel: no promotion for this event"
            else:
                promotion = services.promotion_cancel_event(promotion=promotion)
                outcome = "event cancelled; pending dispatches cancelled"
        else:
            club = Club.objects.filter(tenant=tenant, pk=data["club_id"]).first()
            if club is None:
                raise UnknownTarget(f"Unknown club “{data['club_id']}” for tenant “{tenant.pk}”.")
            if promotion is not None:
                promotion = services.promotion_update_from_event(promotion=promotion, club=club, **_event_fields(data))
                outcome = "promotion updated and re-planned"
            elif action == "published" and tenant.auto_promote:
                try:
                    promotion = services.promotion_create_from_event(
                        tenant=tenant, club=club, source_type=source_type, source_id=data["id"],
                        by=f"event:{event['id']}", **_event_fields(data),
                    )
                    outcome = "promotion created and planned"
                except services.EventAlreadyStarted:
                    outcome = "not promoted: the event has already started"
            elif action == "published":
                outcome = "not promoted: auto-promote is off for this tenant"
            else:
                outcome = "nothing to update: no promotion for this event"
    except ValidationError as exc:
        raise InvalidEvent(_as_event_errors(exc)) from exc
    record.promotion = promotion
    record.outcome = outcome
    record.save(update_fields=["promotion", "outcome"])
    return Outcome(applied=True, message=outcome, promotion=promotion)
