"""Escalation: a report nobody claims is not left to sit unseen (issue 19).

After `escalate_after` (REPORT_ESCALATE_MINUTES) the card goes to every coordinator, marked as
escalated; after twice that the admins are told again; after three times the hotline
volunteers on duty get an SMS. Claiming stops it (a claimed report is no longer NEW). The
upkeep tick calls `escalate` every minute; `reports.escalated` keeps each step to once.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.audit import Actor, record
from bot.core.cards import card_ref
from bot.core.content import DEFAULT_LANGUAGE
from bot.core.i18n import N_, Lang
from bot.core.reporting import ReportIntake
from bot.core.vocabulary import Channel, Role
from bot.storage.db import Session
from bot.storage.models import ReportRow
from bot.storage.outbox import ButtonRows
from bot.storage.reports import ReportRows

if TYPE_CHECKING:
    from bot.core.reports import ReportView

ESCALATED = N_(
    "ESCALATED: report #{id} has waited {minutes} min and nobody has claimed it. Please claim "
    "it or ask someone on duty."
)
VOLUNTEER_ALARM = N_(
    "Rapid response: report #{id} in {zone} has waited {minutes} min and no coordinator has "
    "claimed it. Please check the coordinators' Telegram or call the team."
)


class Escalation(ReportIntake):
    """The escalation of unclaimed reports; `Reports` draws the cards it sends."""

    async def escalate(self, now: datetime | None = None) -> int:
        """Reports nobody claimed go further (upkeep, every minute): after `escalate_after`
        the card goes to every coordinator, marked as escalated; after twice that, the
        admins are told again; after three times, the hotline volunteers on duty get an SMS.
        Claiming stops it (a claimed report is no longer NEW). How many steps were taken."""
        now = now or self.clock()
        step = self.escalate_after
        taken = 0
        numbers: list[str] = []
        if self.volunteers is not None:
            # Read before the escalation's own transaction (SQLite runs one at a time).
            async with self.db.transaction() as session:
                due = await ReportRows(session).unclaimed_since(now - 3 * step, below=3)
            numbers = await self.volunteers() if due else []
        async with self.db.transaction() as session:
            rows = ReportRows(session)
            for row in await rows.unclaimed_since(now - step, below=3):
                waited = now - (row.submitted_at or row.created_at)
                level = min(3, int(waited / step))
                for reached in range(row.escalated + 1, level + 1):
                    minutes = int(waited.total_seconds() // 60)
                    await self._escalate(session, row, reached, minutes, numbers)
                    taken += 1
                row.escalated = max(row.escalated, level)
        return taken

    async def _escalate(
        self, session: Session, row: ReportRow, level: int, minutes: int, numbers: list[str]
    ) -> None:
        if level == 3:
            text = self.content.lang(DEFAULT_LANGUAGE).gettext(VOLUNTEER_ALARM)
            where = row.zone or "?"
            for number in numbers:
                await self._notice(
                    session,
                    Channel.SMS,
                    DEFAULT_LANGUAGE,
                    text.format(id=row.id, zone=where, minutes=minutes),
                    ref=f"report:{row.id}:escalated",
                    address=number,
                    priority=1,
                )
        else:
            await self._to_team(session, row, level, minutes)
        record(
            session,
            Actor(None, "upkeep"),
            "report.escalate",
            f"report:{row.id}",
            self.clock(),
            level=level,
        )

    async def _to_team(self, session: Session, row: ReportRow, level: int, minutes: int) -> None:
        """The card, marked as escalated: to every coordinator at level 1, the admins at 2."""
        everyone = await ReportRows(session).active_coordinators()
        told = everyone if level == 1 else [c for c in everyone if c.role == Role.ADMIN]
        view = await self._view(session, row)
        for coordinator in told:
            language = self.content.supported(coordinator.language)
            lang = self.content.lang(language)
            card, buttons = self.card(view, lang, coordinator.id)
            head = lang.gettext(ESCALATED).format(id=row.id, minutes=minutes)
            await self._notice(
                session,
                Channel.TELEGRAM,
                language,
                f"{head}\n\n{card}",
                coordinator_id=coordinator.id,
                ref=card_ref(row.id),
                buttons=buttons,
                priority=1,
            )

    @abstractmethod
    async def _view(self, session: Session, row: ReportRow) -> ReportView:
        """The report as a card shows it."""

    @abstractmethod
    def card(self, view: ReportView, lang: Lang, viewer: int | None) -> tuple[str, ButtonRows]:
        """A report's card as one coordinator sees it."""
