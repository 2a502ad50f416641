"""VERIFY's counts and its per-sender limit, within the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import VerifyCountRow, VerifyLimitRow


class VerifyRows:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, table: Any) -> Any:
        dialect = self.session.bind.dialect.name if self.session.bind is not None else ""
        module: Any = postgresql if dialect == "postgresql" else sqlite
        return module.insert(table)

    async def count(self, zone: str, now: datetime) -> None:
        """One more question about `zone` in the hour of `now`."""
        hour = now.replace(minute=0, second=0, microsecond=0)
        statement = self._insert(VerifyCountRow).values(zone=zone, hour=hour, count=1)
        statement = statement.on_conflict_do_update(
            index_elements=["zone", "hour"], set_={"count": VerifyCountRow.count + 1}
        )
        await self.session.execute(statement)

    async def asked_since(self, zones: Sequence[str], since: datetime) -> int:
        """Questions about these zones in the hours that began at or after `since`."""
        found = await self.session.scalar(
            select(func.coalesce(func.sum(VerifyCountRow.count), 0)).where(
                VerifyCountRow.zone.in_(list(zones)), VerifyCountRow.hour >= since
            )
        )
        return int(found or 0)

    async def allow(self, asker_index: str, now: datetime, per_hour: int) -> bool:
        """Whether this sender may ask now (at most `per_hour` in an hour); counts the ask."""
        row = await self.session.get(VerifyLimitRow, asker_index, with_for_update=True)
        if row is None:
            statement = self._insert(VerifyLimitRow).values(
                asker_index=asker_index, since=now, count=1
            )
            await self.session.execute(statement.on_conflict_do_nothing())
            return True
        if now - row.since >= timedelta(hours=1):
            row.since, row.count = now, 1
            return True
        if row.count >= per_hour:
            return False
        row.count += 1
        return True

    async def forget(self, limits_before: datetime, counts_before: datetime) -> int:
        """Limits of hours past, and counts older than `counts_before`; how many rows went."""
        gone = await self.session.execute(
            delete(VerifyLimitRow).where(VerifyLimitRow.since < limits_before)
        )
        old = await self.session.execute(
            delete(VerifyCountRow).where(VerifyCountRow.hour < counts_before)
        )
        return int(gone.rowcount or 0) + int(old.rowcount or 0)  # type: ignore[attr-defined]
