"""Sample images served at /_sim/media/ and the image fetcher used by photo and container calls."""

import struct
import urllib.error
import urllib.parse
import urllib.request

from . import world

# Standard JPEG luminance DC Huffman table (ITU T.81 Annex K.3).
_DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
_DC_VALUES = list(range(12))


def _dc_codes():
    codes, code, k = {}, 0, 0
    for length, count in enumerate(_DC_BITS, start=1):
        for _ in range(count):
            codes[_DC_VALUES[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


def _segment(marker, payload):
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def gradient_jpeg(width, height, top, bottom):
    """A valid baseline greyscale JPEG: a vertical gradient made of flat 8x8 blocks."""
    dc_codes = _dc_codes()
    bits = []

    def put(value, length):
        for i in range(length - 1, -1, -1):
            bits.append((value >> i) & 1)

    blocks_x, blocks_y = (width + 7) // 8, (height + 7) // 8
    previous = 0
    for by in range(blocks_y):
        level = top + (bottom - top) * by // max(1, blocks_y - 1)
        dc = 8 * (level - 128)  # DCT DC term of a flat block, quantised by 1
        for _ in range(blocks_x):
            diff, previous = dc - previous, dc
            size = abs(diff).bit_length()
            code, length = dc_codes[size]
            put(code, length)
            if size:
                put(diff if diff > 0 else diff + (1 << size) - 1, size)
            put(0, 1)  # end of block: the only AC symbol, coded as a single 0 bit
    while len(bits) % 8:
        bits.append(1)
    entropy = bytearray()
    for i in range(0, len(bits), 8):
        byte = int("".join(map(str, bits[i:i + 8])), 2)
        entropy.append(byte)
        if byte == 0xFF:
            entropy.append(0)

    out = b"\xff\xd8"
    out += _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00")
    out += _segment(0xDB, b"\x00" + b"\x01" * 64)
    out += _segment(0xC0, b"\x08" + struct.pack(">HH", height, width) + b"\x01\x01\x11\x00")
    out += _segment(0xC4, b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALUES))
    out += _segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    out += _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return out + bytes(entropy) + b"\xff\xd9"


# A 1x1 GIF89a and the smallest MP4 shape (an ftyp box and an mdat box): enough for X's chunked
# upload, whose checks look at the type and the size, not at the frames.
SAMPLE_GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
              b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def _box(kind, payload):
    return struct.pack(">I", len(payload) + 8) + kind + payload


def tiny_mp4(seconds=12):
    """An MP4 container (ftyp, moov with mvhd giving its duration, empty mdat): enough for
    the platforms' download and type checks; nobody plays it."""
    mvhd = _box(b"mvhd", b"\x00" * 4 + struct.pack(">IIII", 0, 0, 1000, seconds * 1000) + b"\x00" * 80)
    return _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41") + _box(b"moov", mvhd) + _box(b"mdat", b"\x00" * 64)


def tiny_png(width=64, height=64):
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


SAMPLES = {
    "sample.jpg": gradient_jpeg(640, 800, 60, 200),
    "sample2.jpg": gradient_jpeg(1080, 1080, 30, 180),
    "sample3.jpg": gradient_jpeg(1080, 566, 90, 230),
    "sample.gif": SAMPLE_GIF,
    "sample.png": tiny_png(),
    "sample.mp4": tiny_mp4(),
}
CONTENT_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".mp4": "video/mp4"}


def content_type_of(name):
    return next((t for ext, t in CONTENT_TYPES.items() if name.endswith(ext)), "application/octet-stream")
assert set(SAMPLES) == set(world.SAMPLE_MEDIA)

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class MediaFetchError(Exception):
    pass


def fetch_image(url, *, jpeg_only=False, any_bytes=False, video=False, timeout=5):
    """Download an image the way the platforms do; only loopback URLs can be reached from here."""
    parsed = urllib.parse.urlsplit(url or "")
    if parsed.scheme not in ("http", "https") or parsed.hostname not in LOCAL_HOSTS:
        raise MediaFetchError("only http(s) URLs on 127.0.0.1 or localhost can be fetched by the simulator")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read(9 * 1024 * 1024)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise MediaFetchError(f"could not download {url}: {exc}") from exc
    if len(data) > 8 * 1024 * 1024 and not video:
        raise MediaFetchError("image larger than 8 MB")
    if video:
        if data[4:8] != b"ftyp":
            raise MediaFetchError("not an MP4 or MOV video")
        return data
    if any_bytes:
        return data
    is_jpeg = data.startswith(b"\xff\xd8")
    is_other_image = data.startswith((b"\x89PNG", b"GIF8"))
    if not is_jpeg and (jpeg_only or not is_other_image):
        raise MediaFetchError("not a JPEG image" if jpeg_only else "not an image")
    return data
