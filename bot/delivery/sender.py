"""What delivery asks of a provider, and the outcomes it understands. Channels implement it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

Buttons = tuple[tuple[tuple[str, str], ...], ...]
"""Rows of (label, callback data): inline buttons where the channel has them (Telegram)."""


@dataclass(frozen=True)
class Message:
    """One message to one person, ready for a provider."""

    delivery_id: int
    address: str  # phone number (E.164) or chat id: never logged
    text: str
    valid_for: float  # seconds until the alert expires: an SMS carries it as its validity period
    buttons: Buttons = ()
    photo: bytes | None = None  # an image with `text` as its caption (Telegram only)
    edits: str | None = None  # Telegram: the message whose text and buttons this replaces


class Result(StrEnum):
    """How a send ended, as far as delivery needs to know."""

    SENT = "sent"  # accepted by the provider
    RETRY = "retry"  # transient (timeout, 5xx): try again later with backoff
    RATE_LIMITED = "rate_limited"  # 429: slow the bucket, try again after retry_after
    FAILED = "failed"  # permanent for this message (bad request): do not retry
    UNREACHABLE = "unreachable"  # permanent for this person: blocked, opted out, invalid


@dataclass(frozen=True)
class Outcome:
    """A send's result, the provider's id for the message, and what the error was."""

    result: Result
    provider_id: str | None = None
    error: str | None = None  # a provider code or error class: never the message or number
    retry_after: float | None = None
    # For UNREACHABLE: the subscriber's new status ("opted_out" or "blocked").
    subscriber_status: str | None = None


class Sender(Protocol):
    """A provider as delivery sees it: a channel name, a rate, and a send that never raises."""

    channel: str

    async def send(self, message: Message) -> Outcome: ...

    async def close(self) -> None: ...
