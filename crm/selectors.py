from django.db.models import Count, Q, Sum

from crm.models import Campaign
from crm.tenancy import scope_queryset


def campaign_list(*, user, club=None):
    campaigns = scope_queryset(Campaign.objects.select_related("club"), user)
    if club is not None:
        campaigns = campaigns.filter(Q(club=club) | Q(club__isnull=True))
    return campaigns.annotate(
        post_count=Count("social_posts"),
        published_count=Count("social_posts", filter=Q(social_posts__status="PUBLISHED")),
        total_likes=Sum("social_posts__likes", default=0),
        total_comments=Sum("social_posts__comments", default=0),
        total_shares=Sum("social_posts__shares", default=0),
        total_reach=Sum("social_posts__reach", default=0),
        total_impressions=Sum("social_posts__impressions", default=0),
    ).order_by("-starts_on", "name")
