"""Sending what the plan says, exactly once.

A due dispatch is claimed with a conditional UPDATE (PLANNED → SENDING): one caller wins. For
email and SMS one delivery row per member is created (unique, `ignore_conflicts`), and each row
is claimed the same way (PENDING → SENDING) right before its message goes out, so a second
worker, a duplicate task or a re-run after a crash never sends a member the same message twice.
"""

import datetime
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from connections.models import SocialConnection
from crm.clock import club_local_to_utc, club_utc_to_local
from platforms import get_adapter
from promotions import messages
from promotions.models import (
    Channel,
    DeliveryStatus,
    DispatchKind,
    DispatchStatus,
    EventStatus,
    PromotionDelivery,
    PromotionDispatch,
)
from promotions.recipients import recipient_ids
from promotions.sms import SmsError, SmsMessage, e164, get_sms_backend
from promotions.templating import TemplateRefused

logger = logging.getLogger(__name__)

INTERRUPTED_REASON = "interrupted while sending; it may have gone out, so it is not resent automatically"


# ---------------------------------------------------------------- finding and claiming

def due_dispatch_ids(*, now=None, limit=500):
    """Dispatches whose moment has come, held ones whose hold is over, and ones a dead worker left sending."""
    now = now or timezone.now()
    stale = now - datetime.timedelta(seconds=settings.PROMOTION_DISPATCH_STALE_SECONDS)
    due = PromotionDispatch.objects.filter(
        Q(status=DispatchStatus.PLANNED, scheduled_for__lte=now)
        | Q(status=DispatchStatus.HELD, resume_at__lte=now)
        | Q(status=DispatchStatus.SENDING, claimed_at__lt=stale)
    )
    return list(due.order_by("scheduled_for").values_list("id", flat=True)[:limit])


def dispatch_claim(*, dispatch_id, now=None):
    """Claim a due dispatch for this worker; None when it is not due or someone else has it."""
    now = now or timezone.now()
    stale = now - datetime.timedelta(seconds=settings.PROMOTION_DISPATCH_STALE_SECONDS)
    for condition in (
        Q(status=DispatchStatus.PLANNED, scheduled_for__lte=now),
        Q(status=DispatchStatus.HELD, resume_at__lte=now),
        Q(status=DispatchStatus.SENDING, claimed_at__lt=stale),
    ):
        previous = PromotionDispatch.objects.filter(condition, pk=dispatch_id).values_list("status", flat=True).first()
        if previous is None:
            continue
        won = PromotionDispatch.objects.filter(condition, pk=dispatch_id).update(
            status=DispatchStatus.SENDING, claimed_at=now, resume_at=None, updated_at=now
        )
        if won:
            if previous == DispatchStatus.SENDING:
                # A worker died mid-run: what it had in hand has an unknown outcome.
                PromotionDelivery.objects.filter(dispatch_id=dispatch_id, status=DeliveryStatus.SENDING).update(
                    status=DeliveryStatus.FAILED, reason=INTERRUPTED_REASON
                )
            dispatch = PromotionDispatch.objects.select_related(
                "promotion__club__tenant", "promotion__email_template", "promotion__sms_template"
            ).get(pk=dispatch_id)
            dispatch.claimed_from = previous
            return dispatch
    return None


# ---------------------------------------------------------------- running one dispatch

def dispatch_send(*, dispatch, now=None):
    """Send a claimed dispatch on its channel and record the outcome and counts."""
    fixed_now = now is not None
    now = now or timezone.now()
    promotion = dispatch.promotion
    if not promotion.is_active or promotion.event_status == EventStatus.CANCELLED:
        return _finish(dispatch, DispatchStatus.CANCELLED, "the promotion stopped before this went out")
    if now >= promotion.event_starts_at and getattr(dispatch, "claimed_from", None) == DispatchStatus.PLANNED:
        return _finish(dispatch, DispatchStatus.SKIPPED, "the event had already started")
    late_by = (now - dispatch.scheduled_for).total_seconds()
    if (dispatch.kind == DispatchKind.REMINDER and getattr(dispatch, "claimed_from", None) == DispatchStatus.PLANNED
            and late_by > settings.PROMOTION_MISSED_WINDOW_SECONDS):
        # The scheduler was not running at the reminder's moment: a reminder is never sent late.
        return _finish(dispatch, DispatchStatus.SKIPPED,
                       f"missed its moment by {round(late_by / 60)} minutes (the scheduler was not running); "
                       "reminders are not sent late")
    problem = messages.template_problem(promotion=promotion, channel=dispatch.channel)
    if problem:
        # A template stored before the sandbox rules (or around them) is never rendered.
        return _finish(dispatch, DispatchStatus.FAILED, problem)
    if dispatch.channel == Channel.SOCIAL:
        return _send_social(dispatch, now)
    if getattr(dispatch, "claimed_from", DispatchStatus.PLANNED) != DispatchStatus.HELD:
        _create_deliveries(dispatch)
    # A fixed `now` (tests, previews) stands for the whole run; otherwise the real clock is read as it goes.
    clock = (lambda: now) if fixed_now else timezone.now
    return _send_deliveries(dispatch, clock)


def dispatch_run(*, dispatch_id, now=None):
    """Claim and send one dispatch; returns it, or None when another worker has it or it is not due."""
    dispatch = dispatch_claim(dispatch_id=dispatch_id, now=now)
    if dispatch is None:
        return None
    dispatch_send(dispatch=dispatch, now=now)
    return dispatch


def dispatch_due(*, now=None):
    """Run every due dispatch here, one after another (the Celery task fans out instead)."""
    return [d for d in (dispatch_run(dispatch_id=pk, now=now) for pk in due_dispatch_ids(now=now)) if d]


def _finish(dispatch, status, reason=""):
    now = timezone.now()
    PromotionDispatch.objects.filter(pk=dispatch.pk, status=DispatchStatus.SENDING).update(
        status=status, status_reason=reason, completed_at=now, updated_at=now
    )
    dispatch.refresh_from_db()
    return dispatch


def _create_deliveries(dispatch):
    batch = []
    for member_id in recipient_ids(promotion=dispatch.promotion, channel=dispatch.channel):
        batch.append(PromotionDelivery(dispatch_id=dispatch.pk, member_id=member_id))
        if len(batch) >= settings.PROMOTION_RECIPIENT_CHUNK_SIZE:
            PromotionDelivery.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        PromotionDelivery.objects.bulk_create(batch, ignore_conflicts=True)
    _update_counts(dispatch)


def _update_counts(dispatch):
    counts = PromotionDelivery.objects.filter(dispatch_id=dispatch.pk).aggregate(
        planned=Count("id"),
        sent=Count("id", filter=Q(status=DeliveryStatus.SENT)),
        skipped=Count("id", filter=Q(status=DeliveryStatus.SKIPPED)),
        failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
    )
    PromotionDispatch.objects.filter(pk=dispatch.pk).update(
        planned_count=counts["planned"], sent_count=counts["sent"], skipped_count=counts["skipped"],
        failed_count=counts["failed"], updated_at=timezone.now(),
    )
    return counts


# ---------------------------------------------------------------- email and SMS

def quiet_hours_end(*, club, at):
    """When SMS may go out again if `at` falls in the club's quiet hours (21:00–08:00 local), else None."""
    start_hour, end_hour = settings.SMS_QUIET_HOURS
    local = club_utc_to_local(club, at)
    hour = local.hour
    quiet = (hour >= start_hour or hour < end_hour) if start_hour > end_hour else (start_hour <= hour < end_hour)
    if not quiet:
        return None
    day = local.date() if hour < end_hour else local.date() + datetime.timedelta(days=1)
    return club_local_to_utc(club, datetime.datetime.combine(day, datetime.time(end_hour)))


def _claim_delivery(delivery_id):
    return PromotionDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENDING, attempts=F("attempts") + 1
    ) == 1


def _record(delivery_id, status, reason=""):
    PromotionDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).update(
        status=status, reason=reason[:255], sent_at=timezone.now() if status == DeliveryStatus.SENT else None
    )


def _pending_batches(dispatch, clock):
    """Pending deliveries in primary-key order, a batch at a time (keyset pages; nothing held in memory)."""
    last = 0
    size = settings.PROMOTION_DISPATCH_BATCH_SIZE
    while True:
        now = clock()
        ids = list(
            PromotionDelivery.objects.filter(dispatch_id=dispatch.pk, status=DeliveryStatus.PENDING, pk__gt=last)
            .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
            .order_by("pk").values_list("pk", flat=True)[:size]
        )
        if not ids:
            return
        last = ids[-1]
        yield list(PromotionDelivery.objects.filter(pk__in=ids).select_related("member").order_by("pk"))


def _send_deliveries(dispatch, clock):
    promotion = dispatch.promotion
    base = messages.event_fields(promotion=promotion, kind=dispatch.kind, days_before=dispatch.days_before)
    sms_backend = get_sms_backend() if dispatch.channel == Channel.SMS else None
    for batch in _pending_batches(dispatch, clock):
        # A heartbeat: a long run keeps its claim fresh, so it is never mistaken for a dead worker's.
        PromotionDispatch.objects.filter(pk=dispatch.pk, status=DispatchStatus.SENDING).update(claimed_at=clock())
        if dispatch.channel == Channel.SMS:
            resume_at = quiet_hours_end(club=promotion.club, at=clock())
            if resume_at is not None:
                return _hold(dispatch, resume_at)
            _send_sms_batch(dispatch, batch, sms_backend, base)
        else:
            _send_email_batch(dispatch, batch, base)
        _update_counts(dispatch)
    return _complete(dispatch, clock)


def _send_email_batch(dispatch, batch, base):
    promotion = dispatch.promotion
    connection = get_connection()
    connection.open()
    try:
        for delivery in batch:
            member = delivery.member
            if not _claim_delivery(delivery.pk):
                continue
            if not member.email_consent or not member.email:
                _record(delivery.pk, DeliveryStatus.SKIPPED, "no email consent (unsubscribed)")
                continue
            try:
                content = messages.email_content(
                    promotion=promotion, member=member, kind=dispatch.kind, days_before=dispatch.days_before, base=base
                )
                connection.send_messages([messages.email_message(content=content, to=member.email, connection=connection)])
            except Exception as exc:  # one member's failure must not stop the batch
                logger.warning("promotion email to member %s failed: %s", member.pk, exc.__class__.__name__)
                _record(delivery.pk, DeliveryStatus.FAILED, f"{exc.__class__.__name__}: {exc}")
                continue
            _record(delivery.pk, DeliveryStatus.SENT)
    finally:
        connection.close()


def _send_sms_batch(dispatch, batch, backend, base):
    promotion = dispatch.promotion
    for delivery in batch:
        member = delivery.member
        if not _claim_delivery(delivery.pk):
            continue
        if not member.sms_consent:
            _record(delivery.pk, DeliveryStatus.SKIPPED, "no SMS consent (opted out)")
            continue
        number = e164(member.phone)
        if number is None:
            _record(delivery.pk, DeliveryStatus.SKIPPED, "not a valid E.164 phone number")
            continue
        try:
            body = messages.sms_text(promotion=promotion, member=member, kind=dispatch.kind,
                                     days_before=dispatch.days_before, base=base)
            backend.send(SmsMessage(to=number, body=body, sender=settings.SMS_SENDER_ID))
        except (SmsError, TemplateRefused) as exc:
            _record(delivery.pk, DeliveryStatus.FAILED, str(exc))
            continue
        _record(delivery.pk, DeliveryStatus.SENT)


def _hold(dispatch, resume_at):
    """Quiet hours: every pending text waits for the morning, and the dispatch comes back then."""
    PromotionDelivery.objects.filter(dispatch_id=dispatch.pk, status=DeliveryStatus.PENDING).update(not_before=resume_at)
    _update_counts(dispatch)
    PromotionDispatch.objects.filter(pk=dispatch.pk, status=DispatchStatus.SENDING).update(
        status=DispatchStatus.HELD, resume_at=resume_at,
        status_reason=f"quiet hours: texts held until {club_utc_to_local(dispatch.promotion.club, resume_at):%H:%M} club time",
        updated_at=timezone.now(),
    )
    dispatch.refresh_from_db()
    return dispatch


def _complete(dispatch, clock):
    counts = _update_counts(dispatch)
    now = clock()
    held = PromotionDelivery.objects.filter(
        dispatch_id=dispatch.pk, status=DeliveryStatus.PENDING, not_before__gt=now
    ).order_by("not_before").values_list("not_before", flat=True).first()
    if held is not None:
        return _hold(dispatch, held)
    if counts["sent"]:
        type(dispatch.promotion).objects.filter(pk=dispatch.promotion_id).update(last_promoted_at=now)
    status = DispatchStatus.FAILED if counts["failed"] and not counts["sent"] else DispatchStatus.SENT
    reason = "" if counts["planned"] else "nobody to send to"
    return _finish(dispatch, status, reason)


# ---------------------------------------------------------------- social

def _send_social(dispatch, now):
    """Create one post per active connection serving the club (its own and the tenant-wide ones).

    Only a post the platform refused here counts as failed now; the posts that were created go out
    with the publisher, and the timeline reads each one's outcome from the post itself.
    """
    from posts.models import SocialPost, SocialPostStatus
    from posts.services import post_create

    promotion = dispatch.promotion
    connections = SocialConnection.objects.filter(
        Q(club_id=promotion.club_id) | Q(club__isnull=True), tenant_id=promotion.tenant_id, is_active=True
    ).order_by("pk")
    try:
        content = messages.social_text(promotion=promotion, kind=dispatch.kind, days_before=dispatch.days_before)
    except TemplateRefused as exc:
        return _finish(dispatch, DispatchStatus.FAILED, f"The social post text is refused: {exc}")
    image = promotion.event_image_url
    planned = created = skipped = failed = 0
    reasons = []
    for connection in connections:
        planned += 1
        if SocialPost.objects.filter(dispatch=dispatch, connection=connection).exists():
            created += 1
            continue
        adapter = get_adapter(connection.platform)
        if adapter.requires_media and not image:
            skipped += 1
            reasons.append(adapter.media_required_reason())
            continue
        try:
            with transaction.atomic():
                post_create(
                    tenant=promotion.tenant, connection=connection, content=content,
                    link_url=promotion.event_url or None, media_urls=[image] if image else (),
                    campaign=promotion.campaign, scheduled_at=timezone.now(), created_by="promotion", dispatch=dispatch,
                )
        except IntegrityError:
            created += 1  # another run created it a moment ago: the unique (dispatch, connection) holds
            continue
        except ValidationError as exc:
            failed += 1
            reasons.append(f"{connection}: {'; '.join(exc.messages)}")
            continue
        created += 1
    # Sent means the platform has it: at fan-out time only posts already published (a re-run) count.
    published = SocialPost.objects.filter(dispatch=dispatch, status=SocialPostStatus.PUBLISHED).count()
    PromotionDispatch.objects.filter(pk=dispatch.pk).update(
        planned_count=planned, sent_count=published, skipped_count=skipped, failed_count=failed
    )
    if created:
        type(promotion).objects.filter(pk=promotion.pk).update(last_promoted_at=now)
    if not planned:
        return _finish(dispatch, DispatchStatus.SKIPPED, "no active social connection serves this club")
    status = DispatchStatus.FAILED if failed and not created else DispatchStatus.SENT
    return _finish(dispatch, status, "\n".join(reasons))
