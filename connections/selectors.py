from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from connections.models import SocialConnection
from connections.services import Health, connection_health, connection_missing_permissions
from crm.tenancy import scope_queryset


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

