"""Platform adapters: one module per social platform behind a common contract.

Adding a platform = adding a module that subclasses PlatformAdapter (the registry finds it)
and its stand-in in simulator/.
"""

from .base import (
                   Account,
                   Credentials,
                   ImageLimits,
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
from .registry import (
    adapter_for_slug,
    adapters_where,
    all_adapters,
    alt_text_max_length,
    get_adapter,
    image_limits_for_every_platform,
    platform_choices,
)
from .scrub import install_log_filters

install_log_filters()

__all__ = [
    "get_adapter", "all_adapters", "adapter_for_slug", "adapters_where", "platform_choices", "PlatformAdapter",
    "PostContent", "ImageLimits", "image_limits_for_every_platform", "alt_text_max_length", "Credentials", "TokenSet", "Account", "PublishResult", "RemotePost", "RecentPage", "PostsSince", "Metrics", "Violation",
    "PlatformError", "TransientError", "RateLimited", "ProcessingPending", "AuthExpired", "PermissionMissing", "InvalidContent",
    "DuplicateContent", "NotFound",
]
