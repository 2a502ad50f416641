"""Subscriber queries: add, find by address through the blind index, count. Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.vocabulary import ConsentAction, SubscriberStatus
from bot.storage.crypto import Purpose, Vault
from bot.storage.models import ConsentRow, SubscriberRow, place


@dataclass(frozen=True)
class CountRow:
    """One cell of the operators' table: how many subscribers share these attributes."""

    channel: str
    language: str
    zone: str | None
    status: str
    count: int


class Subscribers:
    """Queries on subscribers within the caller's transaction."""

    def __init__(self, session: AsyncSession, vault: Vault) -> None:
        self.session = session
        self.vault = vault

    async def find(self, channel: str, address: str) -> SubscriberRow | None:
        indexes = self.vault.indexes(address, Purpose.SUBSCRIBER)
        row = await self.session.scalar(
            select(SubscriberRow).where(
                SubscriberRow.channel == channel, SubscriberRow.address_index.in_(indexes)
            )
        )
        if row is None:
            return None
        where = place(SubscriberRow.address_cipher, row.id)
        if row.address_cipher is None or row.address_index != indexes[0]:
            # Dropped after an opt-out (the index kept them), or found under an older key or
            # index: they are here, so the newest index and a fresh seal of the address. The
            # retention purge drops it anew if they do not opt back in.
            row.address_index = indexes[0]
            row.address_cipher = self.vault.seal(address, where)
        return row

    async def add(
        self,
        channel: str,
        address: str,
        *,
        language: str,
        zone: str | None,
        topics: list[str],
        via: str,
        now: datetime,
    ) -> SubscriberRow:
        return await self._new(
            channel, address, language, zone, topics, SubscriberStatus.ACTIVE, via, now
        )

    async def add_opted_out(
        self, channel: str, address: str, *, language: str, via: str, now: datetime
    ) -> SubscriberRow:
        """Someone who never signed up but opted out at the provider (STOP as a first
        message): kept, opted out, so that a later sign-up is checked against the block."""
        return await self._new(
            channel, address, language, None, [], SubscriberStatus.OPTED_OUT, via, now
        )

    async def _new(
        self,
        channel: str,
        address: str,
        language: str,
        zone: str | None,
        topics: list[str],
        status: SubscriberStatus,
        via: str,
        now: datetime,
    ) -> SubscriberRow:
        """A new row with its first consent record (opted in, or opted out)."""
        active = status is SubscriberStatus.ACTIVE
        row = SubscriberRow(
            channel=channel,
            address_index=self.vault.index(address, Purpose.SUBSCRIBER),
            language=language,
            zone=zone,
            topics=topics,
            status=status,
            consent_at=now if active else None,
            consent_via=via if active else None,
            status_changed_at=now,
            created_at=now,
        )
        self.session.add(row)
        action = ConsentAction.OPT_IN if active else ConsentAction.OPT_OUT
        row.consents.append(ConsentRow(action=action, via=via, at=now))
        await self.session.flush()  # its id: the address is sealed to this row
        row.address_cipher = self.vault.seal(address, place(SubscriberRow.address_cipher, row.id))
        return row

    def set_status(
        self, row: SubscriberRow, status: SubscriberStatus, *, via: str, now: datetime
    ) -> None:
        """Change status and record it in the consent history."""
        row.status = status
        row.status_changed_at = now
        action = {
            SubscriberStatus.ACTIVE: ConsentAction.OPT_IN,
            SubscriberStatus.OPTED_OUT: ConsentAction.OPT_OUT,
            SubscriberStatus.BLOCKED: ConsentAction.BLOCKED,
        }[status]
        if status is SubscriberStatus.ACTIVE:
            row.consent_at = now
            row.consent_via = via
        self.session.add(ConsentRow(subscriber_id=row.id, action=action, via=via, at=now))

    async def counts(self) -> list[CountRow]:
        query = select(
            SubscriberRow.channel,
            SubscriberRow.language,
            SubscriberRow.zone,
            SubscriberRow.status,
            func.count(),
        ).group_by(
            SubscriberRow.channel, SubscriberRow.language, SubscriberRow.zone, SubscriberRow.status
        )
        result = await self.session.execute(query)
        return [CountRow(*row) for row in result.all()]
