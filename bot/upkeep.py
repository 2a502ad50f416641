"""Background work: APScheduler ticks, the database holds the truth.

`Upkeep` sends guided reports left unfinished, expires reports no coordinator acted on, purges
report text past its retention, drops coordinators' flows past their expiry and alert drafts
a day old that can no longer be sent, deletes inbox entries handled an hour ago (their
message text with them), applies every other retention period (bot/core/retention.py), and
deletes at Twilio the messages it should no longer keep. Each step is an idempotent UPDATE or DELETE, so several worker
processes may tick at once; a tick missed while the process was down simply runs at the next.
`Summaries` tells each composer how their alert went.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core.alerts import Alerts, Progress
from bot.core.content import Content
from bot.core.coordinators import Coordinators, Rendering
from bot.core.deliveryreport import chart_png_apart, delivery_report
from bot.core.drills import Drills
from bot.core.flows import Flows
from bot.core.i18n import Lang
from bot.core.inbox import Inbox
from bot.core.reports import Reports
from bot.core.retention import Retention
from bot.delivery.deletions import Deletions, Remover

log = logging.getLogger(__name__)


class Upkeep:
    """A component (started and stopped with the worker) running `Reports.upkeep` on a timer,
    with `Flows.expire`, `Alerts.drop_stale_drafts` and `Inbox.purge` when given them."""

    def __init__(
        self,
        reports: Reports,
        flows: Flows | None = None,
        alerts: Alerts | None = None,
        every: float = 60.0,
        *,
        inbox: Inbox | None = None,
        retention: Retention | None = None,
        deletions: tuple[Deletions, Remover] | None = None,
        drills: Drills | None = None,
    ) -> None:
        self.reports = reports
        self.drills = drills
        self.deletions = deletions
        self.retention = retention
        self.flows = flows
        self.alerts = alerts
        self.inbox = inbox
        self.every = every
        self._scheduler: AsyncIOScheduler | None = None

    async def start(self) -> None:
        # A scheduler per start: APScheduler 3 cannot be started again after a shutdown.
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.every,
            id="report-upkeep",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self._scheduler.start()

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self.deletions is not None:
            await self.deletions[1].close()

    async def tick(self) -> dict[str, int]:
        try:
            done = await self.reports.upkeep()
            if self.flows is not None:
                done["flows"] = await self.flows.expire()
            if self.alerts is not None:
                done["alert_drafts"] = await self.alerts.drop_stale_drafts()
            if self.inbox is not None:
                done["inbox"] = await self.inbox.purge()
            if self.drills is not None and await self.drills.send_due() is not None:
                done["monthly_drill"] = 1
            if self.retention is not None:
                for key, n in (await self.retention.due_purge()).items():
                    done[f"retention_{key}"] = n
            if self.deletions is not None:
                deletions, remove = self.deletions
                for key, n in (await deletions.run(remove)).items():
                    done[f"twilio_{key}"] = n
        except Exception:
            log.exception("report upkeep failed")
            return {}
        if any(done.values()):
            log.info("report upkeep", extra=done)
        return done


class Summaries:
    """Tells each composer how their alert went once every delivery has ended, through the
    outbox, in their language (a crash between marking an alert summarised and queueing its
    notice can still lose that one summary; /status shows the same counts)."""

    def __init__(
        self,
        alerts: Alerts,
        coordinators: Coordinators,
        content: Content,
        render: Callable[[Lang, Progress], str],
        every: float = 2.0,
    ) -> None:
        self.alerts = alerts
        self.coordinators = coordinators
        self.content = content
        self.render = render
        self.every = every
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="alert-summaries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.tell()
            except Exception:
                log.exception("alert summaries failed")
            await asyncio.sleep(self.every)

    async def tell(self) -> int:
        finished = await self.alerts.take_finished()
        for progress in finished:
            if progress.alert.created_by is not None:
                await self.coordinators.notify(
                    self._rendering(progress),
                    to=[progress.alert.created_by],
                    ref=f"alert:{progress.alert.id}",
                    photo=await self._chart(progress.alert.id),
                )
        return len(finished)

    async def _chart(self, alert_id: int) -> bytes | None:
        """The alert's delivery curve as a PNG, drawn in a child process; None if it could
        not be drawn (the summary still goes, and `rrbot alerts report` draws it again)."""
        try:
            report = await delivery_report(self.alerts, alert_id)
            return await chart_png_apart(report)
        except Exception:
            log.exception("delivery chart failed")
            return None

    def _rendering(self, progress: Progress) -> Rendering:
        return lambda language: (self.render(self.content.speaking(language), progress), ())
