from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils.text import slugify

from crm.models import Campaign
from crm.selectors import campaign_list
from crm.tenancy import scope_queryset


@login_required
def campaign_index(request):
    return render(request, "campaigns/list.html", {"campaigns": campaign_list(user=request.user, club=request.club)})


def _campaign(request, pk):
    return get_object_or_404(scope_queryset(Campaign.objects.select_related("club", "tenant"), request.user), pk=pk)


@login_required
def campaign_detail(request, pk):
    from promotions.reports import campaign_report

    campaign = _campaign(request, pk)
    return render(request, "campaigns/detail.html", {"campaign": campaign, "report": campaign_report(campaign=campaign),
                                                     "promotions": campaign.promotions.order_by("event_starts_at")})


@login_required
def campaign_report_csv(request, pk):
    from promotions.reports import campaign_report
    from promotions.views import report_csv_response

    campaign = _campaign(request, pk)
    return report_csv_response(campaign_report(campaign=campaign), f"campaign-{slugify(campaign.name) or campaign.pk}")
