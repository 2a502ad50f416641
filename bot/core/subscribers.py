"""Subscribers as the core sees them, and the operations that need no conversation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.vocabulary import Channel, SubscriberStatus
from bot.storage.crypto import Vault
from bot.storage.db import Database
from bot.storage.models import SubscriberRow
from bot.storage.subscribers import CountRow, Subscribers

__all__ = ["Channel", "CountRow", "Subscriber", "SubscriberDirectory", "SubscriberStatus"]

DEFAULT_TOPICS = ["alerts", "workshops"]
"""What a new subscriber receives until they choose otherwise."""


@dataclass(frozen=True)
class Subscriber:
    """A person who opted in on one channel, without their address."""

    id: int
    channel: Channel
    language: str
    zone: str | None
    topics: tuple[str, ...]
    status: SubscriberStatus

    @classmethod
    def of(cls, row: SubscriberRow) -> Subscriber:
        return cls(
            id=row.id,
            channel=Channel(row.channel),
            language=row.language,
            zone=row.zone,
            topics=tuple(row.topics),
            status=SubscriberStatus(row.status),
        )


class SubscriberDirectory:
    """Lookups and status changes that come from providers rather than from the person."""

    def __init__(self, db: Database, vault: Vault, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.vault = vault
        self.clock = clock

    async def get(self, channel: Channel, address: str) -> Subscriber | None:
        async with self.db.transaction() as session:
            row = await Subscribers(session, self.vault).find(channel, address)
            return Subscriber.of(row) if row else None

    async def mark(
        self, channel: Channel, address: str, status: SubscriberStatus, *, via: str
    ) -> bool:
        """Record that a provider told us this address blocked us or opted out; False if unknown."""
        async with self.db.transaction() as session:
            subscribers = Subscribers(session, self.vault)
            row = await subscribers.find(channel, address)
            if row is None or row.status == status:
                return False
            subscribers.set_status(row, status, via=via, now=self.clock())
            return True

    async def stats(self) -> list[CountRow]:
        async with self.db.transaction() as session:
            return await Subscribers(session, self.vault).counts()
