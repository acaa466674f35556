from functools import wraps

from django.contrib import messages
from django.utils import timezone

from crm import dates
from crm.clock import club_zone
from crm.models import Tenant
from crm.tenancy import membership_of, visible_clubs

# The one place that says which club a staff user is looking at: the header's switcher writes it, and a
# page's ?club= (see club_from_query) writes the same value, so the pages and the switcher always agree.
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


def club_choose(request, club_id):
    """Make one of the user's clubs the current one (for this request and the next); False if it is not theirs."""
    club = next((c for c in getattr(request, "visible_clubs", []) if c.pk == club_id), None)
    if club is None:
        return False
    request.session[SESSION_KEY] = club.pk
    request.club = club
    timezone.activate(club_zone(club))
    return True


def club_from_query(view):
    """Pages showing the current club's rows also take ``?club=<id>`` (links, bookmarks, old filters).

    One of the user's clubs becomes the current club, exactly as if it were picked in the header, so the
    switcher shows it and the other pages follow; any other id is said to be unknown and changes nothing
    (another tenant's club and a club that does not exist get the same words).
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        wanted = request.GET.get("club", "").strip() if request.method == "GET" else ""
        if wanted and wanted != getattr(request.club, "pk", None) and not club_choose(request, wanted):
            shown = f"; showing {request.club.name}" if request.club is not None else ""
            messages.warning(request, f"That club is not one of yours{shown}.")
        return view(request, *args, **kwargs)

    return wrapped
