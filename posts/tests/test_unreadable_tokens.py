"""A token the vault cannot open ends the work with a reason for staff, never a stuck post or a crash loop."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.models import SocialConnection
from connections.tasks import refresh_connection_tokens
from posts.metrics import posts_sync_metrics
from posts.models import PublishErrorKind as K
from posts.models import SocialPostStatus as S
from posts.publishing import posts_publish_due, posts_reconcile_stuck
from posts.services import post_create
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db


def _make_unreadable(connection):
    # As after its encryption key was removed from TOKEN_ENCRYPTION_KEYS.
    SocialConnection.objects.filter(pk=connection.pk).update(
        access_token=connection.access_token.replace("v1:test2:", "v1:removed:"))
    connection.refresh_from_db()


def _assert_needs_reconnect(connection):
    connection.refresh_from_db()
    assert not connection.is_active and "Reconnect the account" in connection.last_error


def test_undecryptable_token_fails_the_post_with_a_reconnect_reason(connect, simulator, eager_celery,
                                                                     django_capture_on_commit_callbacks):
    connection = connect("twitter")
    post = post_create(tenant=connection.tenant, connection=connection, content="Course open", created_by="a",
                       scheduled_at=timezone.now())
    _make_unreadable(connection)
    with django_capture_on_commit_callbacks(execute=True):
        posts_publish_due()
    post.refresh_from_db()
    assert post.status == S.FAILED and post.error_kind == K.AUTH
    assert "could not be read" in post.error and "Reconnect the account" in post.error
    assert simulator.published(platform="twitter") == []
    _assert_needs_reconnect(connection)


def test_stuck_post_with_an_undecryptable_token_is_settled(connect, settings):
    connection = connect("twitter")
    started = timezone.now() - timedelta(seconds=settings.PUBLISH_STUCK_AFTER_SECONDS + 60)
    post = SocialPostFactory(connection=connection, content="Stuck", status=S.PUBLISHING, attempts=1,
                             scheduled_at=started, publishing_started_at=started)
    _make_unreadable(connection)
    assert posts_reconcile_stuck() == {"failed": 1}
    post.refresh_from_db()
    assert post.status == S.FAILED and "Reconnect the account" in post.error
    _assert_needs_reconnect(connection)


def test_metrics_sync_and_token_refresh_stop_on_an_undecryptable_token(connect):
    connection = connect("twitter")
    two_hours_ago = timezone.now() - timedelta(hours=2)
    SocialPostFactory(connection=connection, content="Done", status=S.PUBLISHED, scheduled_at=two_hours_ago,
                      published_at=two_hours_ago, platform_post_id="1900000000000000001",
                      metrics_next_sync_at=two_hours_ago)
    SocialConnection.objects.filter(pk=connection.pk).update(token_expiry=timezone.now() + timedelta(minutes=1))
    _make_unreadable(connection)
    assert refresh_connection_tokens(connection_id=str(connection.pk), tenant_id=connection.tenant_id) == "needs-reconnect"
    _assert_needs_reconnect(connection)
    assert posts_sync_metrics()["failed"] == 1
