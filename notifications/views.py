from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from crm.tenancy import require_membership, visible_row
from notifications import services
from notifications.models import NotificationKind
from notifications.selectors import notifications_of, preferences_of


@login_required
def settings_page(request):
    """Each person's choice per kind of notification: email at once, and/or a daily summary."""
    require_membership(request.user)
    if request.method == "POST":
        choices = {kind: {"email": f"{kind}-email" in request.POST, "digest": f"{kind}-digest" in request.POST}
                   for kind in NotificationKind.values}
        services.preferences_update(user=request.user, choices=choices)
        messages.success(request, "Your notification choices are saved.")
        return redirect("notifications:settings")
    rows = [{"kind": kind, "label": NotificationKind(kind).label, "email": choice.email, "digest": choice.digest}
            for kind, choice in preferences_of(user=request.user).items()]
    return render(request, "notifications/settings.html", {"rows": rows})


@login_required
@require_POST
def dismiss(request, pk):
    notification = visible_row(notifications_of(user=request.user), request.user, pk)
    if notification is None:
        raise Http404("No such notification.")
    services.notification_dismiss(user=request.user, notification=notification)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    return redirect(target)
