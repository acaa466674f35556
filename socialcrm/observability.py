"""Structured logs that carry the request id or the Celery task id of the work being done."""

import contextvars
import json
import logging
import uuid

from socialcrm.redaction import redact_path

request_id_var = contextvars.ContextVar("request_id", default="")
task_id_var = contextvars.ContextVar("task_id", default="")
tenant_id_var = contextvars.ContextVar("tenant_id", default="")

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id_var.get()
        record.task_id = task_id_var.get()
        record.tenant_id = getattr(record, "tenant_id", "") or tenant_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and value not in ("", None):
                if key == "request":
                    # Only method and path: query strings carry OAuth codes and states, some paths tokens.
                    value = f"{getattr(value, 'method', '')} {redact_path(getattr(value, 'path', ''))}".strip()
                payload[key] = value if isinstance(value, (str, int, float, bool, list, dict)) else str(value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class RequestIdMiddleware:
    """Gives every request an id (or keeps the caller's X-Request-ID) and returns it in the response."""

    header = "HTTP_X_REQUEST_ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get(self.header, "")
        request_id = incoming if incoming and len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        request.request_id = request_id
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response
