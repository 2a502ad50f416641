"""Deletion queries: schedule (or bring forward), claim under a lease, finish, retry, give up.
Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.vocabulary import Channel, DeliveryStatus
from bot.storage.models import DeletionRow, DeliveryRow, InboundMessageRow

REPLAY_WINDOW = timedelta(days=30)  # inbound message ids kept to refuse a replay


class DeletionRows:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def schedule(self, sids: Sequence[str], due: datetime) -> None:
        """Delete these messages at `due`; one already scheduled later is brought forward."""
        wanted = sorted({sid for sid in sids if sid})
        if not wanted:
            return
        dialect = self.session.bind.dialect.name if self.session.bind is not None else ""
        module: Any = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(DeletionRow).values(
            [{"sid": sid, "due_at": due, "attempts": 0} for sid in wanted]
        )
        statement = statement.on_conflict_do_update(
            index_elements=["sid"],
            set_={"due_at": func.min(statement.excluded.due_at, DeletionRow.due_at)}
            if dialect != "postgresql"
            else {"due_at": func.least(statement.excluded.due_at, DeletionRow.due_at)},
            where=DeletionRow.failed_at.is_(None),
        )
        await self.session.execute(statement)

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[DeletionRow]:
        """Due deletions nobody holds, held until `now + lease` (several workers share them)."""
        query = (
            select(DeletionRow)
            .where(
                DeletionRow.failed_at.is_(None),
                DeletionRow.due_at <= now,
                or_(DeletionRow.lease_until.is_(None), DeletionRow.lease_until < now),
            )
            .order_by(DeletionRow.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = list((await self.session.scalars(query)).all())
        for row in rows:
            row.lease_until = now + lease
        return rows

    async def done(self, ids: Sequence[int]) -> None:
        if ids:
            await self.session.execute(delete(DeletionRow).where(DeletionRow.id.in_(list(ids))))

    async def again(
        self, deletion_id: int, due: datetime, error: str, *, give_up_at: datetime | None
    ) -> None:
        """Try again at `due`, or (with `give_up_at`) stop trying, keeping the row and why."""
        await self.session.execute(
            update(DeletionRow)
            .where(DeletionRow.id == deletion_id)
            .values(
                attempts=DeletionRow.attempts + 1,
                due_at=due,
                error=error,
                lease_until=None,
                failed_at=give_up_at,
            )
        )

    async def unfinished_sms(self, sent_before: datetime, limit: int) -> list[tuple[int, str]]:
        """(delivery id, message sid) of SMS Twilio accepted and never reported final since."""
        found = await self.session.execute(
            select(DeliveryRow.id, DeliveryRow.provider_id)
            .where(
                DeliveryRow.channel == Channel.SMS,
                DeliveryRow.status == DeliveryStatus.SENT,
                DeliveryRow.provider_id.is_not(None),
                DeliveryRow.sent_at < sent_before,
            )
            .order_by(DeliveryRow.sent_at)
            .limit(limit)
        )
        return [(i, sid) for i, sid in found.all() if sid is not None]

    async def forget_provider_ids(self, delivery_ids: Sequence[int]) -> None:
        """The deletion holds the sid now: the delivery keeps no link to Twilio's record."""
        if delivery_ids:
            await self.session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id.in_(list(delivery_ids)))
                .values(provider_id=None)
            )

    async def first_sight(self, sid: str, now: datetime) -> bool:
        """Remember an inbound message's id; False if it was already remembered (a replay)."""
        dialect = self.session.bind.dialect.name if self.session.bind is not None else ""
        module: Any = postgresql if dialect == "postgresql" else sqlite
        result = await self.session.execute(
            module.insert(InboundMessageRow)
            .values(sid=sid, received_at=now)
            .on_conflict_do_nothing(index_elements=["sid"])
            .returning(InboundMessageRow.sid)
        )
        return result.first() is not None

    async def forget_seen(self, received_before: datetime) -> int:
        result = await self.session.execute(
            delete(InboundMessageRow).where(InboundMessageRow.received_at < received_before)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def counts(self) -> tuple[int, int]:
        """(waiting, given up)."""
        waiting = await self.session.scalar(
            select(func.count()).select_from(DeletionRow).where(DeletionRow.failed_at.is_(None))
        )
        failed = await self.session.scalar(
            select(func.count()).select_from(DeletionRow).where(DeletionRow.failed_at.is_not(None))
        )
        return int(waiting or 0), int(failed or 0)
