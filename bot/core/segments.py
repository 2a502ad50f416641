"""SMS segments: how many billable parts a text costs (GSM-7 160/153, UCS-2 70/67)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# The GSM 03.38 default alphabet and its extension table (each extension char costs two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

MAX_SEGMENTS = 4
"""What one of our texts may cost: a network pays per segment."""


@dataclass(frozen=True)
class SegmentCount:
    """A text's encoding, its length in encoding units, its segments, and what forced UCS-2."""

    encoding: str  # "GSM-7" or "UCS-2"
    units: int
    segments: int
    non_gsm: tuple[str, ...]


def count_segments(text: str) -> SegmentCount:
    non_gsm = tuple(
        dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION)
    )
    if not non_gsm:
        sizes = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        # UTF-16 code units: a character outside the BMP (most emoji) takes two.
        sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, multi, encoding = 70, 67, "UCS-2"
    units = sum(sizes)
    if units <= single:
        return SegmentCount(encoding, units, 1, non_gsm)
    # An escape pair or a surrogate pair is never split across two segments.
    segments, used = 1, 0
    for size in sizes:
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return SegmentCount(encoding, units, segments, non_gsm)


SMART = {"—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "..."}
"""Typographic punctuation and the GSM-7 character carriers' smart encoding sends instead."""


def gsm_fold(text: str) -> str:
    """`text` with each letter outside GSM-7 replaced by its unaccented form where that one
    is GSM-7 ("código" -> "codigo"), and typographic dashes and quotes by plain ones, as
    carriers' smart encoding does: a Spanish line then costs GSM-7 segments (160 characters)
    rather than UCS-2 ones (70)."""
    folded = []
    for char in text:
        if char in SMART:
            char = SMART[char]
        elif char not in GSM7_BASIC and char not in GSM7_EXTENSION:
            base = unicodedata.normalize("NFKD", char)[:1]
            if base and base in GSM7_BASIC:
                char = base
        folded.append(char)
    return "".join(folded)
