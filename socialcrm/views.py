from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.contrib.auth.decorators import login_required
from django.db import connection as db_connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from crm.middleware import club_choose, club_from_query
from socialcrm import dashboard as dashboard_selectors


@login_required
@club_from_query
def dashboard(request):
    return render(request, "dashboard/index.html", dashboard_selectors.dashboard_overview(user=request.user, club=request.club))


@login_required
@require_POST
def switch_club(request):
    club_choose(request, request.POST.get("club", ""))
    nxt = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        nxt = "/"
    return redirect(_without_club(nxt))


def _without_club(url):
    """``url`` without a ``?club=`` of its own, which would switch straight back to the club it names."""
    parts = urlsplit(url)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "club"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def healthz(request):
    checks = {}
    try:
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {exc.__class__.__name__}"
    from socialcrm.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {exc.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503)
