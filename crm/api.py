from rest_framework import viewsets

from crm.selectors import campaign_list
from crm.serializers import CampaignSerializer, ClubSerializer
from crm.tenancy import visible_clubs


class CampaignViewSet(viewsets.ReadOnlyModelViewSet):
    """Campaigns with engagement totals rolled up from their posts."""

    serializer_class = CampaignSerializer
    filterset_fields = ["club"]

    def get_queryset(self):
        return campaign_list(user=self.request.user)


class ClubViewSet(viewsets.ReadOnlyModelViewSet):
    """The clubs the caller may see, with each club's timezone and date and time style."""

    serializer_class = ClubSerializer

    def get_queryset(self):
        return visible_clubs(self.request.user).order_by("name", "id")
