"""Sending what the plan says, exactly once, in chunks that many workers share.

A due dispatch is claimed with a conditional UPDATE (PLANNED/HELD → SENDING): one caller wins. For
email and SMS it is then planned: its recipients, in member-id order, get one delivery row each
(INSERT … ON CONFLICT DO NOTHING on the unique (dispatch, member)), cut into chunks of
PROMOTION_SEND_CHUNK_SIZE members. One task at a time sends a chunk, under a lease it renews as it
goes: it claims a batch of pending deliveries by writing their ids into the chunk row (one UPDATE,
conditional on still holding the chunk), sends them, and records the outcomes in one UPDATE per
outcome, clearing the batch from the chunk and adding to the dispatch's counters in the same
transaction (progress is never counted with COUNT; each delivery row is written once).

A worker that dies leaves its chunk's lease to run out; the reaper (or a re-claim) hands the chunk
on, and the deliveries the dead worker had in flight (the batch in its chunk row) are marked FAILED "interrupted":
they may have gone out, so they are never resent automatically (at most once). Transient provider
errors put a delivery back with a backoff and jitter, up to PROMOTION_SEND_MAX_ATTEMPTS; permanent
ones are recorded per member with the provider's reason. An address or number the tenant suppressed (a hard
bounce, a complaint, a text's permanent failure: promotions/suppression.py) is skipped with the reason; each text
carries a signed reference its delivery receipts name (promotions/sms_receipts.py) and records its segments;
each email carries its delivery in metadata so the provider's tracking events find it again (promotions/email_events.py).
"""

import datetime
import logging
import random
import smtplib
import time
from dataclasses import dataclass

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, Q
from django.utils import timezone

from connections.models import SocialConnection
from crm.clock import club_local_to_utc, club_utc_to_local
from crm.dates import format_clock
from crm.models import Member
from platforms import get_adapter
from posts.selectors import publishing_backlog
from promotions import messages
from promotions.email_events import delivery_metadata
from promotions.models import (
    Channel,
    ChunkStatus,
    DeliveryStatus,
    DispatchKind,
    DispatchStatus,
    EventStatus,
    PromotionDelivery,
    PromotionDispatch,
    PromotionSendChunk,
)
from promotions.recipients import recipient_id_pages
from promotions.sms import SmsError, SmsMessage, e164, get_sms_backend
from promotions.sms_receipts import delivery_reference
from promotions.sms_segments import sms_size
from promotions.suppression import normalised_address, suppression_summary, suppressions_for
from promotions.templating import TemplateRefused
from promotions.tracked_links import tracked_url

logger = logging.getLogger(__name__)

INTERRUPTED_REASON = "interrupted while sending; it may have gone out, so it is not resent automatically"
OPEN_CHUNK = (ChunkStatus.PENDING, ChunkStatus.RUNNING)
# A delivery's outcome as the sender sees it; RETRY means "put back for later" (a transient error).
RETRY = "RETRY"
# What rendering and sending read of a member (messages.member_fields, consent, the unsubscribe token).
MEMBER_FIELDS = ("id", "tenant_id", "first_name", "last_name", "email", "phone", "email_consent", "sms_consent")


# ---------------------------------------------------------------- finding and claiming

def due_dispatch_ids(*, now=None, limit=500):
    """Dispatches whose moment has come, held ones whose hold is over, and ones whose planner went quiet."""
    now = now or timezone.now()
    stale = now - datetime.timedelta(seconds=settings.PROMOTION_DISPATCH_STALE_SECONDS)
    due = PromotionDispatch.objects.filter(
        Q(status=DispatchStatus.PLANNED, scheduled_for__lte=now)
        | Q(status=DispatchStatus.HELD, resume_at__lte=now)
        | Q(status=DispatchStatus.SENDING, claimed_at__lt=stale)
    )
    return list(due.order_by("scheduled_for").values_list("id", flat=True)[:limit])


def dispatch_claim(*, dispatch_id, now=None):
    """Claim a due dispatch for this worker; None when it is not due or someone else has it.

    A SENDING dispatch is claimed again only when nothing has moved it for PROMOTION_DISPATCH_STALE_SECONDS
    (its planner died); that does not touch deliveries in flight: their chunks' leases decide.
    """
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
            dispatch = PromotionDispatch.objects.select_related(
                "promotion__club__tenant", "promotion__email_template", "promotion__sms_template"
            ).get(pk=dispatch_id)
            dispatch.claimed_from = previous
            return dispatch
    return None


# ---------------------------------------------------------------- running one dispatch

def dispatch_send(*, dispatch, now=None, enqueue=None):
    """Send a claimed dispatch on its channel and record the outcome and counts.

    With `enqueue` (the Celery path: a callable taking a chunk id) every chunk is handed over as soon as
    it is planned and sent by whichever worker takes it; without, every chunk is sent here, in turn.
    """
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
    # A fixed `now` (tests, previews) stands for the whole run; otherwise the real clock is read as it goes.
    clock = (lambda: now) if fixed_now else timezone.now
    if enqueue is not None:
        # Resuming (after quiet hours, a retry of failures, or a dead planner): its open chunks go out again.
        for chunk_id in _open_chunk_ids(dispatch.pk, clock()):
            enqueue(chunk_id)
    if dispatch.planned_at is None:
        dispatch_plan(dispatch=dispatch, clock=clock, enqueue=enqueue, yield_to_publishing=not fixed_now)
    if enqueue is None:
        _send_chunks_here(dispatch, clock, waits=not fixed_now)
    dispatch_complete(dispatch_id=dispatch.pk, now=clock())
    dispatch.refresh_from_db()
    return dispatch


def dispatch_run(*, dispatch_id, now=None, enqueue=None):
    """Claim and send one dispatch; returns it, or None when another worker has it or it is not due."""
    dispatch = dispatch_claim(dispatch_id=dispatch_id, now=now)
    if dispatch is None:
        return None
    dispatch_send(dispatch=dispatch, now=now, enqueue=enqueue)
    return dispatch


def dispatch_due(*, now=None):
    """Run every due dispatch here, one after another (the Celery tasks fan out instead)."""
    return [d for d in (dispatch_run(dispatch_id=pk, now=now) for pk in due_dispatch_ids(now=now)) if d]


def _finish(dispatch, status, reason="", now=None):
    now = now or timezone.now()
    won = PromotionDispatch.objects.filter(pk=dispatch.pk, status=DispatchStatus.SENDING).update(
        status=status, status_reason=reason, completed_at=now, updated_at=now
    )
    dispatch.refresh_from_db()
    dispatch.finished_here = bool(won)
    return dispatch


def dispatch_complete(*, dispatch_id, now=None):
    """Finish a fully planned dispatch once none of its chunks is open; its counters say how it went."""
    now = now or timezone.now()
    dispatch = PromotionDispatch.objects.filter(
        pk=dispatch_id, status=DispatchStatus.SENDING, planned_at__isnull=False
    ).select_related("promotion").first()
    if dispatch is None or PromotionSendChunk.objects.filter(dispatch_id=dispatch_id, status__in=OPEN_CHUNK).exists():
        return None
    status = DispatchStatus.FAILED if dispatch.failed_count and not dispatch.sent_count else DispatchStatus.SENT
    _finish(dispatch, status, "" if dispatch.planned_count else "nobody to send to", now=now)
    if dispatch.finished_here and dispatch.sent_count:
        type(dispatch.promotion).objects.filter(pk=dispatch.promotion_id).update(last_promoted_at=now)
    return dispatch


# ---------------------------------------------------------------- publishing goes first

class PublishingFirst:
    """Promotion sending steps aside while a rush of posts is being published.

    Clubs send at 09:00 and post at 09:00. Sending runs on workers of its own at a lower CPU priority, but its
    database work (planning deliveries, recording batches) competes with publishing for the same PostgreSQL.
    Before each chunk it plans and each batch it sends, a task asks (at most once a second) how many posts are
    due or being published; above PROMOTION_YIELD_BACKLOG it waits a second and asks again, for at most
    PROMOTION_YIELD_MAX_SECONDS in one task, so a steady stream of posts never starves sending. ``beat`` keeps a
    chunk's lease alive while it waits. A fixed clock (tests, previews) never waits.
    """

    def __init__(self, clock, *, fixed=False):
        self.clock, self.fixed = clock, fixed
        self.waited = 0.0
        self.asked_at = None

    def wait(self, beat=None):
        if self.fixed or settings.PROMOTION_YIELD_BACKLOG <= 0:
            return
        if self.asked_at is not None and time.monotonic() - self.asked_at < 1.0:
            return  # asked less than a second ago and publishing was not busy
        while self.waited < settings.PROMOTION_YIELD_MAX_SECONDS:
            self.asked_at = time.monotonic()
            backlog = publishing_backlog(now=self.clock(), at_most=settings.PROMOTION_YIELD_BACKLOG + 1)
            if backlog <= settings.PROMOTION_YIELD_BACKLOG:
                return
            if self.waited == 0:
                logger.info("promotion sending waits: more than %s posts are being published",
                            settings.PROMOTION_YIELD_BACKLOG)
            time.sleep(1.0)
            self.waited += 1.0
            if beat is not None:
                beat()


# ---------------------------------------------------------------- planning: delivery rows and chunks

def dispatch_plan(*, dispatch, clock=timezone.now, enqueue=None, yield_to_publishing=False):
    """Give every recipient a delivery row and cut them into chunks; carries on after the last chunk recorded.

    Each chunk is one transaction (its deliveries, the chunk, the planned counter), so a planner that dies
    leaves whole chunks behind, and a second planner racing it loses on the unique (dispatch, seq).
    """
    last = PromotionSendChunk.objects.filter(dispatch_id=dispatch.pk).order_by("-seq").values_list(
        "seq", "last_member_id").first()
    seq, after = last or (0, None)
    grace = datetime.timedelta(seconds=settings.PROMOTION_CHUNK_START_GRACE_SECONDS)
    pages = recipient_id_pages(promotion=dispatch.promotion, channel=dispatch.channel,
                               size=settings.PROMOTION_SEND_CHUNK_SIZE, after=after)
    publishing_first = PublishingFirst(clock, fixed=not yield_to_publishing)
    for member_ids in pages:
        publishing_first.wait()
        seq += 1
        now = clock()
        try:
            with transaction.atomic():
                inserted = _insert_deliveries(dispatch.pk, member_ids)
                chunk = PromotionSendChunk.objects.create(
                    dispatch_id=dispatch.pk, seq=seq, first_member_id=member_ids[0], last_member_id=member_ids[-1],
                    size=len(member_ids), lease_until=now + grace, updated_at=now,
                )
                PromotionDispatch.objects.filter(pk=dispatch.pk).update(
                    planned_count=F("planned_count") + inserted, claimed_at=now, updated_at=now
                )
                if enqueue is not None:
                    transaction.on_commit(lambda chunk_id=chunk.pk: enqueue(chunk_id))
        except IntegrityError:
            # Another planner recorded this chunk a moment ago (a re-claim while this one lived): it carries on.
            logger.info("dispatch %s: another planner has chunk %s; leaving planning to it", dispatch.pk, seq)
            return False
    PromotionDispatch.objects.filter(pk=dispatch.pk, planned_at__isnull=True).update(planned_at=clock())
    return True


def _db():
    return connections[router.db_for_write(PromotionDelivery)]


def _insert_deliveries(dispatch_id, member_ids):
    """One INSERT … ON CONFLICT DO NOTHING for a chunk's rows; returns how many were new."""
    conn = _db()
    fields = {name: PromotionDelivery._meta.get_field(name) for name in ("dispatch", "member", "status", "reason", "attempts")}
    columns = ", ".join(conn.ops.quote_name(f.column) for f in fields.values())
    dispatch_value = fields["dispatch"].get_db_prep_value(dispatch_id, conn)
    params = []
    for member_id in member_ids:
        params += [dispatch_value, fields["member"].get_db_prep_value(member_id, conn), DeliveryStatus.PENDING.value, "", 0]
    rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(member_ids))
    unique = ", ".join(conn.ops.quote_name(fields[name].column) for name in ("dispatch", "member"))
    with conn.cursor() as cursor:
        # Only quoted names from the model's metadata and placeholders are formatted in; values go as parameters.
        cursor.execute(f"INSERT INTO {conn.ops.quote_name(PromotionDelivery._meta.db_table)} ({columns}) "  # noqa: S608
                       f"VALUES {rows} ON CONFLICT ({unique}) DO NOTHING", params)
        return cursor.rowcount


# ---------------------------------------------------------------- chunks: claim, lease, reaper

@dataclass(frozen=True)
class ChunkOutcome:
    state: str  # done | waiting | held | busy | lost | stopped
    retry_at: datetime.datetime | None = None


def _lease(now):
    return now + datetime.timedelta(seconds=settings.PROMOTION_CHUNK_LEASE_SECONDS)


def _chunk_deliveries(chunk):
    return PromotionDelivery.objects.filter(
        dispatch_id=chunk.dispatch_id, member_id__gte=chunk.first_member_id, member_id__lte=chunk.last_member_id
    )


def _recover(chunk, now):
    """The chunk's worker died (its lease ran out): the batch it had in flight has an unknown outcome."""
    in_doubt = Q(pk__in=chunk.in_flight, status=DeliveryStatus.PENDING) | Q(status=DeliveryStatus.SENDING)
    interrupted = _chunk_deliveries(chunk).filter(in_doubt).update(
        status=DeliveryStatus.FAILED, reason=INTERRUPTED_REASON, attempts=F("attempts") + 1
    ) if chunk.in_flight else _chunk_deliveries(chunk).filter(status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.FAILED, reason=INTERRUPTED_REASON)  # SENDING: rows claimed before chunks existed
    chunk.in_flight = []
    if interrupted:
        logger.warning("dispatch %s chunk %s: %s deliveries in doubt after a worker died; marked failed, not resent",
                       chunk.dispatch_id, chunk.seq, interrupted)
        PromotionDispatch.objects.filter(pk=chunk.dispatch_id).update(
            failed_count=F("failed_count") + interrupted, updated_at=now
        )
    return interrupted


def _claim_chunk(chunk_id, now):
    """Take the chunk for this worker (PENDING, or RUNNING with its lease run out); None when it is not to be had."""
    with transaction.atomic():
        chunk = PromotionSendChunk.objects.select_for_update().filter(pk=chunk_id).first()
        if chunk is None or chunk.status == ChunkStatus.DONE:
            return None
        if chunk.status == ChunkStatus.RUNNING:
            if chunk.lease_until is not None and chunk.lease_until > now:
                return None  # its worker is alive
            _recover(chunk, now)
        chunk.status, chunk.lease_until, chunk.claims, chunk.updated_at = ChunkStatus.RUNNING, _lease(now), chunk.claims + 1, now
        chunk.save(update_fields=["status", "lease_until", "claims", "updated_at", "in_flight"])
    return chunk


def _release(chunk, *, status, lease_until, now):
    return PromotionSendChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.RUNNING, claims=chunk.claims).update(
        status=status, lease_until=lease_until, updated_at=now
    )


def _open_chunk_ids(dispatch_id, now):
    """A resuming dispatch's chunks that no live worker holds, given a fresh start grace."""
    grace = now + datetime.timedelta(seconds=settings.PROMOTION_CHUNK_START_GRACE_SECONDS)
    chunks = PromotionSendChunk.objects.filter(dispatch_id=dispatch_id).filter(
        Q(status=ChunkStatus.PENDING) | Q(status=ChunkStatus.RUNNING, lease_until__lt=now)
    )
    ids = list(chunks.order_by("seq").values_list("pk", flat=True))
    PromotionSendChunk.objects.filter(pk__in=ids, status=ChunkStatus.PENDING).update(lease_until=grace, updated_at=now)
    return ids


def send_chunks_reap(*, now=None, limit=1000):
    """Chunks to hand to a task again, for dispatches still sending: their worker died (lease over), their task
    was lost (not started within the start grace), or a retry's moment has come. Each gets a new start grace,
    so one round hands it on once; a dead worker's chunk is recovered by whichever task claims it."""
    now = now or timezone.now()
    expired = PromotionSendChunk.objects.filter(
        status__in=OPEN_CHUNK, lease_until__lt=now, dispatch__status=DispatchStatus.SENDING
    )
    ids = list(expired.order_by("lease_until").values_list("pk", flat=True)[:limit])
    grace = now + datetime.timedelta(seconds=settings.PROMOTION_CHUNK_START_GRACE_SECONDS)
    for chunk_id in ids:
        with transaction.atomic():
            chunk = PromotionSendChunk.objects.select_for_update().filter(
                pk=chunk_id, status__in=OPEN_CHUNK, lease_until__lt=now).first()
            if chunk is None:
                continue
            if chunk.status == ChunkStatus.RUNNING:
                _recover(chunk, now)
            PromotionSendChunk.objects.filter(pk=chunk_id).update(
                status=ChunkStatus.PENDING, lease_until=grace, in_flight=[], updated_at=now)
    return ids


def chunk_send(*, chunk_id, now=None):
    """Claim one chunk and send its due deliveries in batches; says whether it is done or when to come back."""
    fixed = now
    if fixed is not None:
        return _chunk_send(chunk_id, lambda: fixed, fixed_clock=True)
    return _chunk_send(chunk_id, timezone.now)


def _chunk_send(chunk_id, clock, *, fixed_clock=False):
    chunk = _claim_chunk(chunk_id, clock())
    if chunk is None:
        return ChunkOutcome("busy")
    dispatch = PromotionDispatch.objects.select_related(
        "promotion__club__tenant", "promotion__email_template", "promotion__sms_template"
    ).get(pk=chunk.dispatch_id)
    if dispatch.status != DispatchStatus.SENDING:
        # Held (quiet hours) or finished: the chunk waits for the dispatch to resume, if it ever does.
        _release(chunk, status=ChunkStatus.PENDING, lease_until=None, now=clock())
        return ChunkOutcome("held" if dispatch.status == DispatchStatus.HELD else "stopped")
    promotion = dispatch.promotion
    base = messages.event_fields(promotion=promotion, kind=dispatch.kind, days_before=dispatch.days_before)
    sender = SmsSender(dispatch, base) if dispatch.channel == Channel.SMS else EmailSender(dispatch, base)
    heartbeat = Heartbeat(chunk, clock)
    publishing_first = PublishingFirst(clock, fixed=fixed_clock)
    after = None
    try:
        while True:
            publishing_first.wait(beat=heartbeat.beat)
            if dispatch.channel == Channel.SMS:
                resume_at = quiet_hours_end(club=promotion.club, at=clock())
                if resume_at is not None:
                    _hold(dispatch, resume_at, clock())
                    _release(chunk, status=ChunkStatus.PENDING, lease_until=None, now=clock())
                    return ChunkOutcome("held")
            batch = _claim_batch(chunk, clock(), after=after)
            if batch is None:
                return ChunkOutcome("lost")
            if not batch:
                if after is None:
                    break
                after = None  # one more walk from the start: deliveries put back (retries) wait there
                continue
            after = batch[-1][1]
            if not _send_batch(dispatch, chunk, batch, sender, heartbeat, clock):
                return ChunkOutcome("lost")
    finally:
        sender.close()
    now = clock()
    # Any delivery still pending waits for a retry (its moment may have come since the last claim): not done yet.
    waiting = _chunk_deliveries(chunk).filter(status=DeliveryStatus.PENDING).order_by(
        F("not_before").asc(nulls_first=True)).values_list("not_before", flat=True)[:1]
    if waiting:
        retry_at = max(waiting[0] or now, now)
        grace = datetime.timedelta(seconds=settings.PROMOTION_CHUNK_START_GRACE_SECONDS)
        released = _release(chunk, status=ChunkStatus.PENDING, lease_until=retry_at + grace, now=now)
        return ChunkOutcome("waiting", retry_at) if released else ChunkOutcome("lost")
    if not _release(chunk, status=ChunkStatus.DONE, lease_until=None, now=now):
        return ChunkOutcome("lost")
    dispatch_complete(dispatch_id=dispatch.pk, now=now)
    return ChunkOutcome("done")


def _send_chunks_here(dispatch, clock, *, waits):
    """Every open chunk of the dispatch, in this process; with a real clock, waits out retry backoffs too."""
    while True:
        now = clock()
        ids = PromotionSendChunk.objects.filter(dispatch_id=dispatch.pk).filter(
            Q(status=ChunkStatus.PENDING) | Q(status=ChunkStatus.RUNNING, lease_until__lt=now)
        ).order_by("seq").values_list("pk", flat=True)
        outcomes = [_chunk_send(pk, clock, fixed_clock=not waits) for pk in list(ids)]
        retry_ats = [o.retry_at for o in outcomes if o.state == "waiting"]
        if not retry_ats or not waits:
            return
        time.sleep(max(0.0, (min(retry_ats) - timezone.now()).total_seconds()))


class Heartbeat:
    """Renews the chunk's lease (and the dispatch's claim) every third of a lease; False once another worker has it."""

    def __init__(self, chunk, clock):
        self.chunk, self.clock = chunk, clock
        self.every = settings.PROMOTION_CHUNK_LEASE_SECONDS / 3
        self.last = time.monotonic()

    def beat(self, *, force=False):
        if not force and time.monotonic() - self.last < self.every:
            return True
        self.last = time.monotonic()
        now = self.clock()
        return PromotionSendChunk.objects.filter(
            pk=self.chunk.pk, status=ChunkStatus.RUNNING, claims=self.chunk.claims
        ).update(lease_until=_lease(now), updated_at=now) == 1


# ---------------------------------------------------------------- batches: one claim, one record

def _claim_batch(chunk, now, after=None):
    """Claim up to PROMOTION_DISPATCH_BATCH_SIZE due deliveries of the chunk: their ids go into the chunk row,
    in one UPDATE that holds only while this worker still holds the chunk. None when it no longer does.

    Read in member order from `after` (the last member of the previous batch) over the partial index of
    pending rows, so each claim starts where the last one stopped, however large the dispatch.
    """
    due = _chunk_deliveries(chunk).filter(status=DeliveryStatus.PENDING).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now))
    if after is not None:
        due = due.filter(member_id__gt=after)
    batch = list(due.order_by("member_id").values_list("pk", "member_id", "attempts")[:settings.PROMOTION_DISPATCH_BATCH_SIZE])
    if not batch:
        return []
    held = PromotionSendChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.RUNNING, claims=chunk.claims).update(
        in_flight=[pk for pk, _, _ in batch], lease_until=_lease(now), updated_at=now)
    return batch if held else None


class Outcomes:
    """A batch's results, grouped so each kind is recorded in one UPDATE."""

    def __init__(self):
        self.by_key = {}  # (status, reason, not_before, segments) -> [delivery ids]

    def add(self, delivery_id, status, reason="", not_before=None, segments=0):
        self.by_key.setdefault((status, reason[:255], not_before, segments), []).append(delivery_id)

    def ids(self):
        return {pk for ids in self.by_key.values() for pk in ids}


def _send_batch(dispatch, chunk, batch, sender, heartbeat, clock):
    """Send one claimed batch and record it; False when another worker took the chunk over meanwhile."""
    members = Member.objects.only(*MEMBER_FIELDS).in_bulk([member_id for _, member_id, _ in batch])
    sender.prepare(members.values())
    outcomes = Outcomes()
    in_flight = None
    lost = False
    try:
        for delivery_id, member_id, attempts in batch:
            if not heartbeat.beat():
                lost = True  # our lease was taken over: stop; what is left goes back (or was recovered already)
                break
            member = members.get(member_id)
            if member is None:
                outcomes.add(delivery_id, DeliveryStatus.SKIPPED, "the member no longer exists")
                continue
            in_flight = delivery_id
            status, reason = sender.send(member, delivery_id=delivery_id)
            in_flight = None
            attempts += 1
            if status == RETRY:
                if attempts >= settings.PROMOTION_SEND_MAX_ATTEMPTS:
                    outcomes.add(delivery_id, DeliveryStatus.FAILED, f"gave up after {attempts} attempts: {reason}")
                else:
                    outcomes.add(delivery_id, DeliveryStatus.PENDING, f"will retry: {reason}",
                                 clock() + datetime.timedelta(seconds=retry_delay(attempts)))
            else:
                outcomes.add(delivery_id, status, reason, segments=getattr(sender, "segments", 0))
    except BaseException:
        # The worker is going down: keep what is known; what was never tried simply stays pending. The one in
        # flight stays in the chunk's batch, in doubt, for the next claimant to mark.
        try:
            _record(dispatch, chunk, outcomes, clock(), in_doubt=[in_flight] if in_flight else [])
        except Exception:  # the database may be what failed; the next claimant marks the whole batch in doubt then
            logger.exception("dispatch %s chunk %s: could not record a batch while stopping", dispatch.pk, chunk.seq)
        raise
    return _record(dispatch, chunk, outcomes, clock()) and not lost


def _record(dispatch, chunk, outcomes, now, in_doubt=()):
    """The batch's outcomes in one transaction: the chunk's batch cleared, one UPDATE per outcome, the counters.

    Locks in one order everywhere (chunk, deliveries, dispatch), so recording never deadlocks with a reaper; and
    when another worker has taken the chunk over, nothing is written (it has marked this batch in doubt).
    """
    counts = {DeliveryStatus.SENT: 0, DeliveryStatus.SKIPPED: 0, DeliveryStatus.FAILED: 0}
    with transaction.atomic():
        held = PromotionSendChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.RUNNING, claims=chunk.claims).update(
            in_flight=list(in_doubt), lease_until=_lease(now), updated_at=now)
        if not held:
            return False
        for (status, reason, not_before, segments), ids in outcomes.by_key.items():
            changes = {"status": status, "reason": reason, "attempts": F("attempts") + 1}
            if status == DeliveryStatus.SENT:
                changes["sent_at"] = now
                changes["segments"] = segments
            if status == DeliveryStatus.PENDING:
                changes["not_before"] = not_before
            done = PromotionDelivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).update(**changes)
            if status in counts:
                counts[status] += done
        PromotionDispatch.objects.filter(pk=dispatch.pk).update(
            sent_count=F("sent_count") + counts[DeliveryStatus.SENT],
            skipped_count=F("skipped_count") + counts[DeliveryStatus.SKIPPED],
            failed_count=F("failed_count") + counts[DeliveryStatus.FAILED],
            claimed_at=now, updated_at=now,
        )
    return True


def retry_delay(attempt):
    """Seconds before another try after `attempt` failed ones: exponential, capped, with jitter (half to all of it)."""
    delay = min(settings.PROMOTION_SEND_RETRY_MAX_SECONDS, settings.PROMOTION_SEND_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


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


def email_error(exc):
    """(transient, reason) for a failed email: SMTP 4xx and connection trouble are worth another try; 5xx are not."""
    if isinstance(exc, AnymailRecipientsRefused):
        return False, "the email provider refused the address (it is on the provider's own block list)"
    if isinstance(exc, AnymailAPIError):
        status = exc.status_code
        if status is None:
            return True, "the email provider could not be reached"
        return status == 429 or status >= 500, f"the email provider answered with error {status}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        replies = "; ".join(f"{code} {_text(message)}" for code, message in exc.recipients.values())
        return bool(codes) and all(400 <= code < 500 for code in codes), f"the mail server refused the address ({replies})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500, f"the mail server answered {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, OSError):  # SMTPServerDisconnected, refused connections, timeouts
        return True, f"the mail server could not be reached ({exc.__class__.__name__}: {exc})"
    return False, f"{exc.__class__.__name__}: {exc}"


def _text(message):
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


class EmailSender:
    """One SMTP (or other backend) connection per chunk, opened when first needed and again after trouble."""

    def __init__(self, dispatch, base):
        self.dispatch, self.base = dispatch, base
        self.connection = get_connection()
        self.opened = False
        self.suppressed = {}

    def prepare(self, members):
        """One look-up per batch: which of these addresses the tenant no longer sends to."""
        self.suppressed = suppressions_for(tenant_id=self.dispatch.tenant_id, channel=Channel.EMAIL,
                                           addresses=[m.email for m in members if m.email])

    def send(self, member, delivery_id=None):
        if not member.email_consent or not member.email:
            return DeliveryStatus.SKIPPED, "no email consent (unsubscribed)"
        dispatch = self.dispatch
        suppression = self.suppressed.get(normalised_address(channel=Channel.EMAIL, address=member.email))
        if suppression is not None:
            return DeliveryStatus.SKIPPED, "address suppressed: " + suppression_summary(suppression, club=dispatch.promotion.club)
        metadata = delivery_metadata(tenant_id=dispatch.tenant_id, delivery_id=delivery_id) if delivery_id else None
        try:
            content = messages.email_content(promotion=dispatch.promotion, member=member, kind=dispatch.kind,
                                             days_before=dispatch.days_before, base=self.base)
            if not self.opened:
                self.connection.open()
                self.opened = True
            self.connection.send_messages([messages.email_message(content=content, to=member.email,
                                                                  connection=self.connection, metadata=metadata)])
        except TemplateRefused as exc:
            return DeliveryStatus.FAILED, str(exc)
        except Exception as exc:  # one member's failure must not stop the batch
            transient, reason = email_error(exc)
            logger.warning("promotion email to member %s failed (%s): %s", member.pk,
                           "will retry" if transient else "permanent", exc.__class__.__name__)
            if transient and not isinstance(exc, smtplib.SMTPRecipientsRefused):
                self.close()  # the connection may be dead: the next message opens a new one
            return (RETRY if transient else DeliveryStatus.FAILED), reason
        return DeliveryStatus.SENT, ""

    def close(self):
        if self.opened:
            self.opened = False
            try:
                self.connection.close()
            except Exception:  # closing a broken connection may fail too; it is dropped either way
                self.connection.connection = None


class SmsSender:
    def __init__(self, dispatch, base):
        self.dispatch, self.base = dispatch, base
        self.backend = get_sms_backend()
        self.suppressed = {}
        self.segments = 0  # segments of the last text handed to the gateway

    def prepare(self, members):
        """One look-up per batch: which of these numbers the tenant no longer texts (a permanent failure)."""
        numbers = [number for number in (e164(m.phone) for m in members if m.phone) if number]
        self.suppressed = suppressions_for(tenant_id=self.dispatch.tenant_id, channel=Channel.SMS, addresses=numbers)

    def send(self, member, delivery_id=None):
        self.segments = 0
        if not member.sms_consent:
            return DeliveryStatus.SKIPPED, "no SMS consent (opted out)"
        number = e164(member.phone)
        if number is None:
            return DeliveryStatus.SKIPPED, "not a valid E.164 phone number"
        dispatch = self.dispatch
        suppression = self.suppressed.get(normalised_address(channel=Channel.SMS, address=number))
        if suppression is not None:
            return DeliveryStatus.SKIPPED, "number suppressed: " + suppression_summary(suppression, club=dispatch.promotion.club)
        reference = delivery_reference(tenant_id=dispatch.tenant_id, delivery_id=delivery_id) if delivery_id else ""
        try:
            body = messages.sms_text(promotion=dispatch.promotion, member=member, kind=dispatch.kind,
                                     days_before=dispatch.days_before, base=self.base)
            self.backend.send(SmsMessage(to=number, body=body, sender=settings.SMS_SENDER_ID, reference=reference))
        except TemplateRefused as exc:
            return DeliveryStatus.FAILED, str(exc)
        except SmsError as exc:
            return (RETRY if exc.transient else DeliveryStatus.FAILED), str(exc)
        self.segments = sms_size(body).segments
        return DeliveryStatus.SENT, ""

    def close(self):
        pass


def _hold(dispatch, resume_at, now):
    """Quiet hours: every pending text waits for the morning, and the dispatch comes back then."""
    club = dispatch.promotion.club
    won = PromotionDispatch.objects.filter(pk=dispatch.pk, status=DispatchStatus.SENDING).update(
        status=DispatchStatus.HELD, resume_at=resume_at, updated_at=now,
        status_reason=f"quiet hours: texts held until {format_clock(resume_at, club)} club time",
    )
    if won:
        PromotionDelivery.objects.filter(dispatch_id=dispatch.pk, status=DeliveryStatus.PENDING).update(not_before=resume_at)
    return won


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
        messages.social_text(promotion=promotion, kind=dispatch.kind, days_before=dispatch.days_before)
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
        # Each network's post carries its own tracked link (utm_source names the network).
        content = messages.social_text(promotion=promotion, kind=dispatch.kind, days_before=dispatch.days_before,
                                       network=connection.platform)
        link = tracked_url(promotion.event_url, promotion=promotion, channel=Channel.SOCIAL, network=connection.platform)
        try:
            with transaction.atomic():
                post_create(
                    tenant=promotion.tenant, connection=connection, content=content,
                    link_url=link or None, media_urls=[image] if image else (),
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
    return _finish(dispatch, status, "\n".join(dict.fromkeys(reasons)))  # each reason once
