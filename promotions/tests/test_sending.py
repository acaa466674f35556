"""Sending at scale: chunks under a lease, batched claims, retries, crash recovery, counters without COUNT."""

import datetime
import smtplib
import threading
from collections import Counter

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.tests.factories import ClubFactory, MemberFactory
from promotions import dispatching, sms
from promotions.dispatching import (
    INTERRUPTED_REASON,
    chunk_send,
    dispatch_claim,
    dispatch_plan,
    dispatch_run,
    retry_delay,
    send_chunks_reap,
)
from promotions.models import (
    ChunkStatus,
    DispatchStatus,
    PromotionDelivery,
    PromotionDispatch,
    PromotionSendChunk,
)
from promotions.planning import promotion_plan
from promotions.sms import SmsError, SmsTemporaryError
from promotions.tests.factories import EventPromotionFactory

UTC = datetime.timezone.utc
NOON = datetime.datetime(2031, 6, 10, 12, 0, tzinfo=UTC)  # daytime in London: no SMS quiet hours


@pytest.fixture
def club(db):
    return ClubFactory(timezone="Europe/London")


def announcement(club, channel, now, **fields):
    promotion = EventPromotionFactory(club=club, channels=[channel], reminder_days=[],
                                      event_starts_at=now + datetime.timedelta(days=30), **fields)
    promotion_plan(promotion=promotion, now=now)
    return promotion.dispatches.get(kind="ANNOUNCEMENT", channel=channel)


def delivered(members):
    return Counter({m.email: 1 for m in members})


# ---------------------------------------------------------------- chunking

@pytest.mark.django_db
def test_planning_cuts_the_recipients_into_member_id_ranges_of_the_chunk_size(club, settings,
                                                                             django_capture_on_commit_callbacks):
    settings.PROMOTION_SEND_CHUNK_SIZE = 10
    members = MemberFactory.create_batch(25, club=club)
    MemberFactory(club=club, email_consent=False)  # not a recipient: in no chunk
    dispatch = dispatch_claim(dispatch_id=announcement(club, "EMAIL", NOON).pk, now=NOON)
    handed = []
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch_plan(dispatch=dispatch, clock=lambda: NOON, enqueue=handed.append)

    chunks = list(PromotionSendChunk.objects.filter(dispatch=dispatch).order_by("seq"))
    assert [(c.seq, c.size, c.status) for c in chunks] == [(1, 10, "PENDING"), (2, 10, "PENDING"), (3, 5, "PENDING")]
    assert handed == [c.pk for c in chunks]  # each handed to a task once its transaction committed
    ids = sorted(m.pk for m in members)
    assert [(c.first_member_id, c.last_member_id) for c in chunks] == [(ids[0], ids[9]), (ids[10], ids[19]), (ids[20], ids[24])]
    dispatch.refresh_from_db()
    assert dispatch.planned_count == PromotionDelivery.objects.filter(dispatch=dispatch).count() == 25
    assert dispatch.planned_at == NOON

    # Planning again (a re-claim after the planner died) adds nothing: it carries on after the last chunk.
    PromotionDispatch.objects.filter(pk=dispatch.pk).update(planned_at=None)
    dispatch.refresh_from_db()
    assert dispatch_plan(dispatch=dispatch, clock=lambda: NOON)
    dispatch.refresh_from_db()
    assert (PromotionSendChunk.objects.filter(dispatch=dispatch).count(), dispatch.planned_count) == (3, 25)


@pytest.mark.django_db
def test_a_planner_that_died_halfway_carries_on_after_its_last_chunk(club, settings):
    settings.PROMOTION_SEND_CHUNK_SIZE = 4
    members = MemberFactory.create_batch(10, club=club)
    dispatch = dispatch_claim(dispatch_id=announcement(club, "EMAIL", NOON).pk, now=NOON)
    pages = dispatching.recipient_id_pages

    def dies_after_one_page(**kwargs):
        yield next(iter(pages(**kwargs)))
        raise SystemExit("planner killed")

    dispatching.recipient_id_pages = dies_after_one_page
    try:
        with pytest.raises(SystemExit):
            dispatch_plan(dispatch=dispatch, clock=lambda: NOON)
    finally:
        dispatching.recipient_id_pages = pages
    assert PromotionSendChunk.objects.filter(dispatch=dispatch).count() == 1
    later = NOON + datetime.timedelta(seconds=settings.PROMOTION_DISPATCH_STALE_SECONDS + 1)
    assert dispatch_run(dispatch_id=dispatch.pk, now=NOON) is None  # not stale yet
    dispatch = dispatch_run(dispatch_id=dispatch.pk, now=later)
    assert [c.size for c in PromotionSendChunk.objects.filter(dispatch=dispatch).order_by("seq")] == [4, 4, 2]
    assert (dispatch.status, dispatch.planned_count, dispatch.sent_count) == ("SENT", 10, 10)
    assert Counter(m.to[0] for m in mail.outbox) == delivered(members)


# ---------------------------------------------------------------- crash recovery

@pytest.mark.django_db
def test_a_chunk_whose_worker_died_is_handed_on_after_its_lease_and_nobody_gets_two(club, settings):
    settings.PROMOTION_SEND_CHUNK_SIZE = 1000
    settings.PROMOTION_DISPATCH_BATCH_SIZE = 5
    members = MemberFactory.create_batch(12, club=club)
    dispatch = dispatch_claim(dispatch_id=announcement(club, "EMAIL", NOON).pk, now=NOON)
    dispatch_plan(dispatch=dispatch, clock=lambda: NOON)
    [chunk] = PromotionSendChunk.objects.filter(dispatch=dispatch)

    # A worker claims the chunk and a batch, sends two of the five, and is SIGKILLed: nothing recorded.
    claimed = dispatching._claim_chunk(chunk.pk, NOON)
    batch = dispatching._claim_batch(claimed, NOON)
    assert len(batch) == 5
    by_id = {m.pk: m for m in members}
    for _, member_id, _ in batch[:2]:
        mail.send_mail("x", "y", None, [by_id[member_id].email])

    # While the lease runs, nobody else may take the chunk, and the reaper leaves it alone.
    within = NOON + datetime.timedelta(seconds=settings.PROMOTION_CHUNK_LEASE_SECONDS - 1)
    assert chunk_send(chunk_id=chunk.pk, now=within).state == "busy"
    assert send_chunks_reap(now=within) == []

    # Once the lease is over the next reaper round hands it on: within a minute of the crash.
    assert settings.PROMOTION_CHUNK_LEASE_SECONDS + settings.PROMOTION_CHUNK_REAP_INTERVAL_SECONDS < 60
    after = NOON + datetime.timedelta(seconds=settings.PROMOTION_CHUNK_LEASE_SECONDS + 1)
    assert send_chunks_reap(now=after) == [chunk.pk]
    assert chunk_send(chunk_id=chunk.pk, now=after).state == "done"

    # Nobody twice. A SIGKILL records nothing, so the three of the batch it never tried are in doubt too:
    # at most once means they are not sent automatically (staff can retry them).
    never_tried = {by_id[member_id] for _, member_id, _ in batch[2:]}
    assert Counter(m.to[0] for m in mail.outbox) == delivered(set(members) - never_tried)
    in_doubt = set(PromotionDelivery.objects.filter(dispatch=dispatch, status="FAILED").values_list("pk", flat=True))
    assert in_doubt == {pk for pk, _, _ in batch}  # the dead worker's batch: at most once, marked for a look
    assert set(PromotionDelivery.objects.filter(pk__in=in_doubt).values_list("reason", flat=True)) == {INTERRUPTED_REASON}
    dispatch.refresh_from_db()
    assert (dispatch.status, dispatch.planned_count, dispatch.sent_count, dispatch.failed_count) == ("SENT", 12, 7, 5)


@pytest.mark.django_db
def test_a_worker_stopping_mid_batch_puts_back_what_it_never_tried(club, settings):
    settings.EMAIL_BACKEND = "promotions.tests.test_dispatching.CrashingBackend"
    settings.PROMOTION_DISPATCH_BATCH_SIZE = 50
    from promotions.tests.test_dispatching import CrashingBackend

    members = MemberFactory.create_batch(20, club=club)
    dispatch_id = announcement(club, "EMAIL", NOON).pk
    CrashingBackend.remaining = 3
    with pytest.raises(SystemExit):
        dispatch_run(dispatch_id=dispatch_id, now=NOON)
    statuses = Counter(PromotionDelivery.objects.filter(dispatch_id=dispatch_id).values_list("status", flat=True))
    assert statuses == {"SENT": 2, "PENDING": 18}
    [chunk] = PromotionSendChunk.objects.filter(dispatch_id=dispatch_id)
    assert len(chunk.in_flight) == 1  # only the one in flight is in doubt; the 17 never tried are not
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    later = NOON + datetime.timedelta(seconds=settings.PROMOTION_CHUNK_LEASE_SECONDS + 1)
    [chunk_id] = send_chunks_reap(now=later)
    chunk_send(chunk_id=chunk_id, now=later)
    assert Counter(m.to[0] for m in mail.outbox) == delivered(members)
    dispatch = PromotionDispatch.objects.get(pk=dispatch_id)
    assert (dispatch.status, dispatch.sent_count, dispatch.failed_count) == ("SENT", 19, 1)


@pytest.mark.django_db
def test_the_reaper_requeues_a_lost_task_and_leaves_running_chunks_and_held_dispatches_alone(club, settings):
    settings.PROMOTION_SEND_CHUNK_SIZE = 2
    MemberFactory.create_batch(6, club=club)
    dispatch = dispatch_claim(dispatch_id=announcement(club, "EMAIL", NOON).pk, now=NOON)
    dispatch_plan(dispatch=dispatch, clock=lambda: NOON)
    first, second, third = PromotionSendChunk.objects.filter(dispatch=dispatch).order_by("seq")
    dispatching._claim_chunk(first.pk, NOON)  # alive: its lease is renewed below
    late = NOON + datetime.timedelta(seconds=settings.PROMOTION_CHUNK_START_GRACE_SECONDS + 1)
    PromotionSendChunk.objects.filter(pk=first.pk).update(lease_until=late + datetime.timedelta(seconds=30))
    assert sorted(send_chunks_reap(now=late)) == [second.pk, third.pk]  # their tasks never started
    assert send_chunks_reap(now=late) == []  # handed on once per start grace, not every round
    PromotionDispatch.objects.filter(pk=dispatch.pk).update(status=DispatchStatus.HELD)
    much_later = late + datetime.timedelta(days=1)
    assert send_chunks_reap(now=much_later) == []


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_dispatch_share_its_chunks_and_send_each_member_once(settings):
    if db_connection.vendor != "postgresql":
        pytest.skip("threads racing on one database need PostgreSQL's row locking")
    settings.PROMOTION_SEND_CHUNK_SIZE = 10
    settings.PROMOTION_DISPATCH_BATCH_SIZE = 3
    club = ClubFactory()
    members = MemberFactory.create_batch(60, club=club)
    dispatch = dispatch_claim(dispatch_id=announcement(club, "EMAIL", NOON).pk, now=NOON)
    dispatch_plan(dispatch=dispatch, clock=lambda: NOON)
    chunk_ids = list(PromotionSendChunk.objects.filter(dispatch=dispatch).values_list("pk", flat=True))
    barrier = threading.Barrier(3)
    outcomes, errors = Counter(), []

    def worker():
        try:
            barrier.wait()
            for chunk_id in chunk_ids:  # every worker tries every chunk: duplicate tasks
                outcomes[chunk_send(chunk_id=chunk_id, now=NOON).state] += 1
        except Exception as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert outcomes["done"] == 6
    assert Counter(m.to[0] for m in mail.outbox) == delivered(members)
    dispatch.refresh_from_db()
    assert (dispatch.status, dispatch.planned_count, dispatch.sent_count, dispatch.failed_count) == ("SENT", 60, 60, 0)


# ---------------------------------------------------------------- provider errors

class FlakySmtpBackend(EmailBackend):
    """Each address is refused transiently (or the connection drops) this many times, then accepted."""

    failures = {}
    opened = 0

    def open(self):
        FlakySmtpBackend.opened += 1
        return super().open()

    def send_messages(self, messages):
        to = messages[0].to[0]
        left = FlakySmtpBackend.failures.get(to, 0)
        if left:
            FlakySmtpBackend.failures[to] = left - 1
            if left % 2:
                raise smtplib.SMTPRecipientsRefused({to: (451, b"4.7.1 greylisted, try again later")})
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.mark.django_db
def test_transient_smtp_errors_are_retried_with_backoff_then_succeed(club, settings):
    settings.EMAIL_BACKEND = "promotions.tests.test_sending.FlakySmtpBackend"
    settings.PROMOTION_SEND_RETRY_BASE_SECONDS = 0.02
    members = MemberFactory.create_batch(4, club=club)
    FlakySmtpBackend.failures = {members[0].email: 2, members[2].email: 1}
    dispatch_id = announcement(club, "EMAIL", timezone.now()).pk
    dispatch = dispatch_run(dispatch_id=dispatch_id)  # the real clock: this process waits out the backoff
    assert Counter(m.to[0] for m in mail.outbox) == delivered(members)
    assert (dispatch.status, dispatch.sent_count, dispatch.failed_count) == ("SENT", 4, 0)
    attempts = dict(PromotionDelivery.objects.filter(dispatch_id=dispatch_id).values_list("member__email", "attempts"))
    assert attempts == {members[0].email: 3, members[1].email: 1, members[2].email: 2, members[3].email: 1}
    assert FlakySmtpBackend.opened >= 2  # a dropped connection is opened again for the next message


@pytest.mark.django_db
def test_a_transient_error_that_never_clears_fails_after_the_last_attempt(club, settings):
    settings.EMAIL_BACKEND = "promotions.tests.test_sending.FlakySmtpBackend"
    settings.PROMOTION_SEND_RETRY_BASE_SECONDS = 0.01
    settings.PROMOTION_SEND_MAX_ATTEMPTS = 3
    members = MemberFactory.create_batch(2, club=club)
    FlakySmtpBackend.failures = {members[0].email: 99}
    dispatch = dispatch_run(dispatch_id=announcement(club, "EMAIL", timezone.now()).pk)
    failed = PromotionDelivery.objects.get(dispatch=dispatch, status="FAILED")
    assert failed.member == members[0] and failed.attempts == 3
    assert failed.reason.startswith("gave up after 3 attempts: the mail server refused the address (451")
    assert (dispatch.status, dispatch.sent_count, dispatch.failed_count) == ("SENT", 1, 1)


def test_backoff_grows_exponentially_with_jitter_and_a_cap(settings):
    settings.PROMOTION_SEND_RETRY_BASE_SECONDS = 10
    settings.PROMOTION_SEND_RETRY_MAX_SECONDS = 60
    for attempt, full in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        delays = {retry_delay(attempt) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays)
        assert len(delays) > 1  # jitter: workers retrying together spread out


class PermanentRefusalBackend(EmailBackend):
    def send_messages(self, messages):
        if messages[0].to[0].startswith("nobody"):
            raise smtplib.SMTPRecipientsRefused({messages[0].to[0]: (550, b"5.1.1 user unknown")})
        return super().send_messages(messages)


@pytest.mark.django_db
def test_a_permanent_refusal_is_recorded_for_that_member_and_not_retried(club, settings):
    settings.EMAIL_BACKEND = "promotions.tests.test_sending.PermanentRefusalBackend"
    good = MemberFactory.create_batch(3, club=club)
    unknown = MemberFactory(club=club, email="nobody@example.com")
    dispatch = dispatch_run(dispatch_id=announcement(club, "EMAIL", NOON).pk, now=NOON)
    refused = PromotionDelivery.objects.get(dispatch=dispatch, member=unknown)
    assert (refused.status, refused.attempts) == ("FAILED", 1)
    assert refused.reason == "the mail server refused the address (550 5.1.1 user unknown)"
    assert Counter(m.to[0] for m in mail.outbox) == delivered(good)
    assert (dispatch.status, dispatch.sent_count, dispatch.failed_count) == ("SENT", 3, 1)


class GatewayBackend:
    """An SMS gateway that answers 5xx/timeouts for some numbers for a while, and 4xx for one for good."""

    flaky = {}

    def send(self, message):
        left = GatewayBackend.flaky.get(message.to, 0)
        if left:
            GatewayBackend.flaky[message.to] = left - 1
            raise SmsTemporaryError("The SMS gateway is unavailable (HTTP 503): busy")
        if message.to.endswith("999"):
            raise SmsError("The SMS gateway refused the text (HTTP 400): number barred")
        sms.outbox.append(message)
        return "ok"


@pytest.mark.django_db
def test_sms_gateway_5xx_is_retried_and_4xx_recorded(club, settings, sms_outbox):
    settings.SMS_BACKEND = "promotions.tests.test_sending.GatewayBackend"
    settings.PROMOTION_SEND_RETRY_BASE_SECONDS = 0.02
    flaky = MemberFactory(club=club, phone="+447911123456")
    fine = MemberFactory(club=club, phone="+447911123457")
    barred = MemberFactory(club=club, phone="+447911123999")
    GatewayBackend.flaky = {flaky.phone: 2}
    midday = timezone.now().astimezone(datetime.timezone.utc).replace(hour=12)
    dispatch_id = announcement(club, "SMS", timezone.now()).pk
    # SMS quiet hours follow the club's clock: run at midday (real clock) by freezing only the quiet-hours check.
    original = dispatching.quiet_hours_end
    dispatching.quiet_hours_end = lambda *, club, at: original(club=club, at=midday)
    try:
        dispatch = dispatch_run(dispatch_id=dispatch_id)
    finally:
        dispatching.quiet_hours_end = original
    assert Counter(t.to for t in sms_outbox) == Counter({flaky.phone: 1, fine.phone: 1})
    rows = {d.member_id: d for d in PromotionDelivery.objects.filter(dispatch_id=dispatch_id)}
    assert (rows[flaky.pk].status, rows[flaky.pk].attempts) == ("SENT", 3)
    assert (rows[barred.pk].status, rows[barred.pk].attempts) == ("FAILED", 1)
    assert "HTTP 400" in rows[barred.pk].reason
    assert (dispatch.sent_count, dispatch.failed_count) == (2, 1)


# ---------------------------------------------------------------- progress without COUNT

@pytest.mark.django_db
def test_progress_is_counted_as_it_goes_without_a_count_query(club, settings):
    settings.PROMOTION_DISPATCH_BATCH_SIZE = 50
    settings.PROMOTION_SEND_CHUNK_SIZE = 100
    members = MemberFactory.create_batch(230, club=club)
    MemberFactory.create_batch(7, club=club, email="")  # no address: not a recipient
    dispatch_id = announcement(club, "EMAIL", NOON).pk
    PromotionDispatch.objects.filter(pk=dispatch_id).update(sent_count=0)
    with CaptureQueriesContext(db_connection) as queries:
        dispatch = dispatch_run(dispatch_id=dispatch_id, now=NOON)
    sql = [q["sql"].upper() for q in queries.captured_queries if "SAVEPOINT" not in q["sql"].upper()]
    assert not [s for s in sql if "COUNT(" in s]
    # A handful of statements per batch of 50 (claim, members, record, counters), not one or two per member.
    assert len([s for s in sql if "PROMOTIONS_PROMOTIONDELIVERY" in s]) <= 4 * (230 // 50 + 1) + 6
    assert len(sql) < 230 // 2
    assert (dispatch.status, dispatch.planned_count, dispatch.sent_count) == ("SENT", 230, 230)
    assert Counter(m.to[0] for m in mail.outbox) == delivered(members)
    assert PromotionDelivery.objects.filter(dispatch_id=dispatch_id, status="SENT").count() == 230


@pytest.mark.django_db
def test_sms_quiet_hours_hold_every_chunk_and_the_morning_sends_them_all(club, settings, sms_outbox):
    settings.PROMOTION_SEND_CHUNK_SIZE = 2
    late = datetime.datetime(2031, 6, 10, 21, 30, tzinfo=UTC)  # 22:30 in London
    members = [MemberFactory(club=club, phone=f"+4479111234{n:02d}") for n in range(5)]
    dispatch = dispatch_run(dispatch_id=announcement(club, "SMS", late).pk, now=late)
    assert dispatch.status == DispatchStatus.HELD and sms_outbox == []
    assert set(PromotionSendChunk.objects.filter(dispatch=dispatch).values_list("status", flat=True)) == {"PENDING"}
    dispatch = dispatch_run(dispatch_id=dispatch.pk, now=dispatch.resume_at)
    assert (dispatch.status, dispatch.planned_count, dispatch.sent_count) == ("SENT", 5, 5)
    assert Counter(t.to for t in sms_outbox) == Counter({m.phone: 1 for m in members})
    assert set(PromotionSendChunk.objects.filter(dispatch=dispatch).values_list("status", flat=True)) == {ChunkStatus.DONE}


@pytest.mark.django_db
def test_the_celery_tasks_fan_a_dispatch_out_into_chunk_tasks(club, settings, django_capture_on_commit_callbacks):
    from promotions import tasks
    from socialcrm.celery import app

    settings.PROMOTION_SEND_CHUNK_SIZE = 3
    members = MemberFactory.create_batch(8, club=club)
    dispatch_id = announcement(club, "EMAIL", timezone.now()).pk
    sent_chunks = []
    original = tasks.send_dispatch_chunk.delay
    tasks.send_dispatch_chunk.delay = lambda **kw: sent_chunks.append(kw["chunk_id"])
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.send_dispatch(dispatch_id=str(dispatch_id)) == "SENDING"
    finally:
        tasks.send_dispatch_chunk.delay = original
    assert len(sent_chunks) == 3 and mail.outbox == []  # planned and handed over; workers send
    assert tasks.send_dispatch_chunk.name == "promotions.send_dispatch_chunk" and app.conf.task_acks_late
    assert [tasks.send_dispatch_chunk(chunk_id=pk) for pk in sent_chunks] == ["done", "done", "done"]
    assert tasks.send_dispatch_chunk(chunk_id=sent_chunks[0]) == "busy"  # a duplicate task does nothing
    assert Counter(m.to[0] for m in mail.outbox) == delivered(members)
    assert PromotionDispatch.objects.get(pk=dispatch_id).status == DispatchStatus.SENT


# ---------------------------------------------------------------- publishing goes first

def _posts_in_flight(count, *, status="PUBLISHING", ago=0):
    from posts.tests.factories import SocialPostFactory

    at = timezone.now() - datetime.timedelta(seconds=ago)
    return [SocialPostFactory(status=status, scheduled_at=at, claimed_at=at, first_claimed_at=at,
                              publishing_started_at=at if status == "PUBLISHING" else None) for _ in range(count)]


@pytest.mark.django_db
def test_the_publishing_backlog_counts_due_and_recent_claims_only_and_stops_at_its_cap():
    from posts.models import SocialPost
    from posts.selectors import publishing_backlog

    now = timezone.now()
    assert publishing_backlog(now=now, at_most=100) == 0
    _posts_in_flight(2)  # being published
    _posts_in_flight(1, status="SCHEDULED")  # due, not yet claimed
    queued = _posts_in_flight(1)[0]  # claimed, its task not started yet
    SocialPost.objects.filter(pk=queued.pk).update(publishing_started_at=None)
    _posts_in_flight(3, ago=600)  # claims ten minutes old: the reconciler's business
    later = _posts_in_flight(1, status="SCHEDULED")[0]
    SocialPost.objects.filter(pk=later.pk).update(scheduled_at=now + datetime.timedelta(hours=1))
    assert publishing_backlog(now=timezone.now(), at_most=100) == 4
    assert publishing_backlog(now=timezone.now(), at_most=3) == 3


@pytest.mark.django_db
def test_sending_steps_aside_while_a_rush_of_posts_is_published_then_sends_everyone(club, settings, monkeypatch):
    from posts.models import SocialPost

    settings.PROMOTION_YIELD_BACKLOG = 2
    settings.PROMOTION_SEND_CHUNK_SIZE = 2
    members = MemberFactory.create_batch(3, club=club)
    rush = _posts_in_flight(3)
    waits = []

    def sleep(seconds):  # the rush ends after the sender has waited twice
        waits.append(seconds)
        if len(waits) == 2:
            SocialPost.objects.filter(pk__in=[p.pk for p in rush]).update(status="PUBLISHED")

    monkeypatch.setattr(dispatching.time, "sleep", sleep)
    dispatch = dispatch_run(dispatch_id=announcement(club, "EMAIL", timezone.now()).pk)  # the real clock
    assert waits == [1.0, 1.0]
    assert Counter(m.to[0] for m in mail.outbox) == delivered(members)
    assert dispatch.status == DispatchStatus.SENT


@pytest.mark.django_db
def test_a_rush_that_never_ends_delays_sending_by_at_most_the_limit_per_task(club, settings, monkeypatch):
    settings.PROMOTION_YIELD_BACKLOG = 2
    settings.PROMOTION_YIELD_MAX_SECONDS = 3
    members = MemberFactory.create_batch(2, club=club)
    _posts_in_flight(5)
    waits = []
    monkeypatch.setattr(dispatching.time, "sleep", waits.append)
    dispatch = dispatch_run(dispatch_id=announcement(club, "EMAIL", timezone.now()).pk)
    assert len(waits) == 6  # three seconds planning, three sending its one chunk
    assert Counter(m.to[0] for m in mail.outbox) == delivered(members)
    assert dispatch.status == DispatchStatus.SENT


@pytest.mark.django_db
def test_a_fixed_clock_never_waits_for_publishing(club, settings, monkeypatch):
    settings.PROMOTION_YIELD_BACKLOG = 1
    MemberFactory.create_batch(2, club=club)
    _posts_in_flight(3)
    monkeypatch.setattr(dispatching.time, "sleep", lambda seconds: pytest.fail("waited with a fixed clock"))
    dispatch = dispatch_run(dispatch_id=announcement(club, "EMAIL", NOON).pk, now=NOON)
    assert dispatch.sent_count == 2


@pytest.mark.django_db
def test_sending_asks_about_publishing_at_most_once_a_second(club, settings, monkeypatch):
    from posts import selectors

    settings.PROMOTION_DISPATCH_BATCH_SIZE = 1
    members = MemberFactory.create_batch(5, club=club)
    asked = []
    real = dispatching.publishing_backlog
    monkeypatch.setattr(dispatching, "publishing_backlog", lambda **kw: asked.append(1) or real(**kw))
    assert selectors.publishing_backlog is real
    dispatch = dispatch_run(dispatch_id=announcement(club, "EMAIL", timezone.now()).pk)
    assert Counter(m.to[0] for m in mail.outbox) == delivered(members)
    assert len(asked) <= 2  # once when planning, once for the chunk's five batches, all within a second
    assert dispatch.status == DispatchStatus.SENT
