"""Every failure an adapter reports is exactly one of these.

`message` is written for a club's staff and is safe to show and to store: it never holds
a token, a client secret, an authorization code or a URL's query string.
"""

from __future__ import annotations

from datetime import datetime

from .scrub import scrub


class PlatformError(Exception):
    retryable = False

    def __init__(self, message: str, *, platform: str = "", code: str | int | None = None,
                 status: int | None = None, retryable: bool | None = None):
        self.message = scrub(str(message))
        self.platform = platform
        self.code = None if code is None else str(code)
        self.status = status
        if retryable is not None:
            self.retryable = retryable
        super().__init__(self.message)

    def _state(self) -> dict:
        return {"platform": self.platform, "code": self.code, "status": self.status,
                "retryable": self.retryable}

    def __reduce__(self):  # pickles cleanly (Celery stores exceptions)
        return (_rebuild, (type(self), self.message, self._state(), self._extra()))

    def _extra(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(platform={self.platform!r}, code={self.code!r}, "
                f"status={self.status!r}, message={self.message!r})")


def _rebuild(cls, message, state, extra):
    return cls(message, **state, **extra)


class TransientError(PlatformError):
    """Network trouble, a 5xx, a platform hiccup: try again later."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        self.retry_after = retry_after
        super().__init__(message, **kw)

    def _extra(self) -> dict:
        return {"retry_after": self.retry_after}


class RateLimited(TransientError):
    """The platform asks us to wait until `reset_at` (aware UTC)."""

    def __init__(self, message: str, *, reset_at: datetime, **kw):
        self.reset_at = reset_at
        super().__init__(message, **kw)

    def _extra(self) -> dict:
        return {**super()._extra(), "reset_at": self.reset_at}


class ProcessingPending(TransientError):
    """The platform accepted the media and is still processing it (an Instagram container, a
    Facebook video). Nothing failed: the publish resumes after `retry_after` seconds, from the
    bookkeeping the adapter left in its `progress` (never creating the media again)."""


class AuthExpired(PlatformError):
    """The token expired or was revoked: refresh once, then staff reconnect the account."""


class PermissionMissing(PlatformError):
    """The account or the app lacks a permission (scope, page role)."""


class InvalidContent(PlatformError):
    """The platform (or our own rules) refuse this content; `violations` say why."""

    def __init__(self, message: str = "", *, violations=None, **kw):
        self.violations = list(violations or [])
        if not message:
            message = " ".join(v.message for v in self.violations) or "The content was refused."
        super().__init__(message, **kw)

    def _extra(self) -> dict:
        return {"violations": self.violations}


class DuplicateContent(PlatformError):
    """The platform refuses a post identical to a recent one."""


class NotFound(PlatformError):
    """The object no longer exists on the platform."""


__all__ = ["PlatformError", "TransientError", "RateLimited", "ProcessingPending", "AuthExpired", "PermissionMissing",
           "InvalidContent", "DuplicateContent", "NotFound", "split_platform_words"]


def split_platform_words(message):
    """(sentence, platform's words): adapters end a message with the platform's own text in brackets.

    Pages show the sentence as the message and the platform's words apart, as detail.
    """
    message = message.strip()
    if not message.endswith(")"):
        return message, ""
    depth = 0
    for at in range(len(message) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(message[at], 0)
        if depth == 0:
            sentence = message[:at].rstrip()
            # A bracket that opens the message (or a sentence-less one) is part of what it says, not an aside.
            if not sentence or not sentence.endswith((".", "!", "?")):
                return message, ""
            return sentence, message[at + 1:-1].strip()
    return message, ""
