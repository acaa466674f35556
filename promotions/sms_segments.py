"""How a text is sent: its encoding (GSM-7 or UCS-2) and how many segments it takes, and what that costs.

GSM-7 (the gsm0338 codec) takes 160 septets in one segment and 153 per segment once a text is split
(the rest carry the concatenation header); characters of the extension table (€, [, ], {, }, ^, ~, \\, |)
take two septets, and their pair is never split between segments. A text with any character outside
GSM-7 goes as UCS-2: 70 UTF-16 units in one segment, 67 per segment once split (a character outside the
Basic Multilingual Plane, an emoji, takes two units, never split either).
"""

from dataclasses import dataclass
from decimal import Decimal

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

GSM7, UCS2 = "GSM-7", "UCS-2"
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class SmsSize:
    encoding: str
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int

    @property
    def single_limit(self):
        return LIMITS[self.encoding][0]

    def as_dict(self):
        return {"encoding": self.encoding, "units": self.units, "segments": self.segments}


def _unit_sizes(text):
    """Each character's size in units and the encoding; GSM-7 when every character has a GSM-7 form."""
    try:
        return GSM7, [len(ch.encode("gsm03.38")) for ch in text]
    except UnicodeEncodeError:
        return UCS2, [len(ch.encode("utf-16-le")) // 2 for ch in text]


def sms_size(text):
    """The encoding, length in units and segment count of one text ("" counts as no segment)."""
    text = text or ""
    encoding, sizes = _unit_sizes(text)
    units = sum(sizes)
    single, multi = LIMITS[encoding]
    if units == 0:
        return SmsSize(encoding, 0, 0)
    if units <= single:
        return SmsSize(encoding, units, 1)
    segments, used = 1, 0
    for size in sizes:  # a two-unit character never straddles two segments
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return SmsSize(encoding, units, segments)


def sms_cost(*, segments, price_per_segment):
    """The estimated price of `segments` segments, or None when the tenant set no price."""
    if price_per_segment is None:
        return None
    return (Decimal(segments) * Decimal(price_per_segment)).quantize(Decimal("0.01"))

