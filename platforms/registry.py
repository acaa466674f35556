"""Where the rest of SocialCRM finds platforms: every PlatformAdapter subclass that names a ``platform``.

Adapter modules are found by walking the platforms package, so adding a platform means adding
one module here (and one in simulator/) and nothing else. Each thread gets its own adapter
instances, so each requests.Session stays in one thread.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading

from .base import PlatformAdapter

_local = threading.local()
_discovered: dict[str, type[PlatformAdapter]] = {}
_lock = threading.Lock()


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _adapter_classes() -> dict[str, type[PlatformAdapter]]:
    """Platform code -> adapter class, in the adapters' declared order (stable, for pickers)."""
    if not _discovered:
        with _lock:
            if not _discovered:
                package = importlib.import_module(__package__)
                for module in pkgutil.iter_modules(package.__path__):
                    if module.name != "tests" and not module.name.startswith("_"):
                        importlib.import_module(f"{__package__}.{module.name}")
                found = {sub.platform: sub for sub in _subclasses(PlatformAdapter) if "platform" in sub.__dict__}
                _discovered.update(sorted(found.items(), key=lambda item: (item[1].position, item[0])))
    return _discovered


def _instances() -> dict[str, PlatformAdapter]:
    if not hasattr(_local, "instances"):
        _local.instances = {}
    return _local.instances


def get_adapter(platform: str) -> PlatformAdapter:
    classes = _adapter_classes()
    key = str(getattr(platform, "value", platform)).upper()
    if key not in classes:
        raise LookupError(f"No adapter for platform {platform!r}; known: {', '.join(classes)}")
    instances = _instances()
    if key not in instances:
        instances[key] = classes[key]()
    return instances[key]


def adapter_for_slug(slug: str) -> PlatformAdapter:
    for cls in _adapter_classes().values():
        if cls.slug == slug:
            return get_adapter(cls.platform)
    raise LookupError(f"No adapter for {slug!r}")


def all_adapters() -> list[PlatformAdapter]:
    return [get_adapter(platform) for platform in _adapter_classes()]


def platform_choices() -> list[tuple[str, str]]:
    """(stored code, label) of every platform, for model and form choices."""
    return [(code, cls.display_name) for code, cls in _adapter_classes().items()]


def adapters_where(predicate) -> list[PlatformAdapter]:
    return [adapter for adapter in all_adapters() if predicate(adapter)]


def image_limits_for_every_platform():
    """One set of still-image limits every platform takes (the strictest of each adapter's `image_limits`):
    an upload normalised to it can be published anywhere without another copy."""
    from .base import ImageLimits

    limits = [adapter.image_limits for adapter in all_adapters()]

    def smallest(name):
        values = [getattr(limit, name) for limit in limits if getattr(limit, name)]
        return min(values) if values else None

    return ImageLimits(max_bytes=smallest("max_bytes"), max_long_side=smallest("max_long_side"),
                       max_width=smallest("max_width"), jpeg_only=any(limit.jpeg_only for limit in limits))


def alt_text_max_length() -> int | None:
    """The longest image description every platform that takes one accepts."""
    values = [a.alt_text_max_length for a in all_adapters() if a.alt_text_max_length]
    return min(values) if values else None
