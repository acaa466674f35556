"""One error shape for the whole API, and the one place where service refusals become HTTP statuses.

Every error body is ``{"detail": <message>, "code": <machine code>}``; a validation error adds
``"fields": {<field>: [<messages>]}`` (``non_field_errors`` for refusals not tied to one field).
Views raise; nothing in a view turns an exception into a Response by hand.
"""

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.module_loading import import_string
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The change is not allowed in the current state."
    default_code = "illegal_transition"


class Unauthorised(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "The request is not signed, or its signature is wrong or stale."
    default_code = "bad_signature"


class UnknownTarget(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The tenant or club named is not known here."
    default_code = "unknown_target"


class TooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


# Domain exceptions (dotted paths, so this module imports no app) and the API error each one is.
DOMAIN_ERRORS = {
    "posts.states.IllegalTransition": Conflict,
    "posts.approvals.NotAnApprover": exceptions.PermissionDenied,
    "library.services.MediaInUse": Conflict,
    "promotions.intake.SignatureError": Unauthorised,
    "promotions.intake.UnknownTarget": UnknownTarget,
}


def _domain_error(exc):
    for path, api_error in DOMAIN_ERRORS.items():
        if isinstance(exc, import_string(path)):
            return api_error(getattr(exc, "message", None) or str(exc) or None)
    return None


def as_api_error(exc):
    """The APIException an exception stands for, or None when it is a bug (left to surface as a 500)."""
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {
            "non_field_errors": exc.messages})
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        return exceptions.NotFound()
    if isinstance(exc, RequestDataTooBig):
        return TooLarge()
    return _domain_error(exc)


def error_body(exc):
    """The JSON body of an APIException in the API's one error shape."""
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        fields = {name: _messages(value) for name, value in fields.items()}
        first = next((m for messages in fields.values() for m in messages), "Invalid input.")
        summary = first if list(fields) == ["non_field_errors"] else "Some fields are not valid."
        return {"detail": summary, "code": "invalid", "fields": fields}
    code = getattr(detail, "code", None) or exc.default_code
    return {"detail": str(detail), "code": str(code)}


def _messages(value):
    """Field errors as a list of strings; nested serializers keep their nesting."""
    if isinstance(value, dict):
        return {name: _messages(inner) for name, inner in value.items()}
    if isinstance(value, list):
        if all(isinstance(item, dict) for item in value) and value:
            return [_messages(item) for item in value]
        flat = []
        for item in value:
            flat.extend(_messages(item) if isinstance(item, (list, dict)) else [str(item)])
        return flat
    return [str(value)]


def api_exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: domain refusals mapped to statuses, every error in one shape."""
    api_error = as_api_error(exc)
    if api_error is None:
        return None
    response = drf_exception_handler(api_error, context)
    if response is not None:
        response.data = error_body(api_error)
    return response
