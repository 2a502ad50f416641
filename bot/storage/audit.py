"""Audit log queries: add an entry, read the latest. Never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AuditRow


class AuditRows:
    """Queries on the audit log within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(
        self,
        *,
        at: datetime,
        actor_id: int | None,
        actor: str,
        action: str,
        subject: str,
        detail: dict[str, Any],
    ) -> None:
        """One entry, written with the rest of the transaction."""
        self.session.add(
            AuditRow(
                at=at, actor_id=actor_id, actor=actor, action=action, subject=subject, detail=detail
            )
        )

    async def latest(self, limit: int) -> list[AuditRow]:
        """The last `limit` entries, oldest first."""
        rows = await self.session.scalars(
            select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        )
        return list(reversed(rows.all()))
