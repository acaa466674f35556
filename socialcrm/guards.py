"""Requests no view could answer sensibly are refused at the door, with a 4xx and a reason."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError

from socialcrm import inputs

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class InputGuardMiddleware:
    """Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE get 413 on /api/ before a parser reads them; a query
    string or form carrying NUL characters gets 400 everywhere (PostgreSQL cannot store them)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        api = request.path.startswith("/api/")
        refusal = self._refusal(request, api)
        if refusal is not None:
            status, code, message = refusal
            if api:
                return JsonResponse({"detail": message, "code": code}, status=status)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8", status=status)
        return self.get_response(request)

    def _refusal(self, request, api):
        if api:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return 400, "parse_error", "Content-Length is not a number."
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and length > limit:
                return 413, "too_large", f"The request body is larger than {limit} bytes."
        values = [v for _, vs in request.GET.lists() for v in vs] + list(request.GET)
        if request.method == "POST" and request.content_type in FORM_TYPES:
            try:
                if request.content_type == FORM_TYPES[0]:
                    request.body  # noqa: B018 — keep the raw body readable for views that read it themselves
                values += [v for _, vs in request.POST.lists() for v in vs] + list(request.POST)
            except RequestDataTooBig:
                return 413, "too_large", "The form is larger than the server accepts."
            except MultiPartParserError:
                return 400, "parse_error", "The form body is not valid multipart data."
        if not all(inputs.is_readable(value) for value in values):
            return 400, "invalid", "The request carries null or surrogate characters, which are not allowed."
        return None
