"""What people type, parsed one way for every surface (the CLI and Telegram): zone lists,
local times and durations, with one set of error messages (translatable: channels show
`ParseError.message` through gettext, formatted with its `values`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time, timedelta, tzinfo

from bot.core.errors import Explained
from bot.core.i18n import N_

ALL_ZONES = "all"
ALL_WORDS = frozenset({"all", "todas", "todos", "todo"})  # "all" in English and Spanish
_DURATION = re.compile(
    r"\s*(?:(\d{1,6})\s*d)?\s*(?:(\d{1,6})\s*h)?\s*(?:(\d{1,6})\s*m(?:in)?)?\s*", re.ASCII
)
LONGEST = timedelta(days=3650)  # what any duration here may be: ten years
ROW_ID = 2**31 - 1  # the largest id a table holds (PostgreSQL's integer)


class ParseError(Explained):
    """Input that cannot be read; `message` (a msgid) and `values` say why."""


def zone_list(text: str, known: Callable[[str], bool]) -> tuple[str, ...]:
    """'60629, 60632' or '60629 60632' -> the ZIP codes, in order, once each; `all` (or
    `todas`) -> ("all",). Empty, or a code the network does not serve: ParseError."""
    words = [w.strip().lower() for w in text.replace(";", ",").replace(" ", ",").split(",")]
    zones = tuple(dict.fromkeys(ALL_ZONES if w in ALL_WORDS else w for w in words if w))
    if not zones:
        raise ParseError(N_("Send ZIP codes separated by commas (60629, 60632), or all."))
    if ALL_ZONES in zones:
        return (ALL_ZONES,)
    unknown = [z for z in zones if not known(z)]
    if unknown:
        raise ParseError(N_("Not zones of this network: {zones}"), zones=", ".join(unknown))
    return zones


def local_time(text: str, zone: tzinfo) -> datetime:
    """'2027-01-09 10:00' (any ISO 8601 form) in the network's time zone -> an aware
    datetime; one that names its own offset keeps it."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ParseError(
            N_("Give the time as YYYY-MM-DD HH:MM (network time), for example {example}."),
            example="2027-01-09 10:00",
        ) from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def duration(text: str) -> timedelta:
    """'4h', '90m', '1h30m', '7d' -> a timedelta (of more than zero)."""
    match = _DURATION.fullmatch(text.lower())
    if not match or not any(match.groups()):
        raise ParseError(
            N_("{text}: use days, hours or minutes, like 7d, 4h or 90m"), text=repr(text)
        )
    found = timedelta(days=int(match[1] or 0), hours=int(match[2] or 0), minutes=int(match[3] or 0))
    if found <= timedelta(0):
        raise ParseError(N_("{text}: must be more than zero"), text=repr(text))
    if found > LONGEST:
        raise ParseError(N_("{text}: at most ten years"), text=repr(text))
    return found


def number(text: str, *, largest: int = ROW_ID) -> int | None:
    """A whole number as typed or carried by a button (an id, a menu number): ASCII digits
    only, and no larger than `largest`; None otherwise (never an OverflowError or a raw
    Python message, whatever was sent)."""
    if not (0 < len(text) <= len(str(largest)) and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= largest else None


_CLOCK = re.compile(
    r"^(\d{1,2})(?:[:.h](\d{2}))?\s*(a\.?\s?m\.?|p\.?\s?m\.?)?$", re.IGNORECASE | re.ASCII
)
NOW_WORDS = frozenset({"now", "ahora"})


def clock(text: str, now: time) -> time:
    """A time of day as a coordinator types it: 15:40, 3:40 pm, 3pm, 9.05, or now."""
    typed = text.strip().lower()
    if typed in NOW_WORDS:
        return now.replace(second=0, microsecond=0)
    match = _CLOCK.match(typed)
    if match is None:
        raise ParseError(N_("{text} is no time: write 15:40, 3:40 pm or now"), text=text[:20])
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    half = (match.group(3) or "").replace(".", "").replace(" ", "")
    if (half and not 1 <= hour <= 12) or hour > 23 or minute > 59:
        raise ParseError(N_("{text} is no time: write 15:40, 3:40 pm or now"), text=text[:20])
    if half == "pm" and hour != 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    return time(hour, minute)


DAYS = {
    **dict.fromkeys(("mon", "monday", "lun", "lunes"), 0),
    **dict.fromkeys(("tue", "tues", "tuesday", "mar", "martes"), 1),
    **dict.fromkeys(("wed", "wednesday", "mie", "mié", "miercoles", "miércoles"), 2),
    **dict.fromkeys(("thu", "thur", "thurs", "thursday", "jue", "jueves"), 3),
    **dict.fromkeys(("fri", "friday", "vie", "viernes"), 4),
    **dict.fromkeys(("sat", "saturday", "sab", "sáb", "sabado", "sábado"), 5),
    **dict.fromkeys(("sun", "sunday", "dom", "domingo"), 6),
}
_HOURS = re.compile(r"^(\d{1,2})(?::(\d{2}))?-(\d{1,2})(?::(\d{2}))?$", re.ASCII)


def weekly_shift(text: str) -> tuple[int, int, int]:
    """'Mon 18-22', 'sáb 9:30-13', 'Fri 22-2' (past midnight) -> (weekday, first minute,
    end minute), weekday 0 for Monday, in English or Spanish."""
    words = text.strip().lower().split()
    hours = _HOURS.match(words[1]) if len(words) == 2 else None
    if len(words) != 2 or words[0] not in DAYS or hours is None:
        raise ParseError(N_("Give a day and hours, for example Mon 18-22."))
    h1, m1, h2, m2 = (int(g or 0) for g in hours.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ParseError(N_("Give a day and hours, for example Mon 18-22."))
    start, end = h1 * 60 + m1, (h2 * 60 + m2) % (24 * 60)
    if start == end:
        raise ParseError(N_("Give a day and hours, for example Mon 18-22."))
    return DAYS[words[0]], start, end
