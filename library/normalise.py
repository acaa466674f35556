"""Uploaded images made fit for every platform, with Pillow: one copy that publishes anywhere.

Orientation from EXIF is applied and every other piece of metadata (EXIF with its GPS position,
XMP, comments) is dropped; still images become JPEG (Instagram publishes JPEG only); the image is
scaled and compressed to the strictest size and dimension limits the platform adapters declare
(`platforms.image_limits_for_every_platform`). Animated GIFs stay as they are when they fit.
Files that are not images, cannot be decoded, or would decode to a huge bitmap (a decompression
bomb) are refused with a plain sentence before anything is stored.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from PIL import Image, ImageOps, UnidentifiedImageError

from platforms import ImageLimits

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
THUMBNAIL_SIDE = 320
JPEG_QUALITIES = (90, 85, 80, 75, 70)


@dataclass(frozen=True)
class NormalisedImage:
    data: bytes
    content_type: str
    width: int
    height: int
    thumbnail: bytes


def _refuse(name: str, why: str) -> ValidationError:
    return ValidationError({"file": f"“{name}” {why}"})


def _open(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """The decoded image; refused when it is not one of the accepted formats, is damaged, or is too big."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data))
            if probe.format not in ACCEPTED_FORMATS:
                raise _refuse(name, "is not a JPEG, PNG, GIF or WebP image.")
            width, height = probe.size
            if width * height > max_pixels:
                raise _refuse(name, f"is {width}×{height} pixels, more than this library takes "
                                    f"({max_pixels:,} pixels); make it smaller and upload it again.")
            probe.verify()  # checks the file's structure without decoding it
            image = Image.open(io.BytesIO(data))
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _refuse(name, "is too large in pixels to be opened safely.") from None
        except UnidentifiedImageError:
            raise _refuse(name, "is not an image (JPEG, PNG, GIF or WebP).") from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise _refuse(name, "is damaged and could not be read as an image.") from None
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, transparency laid on white (JPEG has no transparency)."""
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _fit(image: Image.Image, limits: ImageLimits) -> Image.Image:
    width, height = image.size
    scale = 1.0
    if limits.max_long_side and max(width, height) > limits.max_long_side:
        scale = min(scale, limits.max_long_side / max(width, height))
    if limits.max_width and width > limits.max_width:
        scale = min(scale, limits.max_width / width)
    if scale < 1.0:
        image = image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.LANCZOS)
    return image


def _jpeg(image: Image.Image, quality: int, icc_profile: bytes | None) -> bytes:
    out = io.BytesIO()
    # No exif=...: nothing of the original metadata is written, only the colour profile.
    image.save(out, "JPEG", quality=quality, optimize=True, progressive=True,
               **({"icc_profile": icc_profile} if icc_profile else {}))
    return out.getvalue()


def _within_bytes(image: Image.Image, limit: int | None, icc_profile: bytes | None) -> tuple[Image.Image, bytes]:
    """Lower the quality, then the size, until the JPEG fits `limit`."""
    while True:
        for quality in JPEG_QUALITIES:
            data = _jpeg(image, quality, icc_profile)
            if limit is None or len(data) <= limit:
                return image, data
        width, height = image.size
        if max(width, height) <= THUMBNAIL_SIDE:
            return image, data
        image = image.resize((max(1, int(width * 0.8)), max(1, int(height * 0.8))), Image.LANCZOS)


def _thumbnail(image: Image.Image) -> bytes:
    small = _flatten(image.copy())
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.LANCZOS)
    return _jpeg(small, 80, None)


def normalise_image(data: bytes, *, name: str, limits: ImageLimits, max_pixels: int) -> NormalisedImage:
    """The uploaded bytes as an image every platform takes (see the module's docstring)."""
    image = _open(data, name, max_pixels)
    animated = getattr(image, "is_animated", False) and image.format == "GIF"
    if animated:
        if limits.max_bytes and len(data) > limits.max_bytes:
            raise _refuse(name, f"is an animated GIF larger than {limits.max_bytes / (1024 * 1024):g} MB, the most "
                                "every platform takes; make it smaller and upload it again.")
        return NormalisedImage(data=data, content_type="image/gif", width=image.width, height=image.height,
                               thumbnail=_thumbnail(image))
    icc_profile = image.info.get("icc_profile")
    image = _fit(_flatten(ImageOps.exif_transpose(image)), limits)
    image, jpeg = _within_bytes(image, limits.max_bytes, icc_profile)
    return NormalisedImage(data=jpeg, content_type="image/jpeg", width=image.width, height=image.height,
                           thumbnail=_thumbnail(image))
