from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils import timezone

from connections.models import SocialConnection
from notifications.selectors import digest_due
from notifications.services import (
    delivery_send_email,
    digest_send,
    notifications_scan,
    notify_connection_needs_reconnect,
    notify_post_failed,
)
from posts.models import SocialPost
from socialcrm.schedules import heartbeat_record


@shared_task(name="notifications.post_failed")
def post_failed(*, post_id):
    post = SocialPost.objects.select_related("connection").filter(pk=post_id).first()
    if post is None:
        return "gone"
    return "raised" if notify_post_failed(post=post) else "already-raised"


@shared_task(name="notifications.connection_needs_reconnect")
def connection_needs_reconnect(*, connection_id):
    connection = SocialConnection.objects.select_related("club").filter(pk=connection_id).first()
    if connection is None:
        return "gone"
    return "raised" if notify_connection_needs_reconnect(connection=connection) else "already-raised"


# Only a failure to reach the mail server is retried; the delivery's claim makes a retry safe.
@shared_task(name="notifications.send_email", autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
def send_email(*, delivery_id):
    return delivery_send_email(delivery_id=delivery_id)


@shared_task(name="notifications.scan_notifications")
def scan_notifications():
    return notifications_scan()


@shared_task(name="notifications.send_digests")
def send_digests():
    """Fan out: one digest task per person with notifications waiting for their daily summary."""
    now = timezone.now()
    users = digest_due(now=now)
    for user_id in users:
        send_digest.delay(user_id=user_id)
    heartbeat_record(name="send_digests", summary={"people": len(users)}, now=now)
    return len(users)


@shared_task(name="notifications.send_digest", autoretry_for=(OSError,), retry_backoff=30, max_retries=3)
def send_digest(*, user_id):
    if not get_user_model().objects.filter(pk=user_id).exists():
        return 0
    return digest_send(user_id=user_id)
