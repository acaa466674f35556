"""Reads: who hears about an event, what each person chose, which banners a person sees."""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from connections.selectors import Health, connection_health
from crm.models import StaffRole
from notifications.models import Notification, NotificationDelivery, NotificationKind, NotificationPreference
from posts.models import SocialPostStatus

BANNER_LIMIT = 5


@dataclass(frozen=True)
class Choice:
    email: bool = True
    digest: bool = False


def preferences_of(*, user):
    """Every kind with the person's choice (email on, no digest unless they changed it)."""
    stored = {p.kind: Choice(email=p.email, digest=p.digest)
              for p in NotificationPreference.objects.filter(user=user)}
    return {kind: stored.get(kind, Choice()) for kind in NotificationKind.values}


def recipients(*, tenant_id, club_id, author=None, admins_only=False, author_only=False):
    """Active logins of the tenant responsible for a row of ``club_id``: its admins, the staff who work for that
    club (or for every club), and the author. Superusers and other tenants' logins never."""
    users = get_user_model().objects.filter(is_active=True, is_superuser=False, membership__tenant_id=tenant_id)
    if author_only:
        return list(users.filter(username=author)) if author else []
    who = Q(membership__role=StaffRole.ADMIN)
    if author:
        who |= Q(username=author)
    if not admins_only:
        who |= Q(membership__clubs__isnull=True)
        if club_id is None:
            who |= Q(membership__isnull=False)
        else:
            who |= Q(membership__clubs=club_id)
    return list(users.filter(who).distinct().order_by("pk"))


def notification_is_settled(notification, *, now=None):
    """Whether the subject is fine again: the post is no longer failed, the connection works again."""
    kind = notification.kind
    if kind == NotificationKind.POST_FAILED:
        return notification.post is None or notification.post.status != SocialPostStatus.FAILED
    if kind in (NotificationKind.CONNECTION_RECONNECT, NotificationKind.CONNECTION_EXPIRING):
        connection = notification.connection
        if connection is None:
            return True
        health = connection_health(connection, now=now)
        if kind == NotificationKind.CONNECTION_RECONNECT:
            return health != Health.NEEDS_RECONNECT
        return health not in (Health.EXPIRING_SOON, Health.NEEDS_RECONNECT)
    return False


def _open_deliveries(user):
    return (NotificationDelivery.objects.filter(user=user, dismissed_at__isnull=True,
                                                notification__resolved_at__isnull=True)
            .select_related("notification", "notification__post", "notification__connection")
            .order_by("-created_at"))


def banners_for(*, user, limit=BANNER_LIMIT):
    """The person's notifications still to act on (not dismissed, not resolved), newest first."""
    if not getattr(user, "is_authenticated", False):
        return []
    now = timezone.now()
    shown = []
    for delivery in _open_deliveries(user)[:limit * 4]:
        if not notification_is_settled(delivery.notification, now=now):
            shown.append(delivery.notification)
        if len(shown) == limit:
            break
    return shown


def notifications_of(*, user):
    """The notifications the person received (API list): their own deliveries, newest first."""
    mine = NotificationDelivery.objects.filter(notification=OuterRef("pk"), user=user)
    return (Notification.objects.filter(Exists(mine))
            .annotate(dismissed_at=Subquery(mine.values("dismissed_at")[:1]))
            .order_by("-created_at", "-pk"))


def delivery_of(*, user, notification):
    return NotificationDelivery.objects.filter(user=user, notification=notification).first()


def open_notifications(*, kinds, limit=500):
    """Unresolved notifications of these kinds, for the scan that resolves them."""
    return list(Notification.objects.filter(kind__in=kinds, resolved_at__isnull=True)
                .select_related("post", "connection").order_by("created_at")[:limit])


def digest_due(*, now, window=timedelta(days=1)):
    """Ids of logins with notifications for their daily summary waiting from the last day."""
    return list(NotificationDelivery.objects.filter(digest_wanted=True, digested_at__isnull=True,
                                                    created_at__gte=now - window)
                .values_list("user_id", flat=True).distinct().order_by("user_id"))
