"""Report queries: a sender's open report and counts, coordinators to tell, verdicts' links,
expiry and purge, weekly counts. Never commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.vocabulary import DeliveryStatus, ReportStatus
from bot.storage.models import AlertRow, CoordinatorRow, DeliveryRow, ReportBlockRow, ReportRow
from bot.storage.outbox import PENDING


def reporter_key(channel: str, address: str) -> str:
    """What a reporter's blind index is made of: their channel and address."""
    return f"{channel}:{address}"


@dataclass(frozen=True)
class Submitted:
    """What the weekly counts read of one submitted report: no text, no reporter."""

    submitted_at: datetime | None
    zone: str | None
    status: str


class ReportRows:
    """Queries on reports (and what they touch) within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, report_id: int) -> ReportRow | None:
        """The report of this number, drafts included."""
        return await self.session.get(ReportRow, report_id)

    async def add(self, row: ReportRow) -> None:
        """A new report, flushed so it has its number."""
        self.session.add(row)
        await self.session.flush()

    async def remove(self, row: ReportRow) -> None:
        """A report deleted outright (a draft nothing was said in)."""
        await self.session.delete(row)

    async def expecting(self, reporter_indexes: Sequence[str], now: datetime) -> ReportRow | None:
        """The sender's newest report with a step: a draft, or one awaiting a reply past `now`."""
        return await self.session.scalar(
            select(ReportRow)
            .where(
                ReportRow.reporter_index.in_(list(reporter_indexes)),
                ReportRow.step.is_not(None),
                or_(
                    ReportRow.status == ReportStatus.DRAFT,
                    ReportRow.awaiting_until > now,
                ),
            )
            .order_by(ReportRow.id.desc())
            .limit(1)
        )

    async def is_blocked(self, reporter_indexes: Sequence[str]) -> bool:
        """Whether a coordinator blocked this sender (under any of their indexes: a block made
        before a key rotation still holds)."""
        found = await self.session.scalar(
            select(ReportBlockRow.id)
            .where(ReportBlockRow.reporter_index.in_(list(reporter_indexes)))
            .limit(1)
        )
        return found is not None

    def block(self, reporter_index: str, by: int | None, now: datetime) -> None:
        """This sender blocked, by a coordinator (or by nobody in particular)."""
        self.session.add(
            ReportBlockRow(reporter_index=reporter_index, blocked_by=by, created_at=now)
        )

    async def made_since(self, reporter_indexes: Sequence[str], since: datetime) -> int:
        """How many reports (drafts aside) this sender made since `since`."""
        found = await self.session.scalar(
            select(func.count())
            .select_from(ReportRow)
            .where(
                ReportRow.reporter_index.in_(list(reporter_indexes)),
                ReportRow.created_at >= since,
                ReportRow.status != ReportStatus.DRAFT,
            )
        )
        return int(found or 0)

    async def with_status(self, statuses: Collection[str], limit: int) -> list[ReportRow]:
        """Reports in one of `statuses`, newest first, at most `limit`."""
        found = await self.session.scalars(
            select(ReportRow)
            .where(ReportRow.status.in_(statuses))
            .order_by(ReportRow.id.desc())
            .limit(limit)
        )
        return list(found.all())

    async def nearby(
        self, zones: Sequence[str], report_id: int, since: datetime, until: datetime
    ) -> list[ReportRow]:
        """Other submitted reports of these zones between `since` and `until`, in order."""
        found = await self.session.scalars(
            select(ReportRow)
            .where(
                ReportRow.zone.in_(list(zones)),
                ReportRow.id != report_id,
                ReportRow.status != ReportStatus.DRAFT,
                ReportRow.submitted_at >= since,
                ReportRow.submitted_at <= until,
            )
            .order_by(ReportRow.id)
        )
        return list(found.all())

    async def coordinator(self, coordinator_id: int) -> CoordinatorRow | None:
        """A coordinator by id (the one who asked, claimed or decided), active or not."""
        return await self.session.get(CoordinatorRow, coordinator_id)

    async def unclaimed_since(self, submitted_before: datetime, below: int) -> list[ReportRow]:
        """New reports nobody has claimed, submitted before `submitted_before`, escalated
        less than `below` times, oldest first."""
        found = await self.session.scalars(
            select(ReportRow)
            .where(
                ReportRow.status == ReportStatus.NEW,
                ReportRow.claimed_by.is_(None),
                ReportRow.submitted_at <= submitted_before,
                ReportRow.escalated < below,
            )
            .order_by(ReportRow.id)
        )
        return list(found.all())

    async def active_coordinators(self) -> list[CoordinatorRow]:
        """Every active coordinator, on duty or not."""
        found = await self.session.scalars(select(CoordinatorRow).where(CoordinatorRow.active))
        return list(found.all())

    async def labels(self, coordinator_ids: Collection[int]) -> dict[int, str]:
        """The labels of these coordinators, by id (an unknown id is left out)."""
        found = await self.session.execute(
            select(CoordinatorRow.id, CoordinatorRow.label).where(
                CoordinatorRow.id.in_(coordinator_ids)
            )
        )
        return {cid: label for cid, label in found.all()}

    async def link_alert(self, report_id: int, alert_id: int, verified_by: int | None) -> None:
        """The report and those marked duplicates of it point to the alert; the alert
        records who verified it."""
        await self.session.execute(
            update(ReportRow)
            .where(or_(ReportRow.id == report_id, ReportRow.duplicate_of == report_id))
            .values(alert_id=alert_id)
        )
        await self.session.execute(
            update(AlertRow).where(AlertRow.id == alert_id).values(verified_by=verified_by)
        )

    async def unasked_drafts(self, reporter_indexes: Sequence[str]) -> list[ReportRow]:
        """The sender's drafts that ask them nothing (said on the hotline, before the ZIP
        code), oldest first."""
        found = await self.session.scalars(
            select(ReportRow)
            .where(
                ReportRow.reporter_index.in_(list(reporter_indexes)),
                ReportRow.status == ReportStatus.DRAFT,
                ReportRow.step.is_(None),
            )
            .order_by(ReportRow.id)
        )
        return list(found.all())

    async def drafts_before(self, created_before: datetime) -> list[ReportRow]:
        """Drafts begun before `created_before`."""
        found = await self.session.scalars(
            select(ReportRow).where(
                ReportRow.status == ReportStatus.DRAFT,
                ReportRow.created_at < created_before,
            )
        )
        return list(found.all())

    async def expire_new(self, submitted_before: datetime) -> int:
        """New reports submitted before `submitted_before` expire, awaiting nothing more; how
        many did."""
        expired = await self.session.execute(
            update(ReportRow)
            .where(
                ReportRow.status == ReportStatus.NEW,
                ReportRow.submitted_at < submitted_before,
            )
            .values(status=ReportStatus.EXPIRED, step=None, awaiting_until=None)
        )
        return int(getattr(expired, "rowcount", 0) or 0)

    async def unpurged_before(self, created_before: datetime) -> list[int]:
        """The numbers of reports made before `created_before` that still hold their text."""
        found = await self.session.scalars(
            select(ReportRow.id).where(
                ReportRow.created_at < created_before, ReportRow.purged_at.is_(None)
            )
        )
        return list(found.all())

    async def purge(self, report_ids: Collection[int], now: datetime) -> None:
        """These reports lose their text, photo, reporter and step; a draft among them is
        marked expired; status, zone and times stay."""
        await self.session.execute(
            update(ReportRow)
            .where(ReportRow.id.in_(report_ids))
            .values(
                details_cipher=None,
                photo_cipher=None,
                reporter_cipher=None,
                reporter_index=None,
                step=None,
                awaiting_until=None,
                status=func.coalesce(
                    func.nullif(ReportRow.status, ReportStatus.DRAFT.value),
                    ReportStatus.EXPIRED.value,
                ),
                purged_at=now,
            )
        )

    async def forget_notices(self, refs: Collection[str]) -> None:
        """The deliveries of these refs lose their body, address, recipient and the
        provider's id (the rows stay, for counts)."""
        await self.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.ref.in_(refs), DeliveryRow.status.not_in(PENDING))
            .values(body_cipher=None, address_cipher=None, subscriber_id=None, provider_id=None)
        )
        # One still to send is not sent at all: it was about what is forgotten.
        await self.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.ref.in_(refs), DeliveryRow.status.in_(PENDING))
            .values(
                status=DeliveryStatus.SKIPPED,
                error="purged",
                lease_until=None,
                body_cipher=None,
                address_cipher=None,
                subscriber_id=None,
            )
        )

    async def by_reporter(self, reporter_indexes: Collection[str]) -> list[int]:
        """The reports this sender made (under any DATA_KEY's index)."""
        found = await self.session.scalars(
            select(ReportRow.id).where(ReportRow.reporter_index.in_(list(reporter_indexes)))
        )
        return list(found.all())

    async def submitted_between(self, since: datetime, until: datetime) -> list[Submitted]:
        """Reports submitted from `since` up to (not including) `until`; not help requests,
        which an alert's check-in counts (they are no report of enforcement)."""
        found = await self.session.execute(
            select(ReportRow.submitted_at, ReportRow.zone, ReportRow.status).where(
                ReportRow.help_for.is_(None),
                ReportRow.status != ReportStatus.DRAFT,
                ReportRow.submitted_at.is_not(None),
                ReportRow.submitted_at >= since,
                ReportRow.submitted_at < until,
            )
        )
        return [Submitted(*row) for row in found.all()]
