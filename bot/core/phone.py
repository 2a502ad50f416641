"""What the hotline says, prompt by prompt, and where each language sits in its menu.

A language is offered by phone when Twilio can speak it (a <Say> voice in config/voice.yaml)
or when the network has recorded it: audio files under config/voice/<code>/, one per prompt,
named by the prompt's key (`menu.mp3`, `topic-home.wav`, ...). A recording replaces the
spoken text wherever one exists; a language with no voice must have every prompt recorded
(`required`). What a prompt says in each language, for whoever records it, is `script`, from
the same texts the bot speaks and sends (drafts where the language's texts are drafts).

Prompts that carry something only known during a call (a report's number, the caller's
zone) are spoken; a language with no voice takes reports through a volunteer instead of
speech recognition, and its `alerts-done` recording leaves the zone out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.core.i18n import N_

if TYPE_CHECKING:
    from bot.core.content import Content

AUDIO_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav"}
"""Recordings Twilio's <Play> takes, by file ending."""

PAGE = 7
"""Languages on the language menu's first page after English and Spanish (9: more)."""

MAIN_MENU = N_(
    "For your rights, press 1. To report what is happening, press 2. To talk to a volunteer, "
    "press 3. To get alerts by text message at this number, press 4. To hear this again, "
    "press 9."
)
REPORT_PROMPT = N_(
    "After the tone, say what is happening and where: cross streets or a landmark, never a "
    "home address. Nothing is recorded."
)
REPORT_TAKEN = N_(
    "Thank you. Your report number is {id}. Trained volunteers will verify it. We never "
    "share who you are."
)
ALERTS_DONE = N_(
    "Done: verified alerts for {zone} will come by text message to this number. A "
    "confirmation text is on its way; a landline does not receive texts."
)
CHOOSE = N_("For {choice}, press {digit}.")
BACK = N_("To go back to the menu, press 0.")
SORRY = N_("Sorry, I did not get that.")
OUTSIDE = N_("That ZIP code is not in our area.")
CONNECTING = N_("Connecting you to a volunteer. Please wait.")
FALLBACK = N_("No volunteer can answer right now. We are connecting you to {name}.")
ALERTS_ZIP = N_("Enter the ZIP code where you live on the keypad.")
REPORT_ZIP = N_("Enter the ZIP code of the place on the keypad.")
REFUSED = N_("We cannot take another report from this number now. Please call again later.")

# The prompts a recording may replace, by key (the file's name without its ending).
# `choose` is the language's own name in its menu ("For Kreyòl ayisyen,") and `press-N` the
# digit after it ("press 8."), so that word order never depends on the digit.
RECORDED = (
    "choose",
    "menu",
    "sorry",
    "summary",
    "topics",
    "connecting",
    "fallback",
    "alerts-zip",
    "outside",
    "alerts-done",
)
"""Every prompt a language with no voice needs, beside `press-N` and a file per topic."""
SPOKEN_ONLY = ("report-zip", "report-say", "report-refused")
"""Prompts on the way to a spoken report: recorded where a language has a voice too."""


def topic_prompt(key: str) -> str:
    return f"topic-{key}"


def press_prompt(digit: int) -> str:
    return f"press-{digit}"


def language_pages(codes: Sequence[str]) -> list[list[str]]:
    """The language menu, page by page: English and Spanish, then the others PAGE at a
    time on the first page and 8 on each after (9 turns the page)."""
    first = [code for code in ("en", "es") if code in codes]
    others = [code for code in codes if code not in first]
    pages = [first + others[: PAGE - len(first) + 1]]
    rest = others[PAGE - len(first) + 1 :]
    while rest:
        pages.append(rest[:8])
        rest = rest[8:]
    return pages


def menu_digit(code: str, codes: Sequence[str]) -> int:
    """The digit that chooses `code` on its page of the language menu."""
    for page in language_pages(codes):
        if code in page:
            return page.index(code) + 1
    raise KeyError(code)


def known(topic_keys: Sequence[str]) -> set[str]:
    """Every name a recording may have."""
    return {
        *RECORDED,
        *SPOKEN_ONLY,
        *(topic_prompt(key) for key in topic_keys),
        *(press_prompt(digit) for digit in range(1, 9)),
    }


def required(code: str, codes: Sequence[str], topic_keys: Sequence[str]) -> list[str]:
    """The recordings a language with no voice needs for its place in the menu."""
    return [
        "choose",
        press_prompt(menu_digit(code, codes)),
        *RECORDED[1:],
        *(topic_prompt(key) for key in topic_keys),
    ]


def text(content: Content, code: str, key: str, **slots: str | int) -> str:
    """What prompt `key` says in language `code`, slots filled: the words <Say> speaks and
    the script a recording follows."""
    _ = content.lang(code).gettext
    if key.startswith("topic-"):
        topic = content.topic(code, key.removeprefix("topic-"))
        return f"{topic.title}. {topic.voice}"
    if key == "summary":
        return content.rights_in(code).voice_summary
    if key == "topics":
        pattern = _(CHOOSE)
        titles = [content.topic(code, k).title for k in content.topic_keys]
        lines = [pattern.format(choice=t, digit=i) for i, t in enumerate(titles, start=1)]
        return " ".join([*lines, _(BACK)])
    if key == "fallback":
        network = content.network
        return _(FALLBACK).format(name=network.in_language(network.hotline_name, code))
    message = {
        "choose": CHOOSE,
        "menu": MAIN_MENU,
        "sorry": SORRY,
        "connecting": CONNECTING,
        "alerts-zip": ALERTS_ZIP,
        "outside": OUTSIDE,
        "alerts-done": ALERTS_DONE,
        "report-zip": REPORT_ZIP,
        "report-say": REPORT_PROMPT,
        "report-taken": REPORT_TAKEN,
        "report-refused": REFUSED,
        "more": N_("For more languages, press 9."),
    }[key]
    return _(message).format(**slots) if slots else _(message)


def script(content: Content, code: str) -> list[tuple[str, str, str]]:
    """What to record for `code`: each file's name, its words, and how to record them."""
    codes = list(content.voices)
    # Its place in the menu now, or, for a language not yet offered, once added at the end.
    digit = menu_digit(code, codes if code in codes else [*codes, code])
    name = content.language_name(code)
    whole = text(content, code, "choose", choice=name, digit=digit)
    zone = "…"
    rows = [
        ("choose", whole, f"only the words before the digit {digit}"),
        (press_prompt(digit), whole, f"only the words for 'press {digit}'"),
    ]
    for key in RECORDED[1:]:
        if key == "alerts-done":
            rows.append((key, text(content, code, key, zone=zone), "leave the zone out (…)"))
        else:
            rows.append((key, text(content, code, key), ""))
    rows += [
        (topic_prompt(k), text(content, code, topic_prompt(k)), "") for k in content.topic_keys
    ]
    rows += [(k, text(content, code, k), "only with a voice") for k in SPOKEN_ONLY]
    return rows
