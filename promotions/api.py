from rest_framework import viewsets

from crm.api_scoping import TenantScopedViewSetMixin
from promotions.models import EventPromotion
from promotions.serializers import EventPromotionSerializer


class EventPromotionViewSet(TenantScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    base_queryset = EventPromotion.objects.select_related("club").order_by("event_starts_at")
    serializer_class = EventPromotionSerializer
    filterset_fields = ["club", "source_type", "is_active"]
