"""The publisher against the simulator: claims, every error class, missed window, reconciliation."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from platforms import PostContent, adapter_for_slug
from posts.models import PublishErrorKind as K
from posts.models import SchedulerHeartbeat, SocialPost
from posts.models import SocialPostStatus as S
from posts.publishing import post_claim, post_publish, posts_publish_due, posts_reconcile_stuck
from posts.services import post_create
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_scan(django_capture_on_commit_callbacks, eager_celery):
    def _scan(now=None):
        with django_capture_on_commit_callbacks(execute=True):
            return posts_publish_due(now=now)
    return _scan


def due(connection, text="Course open at 7am", **kw):
    post = post_create(tenant=connection.tenant, connection=connection, content=text, created_by="alex",
                       scheduled_at=timezone.now(), **kw)
    return post


def published_texts(simulator, platform="twitter"):
    return [p["text"] for p in simulator.published(platform=platform)]


def test_due_post_is_published_once_with_id_and_url(connect, simulator, run_scan):
    post = due(connect("twitter"), hashtags=["golf"])
    assert run_scan() == [post.pk]
    post.refresh_from_db()
    assert post.status == S.PUBLISHED and post.platform_post_id and post.published_at
    assert post.platform_url.endswith(post.platform_post_id)
    assert published_texts(simulator) == ["Course open at 7am\n\n#golf"]
    assert run_scan() == []
    assert len(simulator.published(platform="twitter")) == 1
    assert SchedulerHeartbeat.objects.get(name="publish_due_posts").last_summary["claimed"] == 0


def test_future_post_is_not_claimed(connect, run_scan):
    connection = connect("twitter")
    post_create(tenant=connection.tenant, connection=connection, content="Later", created_by="a",
                scheduled_at=timezone.now() + timedelta(minutes=5))
    assert run_scan() == []


def test_facebook_post_publishes(connect, simulator, run_scan):
    post = due(connect("facebook"), link_url="https://example.com/open-day")
    run_scan()
    post.refresh_from_db()
    assert post.status == S.PUBLISHED, post.error
    assert len(simulator.published(platform="facebook")) == 1


def test_server_error_is_retried_with_backoff_then_published(connect, simulator, run_scan, settings):
    settings.PUBLISH_BACKOFF_BASE_SECONDS = 30
    post = due(connect("twitter"))
    simulator.inject("twitter", "POST /2/tweets", "server_error")
    before = timezone.now()
    run_scan()
    post.refresh_from_db()
    assert post.status == S.SCHEDULED and post.error_kind == K.TRANSIENT and post.attempts == 1
    assert before + timedelta(seconds=14) <= post.next_attempt_at <= timezone.now() + timedelta(seconds=31)
    assert run_scan() == []  # not before its next attempt
    run_scan(now=post.next_attempt_at + timedelta(seconds=1))
    post.refresh_from_db()
    assert post.status == S.PUBLISHED and post.attempts == 2 and post.error is None
    assert len(simulator.published(platform="twitter")) == 1


def test_transient_errors_give_up_after_the_attempt_limit(connect, simulator, run_scan, settings):
    settings.PUBLISH_MAX_ATTEMPTS = 2
    post = due(connect("twitter"))
    simulator.inject("twitter", "POST /2/tweets", "server_error", times=5)
    run_scan()
    post.refresh_from_db()
    run_scan(now=post.next_attempt_at + timedelta(seconds=1))
    post.refresh_from_db()
    assert post.status == S.FAILED and post.error_kind == K.TRANSIENT
    assert post.error.startswith("Gave up after 2 attempts")


def test_rate_limit_is_not_retried_before_reset(connect, simulator, run_scan):
    post = due(connect("twitter"))
    simulator.inject("twitter", "POST /2/tweets", "rate_limit", reset_after=600)
    run_scan()
    post.refresh_from_db()
    assert post.status == S.SCHEDULED and post.error_kind == K.RATE_LIMITED
    reset = timezone.now() + timedelta(seconds=590)
    assert post.next_attempt_at >= reset
    # Well past the ordinary backoff, but still before the reset: nothing is claimed.
    assert run_scan(now=timezone.now() + timedelta(seconds=300)) == []
    assert run_scan(now=post.next_attempt_at) == [post.pk]
    post.refresh_from_db()
    assert post.status == S.PUBLISHED


def test_expired_token_is_refreshed_once_and_retried(connect, simulator, run_scan):
    connection = connect("twitter")
    post = due(connection)
    simulator.inject("twitter", "POST /2/tweets", "expired_token")
    run_scan()
    post.refresh_from_db()
    connection.refresh_from_db()
    assert post.status == S.PUBLISHED and connection.is_active
    assert len(simulator.published(platform="twitter")) == 1


def test_auth_failing_after_refresh_fails_and_marks_connection(connect, simulator, run_scan):
    connection = connect("twitter")
    post = due(connection)
    simulator.inject("twitter", "POST /2/tweets", "revoked_token", times=2)
    run_scan()
    post.refresh_from_db()
    connection.refresh_from_db()
    assert post.status == S.FAILED and post.error_kind == K.AUTH and "reconnect" in post.error
    assert not connection.is_active and connection.last_error


@pytest.mark.parametrize("kind, expected", [("duplicate", K.DUPLICATE), ("permission", K.PERMISSION)])
def test_permanent_errors_fail_at_once_with_platform_message(connect, simulator, run_scan, kind, expected):
    post = due(connect("twitter"))
    simulator.inject("twitter", "POST /2/tweets", kind)
    run_scan()
    post.refresh_from_db()
    assert post.status == S.FAILED and post.error_kind == expected and post.attempts == 1
    assert post.error and "allowed" in post.error or "permitted" in post.error  # the platform's own words
    assert simulator.published(platform="twitter") == []


def test_unreachable_media_fails_before_publishing(connect, simulator, run_scan):
    post = due(connect("twitter"), media_urls=[simulator.media_url("missing.jpg")])
    run_scan()
    post.refresh_from_db()
    assert post.status == S.FAILED and post.error_kind == K.INVALID_CONTENT and "missing.jpg" in post.error
    assert simulator.published(platform="twitter") == []


def test_post_overdue_beyond_window_is_failed_not_published(connect, simulator, run_scan, settings):
    post = due(connect("twitter"))
    later = timezone.now() + timedelta(seconds=settings.PUBLISH_MISSED_WINDOW_SECONDS + 60)
    assert run_scan(now=later) == []
    post.refresh_from_db()
    assert post.status == S.FAILED and post.error_kind == K.MISSED and "missed its publish time" in post.error
    assert simulator.published(platform="twitter") == []


def test_a_claim_is_won_once_and_a_redelivered_task_does_nothing(connect, simulator):
    post = due(connect("twitter"))
    now = timezone.now()
    claimed_at = post_claim(post_id=post.pk, now=now)
    assert claimed_at and post_claim(post_id=post.pk, now=now) is None
    SocialPost.objects.filter(pk=post.pk).update(status=S.PUBLISHING)
    assert post_publish(post_id=post.pk, claimed_at=claimed_at) is not None
    SocialPost.objects.filter(pk=post.pk).update(status=S.PUBLISHING)  # as if the outcome was never recorded
    assert post_publish(post_id=post.pk, claimed_at=claimed_at) is None
    assert len(simulator.published(platform="twitter")) == 1


def test_worker_killed_after_platform_accepted_is_reconciled_without_second_post(connect, simulator, settings,
                                                                                  run_scan):
    connection = connect("twitter")
    post = due(connection, hashtags=["news"])
    # The worker published at the platform, then died before recording it.
    adapter = adapter_for_slug("twitter")
    from connections.services import connection_credentials
    remote = adapter.publish(credentials=connection_credentials(connection=connection),
                             content=PostContent(text=post.content, hashtags=post.hashtags))
    stale = timezone.now() - timedelta(seconds=settings.PUBLISH_STUCK_AFTER_SECONDS + 5)
    SocialPost.objects.filter(pk=post.pk).update(status=S.PUBLISHING, publishing_started_at=stale, attempts=1)
    assert posts_reconcile_stuck() == {"published": 1}
    post.refresh_from_db()
    assert post.status == S.PUBLISHED and post.platform_post_id == remote.platform_post_id
    run_scan()
    assert len(simulator.published(platform="twitter")) == 1


def test_stuck_post_the_platform_never_got_is_retried(connect, simulator, settings, run_scan):
    post = due(connect("twitter"))
    stale = timezone.now() - timedelta(seconds=settings.PUBLISH_STUCK_AFTER_SECONDS + 5)
    SocialPost.objects.filter(pk=post.pk).update(status=S.PUBLISHING, publishing_started_at=stale, attempts=1)
    assert posts_reconcile_stuck() == {"retried": 1}
    post.refresh_from_db()
    assert post.status == S.SCHEDULED
    run_scan()
    post.refresh_from_db()
    assert post.status == S.PUBLISHED and len(simulator.published(platform="twitter")) == 1


def test_recently_started_post_is_left_alone():
    post = SocialPostFactory(status=S.PUBLISHING, publishing_started_at=timezone.now())
    assert posts_reconcile_stuck() == {}
    post.refresh_from_db()
    assert post.status == S.PUBLISHING


@pytest.mark.parametrize("slug,endpoint", [("twitter", "POST /2/tweets"), ("linkedin", "POST /rest/posts")])
def test_timeout_after_the_platform_accepted_is_not_published_twice(connect, simulator, run_scan, settings,
                                                                    slug, endpoint):
    # The platform keeps the post but answers too late: the caller gives up and retries later.
    settings.PLATFORM_HTTP_TIMEOUT = 0.5
    post = due(connect(slug), text="Greens are being hollow-tined this week")
    simulator.inject(slug, endpoint, "timeout", delay=1.5)
    run_scan()
    post.refresh_from_db()
    assert post.status == S.SCHEDULED and post.error_kind == K.TRANSIENT
    time.sleep(1.5)  # the platform finishes creating the post after our timeout
    assert len(simulator.published(platform=slug)) == 1
    run_scan(now=post.next_attempt_at + timedelta(seconds=1))
    post.refresh_from_db()
    assert post.status == S.PUBLISHED, post.error
    assert post.platform_post_id == simulator.published(platform=slug)[0]["post_id"]
    assert len(simulator.published(platform=slug)) == 1


def test_a_posts_content_refusal_is_the_posts_error_not_the_connections(connect, simulator, run_scan):
    connection = connect("twitter")
    post = due(connection)
    simulator.inject("twitter", "POST /2/tweets", "duplicate")
    run_scan()
    post.refresh_from_db()
    connection.refresh_from_db()
    assert post.status == S.FAILED and post.error
    assert connection.last_error is None and connection.last_error_at is None and connection.is_active
