"""Publishing at scale: batch claiming within a time budget, claim vs start, paged and
honest reconciliation, and the routing of every task to its queue."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from connections.services import connection_credentials
from platforms import PostContent, adapter_for_slug
from posts.models import SchedulerHeartbeat, SocialPost
from posts.models import SocialPostStatus as S
from posts.publishing import post_publish, posts_publish_due, posts_reconcile_stuck
from posts.services import post_create
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scan(django_capture_on_commit_callbacks, eager_celery):
    """The periodic scan with its publish tasks run at once (as a worker would)."""
    def _scan(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return posts_publish_due(**kwargs)
    return _scan


@pytest.fixture
def claim_only(django_capture_on_commit_callbacks):
    """The periodic scan with its publish tasks left unsent (they wait in the queue)."""
    def _scan(**kwargs):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            claimed = posts_publish_due(**kwargs)
        return claimed, callbacks
    return _scan


def live(connection, text, **kw):
    """A post the platform already has, made straight through the adapter (not recorded by us)."""
    adapter = adapter_for_slug(connection.platform.lower())
    return adapter.publish(credentials=connection_credentials(connection=connection),
                           content=PostContent(text=text, **kw))


def stuck_since(post, started):
    """The post was claimed and its task started at ``started``, then the worker went silent."""
    SocialPost.objects.filter(pk=post.pk).update(status=S.PUBLISHING, claimed_at=started, first_claimed_at=started,
                                                 publishing_started_at=started, attempts=1)


def reconcile_after(started, settings):
    return posts_reconcile_stuck(now=started + timedelta(seconds=settings.PUBLISH_STUCK_AFTER_SECONDS + 5))


# ----------------------------------------------------------------------------- claiming


def test_a_scan_claims_everything_due_not_a_fixed_count(claim_only, settings):
    settings.PUBLISH_BATCH_SIZE = 100
    connection = SocialPostFactory().connection
    now = timezone.now()
    SocialPost.objects.bulk_create([
        SocialPost(tenant=connection.tenant, connection=connection, content=f"Tee time {n}", created_by="a",
                   status=S.SCHEDULED, scheduled_at=now - timedelta(seconds=1)) for n in range(1250)])
    claimed, callbacks = claim_only(now=now)
    assert len(claimed) == 1250
    assert SocialPost.objects.filter(status=S.SCHEDULED).count() == 0
    assert SchedulerHeartbeat.objects.get(name="publish_due_posts").last_summary["batches"] == 13
    assert len(callbacks) == 13  # one send per batch, after each batch commits


def test_a_scan_stops_at_its_time_budget_and_the_next_one_carries_on(claim_only, settings):
    settings.PUBLISH_BATCH_SIZE = 10
    connection = SocialPostFactory().connection
    now = timezone.now()
    SocialPost.objects.bulk_create([
        SocialPost(tenant=connection.tenant, connection=connection, content=f"Tee time {n}", created_by="a",
                   status=S.SCHEDULED, scheduled_at=now) for n in range(35)])
    first, _ = claim_only(now=now, budget_seconds=0)
    assert len(first) == 10  # one batch, then the budget is spent
    second, _ = claim_only(now=now)
    assert len(second) == 25 and not set(first) & set(second)


def test_a_claim_is_not_a_start(claim_only, connect, simulator, settings, django_capture_on_commit_callbacks,
                                eager_celery):
    connection = connect("twitter")
    post = post_create(tenant=connection.tenant, connection=connection, content="Course open at 7am",
                       created_by="a", scheduled_at=timezone.now())
    claimed, callbacks = claim_only()
    post.refresh_from_db()
    assert post.status == S.PUBLISHING and post.claimed_at is not None and post.publishing_started_at is None
    # Queued for longer than the stuck limit: not the reconciler's business (no platform look-up).
    seen = len(simulator.requests(platform="twitter"))
    assert posts_reconcile_stuck(now=post.claimed_at + timedelta(seconds=settings.PUBLISH_STUCK_AFTER_SECONDS + 5)) == {}
    assert len(simulator.requests(platform="twitter")) == seen
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()
    post.refresh_from_db()
    assert post.status == S.PUBLISHED and post.publishing_started_at >= post.claimed_at
    # The claim is used: a redelivered copy of the task does nothing.
    SocialPost.objects.filter(pk=post.pk).update(status=S.PUBLISHING)
    assert post_publish(post_id=post.pk, claimed_at=post.claimed_at) is None
    assert len(simulator.published(platform="twitter")) == 1


def test_a_claim_whose_message_was_lost_is_resent_without_asking_the_platform(connect, simulator, settings, scan,
                                                                                claim_only):
    connection = connect("twitter")
    post = post_create(tenant=connection.tenant, connection=connection, content="Greens re-open Monday",
                       created_by="a", scheduled_at=timezone.now())
    claim_only()  # the message is never delivered (a broker lost it)
    post.refresh_from_db()
    old_claim = post.claimed_at
    seen = len(simulator.requests(platform="twitter"))
    later = old_claim + timedelta(seconds=settings.PUBLISH_QUEUED_RESEND_AFTER_SECONDS + 1)
    scan(now=later)
    post.refresh_from_db()
    assert post.status == S.PUBLISHED, post.error
    calls = simulator.requests(platform="twitter")[seen:]
    assert [c["method"] for c in calls] == ["POST"]  # the publish itself, no listing of recent posts
    # The first claim's task, delivered late after all, finds its claim replaced and does nothing.
    SocialPost.objects.filter(pk=post.pk).update(status=S.PUBLISHING, publishing_started_at=None)
    assert post_publish(post_id=post.pk, claimed_at=old_claim) is None
    assert len(simulator.published(platform="twitter")) == 1


def test_publish_lag_is_recorded_per_post(connect, scan):
    connection = connect("twitter")
    due_at = timezone.now() - timedelta(seconds=30)
    post = post_create(tenant=connection.tenant, connection=connection, content="Lag check", created_by="a",
                       scheduled_at=timezone.now() + timedelta(hours=1))
    SocialPost.objects.filter(pk=post.pk).update(scheduled_at=due_at)
    scan()
    post.refresh_from_db()
    assert post.status == S.PUBLISHED
    assert post.publish_lag_seconds == pytest.approx((post.published_at - due_at).total_seconds(), abs=0.01)
    assert post.publish_lag_seconds >= 30


# ----------------------------------------------------------------------------- reconciliation


def test_the_reconciler_pages_back_past_many_newer_posts(connect, simulator, settings):
    connection = connect("facebook")
    started = timezone.now() - timedelta(seconds=2)
    post = post_create(tenant=connection.tenant, connection=connection, content="Club championship draw is out",
                       created_by="a", scheduled_at=timezone.now() + timedelta(hours=1))
    ours = live(connection, "Club championship draw is out")  # then the worker died before recording it
    for n in range(105):  # more newer posts than one page (100) of the feed
        live(connection, f"Newer post {n}")
    stuck_since(post, started)
    assert reconcile_after(started, settings) == {"published": 1}
    post.refresh_from_db()
    assert post.status == S.PUBLISHED and post.platform_post_id == ours.platform_post_id
    feed_calls = [r for r in simulator.requests(platform="facebook") if r["method"] == "GET" and "feed" in r["path"]]
    assert len(feed_calls) == 2


def test_a_live_post_with_the_same_text_from_before_the_claim_is_not_ours(connect, simulator, settings):
    connection = connect("facebook")
    earlier = live(connection, "Course closed due to frost")
    post = post_create(tenant=connection.tenant, connection=connection, content="Course closed due to frost",
                       created_by="a", scheduled_at=timezone.now() + timedelta(hours=1))
    started = timezone.now() + timedelta(seconds=10)  # claimed a while after the earlier post went live
    stuck_since(post, started)
    assert reconcile_after(started, settings) == {"retried": 1}
    post.refresh_from_db()
    assert post.status == S.SCHEDULED and post.platform_post_id is None
    assert earlier.platform_post_id != post.platform_post_id


def test_a_live_post_recorded_for_another_of_our_posts_is_not_ours(connect, simulator, settings):
    connection = connect("facebook")
    started = timezone.now() - timedelta(seconds=2)
    other = post_create(tenant=connection.tenant, connection=connection, content="Members' draw tonight",
                        created_by="a", scheduled_at=timezone.now() + timedelta(hours=1))
    post = post_create(tenant=connection.tenant, connection=connection, content="Members' draw tonight",
                       created_by="a", scheduled_at=timezone.now() + timedelta(hours=1))
    copy = live(connection, "Members' draw tonight")
    SocialPost.objects.filter(pk=other.pk).update(status=S.PUBLISHED, platform_post_id=copy.platform_post_id,
                                                  published_at=timezone.now())
    stuck_since(post, started)
    assert reconcile_after(started, settings) == {"retried": 1}
    post.refresh_from_db()
    assert post.status == S.SCHEDULED and post.platform_post_id is None


def test_running_out_of_pages_is_not_sure_and_the_post_is_held(connect, simulator, settings, monkeypatch):
    connection = connect("facebook")
    monkeypatch.setattr(type(adapter_for_slug("facebook")), "recent_page_size", 5)
    settings.PUBLISH_RECONCILE_MAX_PAGES = 1
    started = timezone.now() - timedelta(seconds=2)
    post = post_create(tenant=connection.tenant, connection=connection, content="Not posted yet",
                       created_by="a", scheduled_at=timezone.now() + timedelta(hours=1))
    for n in range(8):
        live(connection, f"Newer post {n}")
    stuck_since(post, started)
    assert reconcile_after(started, settings) == {"unknown": 1}
    post.refresh_from_db()
    assert post.status == S.PUBLISHING and post.attempts == 1  # held, looked at again later; never retried
    assert not [p for p in simulator.published(platform="facebook") if p["text"] == "Not posted yet"]
    # With room to look all the way back, the next check is sure and retries it.
    settings.PUBLISH_RECONCILE_MAX_PAGES = 5
    assert posts_reconcile_stuck(now=post.publishing_started_at + timedelta(
        seconds=settings.PUBLISH_STUCK_AFTER_SECONDS + 5)) == {"retried": 1}


def test_a_listing_that_fails_is_not_sure_and_never_published(connect, simulator, settings):
    connection = connect("twitter")
    started = timezone.now() - timedelta(seconds=2)
    post = post_create(tenant=connection.tenant, connection=connection, content="Fixtures list updated",
                       created_by="a", scheduled_at=timezone.now() + timedelta(hours=1))
    stuck_since(post, started)
    simulator.inject("twitter", "GET /2/users/*/tweets", "server_error", times=5)
    assert reconcile_after(started, settings) == {"unknown": 1}
    post.refresh_from_db()
    assert post.status == S.PUBLISHING and post.platform_post_id is None


def test_held_past_the_publish_window_fails_with_a_clear_message(connect, simulator, settings, monkeypatch):
    connection = connect("facebook")
    monkeypatch.setattr(type(adapter_for_slug("facebook")), "recent_page_size", 5)
    settings.PUBLISH_RECONCILE_MAX_PAGES = 1
    post = post_create(tenant=connection.tenant, connection=connection, content="Too late to tell",
                       created_by="a", scheduled_at=timezone.now() + timedelta(hours=1))
    started = timezone.now() - timedelta(seconds=2)
    for n in range(6):
        live(connection, f"Newer post {n}")
    stuck_since(post, started)
    SocialPost.objects.filter(pk=post.pk).update(
        scheduled_at=started - timedelta(seconds=settings.PUBLISH_MISSED_WINDOW_SECONDS + 60))
    assert reconcile_after(started, settings) == {"failed": 1}
    post.refresh_from_db()
    assert post.status == S.FAILED and "Could not tell whether the platform has this post" in post.error


@pytest.mark.parametrize("slug", ["twitter", "facebook", "linkedin"])
def test_adapters_page_back_through_the_account(connect, simulator, monkeypatch, slug):
    connection = connect(slug)
    adapter = adapter_for_slug(slug)
    monkeypatch.setattr(type(adapter), "recent_page_size", 5)
    since = timezone.now() - timedelta(seconds=5)
    made = [live(connection, f"Weekend results {n}").platform_post_id for n in range(12)]
    found = adapter.posts_since(credentials=connection_credentials(connection=connection), since=since)
    assert found.complete
    assert sorted(p.platform_post_id for p in found.posts) == sorted(made)
    short = adapter.posts_since(credentials=connection_credentials(connection=connection), since=since, max_pages=2)
    assert not short.complete and len(short.posts) == 10


# ----------------------------------------------------------------------------- queues and limits


@pytest.mark.parametrize("task,queue", [
    ("posts.publish_post", "publishing"),
    ("posts.publish_due_posts", "scheduler"),
    ("posts.reconcile_stuck_posts", "scheduler"),
    ("posts.sync_metrics", "metrics"),
    ("promotions.dispatch_due", "sending"),
    ("promotions.send_dispatch", "sending"),
    ("promotions.send_dispatch_chunk", "sending"),  # a task added later under the same prefix
    ("connections.refresh_expiring_tokens", "housekeeping"),
    ("connections.purge_oauth_attempts", "housekeeping"),
    ("something.new", "housekeeping"),
])
def test_routing_puts_each_task_on_its_queue(task, queue):
    from socialcrm.celery import app

    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_every_task_kind_has_time_limits_and_publishing_stops_before_the_reconciler_looks(settings):
    from socialcrm.celery import app

    app.loader.import_default_modules()
    publish = app.tasks["posts.publish_post"]
    assert (publish.soft_time_limit, publish.time_limit) == settings.CELERY_TIME_LIMITS["publishing"]
    assert publish.time_limit < settings.PUBLISH_STUCK_AFTER_SECONDS
    scan = app.tasks["posts.publish_due_posts"]
    assert scan.time_limit == settings.CELERY_TIME_LIMITS["scheduler"][1]
    assert settings.PUBLISH_SCAN_BUDGET_SECONDS < scan.soft_time_limit
    send = app.tasks["promotions.send_dispatch"]
    assert send.time_limit == settings.CELERY_TIME_LIMITS["sending"][1]


def test_a_stuck_limit_below_the_publishing_time_limit_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    from socialcrm.task_routing import check_time_limits

    with pytest.raises(ImproperlyConfigured, match="PUBLISH_STUCK_AFTER_SECONDS"):
        check_time_limits(limits={"publishing": (240, 300)}, stuck_after=120)


def test_the_procfile_gives_publishing_its_own_worker_and_consumes_every_queue():
    from socialcrm.task_routing import QUEUES

    consumed = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.startswith("worker"):
            assert "--pool=prefork" in command, f"{name}: time limits need the prefork pool"
            consumed[name] = re.search(r"-Q (\S+)", command).group(1).split(",")
    assert set(QUEUES) == {q for queues in consumed.values() for q in queues}
    assert ["publishing"] in consumed.values()  # a worker process of its own
    assert ["scheduler"] in consumed.values()


def test_bulk_workers_yield_the_cpu_to_publishing_and_the_scans():
    # At 09:00 promotion sending renders thousands of emails per second; on the same machine it runs at a lower
    # CPU priority, so publishing and the scans get a core first.
    lines = {name: command.strip() for name, _, command in
             (line.partition(":") for line in (ROOT / "Procfile").read_text().splitlines()) if name.startswith("worker")}
    niced = {name for name, command in lines.items() if re.match(r"nice -n \$\{\w+:-(\d+)\} ", command)}
    assert niced == {"worker-sending", "worker-background"}
    for name in niced:
        assert int(re.match(r"nice -n \$\{\w+:-(\d+)\}", lines[name]).group(1)) >= 10


def test_a_due_post_waits_at_most_a_second_for_the_scan_by_default():
    from django.conf import settings as django_settings

    from socialcrm.schedules import periodic_schedules

    [scan] = [s for s in periodic_schedules() if s.task == "posts.publish_due_posts"]
    assert scan.every_seconds == django_settings.PUBLISH_SCAN_INTERVAL_SECONDS <= 1


# ----------------------------------------------------------------------------- dashboard


def test_the_dashboard_shows_median_and_p95_publish_lag_of_the_last_day_for_the_callers_tenant(client, club):
    from django.urls import reverse

    from connections.tests.factories import SocialConnectionFactory
    from crm.tests.factories import StaffFactory

    client.force_login(StaffFactory(tenant=club.tenant).user)
    connection = SocialConnectionFactory(club=club, tenant=club.tenant)
    now = timezone.now()
    for n, lag in enumerate([1, 2, 3, 4, 100]):
        SocialPostFactory(connection=connection, status=S.PUBLISHED, published_at=now - timedelta(minutes=n),
                          scheduled_at=now, publish_lag_seconds=lag)
    SocialPostFactory(connection=connection, status=S.PUBLISHED, published_at=now - timedelta(hours=30),
                      scheduled_at=now, publish_lag_seconds=5000)  # older than a day
    SocialPostFactory(status=S.PUBLISHED, published_at=now, scheduled_at=now, publish_lag_seconds=9000)  # another tenant
    body = client.get(reverse("dashboard")).content.decode()
    assert "5 posts: median 3.0 s, p95 80.8 s, worst 100.0 s" in body


# ----------------------------------------------------------------------------- cost per post


def _publish_captured(connection, text):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    from posts.publishing import post_claim

    post = SocialPostFactory(tenant=connection.tenant, connection=connection, content=text, status=S.SCHEDULED,
                             scheduled_at=timezone.now() - timedelta(seconds=1))
    claimed_at = post_claim(post_id=post.pk, now=timezone.now())
    with CaptureQueriesContext(db) as queries:
        post_publish(post_id=post.pk, claimed_at=claimed_at)
    post.refresh_from_db()
    assert post.status == S.PUBLISHED
    return post, [q["sql"] for q in queries.captured_queries]


def test_a_rush_writes_a_connections_last_use_once_a_minute_not_once_per_post(connect):
    connection = connect("twitter")
    _, first = _publish_captured(connection, "First of the morning")
    assert any(sql.startswith('UPDATE "connections_socialconnection"') for sql in first)
    connection.refresh_from_db()
    used = connection.last_used_at
    _, second = _publish_captured(connection, "Second of the morning")
    assert not any(sql.startswith('UPDATE "connections_socialconnection"') for sql in second)
    connection.refresh_from_db()
    assert connection.last_used_at == used

    type(connection).objects.filter(pk=connection.pk).update(last_used_at=used - timedelta(minutes=2))
    _, later = _publish_captured(connection, "An hour later")
    assert any(sql.startswith('UPDATE "connections_socialconnection"') for sql in later)


def test_recording_a_publication_does_not_read_the_post_back(connect):
    connection = connect("twitter")
    post, queries = _publish_captured(connection, "Tee sheet open")
    reads = [sql for sql in queries if sql.startswith("SELECT") and 'FROM "posts_socialpost"' in sql]
    assert len(reads) == 1  # the attempt's own load
    record = post.history.order_by("-history_date").first()
    assert (record.status, record.platform_post_id, record.history_change_reason) == (
        S.PUBLISHED, post.platform_post_id, "published it")
    assert record.published_at == post.published_at
