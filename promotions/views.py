from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from promotions.selectors import promotion_list


@login_required
def promotion_index(request):
    return render(request, "promotions/list.html", {"promotions": promotion_list(user=request.user, club=request.club)})
