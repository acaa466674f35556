"""A Sydney club scheduling across a daylight-saving change; metrics sync on the aging cadence."""

from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm.clock import club_local_to_utc
from crm.tests.factories import ClubFactory
from posts.metrics import metrics_due, posts_sync_metrics, sync_interval
from posts.models import PostMetricSnapshot
from posts.models import SocialPostStatus as S
from posts.publishing import posts_publish_due
from posts.services import post_create
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db
SYDNEY = ZoneInfo("Australia/Sydney")


def next_dst_change(zone, after):
    day = after
    offset = datetime.combine(day, time(12), tzinfo=zone).utcoffset()
    while datetime.combine(day, time(12), tzinfo=zone).utcoffset() == offset:
        day += timedelta(days=1)
    return day  # the first day on the new offset


def test_sydney_post_scheduled_across_dst_change_publishes_at_intended_local_time(connect, simulator,
                                                                                  django_capture_on_commit_callbacks,
                                                                                  eager_celery):
    sydney = ClubFactory(timezone="Australia/Sydney")
    x = connect("twitter", club=sydney)
    today = timezone.now().astimezone(SYDNEY).date()
    change = next_dst_change(SYDNEY, today + timedelta(days=1))
    intended = datetime.combine(change + timedelta(days=1), time(9, 0))  # 9:00 the day after the change
    at = club_local_to_utc(sydney, intended)
    # The offset of the publish day, not today's: a fixed offset would be an hour out.
    assert at.astimezone(SYDNEY).replace(tzinfo=None) == intended
    assert at.astimezone(SYDNEY).utcoffset() != timezone.now().astimezone(SYDNEY).utcoffset()
    post = post_create(tenant=sydney.tenant, connection=x, content="Summer hours start", created_by="a",
                       scheduled_at=at)

    def scan(now):
        with django_capture_on_commit_callbacks(execute=True):
            return posts_publish_due(now=now)

    # Today's offset applied to the publish day would be an hour early or late.
    fixed_offset = dt_timezone(timezone.now().astimezone(SYDNEY).utcoffset())
    wrong = datetime.combine(intended.date(), intended.time(), tzinfo=fixed_offset)
    assert abs(wrong - at) == timedelta(hours=1)
    assert scan(min(at, wrong) - timedelta(seconds=1)) == []
    if wrong < at:
        assert scan(wrong) == []
    assert scan(at - timedelta(seconds=1)) == []
    assert scan(at) == [post.pk]
    post.refresh_from_db()
    assert post.status == S.PUBLISHED
    assert len(simulator.published(platform="twitter")) == 1


def test_local_time_in_the_skipped_hour_moves_past_the_gap():
    club = ClubFactory(timezone="Australia/Sydney")
    change = next_dst_change(SYDNEY, date(2030, 9, 1))  # clocks go forward at 02:00 → 03:00
    at = club_local_to_utc(club, datetime.combine(change, time(2, 30)))
    assert at.astimezone(SYDNEY).hour == 3


def test_sync_interval_follows_the_aging_cadence():
    hours = [sync_interval(timedelta(hours=h)) for h in (1, 7, 30, 100, 800)]
    assert hours == [timedelta(hours=1), timedelta(hours=3), timedelta(hours=12), timedelta(hours=24), None]


def test_metrics_due_is_the_posts_whose_next_sync_time_has_come():
    now = timezone.now()
    due = SocialPostFactory(status=S.PUBLISHED, published_at=now - timedelta(hours=2), platform_post_id="1",
                            metrics_next_sync_at=now - timedelta(minutes=1))
    SocialPostFactory(status=S.PUBLISHED, published_at=now - timedelta(hours=30), platform_post_id="2",
                      metrics_next_sync_at=now + timedelta(hours=10))  # every 12 h at this age: not yet
    SocialPostFactory(status=S.PUBLISHED, published_at=now - timedelta(days=40), platform_post_id="3")  # not followed
    assert [p.pk for p in metrics_due(now=now)] == [due.pk]


def test_metrics_sync_batches_records_history_and_slows_on_usage(connect, simulator, django_capture_on_commit_callbacks,
                                                               eager_celery, settings):
    x = connect("twitter")
    posts = [post_create(tenant=x.tenant, connection=x, content=f"Result {n}", created_by="a",
                         scheduled_at=timezone.now()) for n in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        posts_publish_due()
    for post in posts:
        post.refresh_from_db()
        assert post.status == S.PUBLISHED
    simulator.set_metrics(posts[0].platform_post_id, likes=12, impressions=340)
    seq = simulator.requests(platform="twitter")[-1]["seq"]
    summary = posts_sync_metrics()
    assert summary["synced"] == 3
    calls = [r for r in simulator.requests(platform="twitter", since=seq) if r["method"] == "GET"]
    assert len(calls) == 1  # one batched call for the three posts (X: up to 100 ids)
    posts[0].refresh_from_db()
    assert posts[0].likes == 12 and posts[0].impressions == 340 and posts[0].engagement_synced_at
    assert PostMetricSnapshot.objects.filter(post=posts[0]).count() == 1
    # Nothing due again within the hour.
    assert posts_sync_metrics()["synced"] == 0
    # An hour later (on the account's hourly grid: at most 1.5 h) it is; but the account is at its
    # limit, so the sync waits.
    from platforms import usage
    usage.record("TWITTER", x.account_id, usage.Usage(percent=95, remaining=5, limit=100,
                                                      reset_at=timezone.now() + timedelta(minutes=10)))
    later = timezone.now() + timedelta(hours=1, minutes=31)
    summary = posts_sync_metrics(now=later)
    assert (summary["synced"], summary["slowed"], summary["failed"], summary["calls"]) == (0, 3, 0, 0)
