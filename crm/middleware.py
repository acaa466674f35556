from django.utils import timezone

from crm import dates
from crm.clock import club_zone
from crm.models import Tenant
from crm.tenancy import membership_of, visible_clubs

SESSION_KEY = "current_club_id"


class ClubContextMiddleware:
    """Picks the club a staff user is working in (club switcher) and shows times in its timezone.

    Rows without a club are written in the tenant's date and time style (crm/dates.py).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.club = None
        request.membership = membership_of(request.user)
        if request.membership is not None:
            clubs = list(visible_clubs(request.user))
            request.visible_clubs = clubs
            wanted = request.session.get(SESSION_KEY)
            request.club = next((c for c in clubs if c.pk == wanted), clubs[0] if clubs else None)
        if request.club is not None:
            timezone.activate(club_zone(request.club))
        token = dates.activate(_tenant_style(request.membership))
        try:
            return self.get_response(request)
        finally:
            dates.deactivate(token)
            timezone.deactivate()


def _tenant_style(membership):
    """The tenant's date and time style for rows without a club, looked up only when a page shows one."""
    if membership is None:
        return dates.DEFAULT_LOCALE
    return lambda: Tenant.objects.filter(pk=membership.tenant_id).values_list("time_locale", flat=True).first()
