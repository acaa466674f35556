from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from connections.models import SocialConnection
from crm.tenancy import scope_queryset
from platforms import get_adapter


def connection_list(*, user, club=None):
    connections = scope_queryset(SocialConnection.objects.select_related("club"), user)
    if club is not None:
        connections = connections.filter(Q(club=club) | Q(club__isnull=True))
    return connections.order_by("platform", "account_name")


@dataclass
class ConnectionRow:
    connection: SocialConnection
    health: str
    health_label: str
    missing_permissions: list
    # the missing permissions as staff read them: "publish posts on the Page (“Create content”)"
    missing_in_words: list


def connection_rows(*, connections):
    now = timezone.now()
    rows = []
    for connection in connections:
        health = connection_health(connection, now=now)
        missing = connection_missing_permissions(connection)
        adapter = get_adapter(connection.platform)
        rows.append(ConnectionRow(connection, health, Health.LABELS[health], missing,
                                  [adapter.permission_in_words(p) for p in missing]))
    return rows


def connection_warning(connection, *, now=None):
    """Why posts on this connection will not go out, in a sentence; "" when it can publish."""
    health = connection_health(connection, now=now)
    if health == Health.NEEDS_RECONNECT:
        return f"{connection} needs reconnecting: posts on it will not be published."
    if health == Health.MISSING_PERMISSIONS:
        adapter = get_adapter(connection.platform)
        missing = ", ".join(adapter.permission_in_words(p) for p in connection_missing_permissions(connection))
        return f"{connection} needs attention: {adapter.display_name} has not allowed SocialCRM to {missing}."
    return ""


def posts_with_connection_warnings(posts, *, now=None):
    """Set `connection_warning` on each post (its connection's health, read once per connection)."""
    warnings = {}
    for post in posts:
        if post.connection_id not in warnings:
            warnings[post.connection_id] = connection_warning(post.connection, now=now)
        post.connection_warning = warnings[post.connection_id]
    return posts


# ----------------------------------------------------------------------------- health


class Health:
    ACTIVE = "active"
    EXPIRING_SOON = "expiring_soon"
    NEEDS_RECONNECT = "needs_reconnect"
    MISSING_PERMISSIONS = "missing_permissions"

    LABELS = {
        ACTIVE: "Active",
        EXPIRING_SOON: "Expiring soon",
        NEEDS_RECONNECT: "Needs reconnect",
        MISSING_PERMISSIONS: "Needs attention",
    }


def connection_missing_permissions(connection):
    required = get_adapter(connection.platform).required_permissions
    granted = set(connection.permissions or [])
    return [permission for permission in required if permission not in granted]


def connection_health(connection, *, now=None):
    """What staff need to know about a connection, in one word."""
    now = now or timezone.now()
    if not connection.is_active:
        return Health.NEEDS_RECONNECT
    if connection.token_expiry and connection.token_expiry <= now and not connection.refresh_token:
        return Health.NEEDS_RECONNECT
    if connection_missing_permissions(connection):
        return Health.MISSING_PERMISSIONS
    warning = now + timedelta(days=settings.TOKEN_EXPIRY_WARNING_DAYS)
    renews_itself = connection.refresh_token and (
        connection.refresh_token_expiry is None or connection.refresh_token_expiry > warning
    )
    if connection.token_expiry and connection.token_expiry <= warning and not renews_itself:
        return Health.EXPIRING_SOON
    return Health.ACTIVE


def posting_slots(*, connection):
    """The connection's weekly posting times, Monday first."""
    return list(connection.posting_slots.order_by("weekday", "time"))
