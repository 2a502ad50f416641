"""The monthly drill's row (one at most), within the caller's transaction."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import MonthlyDrillRow


class DrillRows:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def monthly(self) -> MonthlyDrillRow | None:
        return await self.session.scalar(select(MonthlyDrillRow).limit(1))

    async def replace(self, row: MonthlyDrillRow) -> None:
        await self.remove()
        self.session.add(row)
        await self.session.flush()

    async def remove(self) -> int:
        result = await self.session.execute(delete(MonthlyDrillRow))
        return int(getattr(result, "rowcount", 0) or 0)

    async def claim_month(self, month: str) -> bool:
        """This month's drill is ours to send: False when it was claimed already (by
        another process's tick)."""
        result = await self.session.execute(
            update(MonthlyDrillRow)
            .where(MonthlyDrillRow.last_month.is_(None) | (MonthlyDrillRow.last_month != month))
            .values(last_month=month)
        )
        return bool(getattr(result, "rowcount", 0))
