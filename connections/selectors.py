from django.db.models import Q

from connections.models import SocialConnection
from crm.tenancy import scope_queryset


def connection_list(*, user, club=None):
    connections = scope_queryset(SocialConnection.objects.select_related("club"), user)
    if club is not None:
        connections = connections.filter(Q(club=club) | Q(club__isnull=True))
    return connections.order_by("platform", "account_name")
