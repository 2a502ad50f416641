"""Workshop queries: add, upcoming, RSVPs, who is coming, reminders to drop. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.vocabulary import DeliveryStatus, SubscriberStatus, WorkshopState
from bot.storage.models import DeliveryRow, RsvpRow, SubscriberRow, WorkshopRow
from bot.storage.outbox import ALL_ZONES

HAPPENING = (WorkshopState.SCHEDULED.value, WorkshopState.MOVED.value)
"""The states of a workshop that is still going to take place."""


class WorkshopRows:
    """Queries on workshops and their RSVPs within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        titles: dict[str, str],
        descriptions: dict[str, str],
        starts_at: datetime,
        minutes: int,
        place: str,
        languages: Sequence[str],
        zones: Sequence[str],
        capacity: int | None,
        series: str | None,
        created_by: int | None,
        now: datetime,
    ) -> WorkshopRow:
        """A new SCHEDULED workshop, flushed so it has its id."""
        row = WorkshopRow(
            titles=titles,
            descriptions=descriptions,
            starts_at=starts_at,
            minutes=minutes,
            place=place,
            languages=list(languages),
            zones=list(zones),
            capacity=capacity,
            state=WorkshopState.SCHEDULED,
            series=series,
            created_by=created_by,
            created_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def get(self, workshop_id: int) -> WorkshopRow | None:
        return await self.session.get(WorkshopRow, workshop_id)

    async def upcoming(self, now: datetime) -> list[WorkshopRow]:
        """Every workshop still happening that starts after `now`, soonest first."""
        rows = await self.session.scalars(
            select(WorkshopRow)
            .where(WorkshopRow.state.in_(HAPPENING), WorkshopRow.starts_at > now)
            .order_by(WorkshopRow.starts_at, WorkshopRow.id)
        )
        return list(rows.all())

    async def going(self, workshop_id: int) -> int:
        """How many said they are coming."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(RsvpRow)
            .where(RsvpRow.workshop_id == workshop_id, RsvpRow.going.is_(True))
        )
        return int(count or 0)

    async def rsvp(self, workshop_id: int, subscriber_id: int) -> RsvpRow | None:
        """This subscriber's answer for this workshop, if they gave one."""
        return await self.session.scalar(
            select(RsvpRow).where(
                RsvpRow.workshop_id == workshop_id, RsvpRow.subscriber_id == subscriber_id
            )
        )

    async def add_rsvp(self, workshop_id: int, subscriber_id: int, now: datetime) -> RsvpRow:
        """A first answer, "going", flushed (a second one for the same person breaks
        uq_rsvps_person here)."""
        row = RsvpRow(
            workshop_id=workshop_id, subscriber_id=subscriber_id, going=True, updated_at=now
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def coming(self, workshop_id: int) -> list[SubscriberRow]:
        """The active subscribers who said they are coming."""
        rows = await self.session.scalars(
            select(SubscriberRow)
            .join(RsvpRow, RsvpRow.subscriber_id == SubscriberRow.id)
            .where(
                RsvpRow.workshop_id == workshop_id,
                RsvpRow.going,
                SubscriberRow.status == SubscriberStatus.ACTIVE,
            )
        )
        return list(rows.all())

    async def active_subscribers(self, zones: Sequence[str]) -> list[SubscriberRow]:
        """The active subscribers of `zones` (or of every zone), who an announcement may reach."""
        query = select(SubscriberRow).where(SubscriberRow.status == SubscriberStatus.ACTIVE)
        if ALL_ZONES not in zones:
            query = query.where(SubscriberRow.zone.in_(list(zones)))
        return list((await self.session.scalars(query)).all())

    async def drop_reminders(
        self, ref: str, subscriber_id: int | None, *, reason: str, now: datetime
    ) -> None:
        """Skip the notices about `ref` still queued (only one subscriber's, if given)."""
        query = update(DeliveryRow).where(
            DeliveryRow.ref == ref, DeliveryRow.status == DeliveryStatus.QUEUED
        )
        if subscriber_id is not None:
            query = query.where(DeliveryRow.subscriber_id == subscriber_id)
        await self.session.execute(
            query.values(status=DeliveryStatus.SKIPPED, error=reason, updated_at=now)
        )
