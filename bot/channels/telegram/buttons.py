"""Every inline button's data, typed: one frozen dataclass per kind of button, one prefix each.

`pack()` turns a button into Telegram's `callback_data` (at most 64 bytes, checked here) and
`parse()` turns what comes back into the button again, or None for anything stale, forged or
unreadable. Nothing else in the bot builds or splits callback data.

Subscribers' buttons keep the prefixes they always had (`rights:home`, `lang:es`), so a
keyboard sent before an upgrade still works; coordinators' buttons carry the id of what they
act on and, inside a flow, the flow's token (see bot/core/flows.py).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from bot.core.cards import CardAction
from bot.core.intents import Intent, Request
from bot.core.parse import number
from bot.core.vocabulary import AlertKind, FlowKind, Role

MAX_BYTES = 64  # Telegram's limit on callback_data
SEPARATOR = ":"


class CallbackData:
    """A button's data. Subclasses are frozen dataclasses of int, bool, str and StrEnum fields
    declaring their prefix: `class Help(CallbackData, prefix="help")`. Only the last field may
    hold the separator; empty trailing fields are left out of the packed form."""

    prefix: ClassVar[str]
    _kinds: ClassVar[dict[str, type[CallbackData]]] = {}

    def __init_subclass__(cls, prefix: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if prefix is None:  # a family of buttons, not a button
            return
        if prefix in CallbackData._kinds or SEPARATOR in prefix:
            raise TypeError(f"callback prefix {prefix!r} is taken or malformed")
        cls.prefix = prefix
        CallbackData._kinds[prefix] = cls

    def pack(self) -> str:
        values = [_encode(getattr(self, f.name)) for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        for index, value in enumerate(values[:-1]):
            if SEPARATOR in value:
                raise ValueError(f"{self.prefix}: field {index} holds the separator")
        while values and values[-1] == "":
            values.pop()
        packed = SEPARATOR.join([self.prefix, *values])
        if len(packed.encode()) > MAX_BYTES:
            raise ValueError(f"{self.prefix}: callback data over {MAX_BYTES} bytes")
        return packed

    @staticmethod
    def parse(data: str | None) -> CallbackData | None:
        """The button `data` packs, or None if it is not one of ours (or is malformed)."""
        if not data or len(data.encode()) > MAX_BYTES:
            return None
        prefix, _, rest = data.partition(SEPARATOR)
        kind = CallbackData._kinds.get(prefix)
        if kind is None:
            return None
        fields = dataclasses.fields(kind)  # type: ignore[arg-type]
        parts = rest.split(SEPARATOR, len(fields) - 1) if rest and fields else []
        if len(parts) > len(fields) or (not fields and rest):
            return None
        hints = typing.get_type_hints(kind)
        values: dict[str, Any] = {}
        for field, part in zip(fields, parts, strict=False):
            try:
                values[field.name] = _decode(hints[field.name], part)
            except ValueError:
                return None
        try:
            return kind(**values)
        except TypeError:  # a required field is missing
            return None


def _encode(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, StrEnum):
        return value.value
    return str(value)


def _decode(kind: Any, text: str) -> object:
    if kind is bool:
        if text not in ("0", "1"):
            raise ValueError(text)
        return text == "1"
    if kind is int:
        value = number(text)  # ASCII digits, no larger than a table's id
        if value is None:
            raise ValueError("not a number a button carries")
        return value
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return kind(text)
    return text


# --- subscribers: each stands for a core Request ---------------------------------------------


@dataclass(frozen=True)
class Rights(CallbackData, prefix="rights"):
    topic: str = ""


@dataclass(frozen=True)
class Language(CallbackData, prefix="lang"):
    code: str = ""


@dataclass(frozen=True)
class ZonePrompt(CallbackData, prefix="zone"):
    pass


@dataclass(frozen=True)
class Help(CallbackData, prefix="help"):
    pass


@dataclass(frozen=True)
class ReportStep(CallbackData, prefix="report"):
    action: str  # "skip", "send" or "outcome:ID" (core's REPORT_ACTION argument)


@dataclass(frozen=True)
class Rsvp(CallbackData, prefix="rsvp"):
    arg: str  # core's RSVP argument: "2", "no 2"


@dataclass(frozen=True)
class WorkshopList(CallbackData, prefix="workshops"):
    pass


@dataclass(frozen=True)
class StartReport(CallbackData, prefix="newreport"):
    pass


def for_request(request: Request) -> CallbackData:
    """The button for a choice core offers a subscriber."""
    arg = request.arg or ""
    match request.intent:
        case Intent.RIGHTS | Intent.RIGHTS_TOPIC:
            return Rights(arg)
        case Intent.LANGUAGE_MENU | Intent.SET_LANGUAGE:
            return Language(arg)
        case Intent.ZONE_PROMPT:
            return ZonePrompt()
        case Intent.REPORT_ACTION:
            return ReportStep(arg)
        case Intent.RSVP:
            return Rsvp(arg)
        case Intent.WORKSHOPS:
            return WorkshopList()
        case Intent.REPORT:
            return StartReport()
        case _:
            return Help()


def request_of(button: CallbackData) -> Request | None:
    """The request a subscriber's button stands for; None for any other button."""
    match button:
        case Rights(topic=""):
            return Request(Intent.RIGHTS)
        case Rights(topic=topic):
            return Request(Intent.RIGHTS_TOPIC, topic)
        case Language(code=""):
            return Request(Intent.LANGUAGE_MENU)
        case Language(code=code):
            return Request(Intent.SET_LANGUAGE, code)
        case ZonePrompt():
            return Request(Intent.ZONE_PROMPT)
        case Help():
            return Request(Intent.HELP)
        case ReportStep(action=action):
            return Request(Intent.REPORT_ACTION, action)
        case Rsvp(arg=arg):
            return Request(Intent.RSVP, arg)
        case WorkshopList():
            return Request(Intent.WORKSHOPS)
        case StartReport():
            return Request(Intent.REPORT)
    return None


# --- coordinators ------------------------------------------------------------------------------


class CoordinatorButton(CallbackData):
    """Marks the buttons only coordinators may use; anyone else gets the ordinary menu."""


class PreviewChoice(StrEnum):
    """What a coordinator can do from an alert's preview."""

    SEND = "send"
    CANCEL = "cancel"
    ZONES = "zones"  # change the zones
    TEXT = "text"  # change one language's text
    EXPIRY = "expiry"  # change how long it holds
    PLAIN = "plain"  # send the SMS without the characters that force UCS-2
    CHECK_IN = "checkin"  # add or remove "reply 1 if you are safe, 2 if you need help"
    DRILL = "drill"  # make it a drill, or not


class WorkshopChoice(StrEnum):
    """How a set-up workshop is saved."""

    SCHEDULE = "schedule"  # scheduled, not announced
    ANNOUNCE = "announce"  # announced now, or at the end of the quiet hours
    NOW = "now"  # announced now even in the quiet hours
    DROP = "drop"


@dataclass(frozen=True)
class PickKind(CoordinatorButton, prefix="ak"):
    flow: int
    kind: AlertKind


@dataclass(frozen=True)
class PickOriginal(CoordinatorButton, prefix="ao"):
    flow: int
    alert: int


@dataclass(frozen=True)
class PickExpiry(CoordinatorButton, prefix="ae"):
    flow: int
    hours: int


@dataclass(frozen=True)
class Preview(CoordinatorButton, prefix="ap"):
    flow: int
    choice: PreviewChoice


@dataclass(frozen=True)
class PickText(CoordinatorButton, prefix="at"):
    flow: int
    code: str


@dataclass(frozen=True)
class PickTemplate(CoordinatorButton, prefix="am"):
    """A template of config/alerts.yaml for the composer to fill (bot.core.templates)."""

    flow: int
    template: str


@dataclass(frozen=True)
class Approve(CoordinatorButton, prefix="aa"):
    alert: int


@dataclass(frozen=True)
class Reject(CoordinatorButton, prefix="ax"):
    alert: int


@dataclass(frozen=True)
class Agree(CoordinatorButton, prefix="sa"):
    """A second coordinator agrees to a sign-off request (bot.core.signoffs)."""

    sign_off: int


@dataclass(frozen=True)
class Refuse(CoordinatorButton, prefix="sx"):
    sign_off: int


@dataclass(frozen=True)
class Card(CoordinatorButton, prefix="r"):
    report: int
    action: CardAction


@dataclass(frozen=True)
class DuplicateOf(CoordinatorButton, prefix="rd"):
    report: int
    of: int


@dataclass(frozen=True)
class SaveWorkshop(CoordinatorButton, prefix="ws"):
    flow: int
    choice: WorkshopChoice


@dataclass(frozen=True)
class CancelWorkshop(CoordinatorButton, prefix="wc"):
    workshop: int


@dataclass(frozen=True)
class Invite(CoordinatorButton, prefix="ti"):
    role: Role


@dataclass(frozen=True)
class Remove(CoordinatorButton, prefix="tr"):
    coordinator: int


@dataclass(frozen=True)
class SwitchFlow(CoordinatorButton, prefix="fs"):
    """Drop the active flow (the one with `flow` as token) and start a `kind` one, about
    `subject` (the report a relay question is for; 0 when the new flow starts from nothing)."""

    flow: int
    kind: FlowKind
    subject: int = 0


@dataclass(frozen=True)
class KeepFlow(CoordinatorButton, prefix="fk"):
    flow: int
