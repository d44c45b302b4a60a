"""How many SMS segments a text costs: GSM-7 (GSM 03.38) or UCS-2.

A text made only of characters of the GSM 03.38 default alphabet is sent in 7-bit
septets: 160 in one SMS, 153 per part once it is split (the user data header takes
the rest). Characters of the extension table (``^ { } \\ [ ~ ] | €`` and form feed)
cost two septets (ESC + char), and a part never ends between the two. Any other
character (Devanagari, Tamil, emoji, curly quotes…) makes the whole text UCS-2:
70 UTF-16 code units in one SMS, 67 per part, and a surrogate pair (an emoji) is
never split across parts.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: GSM 03.38 default alphabet, in table order (0x1B, the escape, is not a character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ" "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: GSM 03.38 extension table: each costs ESC + the character, two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7, UCS2 = "GSM-7", "UCS-2"
SINGLE = {GSM7: 160, UCS2: 70}
MULTI = {GSM7: 153, UCS2: 67}


@dataclass(frozen=True)
class SegmentCount:
    """The encoding of a text and what it costs."""

    encoding: str  # GSM-7 | UCS-2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # units that fit in each part: 160/153 or 70/67
    characters: int
    non_gsm: tuple[str, ...]  # the characters that forced UCS-2, first occurrence order

    @property
    def visible_non_gsm(self) -> tuple[str, ...]:
        """The forcing characters without combining marks (vowel signs), for showing to people."""
        return tuple(ch for ch in self.non_gsm if not unicodedata.category(ch).startswith("M"))

    @property
    def remaining(self) -> int:
        """Units left in the last segment before another one is needed."""
        return self.segments * self.per_segment - self.units if self.segments else self.per_segment


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_sizes(text: str) -> tuple[str, list[int]]:
    if is_gsm7(text):
        return GSM7, [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return UCS2, [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _pack(sizes: list[int], capacity: int) -> int:
    """Parts needed when no character (escape pair, surrogate pair) may straddle two parts."""
    parts, used = 1, 0
    for size in sizes:
        if used + size > capacity:
            parts, used = parts + 1, 0
        used += size
    return parts


def count(text: str) -> SegmentCount:
    """Encoding, units and segments of ``text`` as an SMS gateway sends it (no smart encoding)."""
    encoding, sizes = _unit_sizes(text)
    units = sum(sizes)
    if units == 0:
        segments, per = 0, SINGLE[encoding]
    elif units <= SINGLE[encoding]:
        segments, per = 1, SINGLE[encoding]
    else:
        segments, per = _pack(sizes, MULTI[encoding]), MULTI[encoding]
    seen: dict[str, None] = {}
    if encoding == UCS2:
        for ch in text:
            if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION:
                seen.setdefault(ch)
    return SegmentCount(encoding, units, segments, per, len(text), tuple(seen))
