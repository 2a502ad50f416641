"""Retention and forgetting queries (bot/core/retention.py). Never commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.vocabulary import AlertStatus, Channel, SubscriberStatus
from bot.storage.checkins import CheckInRows
from bot.storage.crypto import Vault
from bot.storage.inbox import InboxRows
from bot.storage.models import (
    AlertRow,
    ConsentRow,
    DeliveryRow,
    InboxRow,
    ReportBlockRow,
    RsvpRow,
    SubscriberRow,
    WorkshopRow,
)
from bot.storage.outbox import PENDING

CHUNK = 10_000  # deliveries per statement: a big alert is purged a chunk per transaction
FORGOTTEN = {
    DeliveryRow.subscriber_id: None,
    DeliveryRow.provider_id: None,
    DeliveryRow.address_cipher: None,
    DeliveryRow.body_cipher: None,
}


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class RetentionRows:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def drop_optout_ciphers(self, changed_before: datetime) -> int:
        """Numbers of people who opted out (or blocked the bot) before then: gone; the blind
        index stays, so the opt-out is honoured and a later START finds them."""
        result = await self.session.execute(
            update(SubscriberRow)
            .where(
                SubscriberRow.status.in_([SubscriberStatus.OPTED_OUT, SubscriberStatus.BLOCKED]),
                SubscriberRow.status_changed_at < changed_before,
                SubscriberRow.address_cipher.is_not(None),
            )
            .values(address_cipher=None)
        )
        return _count(result)

    async def alerts_to_purge(self, created_before: datetime, limit: int) -> list[int]:
        """Finished alerts made before then whose deliveries still name people."""
        found = await self.session.scalars(
            select(AlertRow.id)
            .where(
                AlertRow.created_at < created_before,
                AlertRow.purged_at.is_(None),
                AlertRow.status.in_([AlertStatus.DONE, AlertStatus.REJECTED]),
            )
            .order_by(AlertRow.id)
            .limit(limit)
        )
        return list(found.all())

    async def forget_alert_deliveries(self, alert_id: int) -> int:
        """Up to CHUNK of the alert's deliveries lose whom they went to and the provider's id
        (status, channel, language and times stay for its counts). How many."""
        chunk = (
            select(DeliveryRow.id)
            .where(
                DeliveryRow.alert_id == alert_id,
                DeliveryRow.status.not_in(PENDING),
                DeliveryRow.subscriber_id.is_not(None) | DeliveryRow.provider_id.is_not(None),
            )
            .limit(CHUNK)
            .scalar_subquery()
        )
        result = await self.session.execute(
            update(DeliveryRow).where(DeliveryRow.id.in_(chunk)).values(FORGOTTEN)
        )
        return _count(result)

    async def mark_purged(self, alert_id: int, now: datetime) -> None:
        await CheckInRows(self.session).forget(alert_id)
        await self.session.execute(
            update(AlertRow).where(AlertRow.id == alert_id).values(purged_at=now)
        )

    async def forget_notices(self, updated_before: datetime) -> int:
        """Finished notices (cards, reminders, outcomes) last touched before then lose their
        text, address, recipient and the provider's id."""
        chunk = (
            select(DeliveryRow.id)
            .where(
                DeliveryRow.alert_id.is_(None),
                DeliveryRow.body_cipher.is_not(None),
                DeliveryRow.updated_at < updated_before,
                DeliveryRow.status.not_in(PENDING),
            )
            .limit(CHUNK)
            .scalar_subquery()
        )
        result = await self.session.execute(
            update(DeliveryRow).where(DeliveryRow.id.in_(chunk)).values(FORGOTTEN)
        )
        return _count(result)

    async def drop_rsvps(self, started_before: datetime) -> int:
        """Who said they were coming to workshops that started before then."""
        past = select(WorkshopRow.id).where(WorkshopRow.starts_at < started_before)
        result = await self.session.execute(delete(RsvpRow).where(RsvpRow.workshop_id.in_(past)))
        return _count(result)

    async def drop_consents(self, before: datetime) -> int:
        """Consent records older than then, except each subscriber's latest (the proof of
        what they agreed to last)."""
        latest = select(func.max(ConsentRow.id)).group_by(ConsentRow.subscriber_id)
        result = await self.session.execute(
            delete(ConsentRow).where(ConsentRow.at < before, ConsentRow.id.not_in(latest))
        )
        return _count(result)

    # --- one person ----------------------------------------------------------------------

    async def provider_ids(self, subscriber_id: int | None, refs: Collection[str]) -> list[str]:
        """The SMS sids of what went to this subscriber, or about these refs."""
        conditions = []
        if subscriber_id is not None:
            conditions.append(DeliveryRow.subscriber_id == subscriber_id)
        if refs:
            conditions.append(DeliveryRow.ref.in_(list(refs)))
        if not conditions:
            return []
        found = await self.session.scalars(
            select(DeliveryRow.provider_id).where(
                DeliveryRow.channel == Channel.SMS,
                DeliveryRow.provider_id.is_not(None),
                conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1],
            )
        )
        return [sid for sid in found.all() if sid]

    async def remove_subscriber(self, subscriber_id: int) -> dict[str, int]:
        """The subscriber and everything that names them (their deliveries keep no row)."""
        removed = {}
        for name, table, column in (
            ("deliveries", DeliveryRow, DeliveryRow.subscriber_id),
            ("rsvps", RsvpRow, RsvpRow.subscriber_id),
            ("consents", ConsentRow, ConsentRow.subscriber_id),
        ):
            result = await self.session.execute(delete(table).where(column == subscriber_id))
            removed[name] = _count(result)
        await self.session.execute(delete(SubscriberRow).where(SubscriberRow.id == subscriber_id))
        return removed

    async def remove_blocks(self, reporter_indexes: Sequence[str]) -> int:
        result = await self.session.execute(
            delete(ReportBlockRow).where(ReportBlockRow.reporter_index.in_(list(reporter_indexes)))
        )
        return _count(result)

    async def remove_inbox_of(self, vault: Vault, telegram_id: int) -> int:
        """Telegram updates still held (pending or set aside) from or to this chat: each is
        opened to look, since the update is stored whole and encrypted."""
        removed = []
        rows = InboxRows(self.session, vault)
        for row in (await self.session.scalars(select(InboxRow))).all():
            if _mentions(rows.content(row.update_id, row.body_cipher), telegram_id):
                removed.append(row.id)
        if removed:
            await self.session.execute(delete(InboxRow).where(InboxRow.id.in_(removed)))
        return len(removed)


def _mentions(value: object, telegram_id: int) -> bool:
    """Whether a chat or user with this id appears anywhere in an update."""
    if isinstance(value, dict):
        if value.get("id") == telegram_id:
            return True
        return any(_mentions(v, telegram_id) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, telegram_id) for v in value)
    return False
