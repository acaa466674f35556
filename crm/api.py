from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.selectors import campaign_list
from crm.serializers import CampaignSerializer, ClubSerializer
from crm.tenancy import visible_clubs
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
