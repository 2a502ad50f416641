"""Alert templates (config/alerts.yaml): a coordinator fills the slots once, and every
language's text comes from that language's own template, never from a translation made under
pressure. A language without the template gets English's (the fallback at delivery).

The slots: {place} and {what} as the coordinator types them, {zone} from the alert's zones,
{time} written as each language writes a time (3:46 PM, 3:46 p.m., 15:46).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from datetime import time

from bot.core.content import DEFAULT_LANGUAGE, Content
from bot.core.i18n import N_
from bot.core.vocabulary import AlertKind

FOR_KIND: dict[AlertKind, tuple[str, ...]] = {
    AlertKind.ALERT: ("sighting", "confirmed"),
    AlertKind.UPDATE: ("update",),
    AlertKind.CORRECTION: ("correction",),
    AlertKind.ALL_CLEAR: ("all_clear",),
    AlertKind.RUMOR: ("rumor",),
}
"""The templates the composer offers for each kind of message."""

NAMES = {
    "sighting": N_("Agents seen"),
    "confirmed": N_("Enforcement confirmed"),
    "update": N_("Agents moved"),
    "correction": N_("The alert was wrong"),
    "all_clear": N_("Activity ended"),
    "rumor": N_("Rumor not confirmed"),
    "workshop": N_("Workshop"),
    "report": N_("From a report"),
}
"""Each template's button label in the composer."""

PROMPTS = {
    "place": N_("Where? Cross streets or a landmark, never a home address."),
    "time": N_("At what time? For example 15:40, 3:40 pm, or now."),
    "what": N_(
        "What was seen, in a few words (for example: 3 unmarked vans). It goes into every "
        "language as you type it; the preview shows each one and you can change any."
    ),
}
"""What the composer asks for each slot the coordinator fills."""


def offered(content: Content, kind: AlertKind) -> tuple[str, ...]:
    """The templates of `kind` that config/alerts.yaml has (in English at least)."""
    return tuple(
        name
        for name in FOR_KIND.get(kind, ())
        if DEFAULT_LANGUAGE in content.alert_templates.get(name, {})
    )


def slots(text: str) -> list[str]:
    """The slots a template uses, in order, each once."""
    names = [name for _, name, _, _ in string.Formatter().parse(text) if name]
    return list(dict.fromkeys(names))


def asked(content: Content, name: str) -> list[str]:
    """The slots the coordinator fills for template `name` (the zone comes from the zones)."""
    english = content.alert_templates[name][DEFAULT_LANGUAGE]
    return [slot for slot in slots(english) if slot != "zone"]


def fill(
    content: Content,
    name: str,
    values: Mapping[str, str],
    at: time | None,
    zone: Callable[[str], str],
) -> dict[str, str]:
    """Every language's own template of `name`, filled: `values` for place and what, `at` as
    the language writes a time, `zone(language)` for the zones' names."""
    texts = {}
    for code, template in content.alert_templates.get(name, {}).items():
        if code not in content.rights:
            continue
        own = dict(values)
        own["zone"] = zone(code)
        own["time"] = content.clock_time(code, at) if at is not None else values.get("time", "")
        texts[code] = template.format_map(_Blank(own))
    return texts


class _Blank(dict[str, str]):
    """A slot nobody filled reads as nothing rather than failing."""

    def __missing__(self, key: str) -> str:
        return ""
