from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from posts.selectors import post_list


@login_required
def post_index(request):
    return render(request, "posts/list.html", {"posts": post_list(user=request.user, club=request.club)[:100]})


@login_required
def calendar(request):
    scheduled = post_list(user=request.user, club=request.club).filter(scheduled_at__isnull=False)
    return render(request, "posts/calendar.html", {"posts": scheduled.order_by("scheduled_at")[:200]})
