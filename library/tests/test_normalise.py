"""Uploads normalised for every platform: orientation, metadata, JPEG, size limits, refusals."""

import pytest
from django.core.exceptions import ValidationError

from library.normalise import normalise_image
from library.tests import images
from platforms import ImageLimits, image_limits_for_every_platform

LIMITS = image_limits_for_every_platform()


def normalise(data, limits=LIMITS, max_pixels=50_000_000, name="photo.jpg"):
    return normalise_image(data, name=name, limits=limits, max_pixels=max_pixels)


def test_the_limits_are_the_strictest_the_adapters_declare():
    # Instagram: JPEG, 1440 px wide; Facebook: under 4 MB; LinkedIn: about 6012 px on the long side.
    assert LIMITS.jpeg_only and LIMITS.max_width == 1440 and LIMITS.max_bytes == 4 * 1024 * 1024
    assert LIMITS.max_long_side == 6012


def test_exif_orientation_is_applied_and_the_metadata_dropped():
    result = normalise(images.jpeg(200, 100, orientation=6, gps=True))
    assert (result.width, result.height) == (100, 200)  # rotated a quarter turn, as cameras mean it
    stored = images.opened(result.data)
    assert stored.size == (100, 200)
    assert not stored.getexif()  # no orientation left to apply twice, no GPS position
    # the blue corner moved to the top right, where a 90° clockwise turn puts it
    assert stored.convert("RGB").getpixel((95, 5))[2] > 150 and stored.convert("RGB").getpixel((5, 195))[2] < 100


def test_png_becomes_jpeg_with_transparency_on_white():
    result = normalise(images.png(), name="logo.png")
    assert result.content_type == "image/jpeg" and result.data.startswith(b"\xff\xd8")
    assert images.opened(result.data).convert("RGB").getpixel((100, 100)) >= (245, 245, 245)


def test_a_wide_image_is_scaled_to_the_width_instagram_takes():
    result = normalise(images.jpeg(3000, 1500))
    assert (result.width, result.height) == (1440, 720)


def test_a_heavy_image_is_compressed_under_the_byte_limit():
    data = images.noise_jpeg(1400, 1400)
    limits = ImageLimits(max_bytes=300_000)
    assert len(data) > limits.max_bytes
    result = normalise(data, limits=limits)
    assert len(result.data) <= limits.max_bytes


def test_a_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(ValidationError) as caught:
        normalise(images.bomb_png(12000), name="bomb.png")
    assert "bomb.png" in str(caught.value) and "pixels" in str(caught.value)


def test_pillows_own_bomb_guard_is_an_error_not_a_warning(monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValidationError) as caught:
        normalise(images.jpeg(60, 60), max_pixels=10**9)
    assert "too large in pixels" in str(caught.value)


@pytest.mark.parametrize("data, words", [
    (b"%PDF-1.7 not an image at all", "is not an image"),
    (images.jpeg()[:300], "damaged"),
])
def test_files_that_are_not_whole_images_are_refused(data, words):
    with pytest.raises(ValidationError) as caught:
        normalise(data, name="upload.bin")
    assert words in str(caught.value) and "upload.bin" in str(caught.value)


def test_an_animated_gif_is_kept_as_it_is():
    data = images.animated_gif()
    result = normalise(data, name="swing.gif")
    assert result.content_type == "image/gif" and result.data == data
    assert images.opened(result.thumbnail).format == "JPEG"


def test_the_thumbnail_is_small():
    result = normalise(images.jpeg(1200, 900))
    assert max(images.opened(result.thumbnail).size) == 320
