"""Scheduled upkeep: APScheduler ticks, the database holds the truth.

Every tick sends guided reports left unfinished, expires reports no coordinator acted on, and
purges report text past its retention. Each step is an idempotent UPDATE, so several worker
processes may tick at once; a tick missed while the process was down simply runs at the next.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core.reports import Reports

log = logging.getLogger(__name__)


class Upkeep:
    """A component (started and stopped with the worker) running `Reports.upkeep` on a timer."""

    def __init__(self, reports: Reports, every: float = 60.0) -> None:
        self.reports = reports
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

    async def tick(self) -> dict[str, int]:
        try:
            done = await self.reports.upkeep()
        except Exception:
            log.exception("report upkeep failed")
            return {}
        if any(done.values()):
            log.info("report upkeep", extra=done)
        return done
