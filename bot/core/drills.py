"""The monthly drill (issue 19, point 6): a network rehearses its alerts once a month.

An operator sets it (`rrbot alerts monthly-drill --day 1 --time 18:00 --zones all --text ...`):
on that day of each month, from that time (network time), the upkeep sends it as a drill
(every text begins with the drill line; DRILLS OFF subscribers skip it), once a month
whatever the number of processes: the month is claimed by a conditional update before the
drill is queued. A crash between the two skips that month's drill rather than sending two.
Its delivery report (`rrbot alerts report ID`) shows how fast the network reached people.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from bot.core.alerts import AlertDraft, Alerts
from bot.core.audit import Actor, record
from bot.core.vocabulary import AlertKind
from bot.storage.db import Database
from bot.storage.drills import DrillRows
from bot.storage.models import MonthlyDrillRow

DRILL_EXPIRY = timedelta(hours=2)


@dataclass(frozen=True)
class MonthlyDrill:
    day: int
    at: time
    zones: tuple[str, ...]
    texts: dict[str, str]
    check_in: bool
    last_month: str | None


class Drills:
    def __init__(
        self,
        db: Database,
        alerts: Alerts,
        clock: Callable[[], datetime],
        timezone: tzinfo = UTC,
    ) -> None:
        self.db = db
        self.alerts = alerts
        self.clock = clock
        self.timezone = timezone

    async def set_monthly(
        self,
        day: int,
        at: time,
        zones: tuple[str, ...],
        texts: dict[str, str],
        by: Actor,
        *,
        check_in: bool = False,
    ) -> MonthlyDrill:
        """The monthly drill from now on (replacing any before). Its words are checked as a
        drill's would be now: a drill that cannot be sent is refused here, not next month."""
        if not 1 <= day <= 28:
            raise ValueError("the day must be 1 to 28, so that every month has it")
        await self.alerts.check(
            AlertDraft(AlertKind.ALERT, zones, texts, drill=True, check_in=check_in)
        )
        now = self.clock()
        async with self.db.transaction() as session:
            row = MonthlyDrillRow(
                day=day,
                minute=at.hour * 60 + at.minute,
                zones=list(zones),
                texts=dict(texts),
                check_in=check_in,
                created_at=now,
                # Set today after its time: the first one is next month's.
                last_month=self._month(now) if self._due_today(day, at, now) else None,
            )
            await DrillRows(session).replace(row)
            when = at.isoformat("minutes")
            record(session, by, "drill.monthly", "drills", now, day=day, time=when)
        return _of(row)

    async def stop_monthly(self, by: Actor) -> bool:
        async with self.db.transaction() as session:
            gone = await DrillRows(session).remove()
            if gone:
                record(session, by, "drill.monthly_off", "drills", self.clock())
        return bool(gone)

    async def monthly(self) -> MonthlyDrill | None:
        async with self.db.transaction() as session:
            row = await DrillRows(session).monthly()
            return _of(row) if row is not None else None

    async def send_due(self, now: datetime | None = None) -> int | None:
        """The upkeep's tick: this month's drill once its day and time have come (and that
        day only: a bot that was down all day skips a month). The alert's id, or None."""
        now = now or self.clock()
        drill = await self.monthly()
        if drill is None or not self._due_today(drill.day, drill.at, now):
            return None
        month = self._month(now)
        if drill.last_month == month:
            return None
        async with self.db.transaction() as session:
            if not await DrillRows(session).claim_month(month):
                return None  # another process sends it
        draft = AlertDraft(
            AlertKind.ALERT,
            drill.zones,
            drill.texts,
            DRILL_EXPIRY,
            check_in=drill.check_in,
            drill=True,
            plain_sms=tuple(code for code in drill.texts if self.alerts.content.sms_plain(code)),
        )
        sent = await self.alerts.send_now(draft, Actor.system())
        return sent.id

    def _due_today(self, day: int, at: time, now: datetime) -> bool:
        local = now.astimezone(self.timezone)
        return local.day == day and local.time() >= at

    def _month(self, now: datetime) -> str:
        return f"{now.astimezone(self.timezone):%Y-%m}"


def _of(row: MonthlyDrillRow) -> MonthlyDrill:
    return MonthlyDrill(
        day=row.day,
        at=time(row.minute // 60, row.minute % 60),
        zones=tuple(row.zones),
        texts=dict(row.texts),
        check_in=row.check_in,
        last_month=row.last_month,
    )
