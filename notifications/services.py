"""Writes: raise a notification once per event occurrence, email it, summarise a day, dismiss and resolve.

Raising is idempotent: the (kind, subject, occurrence) constraint lets exactly one caller create the row and
its deliveries; every later report of the same occurrence finds it and sends nothing. Emails are sent by a
task per delivery that claims the delivery first (a conditional UPDATE), so a duplicated or retried task never
sends the same email twice.
"""

import hashlib
import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from connections.models import SocialConnection
from connections.selectors import Health, connection_health
from crm.dates import format_moment
from notifications.models import Notification, NotificationDelivery, NotificationKind, NotificationPreference
from notifications.selectors import (
    Choice,
    notification_is_settled,
    open_notifications,
    preferences_of,
    recipients,
)
from posts.models import SocialPost, SocialPostStatus
from socialcrm.schedules import heartbeat_record

logger = logging.getLogger("notifications")

EMAIL_TASK = "notifications.send_email"  # notifications/tasks.py
# A claim older than this belongs to a worker that died before sending: another task may take it over.
EMAIL_CLAIM_SECONDS = 600


# ----------------------------------------------------------------------------- raising


def notification_raise(*, kind, tenant_id, club_id, subject, occurrence, title, message, link, people,
                       post=None, connection=None):
    """Create the notification and one delivery per person, once; emails are enqueued after commit.

    Returns the new notification, or None when this occurrence was already raised."""
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                tenant_id=tenant_id, club_id=club_id, kind=kind, subject=subject, occurrence=occurrence[:80],
                title=title[:200], message=message, link=link, post=post, connection=connection)
            chosen = {p.user_id: p for p in NotificationPreference.objects.filter(user__in=people, kind=kind)}
            deliveries = []
            for user in people:
                choice = chosen.get(user.pk) or Choice()
                deliveries.append(NotificationDelivery(notification=notification, user=user,
                                                       email_wanted=choice.email, digest_wanted=choice.digest))
            NotificationDelivery.objects.bulk_create(deliveries)
    except IntegrityError:
        return None
    to_email = [d.pk for d in notification.deliveries.filter(email_wanted=True).order_by("pk")]
    transaction.on_commit(lambda: _enqueue_emails(to_email))
    return notification


def _enqueue_emails(delivery_ids):
    for delivery_id in delivery_ids:
        current_app.signature(EMAIL_TASK, kwargs={"delivery_id": delivery_id}).apply_async()


def _post_link(post):
    return reverse("posts:detail", kwargs={"post_id": post.pk})


def _account(connection):
    return f"{connection.get_platform_display()} account “{connection.account_name}”"


def notify_post_failed(*, post):
    """A post failed: its author, its club's staff and the admins hear about it once per failure.

    The occurrence is the publish time the failure belongs to: retrying or publishing again sets a new one."""
    if post.status != SocialPostStatus.FAILED:
        return None
    connection = post.connection
    occurrence = post.scheduled_at.isoformat() if post.scheduled_at else "unscheduled"
    return notification_raise(
        kind=NotificationKind.POST_FAILED, tenant_id=post.tenant_id, club_id=connection.club_id,
        subject=f"post:{post.pk}", occurrence=occurrence, post=post,
        title=f"A post to {_account(connection)} was not published",
        message=(post.error or "The platform did not accept the post.") + " Open the post to edit or retry it.",
        link=_post_link(post),
        people=recipients(tenant_id=post.tenant_id, club_id=connection.club_id, author=post.created_by))


def _sign_in_fingerprint(connection):
    # Which sign-in the event belongs to: reconnecting (or a refresh) stores new sealed tokens, a new occurrence.
    # A digest of the sealed value only; the token itself is never read here.
    return hashlib.sha256((connection.access_token or "").encode()).hexdigest()[:32]


def notify_connection_needs_reconnect(*, connection):
    if connection_health(connection) != Health.NEEDS_RECONNECT:
        return None
    return notification_raise(
        kind=NotificationKind.CONNECTION_RECONNECT, tenant_id=connection.tenant_id, club_id=connection.club_id,
        subject=f"connection:{connection.pk}", occurrence=_sign_in_fingerprint(connection), connection=connection,
        title=f"The {_account(connection)} needs reconnecting",
        message=((connection.last_error + " ") if connection.last_error else "")
        + "Posts to this account cannot be published until someone reconnects it.",
        link=reverse("connections:list"),
        people=recipients(tenant_id=connection.tenant_id, club_id=connection.club_id, author=connection.connected_by))


def notify_connection_expiring(*, connection):
    if connection_health(connection) != Health.EXPIRING_SOON or connection.token_expiry is None:
        return None
    return notification_raise(
        kind=NotificationKind.CONNECTION_EXPIRING, tenant_id=connection.tenant_id, club_id=connection.club_id,
        subject=f"connection:{connection.pk}", occurrence=connection.token_expiry.isoformat(), connection=connection,
        title=f"The {_account(connection)} stops working soon",
        message=f"Its sign-in runs out on {format_moment(connection.token_expiry, connection.club)}. "
                "Reconnect it before then to keep publishing.",
        link=reverse("connections:list"),
        people=recipients(tenant_id=connection.tenant_id, club_id=connection.club_id, author=connection.connected_by))


def notify_approval_requested(*, post, by=None):
    connection = post.connection
    return notification_raise(
        kind=NotificationKind.APPROVAL_REQUESTED, tenant_id=post.tenant_id, club_id=connection.club_id,
        subject=f"post:{post.pk}", occurrence=f"{post.updated_at.isoformat()}", post=post,
        title=f"A post to {_account(connection)} waits for approval",
        message=f"{by or post.created_by} asked for this post to be approved.",
        link=_post_link(post),
        people=recipients(tenant_id=post.tenant_id, club_id=connection.club_id, admins_only=True))


def notify_approval_decided(*, post, by=None, approved=True, comment=""):
    Notification.objects.filter(kind=NotificationKind.APPROVAL_REQUESTED, subject=f"post:{post.pk}",
                                resolved_at__isnull=True).update(resolved_at=timezone.now())
    connection = post.connection
    verdict = "approved" if approved else "sent back"
    return notification_raise(
        kind=NotificationKind.APPROVAL_DECIDED, tenant_id=post.tenant_id, club_id=connection.club_id,
        subject=f"post:{post.pk}", occurrence=f"{post.updated_at.isoformat()}:{verdict}", post=post,
        title=f"Your post to {_account(connection)} was {verdict}",
        message=f"{by or 'An approver'} {verdict} it." + (f" Comment: {comment}" if comment else ""),
        link=_post_link(post),
        people=recipients(tenant_id=post.tenant_id, club_id=connection.club_id, author=post.created_by,
                          author_only=True))


# ----------------------------------------------------------------------------- the periodic scan


def notifications_scan(*, now=None, limit=500):
    """Catch what no signal reported (posts failed in bulk for missing their time, tokens running out) and
    resolve notifications whose subject is fine again. Raising is idempotent, so running twice does no harm."""
    now = now or timezone.now()
    raised = 0
    recent_failures = (SocialPost.objects.filter(status=SocialPostStatus.FAILED,
                                                 updated_at__gte=now - timedelta(days=2))
                       .select_related("connection").order_by("-updated_at")[:limit])
    for post in recent_failures:
        raised += notify_post_failed(post=post) is not None
    window = now + timedelta(days=settings.TOKEN_EXPIRY_WARNING_DAYS)
    # Connections that stopped working were announced when it happened (a deliberately deactivated one is not
    # news); the scan looks at active ones whose sign-in ran out or soon will.
    troubled = (SocialConnection.objects.filter(is_active=True, token_expiry__lte=window)
                .select_related("club", "tenant").order_by("pk")[:limit])
    for connection in troubled:
        raised += notify_connection_needs_reconnect(connection=connection) is not None
        raised += notify_connection_expiring(connection=connection) is not None
    resolved = notifications_resolve_settled(now=now)
    summary = {"raised": raised, "resolved": resolved}
    heartbeat_record(name="scan_notifications", summary=summary, now=now)
    return summary


def notifications_resolve_settled(*, now=None):
    now = now or timezone.now()
    settled = [n.pk for n in open_notifications(kinds=[NotificationKind.POST_FAILED,
                                                       NotificationKind.CONNECTION_RECONNECT,
                                                       NotificationKind.CONNECTION_EXPIRING])
               if notification_is_settled(n, now=now)]
    return Notification.objects.filter(pk__in=settled, resolved_at__isnull=True).update(resolved_at=now)


# ----------------------------------------------------------------------------- email


def _absolute(link):
    return settings.SITE_URL + link if link else settings.SITE_URL + "/"


def _send(*, to, subject, template, context):
    context = {**context, "site_url": settings.SITE_URL, "settings_url": _absolute(reverse("notifications:settings"))}
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()


def delivery_send_email(*, delivery_id, now=None):
    """Email one delivery, at most once: claim it, send, record. A send that raises releases the claim, so
    the task's retry sends it; a claimed or sent delivery is left alone."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=EMAIL_CLAIM_SECONDS)
    won = (NotificationDelivery.objects.filter(pk=delivery_id, email_wanted=True, emailed_at__isnull=True)
           .filter(Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lt=stale))
           .update(email_claimed_at=now))
    if not won:
        return "already-sent"
    delivery = NotificationDelivery.objects.select_related("notification", "user").get(pk=delivery_id)
    notification = delivery.notification
    if not delivery.user.email or not delivery.user.is_active:
        NotificationDelivery.objects.filter(pk=delivery_id).update(emailed_at=now)
        return "no-address"
    try:
        _send(to=delivery.user.email, subject=notification.title, template="notification",
              context={"notification": notification, "link": _absolute(notification.link),
                       "name": delivery.user.get_short_name() or delivery.user.get_username()})
    except Exception:
        NotificationDelivery.objects.filter(pk=delivery_id, emailed_at__isnull=True).update(email_claimed_at=None)
        raise
    NotificationDelivery.objects.filter(pk=delivery_id).update(emailed_at=timezone.now())
    return "sent"


def digest_send(*, user_id, now=None, window=timedelta(days=1)):
    """One summary email of the last day's notifications the person chose a digest for; nothing when there is
    nothing. The deliveries are claimed first, so a second run for the same day sends nothing."""
    now = now or timezone.now()
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return 0
    with transaction.atomic():
        due = list(NotificationDelivery.objects.select_for_update(skip_locked=True)
                   .filter(user=user, digest_wanted=True, digested_at__isnull=True, created_at__gte=now - window)
                   .order_by("pk").values_list("pk", flat=True))
        if not due:
            return 0
        NotificationDelivery.objects.filter(pk__in=due).update(digested_at=now)
        notifications = list(Notification.objects.filter(deliveries__pk__in=due).order_by("created_at"))
        if user.email:
            count = len(notifications)
            items = [{"title": n.title, "message": n.message, "link": _absolute(n.link)} for n in notifications]
            # Sent inside the claim's transaction: a failed send rolls the claim back for the task's retry.
            _send(to=user.email, subject=f"Your daily summary: {count} notification{'s' if count != 1 else ''}",
                  template="notification_digest",
                  context={"items": items, "name": user.get_short_name() or user.get_username()})
    return len(due)


# ----------------------------------------------------------------------------- people's actions


def notification_dismiss(*, user, notification):
    """Hide the banner for this person (others still see theirs)."""
    return NotificationDelivery.objects.filter(user=user, notification=notification,
                                               dismissed_at__isnull=True).update(dismissed_at=timezone.now())


def preferences_update(*, user, choices):
    """``choices``: {kind: {"email": bool, "digest": bool}}; kinds not named keep their setting."""
    current = preferences_of(user=user)
    for kind, choice in choices.items():
        if kind not in NotificationKind.values:
            raise ValueError(f"Unknown notification kind: {kind}")
        NotificationPreference.objects.update_or_create(
            user=user, kind=kind,
            defaults={"email": bool(choice.get("email", current[kind].email)),
                      "digest": bool(choice.get("digest", current[kind].digest))})
    return preferences_of(user=user)
