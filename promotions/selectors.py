from crm.tenancy import scope_queryset
from promotions.models import EventPromotion


def promotion_list(*, user, club=None):
    promotions = scope_queryset(EventPromotion.objects.select_related("club"), user)
    if club is not None:
        promotions = promotions.filter(club=club)
    return promotions.order_by("event_starts_at")
