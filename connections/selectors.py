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


def connection_rows(*, connections):
    now = timezone.now()
    rows = []
    for connection in connections:
        health = connection_health(connection, now=now)
        rows.append(ConnectionRow(connection, health, Health.LABELS[health], connection_missing_permissions(connection)))
    return rows


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
        MISSING_PERMISSIONS: "Missing permissions",
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
