from django.utils import timezone

from crm.clock import club_zone
from crm.tenancy import membership_of, visible_clubs

SESSION_KEY = "current_club_id"


class ClubContextMiddleware:
    """Picks the club a staff user is working in (club switcher) and shows times in its timezone."""

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
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
