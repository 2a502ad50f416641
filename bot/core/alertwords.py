"""An alert's words as people get them: the heading the bot puts first, the drill line of a
drill, the hotline, the check-in question; by SMS, without the characters that force UCS-2
where the language reads well so. `Alerts` (alerts.py) drafts and sends with them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.content import Content
from bot.core.segments import gsm_fold
from bot.core.vocabulary import AlertKind

MAX_SMS_CHARACTERS = 1600  # Twilio's ceiling for one message


@dataclass(frozen=True)
class Marks:
    """What the bot adds to an alert's words besides its heading and the hotline."""

    check_in: bool = False
    drill: bool = False


@dataclass(frozen=True)
class OwnWords:
    before: str
    after: str


NO_MARKS = Marks()


ISOLATES = dict.fromkeys(map(ord, "\u2066\u2067\u2068\u2069"))  # what Content.directed adds


class AlertWords:
    """The bot's own words around an alert's body, in every language."""

    def __init__(self, content: Content) -> None:
        self.content = content

    def body_of(self, kind: AlertKind, language: str, text: str, marks: Marks = NO_MARKS) -> str:
        """What the coordinator wrote, from a text `render` made of it: without the drill
        line, network, heading, hotline and check-in question (what VERIFY quotes)."""
        own = self._own_words(kind, language, marks)
        flat = " ".join(text.translate(ISOLATES).split())
        before, after = " ".join(own.before.split()), " ".join(own.after.split())
        return flat.removeprefix(before).removesuffix(after).strip()

    def heading(self, kind: AlertKind, language: str) -> str:
        """The word the bot puts before an alert of `kind` in `language`."""
        _ = self.content.lang(language).gettext
        return {
            AlertKind.ALERT: _("VERIFIED ALERT"),
            AlertKind.UPDATE: _("UPDATE"),
            AlertKind.CORRECTION: _("CORRECTION"),
            AlertKind.ALL_CLEAR: _("ALL CLEAR"),
            AlertKind.RUMOR: _("RUMOR CONTROL"),
        }[kind]

    def render(self, kind: AlertKind, language: str, body: str, marks: Marks = NO_MARKS) -> str:
        """The text people get: a heading for the type, the words, the hotline; a drill
        begins with the drill line, a check-in ends with its question."""
        own = self._own_words(kind, language, marks)
        text = f"{own.before} {body.strip()} {own.after}"
        return self.content.directed(language, text)  # right-to-left: Latin runs isolated

    def render_sms(
        self, kind: AlertKind, language: str, body: str, plain: bool, marks: Marks = NO_MARKS
    ) -> str:
        """The text by SMS: without the characters that force UCS-2 where they have a plain
        form when `plain` (gsm_fold), else the bot's own words (heading, hotline, drill line,
        check-in) so where the language's SMS go without accents. The drill line's dashes are
        plain in every language: in English they alone would make an alert UCS-2."""
        if plain:
            return gsm_fold(self.render(kind, language, body, marks))
        own = self._own_words(kind, language, marks)
        if self.content.sms_plain(language):
            own = OwnWords(gsm_fold(own.before), gsm_fold(own.after))
        elif marks.drill:
            drill = self._drill_line(language)
            own = OwnWords(own.before.replace(drill, gsm_fold(drill), 1), own.after)
        return self.content.directed(language, f"{own.before} {body.strip()} {own.after}")

    def _drill_line(self, language: str) -> str:
        return self.content.lang(language).gettext("DRILL — SIMULACRO — no action needed.")

    def _own_words(self, kind: AlertKind, language: str, marks: Marks) -> OwnWords:
        """The bot's words before an alert's body (drill line, network, heading) and after
        it (hotline, check-in question)."""
        _ = self.content.lang(language).gettext
        before = f"{self.content.network.short_name} {self.heading(kind, language)}:"
        if marks.drill:
            before = f"{self._drill_line(language)} {before}"
        after = _("Hotline {hotline}").format(hotline=self.content.network.hotline)
        if marks.check_in:
            question = _("Reply 1 if you are safe, 2 if you need help.")
            after = f"{after} {question}"
        return OwnWords(before, after)

    def headings(self, kind: AlertKind) -> tuple[str, ...]:
        """The heading the bot puts before a `kind` text, in every language it speaks."""
        return tuple(dict.fromkeys(self.heading(kind, code) for code in self.content.languages))

    def without_heading(self, kind: AlertKind, body: str) -> tuple[str, str | None]:
        """The body without a heading the coordinator typed ("UPDATE: ...") that the bot adds
        itself, and the heading removed (None if there was none)."""
        stripped = body.strip()
        known = {
            h.upper() for k in AlertKind for h in (*self.headings(k), k.value.replace("_", " "))
        }
        for heading in sorted(known, key=len, reverse=True):  # "VERIFIED ALERT" before "ALERT"
            if stripped.upper().startswith(heading):
                rest = stripped[len(heading) :].lstrip()
                if rest[:1] in (":", "-", "—") or not rest:
                    # As they typed it ("Update:"), whichever spelling matched.
                    return rest.lstrip(":-— ").strip(), stripped[: len(heading)]
        return body, None

    def over_length(
        self, kind: AlertKind, language: str, body: str, marks: Marks = NO_MARKS
    ) -> int:
        """How many characters `body` is over what one SMS may carry once the heading and
        the hotline (and a drill's or a check-in's words) are added (0: it fits)."""
        return max(0, len(self.render(kind, language, body, marks)) - MAX_SMS_CHARACTERS)
