from rest_framework import viewsets

from crm.api_scoping import TenantScopedViewSetMixin
from posts.models import SocialPost
from posts.serializers import SocialPostSerializer


class SocialPostViewSet(TenantScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    base_queryset = SocialPost.objects.select_related("connection").order_by("-scheduled_at", "-created_at")
    serializer_class = SocialPostSerializer
    filterset_fields = ["status", "connection", "campaign"]
