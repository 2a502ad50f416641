"""Alert queries: drafts, who an alert would reach, alerts finished or stale. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.vocabulary import AlertKind, AlertStatus, SubscriberStatus
from bot.storage.models import AlertRow, DeliveryRow, ReportRow, SubscriberRow
from bot.storage.outbox import ALL_ZONES, REACHED

Reach = dict[tuple[str, str], int]
"""(channel, language) -> how many people."""


class AlertRows:
    """Queries on alerts within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_draft(
        self,
        *,
        kind: AlertKind,
        refers_to: int | None,
        zones: Sequence[str],
        texts: dict[str, str],
        expires_at: datetime,
        created_by: int | None,
        now: datetime,
        sms_texts: dict[str, str] | None = None,
        check_in: bool = False,
        drill: bool = False,
    ) -> AlertRow:
        """A new alert in DRAFT, flushed so it has its id."""
        row = AlertRow(
            kind=kind,
            refers_to=refers_to,
            zones=list(zones),
            texts=texts,
            sms_texts=sms_texts or None,
            status=AlertStatus.DRAFT,
            expires_at=expires_at,
            created_by=created_by,
            created_at=now,
            check_in=check_in,
            drill=drill,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def get(self, alert_id: int, *, lock: bool = False) -> AlertRow | None:
        """The alert; with `lock`, held until the transaction ends (PostgreSQL's FOR UPDATE;
        SQLite's transactions already run one at a time), so two coordinators deciding at
        once decide one after the other."""
        return await self.session.get(AlertRow, alert_id, with_for_update=lock or None)

    async def confirmed_since(
        self, since: datetime, now: datetime, kind: AlertKind = AlertKind.ALERT
    ) -> list[AlertRow]:
        """Alerts of `kind` (verified alerts, or rumor-control notices) approved since
        `since`, unexpired, and neither corrected nor cleared by a later message that went
        out: what VERIFY answers with, newest first."""
        sent = (AlertStatus.QUEUED, AlertStatus.DONE)
        found = await self.session.scalars(
            select(AlertRow)
            .where(
                AlertRow.kind == kind,
                AlertRow.drill.is_(False),  # a rehearsal is no news
                AlertRow.status.in_(sent),
                AlertRow.approved_at >= since,
                AlertRow.expires_at > now,
            )
            .order_by(AlertRow.approved_at.desc())
        )
        alerts = list(found.all())
        if not alerts:
            return []
        ended = set(
            await self.session.scalars(
                select(AlertRow.refers_to).where(
                    AlertRow.kind.in_((AlertKind.CORRECTION, AlertKind.ALL_CLEAR)),
                    AlertRow.status.in_(sent),
                    AlertRow.refers_to.in_([a.id for a in alerts]),
                )
            )
        )
        return [a for a in alerts if a.id not in ended]

    async def reach_zones(self, zones: Sequence[str], *, drill: bool = False) -> Reach:
        """The active subscribers of `zones` (or of every zone), by channel and language; of a
        drill, those who did not opt out of drills."""
        query = _by_channel_and_language().where(SubscriberRow.status == SubscriberStatus.ACTIVE)
        if drill:
            query = query.where(SubscriberRow.no_drills.is_(False))
        if ALL_ZONES not in zones:
            query = query.where(SubscriberRow.zone.in_(list(zones)))
        return await self._reach(query)

    async def count_zones(self, zones: Sequence[str], *, drill: bool = False) -> int:
        """How many active subscribers `zones` (or every zone) have: an index-only count, where
        `reach_zones` reads every row (0.3 s for a million, in the approval's transaction)."""
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            # One core: the count runs while the alert's first sends go out, and a parallel
            # scan of a million entries took both cores of a small server from them.
            await self.session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        query = select(func.count()).select_from(SubscriberRow)
        query = query.where(SubscriberRow.status == SubscriberStatus.ACTIVE)
        if drill:
            query = query.where(SubscriberRow.no_drills.is_(False))
        if ALL_ZONES not in zones:
            query = query.where(SubscriberRow.zone.in_(list(zones)))
        return int(await self.session.scalar(query) or 0)

    async def reach_followers(self, original_id: int) -> Reach:
        """The people the original alert reached (or is reaching), still active, by channel
        and language."""
        query = (
            _by_channel_and_language()
            .join(DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id)
            .where(
                DeliveryRow.alert_id == original_id,
                DeliveryRow.status.in_([s.value for s in REACHED]),
                SubscriberRow.status == SubscriberStatus.ACTIVE,
            )
        )
        return await self._reach(query)

    async def _reach(self, query: Select[str, str, int]) -> Reach:
        result = await self.session.execute(query)
        return {(channel, language): n for channel, language, n in result.all()}

    async def finished_untold(self) -> list[AlertRow]:
        """Alerts DONE whose composer has not been told yet, locked; those another process
        holds are skipped (it is telling them)."""
        rows = await self.session.scalars(
            select(AlertRow)
            .where(
                AlertRow.status == AlertStatus.DONE,
                AlertRow.summarized_at.is_(None),
                AlertRow.created_by.is_not(None),
            )
            .with_for_update(skip_locked=True)
        )
        return list(rows.all())

    async def recent(self, limit: int) -> list[AlertRow]:
        """The last `limit` alerts, newest first."""
        rows = await self.session.scalars(
            select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)
        )
        return list(rows.all())

    async def remove_stale_drafts(self, *, created_before: datetime, now: datetime) -> list[int]:
        """Delete the drafts made before `created_before` that can no longer be sent (past
        their expiry at `now`); their ids. The reports they were drafted from forget them."""
        follow_up = aliased(AlertRow)
        ids = list(
            (
                await self.session.scalars(
                    select(AlertRow.id)
                    .where(
                        AlertRow.status == AlertStatus.DRAFT,
                        AlertRow.created_at < created_before,
                        AlertRow.expires_at <= now,
                        # Only a sent alert can be followed up, so none should refer to a
                        # draft; if one ever did, deleting would fail the whole upkeep tick.
                        ~select(follow_up.id).where(follow_up.refers_to == AlertRow.id).exists(),
                    )
                    .with_for_update(skip_locked=True)
                )
            ).all()
        )
        if not ids:
            return []
        # reports.alert_id has no ON DELETE: a confirmed report's draft nobody sent is
        # unlinked, or the delete would break the foreign key.
        await self.session.execute(
            update(ReportRow).where(ReportRow.alert_id.in_(ids)).values(alert_id=None)
        )
        await self.session.execute(delete(AlertRow).where(AlertRow.id.in_(ids)))
        return ids


def _by_channel_and_language() -> Select[str, str, int]:
    return select(SubscriberRow.channel, SubscriberRow.language, func.count()).group_by(
        SubscriberRow.channel, SubscriberRow.language
    )


async def delivery_times(
    session: AsyncSession, alert_id: int
) -> list[tuple[str, str, str | None, datetime | None]]:
    """(channel, status, error, sent_at) of each of an alert's deliveries: its delivery curve
    and its failures by reason (the rows keep these after the retention purge)."""
    found = await session.execute(
        select(
            DeliveryRow.channel, DeliveryRow.status, DeliveryRow.error, DeliveryRow.sent_at
        ).where(DeliveryRow.alert_id == alert_id)
    )
    return [(str(c), str(s), e, at) for c, s, e, at in found.all()]
