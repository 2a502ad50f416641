"""Sign-off queries: add a request, read one (locked while it is decided). Never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.vocabulary import Role, SignOffStatus
from bot.storage.models import CoordinatorRow, SignOffRow


class SignOffRows:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self, action: str, subject: int, detail: dict[str, Any], requested_by: int, now: datetime
    ) -> SignOffRow:
        row = SignOffRow(
            action=action,
            subject=subject,
            detail=detail,
            requested_by=requested_by,
            requested_at=now,
            status=SignOffStatus.PENDING,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def get(self, sign_off_id: int, *, lock: bool = False) -> SignOffRow | None:
        """With `lock`, held until the transaction ends: two decisions at once are made one
        after the other, and the second finds it decided."""
        query = select(SignOffRow).where(SignOffRow.id == sign_off_id)
        return await self.session.scalar(query.with_for_update() if lock else query)

    async def count_active(self) -> int:
        """How many coordinators could agree (the two-person rule applies from two)."""
        query = select(func.count()).select_from(CoordinatorRow).where(CoordinatorRow.active)
        return int(await self.session.scalar(query) or 0)

    async def active(self, *, admins: bool = False) -> list[CoordinatorRow]:
        """The active coordinators (only the admins, if asked), by id."""
        query = select(CoordinatorRow).where(CoordinatorRow.active)
        if admins:
            query = query.where(CoordinatorRow.role == Role.ADMIN)
        return list((await self.session.scalars(query.order_by(CoordinatorRow.id))).all())
