"""``GET /api/v1/<posts|promotions|connections>/{id}/history/``: who did what to the row, for tenant admins."""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.history import history_entries
from crm.tenancy import membership_of


class HistoryEntrySerializer(serializers.Serializer):
    """One thing someone (or the system) did to the row."""

    actor = serializers.CharField(read_only=True, help_text='Who did it: a person\'s name, or "system".')
    action = serializers.CharField(read_only=True, help_text='What they did, e.g. "approved it".')
    at = serializers.DateTimeField(read_only=True)
    sentence = serializers.CharField(read_only=True, help_text='"Anna approved it".')


class HistoryActionMixin:
    """Adds the history action to a tenant-scoped viewset; a row the caller cannot see is "not found"."""

    @extend_schema(request=None, responses=HistoryEntrySerializer(many=True),
                   description="Who created, changed, approved, scheduled, published, cancelled or deleted it, "
                               "newest first. Tenant admins only.")
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request, pk=None):
        row = self.get_object()
        membership = membership_of(request.user)
        if membership is None or not membership.is_admin:
            raise exceptions.PermissionDenied("Only tenant admins can see the history.")
        return Response(HistoryEntrySerializer(history_entries(instance=row), many=True).data)
