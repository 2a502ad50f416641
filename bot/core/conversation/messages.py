"""What passes between a channel and the conversation: an `Inbound` in, `Reply`s out.

Plain types only, so every feature module of the turn and every channel can import them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.core.intents import Request
from bot.core.vocabulary import Channel


class Style(StrEnum):
    """How much room a reply has: SMS is short and menu-numbered; rich has buttons."""

    SMS = "sms"
    RICH = "rich"


@dataclass(frozen=True)
class Choice:
    """A button: its label and the request it stands for when tapped (the channel packs it)."""

    label: str
    request: Request


@dataclass(frozen=True)
class Attachment:
    """A file sent with a reply where the channel can (Telegram): a calendar event."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class Reply:
    """One message back to the person."""

    text: str
    choices: tuple[Choice, ...] = ()
    attachment: Attachment | None = None


@dataclass(frozen=True)
class Inbound:
    """A request from one address on one channel."""

    channel: Channel
    address: str
    request: Request
    # The language the person's app reports (Telegram's language_code): a hint for newcomers.
    client_language: str | None = None
    # Twilio's Advanced Opt-Out already answered STOP/START/HELP: record, don't answer again.
    provider_answered: bool = False
    # The message was one of the provider's own opt-out keywords (it now blocks the number)
    # or opt-in keywords (it lifts that block): the bot mirrors what the provider will do.
    provider_opt_out: bool = False
    provider_opt_in: bool = False
    # The message as sent (free text answers a report's question) and a photo's file id.
    # Kept in memory for this turn only; a report stores what it needs encrypted.
    text: str | None = None
    photo: str | None = None


class ZoneCheck(StrEnum):
    """What a five-digit string means to this network."""

    IN_AREA = "in_area"
    OUTSIDE_AREA = "outside_area"
    NOT_A_ZIP = "not_a_zip"
