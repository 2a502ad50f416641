"""`rrbot content check`: what every language has, what falls back, what an SMS costs.

One row per language: each text's SMS segments as it is sent (hotline included, accents
dropped where the language's SMS go without them), whether its key points match English's,
how many interface strings are translated, and who reviewed it. A problem is anything that
would send someone English, a cut text or a text that says less than English's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.content import DEFAULT_LANGUAGE, TOPIC_KEYS, Content
from bot.core.segments import MAX_SEGMENTS, count_segments


@dataclass(frozen=True)
class Cell:
    """One text of one language: present in its own language, and what its SMS costs."""

    what: str  # "summary", "menu" or a topic key
    own: bool  # False: it falls back to English
    segments: int
    encoding: str


@dataclass(frozen=True)
class LanguageCheck:
    code: str
    name: str
    cells: list[Cell]
    strings: tuple[int, int]  # interface strings translated, of all
    native: str
    lawyer: str
    problems: list[str] = field(default_factory=list)

    @property
    def draft(self) -> bool:
        return not (self.native and self.lawyer)


def check(content: Content, strings: dict[str, tuple[int, int]]) -> list[LanguageCheck]:
    """Every language's check; `strings` gives (translated, total) interface strings by code."""
    return [_language(content, code, strings) for code in content.languages]


def _language(content: Content, code: str, strings: dict[str, tuple[int, int]]) -> LanguageCheck:
    rights = content.rights[code]
    reference = content.rights[DEFAULT_LANGUAGE]
    problems: list[str] = []
    cells = []
    for what, text in content.sms_rights(code).items():
        own = what in ("summary", "menu") or what in rights.topics
        count = count_segments(text)
        cells.append(Cell(what, own, count.segments, count.encoding))
        if not own:
            problems.append(f"{what}: missing, falls back to English")
        if count.segments > MAX_SEGMENTS:
            problems.append(f"{what}: SMS is {count.segments} segments ({count.encoding})")
    sections = [
        (
            "summary",
            reference.summary_points,
            rights.summary_points,
            rights.summary_telegram,
            rights.summary_sms,
        )
    ]
    for key in TOPIC_KEYS:
        topic = rights.topics.get(key)
        if topic is not None:
            theirs = reference.topics[key]
            sections.append((key, theirs.points, topic.points, topic.telegram, topic.sms))
            if not topic.source:
                problems.append(f"{key}: no source")
    for what, wanted, given, telegram, sms in sections:
        problems += _points(what, wanted, given, telegram, sms)
    if code != DEFAULT_LANGUAGE:
        done, total = strings.get(code, (0, strings.get(DEFAULT_LANGUAGE, (0, 0))[1]))
        if done < total:
            problems.append(f"interface: {total - done} of {total} strings untranslated")
    return LanguageCheck(
        code=code,
        name=rights.name,
        cells=cells,
        strings=strings.get(code, (0, 0)),
        native=rights.reviewed_by.get("native", ""),
        lawyer=rights.reviewed_by.get("lawyer", ""),
        problems=problems,
    )


def _points(
    what: str, wanted: dict[str, str], given: dict[str, str], telegram: str, sms: str
) -> list[str]:
    """The key points English's text carries that this one does not name, or does not say."""
    problems = [f"{what}: point {p!r} missing" for p in wanted if p not in given]
    problems += [f"{what}: point {p!r} is not English's" for p in given if p not in wanted]
    for point, words in given.items():
        for name, text in (("telegram", telegram), ("sms", sms)):
            if _plain(words) not in _plain(text):
                problems.append(f"{what}: the {name} text lacks point {point!r} ({words!r})")
    return problems


def _plain(text: str) -> str:
    return " ".join(text.split()).casefold()
