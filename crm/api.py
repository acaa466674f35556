from collections.abc import Mapping

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.permissions import IsTenantStaff
from crm.selectors import campaign_list
from crm.serializers import CampaignSerializer, ClubSerializer, TenantSettingsSerializer
from crm.services import tenant_settings_update
from crm.tenancy import membership_of, require_membership, visible_clubs
from promotions.reports import campaign_report
from promotions.serializers import ReportSerializer


class CampaignViewSet(viewsets.ReadOnlyModelViewSet):
    """Campaigns with engagement totals rolled up from their posts."""

    serializer_class = CampaignSerializer
    filterset_fields = ["club"]

    def get_queryset(self):
        return campaign_list(user=self.request.user)

    @extend_schema(responses={200: ReportSerializer})
    @action(detail=True, methods=["get"])
    def report(self, request, pk=None):
        """The campaign's posts and engagement per network and its promotions' emails and texts (as on its page)."""
        report = campaign_report(campaign=self.get_object())
        return Response(ReportSerializer({"title": report.title, "rows": report.rows}).data)


class ClubViewSet(viewsets.ReadOnlyModelViewSet):
    """The clubs the caller may see, with each club's timezone and date and time style."""

    serializer_class = ClubSerializer

    def get_queryset(self):
        return visible_clubs(self.request.user).order_by("name", "id")


class IsTenantAdmin(IsTenantStaff):
    message = "Only tenant admins can see or change the organisation's settings."

    def has_permission(self, request, view):
        membership = membership_of(request.user)
        return membership is not None and membership.is_admin


class TenantSettingsView(APIView):
    """``/api/v1/tenant/settings/``: the caller's own organisation's settings (tenant admins)."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(responses=TenantSettingsSerializer)
    def get(self, request):
        return Response(TenantSettingsSerializer(require_membership(request.user).tenant).data)

    @extend_schema(request=TenantSettingsSerializer, responses=TenantSettingsSerializer)
    def patch(self, request):
        tenant = require_membership(request.user).tenant
        writable = {name for name, field in TenantSettingsSerializer().fields.items() if not field.read_only}
        if not isinstance(request.data, Mapping) or not writable & set(request.data):
            raise ValidationError([f"Send at least one setting to change: {', '.join(sorted(writable))}."])
        serializer = TenantSettingsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        tenant = tenant_settings_update(tenant=tenant, by=request.user, **serializer.validated_data)
        return Response(TenantSettingsSerializer(tenant).data)
