"""What the dashboard shows: connection health, upcoming and failed posts, scheduler activity."""

from django.db.models import Q
from django.utils import timezone

from connections.models import SocialConnection
from crm.tenancy import scope_queryset
from posts.models import SchedulerHeartbeat, SocialPost, SocialPostStatus


def _in_club(queryset, club, club_field):
    if club is None:
        return queryset
    return queryset.filter(Q(**{f"{club_field}_id": club.pk}) | Q(**{f"{club_field}__isnull": True}))


def dashboard_overview(*, user, club):
    connections = _in_club(scope_queryset(SocialConnection.objects.select_related("club"), user), club, "club")
    posts = _in_club(scope_queryset(SocialPost.objects.select_related("connection"), user), club, "connection__club")
    now = timezone.now()
    return {
        "connections": list(connections.order_by("platform", "account_name")),
        "upcoming_posts": list(
            posts.filter(status=SocialPostStatus.SCHEDULED, scheduled_at__gte=now).order_by("scheduled_at")[:10]
        ),
        "failed_posts": list(posts.filter(status=SocialPostStatus.FAILED).order_by("-updated_at")[:10]),
        "heartbeats": list(SchedulerHeartbeat.objects.order_by("name")),
    }
