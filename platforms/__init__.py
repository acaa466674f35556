"""Platform adapters: one module per social platform behind a common contract.

Adding a platform = adding a module that subclasses PlatformAdapter + one import line below.
"""

from . import facebook, instagram, linkedin, twitter  # noqa: E402,F401  (registers the adapters)
from .base import (
                   Account,
                   Credentials,
                   Metrics,
                   PlatformAdapter,
                   PostContent,
                   PostsSince,
                   PublishResult,
                   RecentPage,
                   RemotePost,
                   TokenSet,
                   Violation,
)
from .errors import (
                   AuthExpired,
                   DuplicateContent,
                   InvalidContent,
                   NotFound,
                   PermissionMissing,
                   PlatformError,
                   RateLimited,
                   TransientError,
)
from .registry import adapter_for_slug, all_adapters, get_adapter
from .scrub import install_log_filters

install_log_filters()

__all__ = [
    "get_adapter", "all_adapters", "adapter_for_slug", "PlatformAdapter",
    "PostContent", "Credentials", "TokenSet", "Account", "PublishResult", "RemotePost", "RecentPage", "PostsSince", "Metrics", "Violation",
    "PlatformError", "TransientError", "RateLimited", "AuthExpired", "PermissionMissing", "InvalidContent",
    "DuplicateContent", "NotFound",
]
