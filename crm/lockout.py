"""What a person or API client sees once axes has locked out their username and address."""

import math

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.forms.utils import ErrorDict, ErrorList
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse


def lockout_message(request=None):
    cool_off = get_cool_off(request)
    if not cool_off:
        return "Too many failed attempts; ask an administrator to unlock this login."
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60))
    return f"Too many failed attempts; try again in {minutes} minute{'s' if minutes != 1 else ''}."


def _form_with_error(form_class, request, message):
    # An unbound form carrying only the lockout as its error: the templates show it like any login error.
    form = form_class(request, initial={"username": request.POST.get("username", "")})
    form._errors = ErrorDict({"__all__": ErrorList([message], error_class="nonfield")})
    return form


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: JSON for the API, the login page again (with the reason) for people."""
    message = lockout_message(request)
    status = settings.AXES_HTTP_RESPONSE_CODE
    cool_off = get_cool_off(request)
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=status)
    elif request.path.startswith(reverse("admin:index")):
        context = {
            **admin.site.each_context(request),
            "title": "Log in",
            "app_path": request.get_full_path(),
            "form": _form_with_error(AdminAuthenticationForm, request, message),
            "username": request.POST.get("username", ""),
        }
        response = render(request, "admin/login.html", context, status=status)
    else:
        context = {
            "form": _form_with_error(AuthenticationForm, request, message),
            "locked_out_message": message,
            "next": request.POST.get("next") or request.GET.get("next", ""),
        }
        response = render(request, "registration/login.html", context, status=status)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
