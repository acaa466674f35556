from rest_framework import mixins, viewsets

from connections.models import SocialConnection
from connections.serializers import SocialConnectionSerializer
from crm.api_scoping import TenantScopedViewSetMixin


class SocialConnectionViewSet(TenantScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Connected social accounts. Connections are created through the OAuth pages only."""

    base_queryset = SocialConnection.objects.select_related("club").order_by("platform", "account_name")
    serializer_class = SocialConnectionSerializer
    filterset_fields = ["platform", "club", "is_active"]
