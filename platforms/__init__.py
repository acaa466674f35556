"""Platform adapters: one module per social platform behind a common contract.

Adding a platform = adding a module that subclasses PlatformAdapter (the registry finds it)
and its stand-in in simulator/.
"""

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
                   ProcessingPending,
                   RateLimited,
                   TransientError,
)
from .registry import adapter_for_slug, adapters_where, all_adapters, get_adapter, platform_choices
from .scrub import install_log_filters

install_log_filters()

__all__ = [
    "get_adapter", "all_adapters", "adapter_for_slug", "adapters_where", "platform_choices", "PlatformAdapter",
    "PostContent", "Credentials", "TokenSet", "Account", "PublishResult", "RemotePost", "RecentPage", "PostsSince", "Metrics", "Violation",
    "PlatformError", "TransientError", "RateLimited", "ProcessingPending", "AuthExpired", "PermissionMissing", "InvalidContent",
    "DuplicateContent", "NotFound",
]
