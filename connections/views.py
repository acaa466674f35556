from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from connections import oauth
from connections.models import SocialConnection
from connections.selectors import connection_list, connection_rows
from connections.services import connection_deactivate, connection_delete, connection_scheduled_post_count
from crm.history import history_entries
from crm.tenancy import require_membership, scope_queryset, visible_clubs, visible_row
from platforms import all_adapters


def _failure(request, failure, status=400):
    return render(request, "connections/failure.html", {"failure": failure}, status=status)


def _session_key(request):
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key


@login_required
def connection_index(request):
    rows = connection_rows(connections=connection_list(user=request.user, club=request.club))
    return render(request, "connections/list.html", {"rows": rows, "adapters": all_adapters()})


@login_required
def connect(request, platform):
    membership = require_membership(request.user)
    reconnect = None
    if request.GET.get("reconnect"):
        reconnect = visible_row(SocialConnection.objects.all(), request.user, request.GET["reconnect"])
        if reconnect is None:
            return _failure(request, oauth.OAuthFailure("That connection was not found."), status=404)
    try:
        url = oauth.oauth_begin(user=request.user, session_key=_session_key(request), tenant=membership.tenant,
                                slug=platform, reconnect=reconnect)
    except oauth.OAuthFailure as failure:
        return _failure(request, failure, status=404 if failure.title == "Unknown platform" else 400)
    return redirect(url)


@login_required
def callback(request, platform):
    try:
        attempt = oauth.oauth_callback(user=request.user, session_key=_session_key(request), slug=platform,
                                       params=request.GET)
    except oauth.OAuthFailure as failure:
        return _failure(request, failure)
    return redirect("connections:pick", attempt_id=attempt.pk)


@login_required
def pick(request, attempt_id):
    clubs = list(visible_clubs(request.user))
    try:
        attempt, accounts, reconnect_id = oauth.oauth_offer(
            user=request.user, session_key=_session_key(request), attempt_id=attempt_id)
    except oauth.OAuthFailure as failure:
        return _failure(request, failure)
    error = None
    if request.method == "POST":
        picks = {account_id: request.POST.get(f"club-{account_id}", "") for account_id in request.POST.getlist("account")}
        try:
            saved = oauth.connection_connect_accounts(
                user=request.user, session_key=_session_key(request), attempt_id=attempt_id, picks=picks,
                clubs_allowed=clubs)
        except oauth.OAuthFailure as failure:
            error = failure.message
        else:
            names = ", ".join(connection.account_name for connection in saved)
            messages.success(request, f"Connected {names}.")
            return redirect("connections:list")
    default_club = request.club.pk if request.club else ""
    for account in accounts:
        account.club_choice = (account.connected.club_id or "") if account.connected else default_club
        account.preselected = (
            (reconnect_id and account.connected and str(account.connected.pk) == reconnect_id)
            or (len(accounts) == 1 and account.can_publish)
        )
    return render(request, "connections/pick.html", {
        "attempt": attempt, "accounts": accounts, "clubs": clubs, "error": error,
        "platform_name": attempt.get_platform_display(),
    }, status=400 if error else 200)


def _scoped_connection(request, pk):
    return get_object_or_404(scope_queryset(SocialConnection.objects.select_related("club"), request.user), pk=pk)


@login_required
@require_GET
def detail(request, pk):
    """One connection: what it is, and (for tenant admins) who connected, changed or deactivated it and when."""
    connection = _scoped_connection(request, pk)
    membership = require_membership(request.user)
    return render(request, "connections/detail.html", {
        "connection": connection,
        "who_did_what": history_entries(instance=connection) if membership.is_admin else None,
    })


@login_required
def deactivate(request, pk):
    """Ask first (a GET, or a POST without the confirm page's answer); deactivate on the confirmed POST."""
    connection = _scoped_connection(request, pk)
    if request.method != "POST" or request.POST.get("confirm") != "yes":
        return render(request, "connections/deactivate.html", {
            "connection": connection, "pending_posts": connection_scheduled_post_count(connection=connection),
        })
    connection = connection_deactivate(connection=connection, by=request.user.get_username())
    messages.success(request, f"{connection.account_name} was deactivated. Its posts are kept; reconnect to use it again.")
    return redirect("connections:list")


@login_required
def delete(request, pk):
    connection = _scoped_connection(request, pk)
    if request.method == "POST":
        name = connection.account_name
        outcome = connection_delete(connection=connection, by=request.user.get_username())
        messages.success(request, f"{name} was deleted. {outcome}")
        return redirect("connections:list")
    return render(request, "connections/delete.html", {
        "connection": connection, "pending_posts": connection_scheduled_post_count(connection=connection),
        "total_posts": connection.posts.count(),
    })


@login_required
def schedule(request, pk):
    """A connection's posting schedule: weekly times on its club's clock, filled by "Add to queue"."""
    from django.core.exceptions import ValidationError

    from connections.models import Weekday
    from connections.selectors import posting_slots
    from connections.services import posting_slot_add, posting_slot_remove
    from crm import dates

    connection = _scoped_connection(request, pk)
    errors = []
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "add":
            try:
                weekday = int(request.POST.get("weekday", ""))
            except ValueError:
                weekday = None
            at = dates.parse_clock_value(request.POST.get("time", ""))
            if at is None:
                errors.append("Choose the time as hours and minutes (HH:MM).")
            else:
                try:
                    slot = posting_slot_add(connection=connection, weekday=weekday, at=at)
                except ValidationError as exc:
                    errors.extend(exc.messages)
                else:
                    messages.success(request, f"Posting time added: {slot}.")
                    return redirect("connections:schedule", pk=connection.pk)
        elif action == "remove":
            slot = connection.posting_slots.filter(pk=request.POST.get("slot") or 0).first() \
                if str(request.POST.get("slot", "")).isdigit() else None
            if slot is None:
                errors.append("That posting time was not found.")
            else:
                posting_slot_remove(slot=slot)
                messages.success(request, f"Posting time removed: {slot}.")
                return redirect("connections:schedule", pk=connection.pk)
    return render(request, "connections/schedule.html", {
        "connection": connection, "slots": posting_slots(connection=connection), "weekdays": Weekday.choices,
        "errors": errors, "zone": connection.club.timezone if connection.club else (request.club and request.club.timezone),
    }, status=400 if errors else 200)
