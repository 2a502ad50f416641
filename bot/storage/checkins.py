"""Check-in answers (an alert's "reply 1 if you are safe, 2 if you need help"), within the
caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.vocabulary import AlertStatus
from bot.storage.models import AlertRow, CheckInRow, DeliveryRow


class CheckInRows:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def asked(self, subscriber_id: int, since: datetime) -> AlertRow | None:
        """The newest alert with a check-in approved since `since` that was queued to this
        subscriber: the one a bare 1 or 2 from them answers."""
        return await self.session.scalar(
            select(AlertRow)
            .join(DeliveryRow, DeliveryRow.alert_id == AlertRow.id)
            .where(
                DeliveryRow.subscriber_id == subscriber_id,
                AlertRow.check_in.is_(True),
                AlertRow.status.in_((AlertStatus.QUEUED, AlertStatus.DONE)),
                AlertRow.approved_at >= since,
            )
            .order_by(AlertRow.approved_at.desc(), AlertRow.id.desc())
            .limit(1)
        )

    async def answer_of(self, alert_id: int, subscriber_id: int) -> CheckInRow | None:
        return await self.session.scalar(
            select(CheckInRow).where(
                CheckInRow.alert_id == alert_id, CheckInRow.subscriber_id == subscriber_id
            )
        )

    async def record(
        self, alert_id: int, subscriber_id: int, answer: str, now: datetime
    ) -> CheckInRow:
        """Their answer (a later one replaces it: safe, then help)."""
        row = await self.answer_of(alert_id, subscriber_id)
        if row is None:
            row = CheckInRow(alert_id=alert_id, subscriber_id=subscriber_id)
            self.session.add(row)
        row.answer, row.answered_at = answer, now
        await self.session.flush()
        return row

    async def counts(self, alert_id: int) -> dict[str, int]:
        """Answers by kind (CheckInAnswer values)."""
        found = await self.session.execute(
            select(CheckInRow.answer, func.count())
            .where(CheckInRow.alert_id == alert_id)
            .group_by(CheckInRow.answer)
        )
        return {str(answer): int(n) for answer, n in found.all()}

    async def forget(self, alert_id: int) -> None:
        """The answers lose whom they came from (with the alert's deliveries); they stay
        counted."""
        await self.session.execute(
            update(CheckInRow).where(CheckInRow.alert_id == alert_id).values(subscriber_id=None)
        )
