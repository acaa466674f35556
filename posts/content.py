"""Content rules for posts: the platform's rules (its adapter's ``validate``) applied to a post, in one place.

Used by every write (posts.services) and again by the publisher just before it calls the platform.
"""

import mimetypes
import struct

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from library.selectors import alt_texts_for
from platforms import PostContent, get_adapter
from platforms.base import MediaFacts
from platforms.fetch import file_name, stored_media_name

# What kind of media each stored file type is.
MEDIA_TYPES = {"image/jpeg": "image", "image/png": "image", "image/gif": "image", "image/webp": "image",
               "video/mp4": "video", "video/quicktime": "video"}

# Which model field each adapter violation belongs to.
VIOLATION_FIELDS = {"text": "content", "hashtags": "hashtags", "link": "link_url", "media": "media_urls"}


def post_content(post):
    """What the platform receives: the post's text, hashtags, link and media, each library image with its
    description (alt text) as the library holds it now."""
    media = list(post.media_urls or [])
    return PostContent(text=post.content or "", hashtags=list(post.hashtags or []), link=post.link_url or None,
                       media_urls=media,
                       media_alt=alt_texts_for(tenant_id=post.tenant_id, urls=media) if media else [])


def content_violations(*, platform, content):
    """The platform's content rules (the adapters' ``validate``): the one place they are checked.

    Adapters with rules on the files themselves (X: size by type; Instagram: JPEG only, aspect
    ratio, video length) also get what can be read from the files the app stores (uploads): known
    without any network call. Other addresses are judged by their name here, and checked when
    published."""
    adapter = get_adapter(platform)
    violations = adapter.validate(content)
    if adapter.inspects_media or adapter.media_max_bytes:
        facts = [f for f in (media_facts(url) for url in content.media_urls) if f is not None]
        violations.extend(adapter.media_violations(content, facts))
    return violations


def media_facts(url):
    """Type, size, dimensions or length of a file the app stored (None for any other address)."""
    stored = stored_media_name(url)
    if not stored or stored.startswith("/") or ".." in stored.split("/"):
        return None
    content_type = (mimetypes.guess_type(stored)[0] or "").lower()
    kind = MEDIA_TYPES.get(content_type)
    if kind is None:
        return None
    try:
        if not default_storage.exists(stored):
            return None
        facts = MediaFacts(url=url, name=file_name(url), kind=kind, content_type=content_type,
                           size=default_storage.size(stored))
        with default_storage.open(stored, "rb") as handle:
            if kind == "image":
                from PIL import Image, UnidentifiedImageError

                try:
                    with Image.open(handle) as image:
                        facts.width, facts.height = image.size
                except (UnidentifiedImageError, OSError):
                    pass
            else:
                facts.duration = mp4_duration(handle)
    except (OSError, ValueError):
        return None
    return facts


def mp4_duration(handle, limit=64 * 1024 * 1024):
    """Seconds from the `mvhd` box of an MP4/MOV file (None when it cannot be found)."""
    def boxes(end):
        while handle.tell() + 8 <= end:
            start = handle.tell()
            header = handle.read(8)
            if len(header) < 8:
                return
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", handle.read(8))[0]
            elif size == 0:
                size = end - start
            if size < 8:
                return
            yield kind, start, size
            handle.seek(start + size)

    handle.seek(0, 2)
    end = min(handle.tell(), limit)
    handle.seek(0)
    for kind, start, size in boxes(end):
        if kind != b"moov":
            continue
        handle.seek(start + 8)
        for inner, inner_start, _ in boxes(start + size):
            if inner != b"mvhd":
                continue
            handle.seek(inner_start + 8)
            version = handle.read(1)[0]
            handle.read(3)
            if version == 1:
                _, _, timescale, duration = struct.unpack(">QQIQ", handle.read(28))
            else:
                _, _, timescale, duration = struct.unpack(">IIII", handle.read(16))
            return duration / timescale if timescale else None
        return None
    return None


def raise_for_violations(violations):
    if not violations:
        return
    errors = {}
    for violation in violations:
        errors.setdefault(VIOLATION_FIELDS.get(violation.field, "content"), []).append(violation.message)
    raise ValidationError(errors)
