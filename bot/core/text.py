"""What people typed, made safe to show someone else, and any text cut to fit its provider.

A reporter's words reach coordinators: control characters and bidi overrides (U+202E turns
the rest of a line around) are taken out, and a long text is cut with an ellipsis rather than
refused by Telegram (4,096 characters, counted in UTF-16 units) or Twilio (1,600 characters).
"""

from __future__ import annotations

import re
import unicodedata

TELEGRAM_LIMIT = 4096  # UTF-16 code units
CAPTION_LIMIT = 1024  # a document's caption
SMS_LIMIT = 1600  # characters Twilio accepts in one Body
ELLIPSIS = "…"


def shown(text: str) -> str:
    """`text` without control characters (a tab or line break becomes a space) or invisible
    format marks (bidi overrides and isolates, zero-width characters, a BOM)."""
    out = []
    for c in text:
        category = unicodedata.category(c)
        if category == "Cc":
            if c in "\t\n\r":
                out.append(" ")
        elif category != "Cf":
            out.append(c)
    return "".join(out).strip()


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def cut(text: str, limit: int, *, utf16: bool = False) -> str:
    """`text` if it fits in `limit` (characters, or UTF-16 units), else cut with an ellipsis."""
    size = _units if utf16 else len
    if size(text) <= limit:
        return text
    kept = text[:limit]
    while kept and size(kept) > limit - 1:
        kept = kept[:-1]
    return kept.rstrip() + ELLIPSIS


def for_telegram(text: str) -> str:
    return cut(text, TELEGRAM_LIMIT, utf16=True)


def for_sms(text: str) -> str:
    return cut(text, SMS_LIMIT)


LRI = "\u2066"  # left-to-right isolate
PDI = "\u2069"  # pop directional isolate
_WORD = r"[A-Za-z0-9]+(?:[.:/@+\-][A-Za-z0-9]+)*"
_LTR_RUN = re.compile(rf"{_WORD}(?: {_WORD})*")


def isolated(text: str) -> str:
    """Right-to-left text with each run of Latin letters and digits (a ZIP code, "I-200",
    "locator.ice.gov", a keyword to send) in a left-to-right isolate, so the run keeps its
    order and does not pull the punctuation around it to the wrong side."""
    bare = text.replace(LRI, "").replace(PDI, "")  # isolated twice is isolated once
    return _LTR_RUN.sub(lambda m: f"{LRI}{m.group(0)}{PDI}", bare)
