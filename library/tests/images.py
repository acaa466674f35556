"""Image bytes for the library's tests, made with Pillow."""

import io

from PIL import Image

ORIENTATION = 0x0112
GPS_INFO = 0x8825


def jpeg(width=200, height=100, *, orientation=None, gps=False, colour=(200, 30, 30), quality=90):
    image = Image.new("RGB", (width, height), colour)
    image.paste((20, 20, 220), (0, 0, width // 4, height // 4))  # a blue corner shows where "up" went
    exif = Image.Exif()
    if orientation:
        exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_INFO] = {1: "N", 2: (51.0, 30.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif.tobytes() if (orientation or gps) else b"")
    return out.getvalue()


def png(width=120, height=120, *, transparent=True):
    image = Image.new("RGBA" if transparent else "RGB", (width, height), (0, 128, 0, 0) if transparent else (0, 128, 0))
    image.paste((0, 0, 255, 255) if transparent else (0, 0, 255), (10, 10, 40, 40))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def noise_jpeg(width, height):
    """A photo-like image that compresses badly (large in bytes)."""
    import os

    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=100)
    return out.getvalue()


def bomb_png(side=12000):
    """A tiny file that would decode to side×side pixels."""
    out = io.BytesIO()
    Image.new("1", (side, side), 0).save(out, "PNG", optimize=True)
    return out.getvalue()


def animated_gif():
    frames = [Image.new("RGB", (60, 40), (i * 80, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def opened(data):
    return Image.open(io.BytesIO(data))
