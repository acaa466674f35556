from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from crm.selectors import campaign_list


@login_required
def campaign_index(request):
    return render(request, "campaigns/list.html", {"campaigns": campaign_list(user=request.user, club=request.club)})
