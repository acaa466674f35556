"""Keep secrets that travel in URLs out of every log line: query strings (OAuth `code` and `state`)
and path segments that are credentials themselves (unsubscribe links).

Free of Django imports: gunicorn's access logger uses it before the app is loaded.
"""

import logging
import re

REDACTED = "[redacted]"

# Paths whose next segment is a bearer credential (promotions/urls.py: unsubscribe/<token>/;
# posts/urls.py: calendar/feed/<token>.ics).
_SECRET_SEGMENT_RE = re.compile(r"(/promotions/unsubscribe/|/posts/calendar/feed/)[^/?#\s\"']+")
# A path or URL followed by a query string, in free text (request lines, "Not Found: /x?y").
_QUERY_RE = re.compile(r"((?:https?://[^\s?#\"'<>]+)|(?<![\w/])/[^\s?#\"'<>]*)\?[^\s\"'<>]*")


def redact_path(path):
    """A request path with credential segments replaced; the query string, if any, dropped."""
    if not path:
        return path
    return _SECRET_SEGMENT_RE.sub(r"\1" + REDACTED, path.split("?", 1)[0].split("#", 1)[0])


def redact_text(text):
    """Free text (a log message) with query strings removed and credential segments replaced."""
    if not text:
        return text
    return _SECRET_SEGMENT_RE.sub(r"\1" + REDACTED, _QUERY_RE.sub(r"\1", text))


class UrlRedactionFilter(logging.Filter):
    """For Django's own loggers: django.request ("Not Found: <path>") and django.server (request lines)."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
