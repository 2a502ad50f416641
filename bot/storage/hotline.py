"""Hotline volunteer queries: their phones sealed to their rows. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.crypto import Vault
from bot.storage.models import CallCountRow, HotlineVolunteerRow, place


class VolunteerRows:
    """Queries on hotline volunteers within the caller's transaction."""

    def __init__(self, session: AsyncSession, vault: Vault) -> None:
        self.session = session
        self.vault = vault

    async def add(
        self, phone: str, label: str, now: datetime, coordinator_id: int | None = None
    ) -> HotlineVolunteerRow:
        """A new volunteer, on duty, flushed so it has its id (and its phone sealed to it)."""
        row = HotlineVolunteerRow(
            label=label,
            phone_cipher=b"",
            on_duty=True,
            coordinator_id=coordinator_id,
            added_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        row.phone_cipher = self.vault.seal(phone, place(HotlineVolunteerRow.phone_cipher, row.id))
        return row

    async def get(self, volunteer_id: int) -> HotlineVolunteerRow | None:
        return await self.session.get(HotlineVolunteerRow, volunteer_id)

    async def of_coordinator(self, coordinator_id: int) -> HotlineVolunteerRow | None:
        return await self.session.scalar(
            select(HotlineVolunteerRow).where(HotlineVolunteerRow.coordinator_id == coordinator_id)
        )

    def phone(self, row: HotlineVolunteerRow) -> str:
        return self.vault.open(row.phone_cipher, place(HotlineVolunteerRow.phone_cipher, row.id))

    async def all(self) -> Sequence[HotlineVolunteerRow]:
        return (
            await self.session.scalars(select(HotlineVolunteerRow).order_by(HotlineVolunteerRow.id))
        ).all()

    async def ringable(self, weekday: int, minute: int, limit: int) -> list[tuple[int, str]]:
        """(id, phone) of the volunteers to ring at `weekday` `minute` (network time): on duty,
        or in one of their weekly shifts; the longest-serving first."""
        rows = await self.session.scalars(
            select(HotlineVolunteerRow).order_by(HotlineVolunteerRow.id)
        )
        found = [row for row in rows if row.on_duty or in_shift(row.shifts, weekday, minute)]
        return [
            (
                row.id,
                self.phone(row),
            )
            for row in found[:limit]
        ]

    async def remove(self, row: HotlineVolunteerRow) -> None:
        await self.session.delete(row)


class CallCounts:
    """The hotline's weekly counts within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bump(self, week: date, language: str, event: str) -> None:
        dialect = self.session.bind.dialect.name if self.session.bind is not None else ""
        module: Any = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(CallCountRow).values(
            week=week, language=language, event=event, count=1
        )
        statement = statement.on_conflict_do_update(
            index_elements=["week", "language", "event"],
            set_={"count": CallCountRow.count + 1},
        )
        await self.session.execute(statement)

    async def between(self, start: date, end: date) -> list[tuple[date, str, str, int]]:
        rows = await self.session.execute(
            select(CallCountRow.week, CallCountRow.language, CallCountRow.event, CallCountRow.count)
            .where(CallCountRow.week >= start, CallCountRow.week <= end)
            .order_by(CallCountRow.week, CallCountRow.language, CallCountRow.event)
        )
        return [(w, lang, event, n) for w, lang, event, n in rows]


def in_shift(shifts: list[list[int]], weekday: int, minute: int) -> bool:
    """Whether `weekday` (0 Monday) at `minute` of the day falls in one of the shifts."""
    for day, start, end in shifts:
        if start < end and weekday == day and start <= minute < end:
            return True
        if start >= end and (
            (weekday == day and minute >= start) or (weekday == (day + 1) % 7 and minute < end)
        ):
            return True
    return False
