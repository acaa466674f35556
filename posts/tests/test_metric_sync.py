"""Metric sync at scale and cost: only due posts, one run at a time, stable posts dropped, a monthly
read budget per tenant, snapshot retention."""

import importlib
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import psycopg
import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import StaffRole, Tenant
from crm.services import staff_create
from crm.tests.factories import ClubFactory
from posts import metrics
from posts.metrics import metric_snapshots_prune, metrics_next_sync, posts_sync_metrics
from posts.models import MetricReadUsage, PostMetricSnapshot, SocialPost
from posts.models import SocialPostStatus as S
from posts.publishing import post_claim, post_publish
from posts.services import post_create
from posts.tests.factories import SocialPostFactory
from socialcrm.schedules import periodic_schedules

pytestmark = pytest.mark.django_db


def _published(connection_, count=1, text="Club news"):
    """Posts published through the real publisher (so they exist at the simulator)."""
    posts = []
    for n in range(count):
        post = post_create(tenant=connection_.tenant, connection=connection_, content=f"{text} {n}",
                           created_by="alex", scheduled_at=timezone.now())
        post_publish(post_id=post.pk, claimed_at=post_claim(post_id=post.pk, now=timezone.now()))
        post.refresh_from_db()
        assert post.status == S.PUBLISHED
        posts.append(post)
    return posts


def _x_reads(simulator, since):
    return [r for r in simulator.requests(platform="twitter", since=since) if r["method"] == "GET"]


def _last_seq(simulator):
    return max((r["seq"] for r in simulator.requests()), default=0)


# ----------------------------------------------------------------------------- only due posts


def test_a_run_reads_only_due_posts_never_the_window(connect, simulator):
    x = connect("twitter")
    now = timezone.now()
    week_ago = now - timedelta(days=7)
    waiting = [SocialPostFactory(tenant=x.tenant, connection=x, status=S.PUBLISHED, published_at=week_ago,
                                 platform_post_id=f"9{n:05d}", metrics_next_sync_at=now + timedelta(hours=5))
               for n in range(6)]
    not_followed = SocialPostFactory(tenant=x.tenant, connection=x, status=S.PUBLISHED, published_at=week_ago,
                                     platform_post_id="900100", metrics_next_sync_at=None)
    due = [SocialPostFactory(tenant=x.tenant, connection=x, status=S.PUBLISHED, published_at=week_ago,
                             platform_post_id=f"8{n:05d}", metrics_next_sync_at=now - timedelta(minutes=n + 1))
           for n in range(2)]
    with CaptureQueriesContext(connection) as queries:
        summary = posts_sync_metrics(now=now)
    assert summary["read"] == 2 and summary["calls"] == 1
    post_selects = [q["sql"] for q in queries.captured_queries
                    if q["sql"].startswith("SELECT") and 'FROM "posts_socialpost"' in q["sql"]]
    assert post_selects
    # Every read of the posts table is bounded by the due time: none reads the 30-day window.
    assert all('"posts_socialpost"."metrics_next_sync_at" <=' in sql for sql in post_selects), post_selects
    assert not any('"published_at" >=' in sql for sql in post_selects)
    for post in waiting + [not_followed]:
        before = post.metrics_next_sync_at
        post.refresh_from_db()
        assert post.metrics_next_sync_at == before and post.metrics_unchanged_syncs == 0
    for post in due:
        post.refresh_from_db()
        assert post.metrics_next_sync_at > now  # moved on (the simulator does not know these ids)


def test_due_posts_of_one_account_are_read_in_chunks_of_the_batch_size(connect, simulator, monkeypatch):
    from platforms.twitter import TwitterAdapter

    monkeypatch.setattr(TwitterAdapter, "max_batch", 2)
    x = connect("twitter")
    posts = _published(x, count=5)
    seq = _last_seq(simulator)
    with CaptureQueriesContext(connection) as queries:
        summary = posts_sync_metrics()
    assert summary["synced"] == 5 and summary["read"] == 5
    assert len(_x_reads(simulator, seq)) == 3  # 2 + 2 + 1 ids
    limited = [q["sql"] for q in queries.captured_queries
               if q["sql"].startswith("SELECT") and 'FROM "posts_socialpost"' in q["sql"] and "LIMIT 2" in q["sql"]]
    assert len(limited) == 4  # three full or partial chunks and the empty one that ends the loop
    for post in posts:
        post.refresh_from_db()
        assert post.engagement_synced_at is not None


# ----------------------------------------------------------------------------- one run at a time


def _hold_sync_lock():
    params = connection.get_connection_params()
    other = psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port", "password")},
                            autocommit=True)
    other.execute("SELECT pg_advisory_lock(%s)", [metrics._LOCK_KEY])
    return other


def _wait_until_lock_is_free(timeout=10.0):
    """The server ends a closed session's backend (and drops its locks) a moment after the client goes."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s "
                           "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                           [metrics._LOCK_KEY & 0xFFFFFFFF])
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)
    raise AssertionError("the other session's lock was never released")


def test_a_second_run_while_one_is_going_does_nothing(connect, simulator):
    x = connect("twitter")
    (post,) = _published(x)
    seq = _last_seq(simulator)
    other = _hold_sync_lock()  # a run in another worker, holding the lock
    try:
        summary = posts_sync_metrics()
        assert summary["skipped"] == 1 and summary["synced"] == 0
        assert _x_reads(simulator, seq) == []
        post.refresh_from_db()
        assert post.engagement_synced_at is None and post.metrics_next_sync_at <= timezone.now()
    finally:
        other.close()  # that worker's run ends: its session lock goes with it
    _wait_until_lock_is_free()
    summary = posts_sync_metrics()
    assert summary["synced"] == 1 and "skipped" not in summary
    assert len(_x_reads(simulator, seq)) == 1


def test_the_lock_is_released_after_a_run_even_when_it_fails(connect, simulator, monkeypatch):
    x = connect("twitter")
    _published(x)

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(metrics, "_sync_connection", broken)
    with pytest.raises(RuntimeError):
        posts_sync_metrics()
    monkeypatch.undo()
    assert posts_sync_metrics()["synced"] == 1


# ----------------------------------------------------------------------------- cadence


def test_publishing_makes_a_post_due_and_each_sync_sets_the_next_time_from_the_cadence(connect, simulator):
    x = connect("twitter")
    first, second = _published(x, count=2)
    assert first.metrics_next_sync_at == first.published_at  # read at the next run
    now = timezone.now()
    SocialPost.objects.filter(pk=second.pk).update(published_at=now - timedelta(hours=20))  # 3-hourly step
    posts_sync_metrics(now=now)
    first.refresh_from_db()
    second.refresh_from_db()
    hour, three_hours = timedelta(hours=1), timedelta(hours=3)
    assert now + hour / 2 <= first.metrics_next_sync_at <= now + hour * 1.5
    assert now + three_hours / 2 <= second.metrics_next_sync_at <= now + three_hours * 1.5
    # The account's grid: a 3-hourly point is also an hourly point, so both posts meet in one call later.
    gap = (second.metrics_next_sync_at - first.metrics_next_sync_at).total_seconds()
    assert gap % 3600 == 0


def test_next_sync_stops_at_the_end_of_the_window():
    now = timezone.now()
    assert metrics_next_sync(published_at=now - timedelta(days=29, hours=23), now=now, connection_id="c") is None
    assert metrics_next_sync(published_at=now - timedelta(days=31), now=now, connection_id="c") is None
    assert metrics_next_sync(published_at=now - timedelta(days=20), now=now, connection_id="c") is not None


def test_posts_of_one_account_come_due_together_whatever_their_age():
    now = datetime(2026, 11, 25, 10, 17, tzinfo=dt_timezone.utc)
    times = {metrics_next_sync(published_at=now - timedelta(days=age, minutes=minutes), now=now + timedelta(minutes=m),
                               connection_id="acct-1")
             for age, minutes, m in ((5, 3, 0), (9, 40, 7), (12, 11, 20), (20, 0, 55))}
    assert len(times) == 1  # four daily-phase posts synced at different moments: one call tomorrow
    other = metrics_next_sync(published_at=now - timedelta(days=5), now=now, connection_id="acct-2")
    assert other not in times  # another account is spread elsewhere on the day


# ----------------------------------------------------------------------------- stopped changing


def _run_when_due(post):
    post.refresh_from_db()
    return posts_sync_metrics(now=max(post.metrics_next_sync_at, timezone.now()))


def test_a_post_whose_counts_stopped_changing_is_no_longer_synced(connect, simulator, settings):
    settings.METRICS_STABLE_SYNCS_TO_STOP = 3
    x = connect("twitter")
    quiet, busy = _published(x, count=2)
    two_days_ago = timezone.now() - timedelta(days=2)
    SocialPost.objects.filter(pk__in=[quiet.pk, busy.pk]).update(published_at=two_days_ago)
    simulator.set_metrics(quiet.platform_post_id, likes=5, impressions=50)
    seq = _last_seq(simulator)
    for n in range(4):  # first read, then three reads with the same counts
        simulator.set_metrics(busy.platform_post_id, likes=10 + n, impressions=100 + n)
        SocialPost.objects.filter(pk=busy.pk).update(metrics_next_sync_at=timezone.now() - timedelta(seconds=1))
        _run_when_due(quiet)
    quiet.refresh_from_db()
    busy.refresh_from_db()
    assert quiet.metrics_next_sync_at is None and quiet.metrics_unchanged_syncs == 3
    assert busy.metrics_next_sync_at is not None and busy.metrics_unchanged_syncs == 0 and busy.likes == 13
    calls = len(_x_reads(simulator, seq))
    summary = posts_sync_metrics(now=busy.metrics_next_sync_at + timedelta(days=5))
    assert summary["read"] == 1  # only the busy one
    assert len(_x_reads(simulator, seq)) == calls + 1


def test_a_young_post_with_quiet_first_hours_keeps_being_synced(connect, simulator, settings):
    settings.METRICS_STABLE_SYNCS_TO_STOP = 2
    x = connect("twitter")
    (post,) = _published(x)
    for _ in range(4):
        SocialPost.objects.filter(pk=post.pk).update(metrics_next_sync_at=timezone.now() - timedelta(seconds=1))
        posts_sync_metrics()
    post.refresh_from_db()
    assert post.metrics_unchanged_syncs == 3 and post.metrics_next_sync_at is not None


# ----------------------------------------------------------------------------- read budget


@pytest.fixture
def admin_client(club):
    staff_create(tenant_id=club.tenant_id, username="treasurer", password="pw-123456", role=StaffRole.ADMIN)
    client = Client()
    assert client.login(username="treasurer", password="pw-123456")
    return client


def test_a_spent_read_budget_stops_calls_for_the_month_and_says_so(connect, simulator, settings, admin_client):
    settings.METRICS_MONTHLY_READ_BUDGET = 5
    x = connect("twitter")
    Tenant.objects.filter(pk=x.tenant_id).update(metrics_monthly_read_budget=1)  # the tenant's own budget wins
    posts = _published(x, count=3)
    seq = _last_seq(simulator)
    now = timezone.now()
    assert posts_sync_metrics(now=now)["calls"] == 1
    usage = MetricReadUsage.objects.get(tenant=x.tenant)
    assert (usage.platform, usage.calls, usage.month) == ("TWITTER", 1, now.date().replace(day=1))
    assert usage.calls == len(_x_reads(simulator, seq))  # counted as the platform saw them

    later = now + timedelta(hours=2)
    summary = posts_sync_metrics(now=later)
    assert summary["calls"] == 0 and summary["over_budget"] == 3
    assert len(_x_reads(simulator, seq)) == 1
    for post in posts:
        post.refresh_from_db()
        assert post.metrics_next_sync_at <= later  # still due: read again when the budget allows

    page = admin_client.get("/").content.decode()
    assert '<p id="metric-reads">Metric reads this month: 1 of 1</p>' in page
    assert "The monthly read budget is spent" in page
    listing = admin_client.get(reverse("admin:posts_metricreadusage_changelist"))
    assert listing.status_code == 200 and "TWITTER" in listing.content.decode()

    next_month = (now.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=5)
    assert posts_sync_metrics(now=next_month)["calls"] == 1


def test_without_a_budget_the_spend_is_shown_and_nothing_stops(connect, simulator, settings, admin_client):
    settings.METRICS_MONTHLY_READ_BUDGET = 0
    x = connect("twitter")
    _published(x, count=2)
    assert posts_sync_metrics()["calls"] == 1
    page = admin_client.get("/").content.decode()
    assert "Metric reads this month: 1 (no monthly limit)" in page and "budget is spent" not in page


def test_the_spend_is_shown_to_tenant_admins_only(client, staff_user, tenant):
    MetricReadUsage.objects.create(tenant=tenant, month=timezone.now().date().replace(day=1), platform="TWITTER",
                                   calls=1234)
    ClubFactory(tenant=tenant)
    client.force_login(staff_user)
    assert "Metric reads" not in client.get("/").content.decode()


def test_the_usage_admin_shows_each_tenant_only_its_own_spend(club):
    month = timezone.now().date().replace(day=1)
    other = ClubFactory()
    mine = MetricReadUsage.objects.create(tenant=club.tenant, month=month, platform="TWITTER", calls=1234)
    theirs = MetricReadUsage.objects.create(tenant=other.tenant, month=month, platform="FACEBOOK", calls=98765)
    staff_create(tenant_id=club.tenant_id, username="boss", password="pw-123456", role=StaffRole.ADMIN)
    client = Client()
    assert client.login(username="boss", password="pw-123456")
    listing = client.get(reverse("admin:posts_metricreadusage_changelist")).content.decode()
    assert "1234" in listing and "98765" not in listing and other.tenant.name not in listing
    assert client.get(reverse("admin:posts_metricreadusage_change", args=[theirs.pk])).status_code in (302, 404)
    assert client.get(reverse("admin:posts_metricreadusage_change", args=[mine.pk])).status_code == 200
    # A counter: nobody edits it by hand.
    assert client.get(reverse("admin:posts_metricreadusage_add")).status_code == 403
    assert client.post(reverse("admin:posts_metricreadusage_change", args=[mine.pk]),
                       {"calls": "0"}).status_code == 403
    mine.refresh_from_db()
    assert mine.calls == 1234


# ----------------------------------------------------------------------------- retention


def test_snapshots_are_kept_hourly_for_a_week_then_one_a_day(settings):
    settings.METRICS_SNAPSHOT_HOURLY_DAYS = 7
    post = SocialPostFactory(status=S.PUBLISHED)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=dt_timezone.utc)
    for days_ago in range(12):
        day = (now - timedelta(days=days_ago)).replace(hour=0)
        for hour in (1, 7, 13, 19):
            PostMetricSnapshot.objects.create(post=post, taken_at=day + timedelta(hours=hour), likes=days_ago * 10 + hour)
    deleted = metric_snapshots_prune(now=now, lookback_days=None, batch_size=3)
    cutoff = datetime(2026, 11, 18, tzinfo=dt_timezone.utc)
    old = PostMetricSnapshot.objects.filter(post=post, taken_at__lt=cutoff)
    recent = PostMetricSnapshot.objects.filter(post=post, taken_at__gte=cutoff)
    assert recent.count() == 8 * 4  # the last 7 days and today, as taken
    assert old.count() == 4 and deleted == 4 * 3
    assert sorted(s.taken_at.hour for s in old) == [19, 19, 19, 19]  # each day's last reading kept
    # Run again: nothing more to do.
    assert metric_snapshots_prune(now=now, lookback_days=None) == 0


def test_the_regular_prune_looks_only_at_the_days_that_just_turned_old(settings):
    settings.METRICS_SNAPSHOT_HOURLY_DAYS = 7
    post = SocialPostFactory(status=S.PUBLISHED)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=dt_timezone.utc)
    for days_ago in (8, 20):
        day = (now - timedelta(days=days_ago)).replace(hour=0)
        for hour in (1, 13):
            PostMetricSnapshot.objects.create(post=post, taken_at=day + timedelta(hours=hour))
    assert metric_snapshots_prune(now=now) == 1
    assert PostMetricSnapshot.objects.filter(post=post).count() == 3


def test_the_prune_is_a_declared_housekeeping_schedule_and_task(eager_celery):
    from posts.tasks import prune_metric_snapshots

    schedule = next(s for s in periodic_schedules() if s.task == "posts.prune_metric_snapshots")
    assert schedule.every_seconds > 0 and prune_metric_snapshots.name == schedule.task
    post = SocialPostFactory(status=S.PUBLISHED)
    ten_days_ago = (timezone.now() - timedelta(days=10)).replace(hour=0, minute=0)
    for hour in (2, 3):
        PostMetricSnapshot.objects.create(post=post, taken_at=ten_days_ago + timedelta(hours=hour))
    prune_metric_snapshots.delay()
    assert PostMetricSnapshot.objects.filter(post=post).count() == 1


# ----------------------------------------------------------------------------- backfill


def test_the_migration_schedules_published_posts_still_in_the_window():
    migration = importlib.import_module("posts.migrations.0007_metric_sync_schedule_and_read_usage")
    now = timezone.now()
    never = SocialPostFactory(status=S.PUBLISHED, published_at=now - timedelta(hours=2), platform_post_id="1")
    synced = SocialPostFactory(status=S.PUBLISHED, published_at=now - timedelta(days=3, hours=1),
                               platform_post_id="2", engagement_synced_at=now - timedelta(hours=5))
    too_old = SocialPostFactory(status=S.PUBLISHED, published_at=now - timedelta(days=40), platform_post_id="3")
    draft = SocialPostFactory(status=S.DRAFT)
    migration.schedule_followed_posts(django_apps, None)
    for post in (never, synced, too_old, draft):
        post.refresh_from_db()
    assert never.metrics_next_sync_at == never.published_at
    assert synced.metrics_next_sync_at == synced.engagement_synced_at + timedelta(hours=24)
    assert too_old.metrics_next_sync_at is None and draft.metrics_next_sync_at is None
