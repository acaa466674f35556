"""Remove anything secret-looking from text that may reach staff, storage or logs."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[redacted]"

_SECRET_PARAMS = ("access_token", "refresh_token", "client_secret", "code", "code_verifier",
                  "fb_exchange_token", "input_token", "token", "appsecret_proof", "password")
_PARAM_RE = re.compile(r"(?i)\b(" + "|".join(_SECRET_PARAMS) + r")(\s*[=:]\s*|\"\s*:\s*\")([^\s&\"',;]{12,})")
_URL_QUERY_RE = re.compile(r"(https?://[^\s?#\"'<>]+)\?[^\s\"'<>]*")
# urllib3 logs request lines without the scheme: "GET /v25.0/oauth/access_token?client_secret=... HTTP/1.1"
_REQUEST_LINE_RE = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (/[^\s?\"]*)\?[^\s\"]*")
_AUTH_RE = re.compile(r"(?i)(?<![/\w])(Bearer|OAuth|Basic)\s+(?=[A-Za-z0-9._~+/=\-]*\d)[A-Za-z0-9._~+/=\-]{12,}")
_GRAPH_TOKEN_RE = re.compile(r"\bEAA[A-Za-z0-9]{10,}")
# Long opaque strings mixing letters and digits: tokens, codes, secrets.
# Canonical UUIDs (task ids, row ids) are identifiers, not secrets, and are kept.
_OPAQUE_RE = re.compile(r"(?<![A-Za-z0-9._~\-])(?=[A-Za-z0-9._~\-]*\d)(?=[A-Za-z0-9._~\-]*[A-Za-z])"
                        r"(?![0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![A-Za-z0-9._~\-]))"
                        r"[A-Za-z0-9._~\-]{32,}")


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    if not text:
        return text
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_QUERY_RE.sub(r"\1", text)
    text = _REQUEST_LINE_RE.sub(r"\1 \2", text)
    text = _AUTH_RE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _PARAM_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _GRAPH_TOKEN_RE.sub(REDACTED, text)
    text = _OPAQUE_RE.sub(REDACTED, text)
    return text


class ScrubFilter(logging.Filter):
    """Scrubs records of loggers we do not own (urllib3 logs request lines with query strings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_filters() -> None:
    for name in ("urllib3.connectionpool", "requests_oauthlib", "oauthlib"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubFilter) for f in logger.filters):
            logger.addFilter(ScrubFilter())
