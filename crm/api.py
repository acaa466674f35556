from rest_framework import viewsets

from crm.selectors import campaign_list
from crm.serializers import CampaignSerializer


class CampaignViewSet(viewsets.ReadOnlyModelViewSet):
    """Campaigns with engagement totals rolled up from their posts."""

    serializer_class = CampaignSerializer
    filterset_fields = ["club"]

    def get_queryset(self):
        return campaign_list(user=self.request.user)
