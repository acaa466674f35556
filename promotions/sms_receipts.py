"""Delivery receipts from the HTTP SMS gateway: signed, applied once per tenant, permanent failures suppress.

Each text goes to the gateway with a ``reference`` naming its tenant and delivery, signed with SECRET_KEY
(the gateway hands it back untouched in its receipts), so a receipt maps to exactly one delivery of one
tenant. The receipt itself is signed like the tee-time events (promotions/intake.py): ``X-Signature:
sha256=<hex>``, HMAC-SHA256 with SMS_RECEIPT_SECRET over ``"<X-Signature-Timestamp>.<raw body>"``, the
timestamp within INBOUND_EVENT_MAX_AGE_SECONDS. Its ``id`` is unique per tenant: a replay is refused.

Body: ``{"id", "reference", "to", "status": "delivered" | "failed" | "permanent_failure", "occurred_at"
(ISO 8601, optional), "description" (optional)}``.
"""

import datetime
import json
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.dateparse import parse_datetime

from promotions.intake import SignatureError, check_timestamp, verify_signature
from promotions.models import (
    Channel,
    PromotionDelivery,
    SmsReceipt,
    SmsReceiptStatus,
    SuppressionReason,
    TrackingStatus,
)
from promotions.sms import e164, sender_e164
from promotions.suppression import suppression_add

logger = logging.getLogger(__name__)

SALT = "promotions.sms_receipts.reference"
STATUSES = {"delivered": SmsReceiptStatus.DELIVERED, "failed": SmsReceiptStatus.FAILED,
            "permanent_failure": SmsReceiptStatus.PERMANENT}
TRACKING = {SmsReceiptStatus.DELIVERED: TrackingStatus.DELIVERED, SmsReceiptStatus.FAILED: TrackingStatus.UNDELIVERED,
            SmsReceiptStatus.PERMANENT: TrackingStatus.UNREACHABLE}
# A later receipt never takes a delivery back: a failure after "delivered" (a late retry report) does not undo it.
RANK = {"": 0, TrackingStatus.UNDELIVERED: 1, TrackingStatus.DELIVERED: 2, TrackingStatus.UNREACHABLE: 3}


class ReceiptRefused(Exception):
    """A signed receipt we will not apply (malformed, replayed, not ours): answered 400 with the field named."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field, self.message = field, message


def _signature(tenant_id, delivery_id):
    return salted_hmac(SALT, f"{tenant_id}:{delivery_id}", algorithm="sha256").hexdigest()[:32]


def delivery_reference(*, tenant_id, delivery_id):
    """What a text carries to the gateway so its receipts find their delivery again."""
    return f"{tenant_id}:{delivery_id}:{_signature(tenant_id, delivery_id)}"


def delivery_of_reference(reference):
    """The SMS delivery a reference names, when the reference is ours; None otherwise."""
    if not isinstance(reference, str) or reference.count(":") < 2:
        return None
    tenant_id, delivery_id, signature = reference.rsplit(":", 2)
    if not delivery_id.isdigit() or not constant_time_compare(signature, _signature(tenant_id, delivery_id)):
        return None
    return PromotionDelivery.objects.select_related("dispatch", "member").filter(
        pk=int(delivery_id), dispatch__tenant_id=tenant_id, dispatch__channel=Channel.SMS).first()


def receipt_verify(*, raw, timestamp_header, signature_header, now=None):
    """SignatureError unless the gateway signed this body within the replay window."""
    secret = settings.SMS_RECEIPT_SECRET
    if not secret:
        raise SignatureError("SMS delivery receipts are not accepted: SMS_RECEIPT_SECRET is not set.")
    check_timestamp(timestamp_header, now=now)
    verify_signature(secret=secret, timestamp_header=timestamp_header, signature_header=signature_header, body=raw)


def receipt_parse(raw):
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ReceiptRefused("non_field_errors", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ReceiptRefused("non_field_errors", "The body must be a JSON object.")
    for name in ("id", "reference", "status"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise ReceiptRefused(name, "This field is required (text).")
    if body["status"] not in STATUSES:
        raise ReceiptRefused("status", f"Must be one of: {', '.join(STATUSES)}.")
    occurred_at = body.get("occurred_at")
    if occurred_at is not None:
        parsed = parse_datetime(occurred_at) if isinstance(occurred_at, str) else None
        if parsed is None or timezone.is_naive(parsed):
            raise ReceiptRefused("occurred_at", "Must be an ISO 8601 date and time with its offset.")
        body["occurred_at"] = parsed
    if not isinstance(body.get("description", ""), str):
        raise ReceiptRefused("description", "Must be text.")
    return body


def receipt_apply(*, body, now=None):
    """Apply one verified, parsed receipt; says what became of it. Raises ReceiptRefused for a replay."""
    now = now or timezone.now()
    delivery = delivery_of_reference(body["reference"])
    if delivery is None:
        raise ReceiptRefused("reference", "The reference does not name a text sent from here.")
    status = STATUSES[body["status"]]
    occurred_at = body.get("occurred_at") or now
    if occurred_at > now + datetime.timedelta(minutes=5):
        raise ReceiptRefused("occurred_at", "The receipt is dated in the future.")
    tenant_id = delivery.dispatch.tenant_id
    phone = sender_e164(body.get("to")) or e164(delivery.member.phone) or ""
    with transaction.atomic():
        try:
            with transaction.atomic():
                receipt = SmsReceipt.objects.create(
                    tenant_id=tenant_id, event_id=body["id"][:255], status=status, delivery=delivery, phone=phone,
                    occurred_at=occurred_at, description=(body.get("description") or "")[:255])
        except IntegrityError:
            raise ReceiptRefused("id", "This receipt was processed already.") from None
        tracking = TRACKING[status]
        lower = [value for value, rank in RANK.items() if rank < RANK[tracking]]
        PromotionDelivery.objects.filter(pk=delivery.pk, tracking_status__in=lower).update(
            tracking_status=tracking, tracking_at=occurred_at)
        if status == SmsReceiptStatus.PERMANENT and phone:
            suppression_add(tenant_id=tenant_id, channel=Channel.SMS, address=phone,
                            reason=SuppressionReason.SMS_UNREACHABLE, source_receipt=receipt, at=occurred_at)
            return "suppressed"
    return "applied"
