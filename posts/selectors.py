from django.db.models import Q

from crm.tenancy import scope_queryset
from posts.models import SocialPost


def post_list(*, user, club=None):
    posts = scope_queryset(SocialPost.objects.select_related("connection", "connection__club", "campaign"), user)
    if club is not None:
        posts = posts.filter(Q(connection__club=club) | Q(connection__club__isnull=True))
    return posts.order_by("-scheduled_at", "-created_at")
