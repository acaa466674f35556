"""Adapters register themselves when their module is imported (see PlatformAdapter.__init_subclass__).

Each thread gets its own adapter instances, so each requests.Session stays in one thread.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import PlatformAdapter

_classes: dict[str, type[PlatformAdapter]] = {}
_local = threading.local()


def register(cls: type[PlatformAdapter]) -> type[PlatformAdapter]:
    _classes[cls.platform] = cls
    return cls


def _instances() -> dict[str, PlatformAdapter]:
    if not hasattr(_local, "instances"):
        _local.instances = {}
    return _local.instances


def get_adapter(platform: str) -> PlatformAdapter:
    key = str(getattr(platform, "value", platform)).upper()
    if key not in _classes:
        raise LookupError(f"No adapter for platform {platform!r}; known: {', '.join(_classes)}")
    instances = _instances()
    if key not in instances:
        instances[key] = _classes[key]()
    return instances[key]


def adapter_for_slug(slug: str) -> PlatformAdapter:
    for cls in _classes.values():
        if cls.slug == slug:
            return get_adapter(cls.platform)
    raise LookupError(f"No adapter for {slug!r}")


def all_adapters() -> list[PlatformAdapter]:
    return [get_adapter(platform) for platform in _classes]
