import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from connections.models import PostingSlot, SocialConnection
from connections.serializers import DeleteOutcomeSerializer, PostingSlotSerializer, SocialConnectionSerializer
from connections.services import connection_deactivate, connection_delete, posting_slot_add, posting_slot_remove
from crm.api_scoping import TenantScopedFilterSet, TenantScopedViewSetMixin
from crm.history_api import HistoryActionMixin


class SocialConnectionFilter(TenantScopedFilterSet):
    active = django_filters.BooleanFilter(field_name="is_active")

    class Meta:
        model = SocialConnection
        fields = ["platform", "club", "is_active"]


class SocialConnectionViewSet(
    HistoryActionMixin, TenantScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Connected social accounts. They are created through the OAuth pages only; tokens never leave the server."""

    base_queryset = SocialConnection.objects.select_related("club").order_by("platform", "account_name")
    serializer_class = SocialConnectionSerializer
    filterset_class = SocialConnectionFilter

    @extend_schema(request=None, responses=SocialConnectionSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        connection = connection_deactivate(connection=self.get_object(), by=request.user.get_username())
        return Response(self.get_serializer(connection).data)

    @extend_schema(responses={200: DeleteOutcomeSerializer})
    def destroy(self, request, *args, **kwargs):
        """Revoke access at the platform where it can, then delete the connection and its posts."""
        outcome = connection_delete(connection=self.get_object(), by=request.user.get_username())
        return Response({"detail": outcome}, status=status.HTTP_200_OK)


class PostingSlotFilter(TenantScopedFilterSet):
    class Meta:
        model = PostingSlot
        fields = ["connection", "weekday"]


class PostingSlotViewSet(
    TenantScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.DestroyModelMixin, viewsets.GenericViewSet,
):
    """Weekly posting times of connections (club clock). "Add to queue" on a new post takes the next free one."""

    base_queryset = PostingSlot.objects.select_related("connection").order_by("connection", "weekday", "time")
    serializer_class = PostingSlotSerializer
    filterset_class = PostingSlotFilter

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = posting_slot_add(connection=data["connection"], weekday=data["weekday"], at=data["time"])

    def perform_destroy(self, instance):
        posting_slot_remove(slot=instance)
