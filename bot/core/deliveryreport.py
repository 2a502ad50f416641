"""After an alert (a drill above all): how fast it reached people. `rrbot alerts report ID`
prints it and writes the chart; the composer gets the chart in Telegram once every delivery
has ended.

The curve counts, for each share of the recipients (50 %, 90 %, 99 %, 100 %), the seconds
from the approval until that many had been handed to their provider (`sent_at`), overall and
by channel; failures are counted by reason (the provider's error code, or why it was
skipped); check-in answers come with it. Counts and times only: nobody is named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bot.core.alerts import Alert, Alerts, CheckIns
from bot.core.chart import ALL, draw, draw_apart
from bot.core.vocabulary import DeliveryStatus
from bot.storage.alerts import delivery_times

MILESTONES = (0.5, 0.9, 0.99, 1.0)
REACHED = (DeliveryStatus.SENT.value, DeliveryStatus.DELIVERED.value)
FAILED = (DeliveryStatus.FAILED.value, DeliveryStatus.SKIPPED.value)


@dataclass(frozen=True)
class Curve:
    """One channel's (or all channels') recipients, and when each one reached was sent."""

    recipients: int
    seconds: list[float] = field(default_factory=list)  # after the approval, sorted

    def at(self, share: float) -> float | None:
        """Seconds until `share` of the recipients had been sent to; None: never reached."""
        if self.recipients == 0:
            return None
        index = max(0, math.ceil(share * self.recipients) - 1)
        return self.seconds[index] if index < len(self.seconds) else None


@dataclass(frozen=True)
class DeliveryReport:
    alert: Alert
    curves: dict[str, Curve]  # "all" first, then each channel
    failures: dict[str, int]  # reason -> deliveries
    check_ins: CheckIns | None
    pending: int  # still queued or being sent


async def delivery_report(alerts: Alerts, alert_id: int) -> DeliveryReport:
    progress = await alerts.progress(alert_id)
    alert = progress.alert
    async with alerts.db.transaction() as session:
        rows = await delivery_times(session, alert_id)
    start = alert.approved_at
    by_channel: dict[str, list[float]] = {}
    totals: dict[str, int] = {}
    failures: dict[str, int] = {}
    pending = 0
    for channel, status, error, sent_at in rows:
        totals[channel] = totals.get(channel, 0) + 1
        if status in REACHED and sent_at is not None and start is not None:
            by_channel.setdefault(channel, []).append(max(0.0, (sent_at - start).total_seconds()))
        elif status in FAILED:
            reason = f"{status}: {error or 'unknown'}"
            failures[reason] = failures.get(reason, 0) + 1
        else:
            pending += 1
    curves = {ALL: Curve(len(rows), sorted(s for times in by_channel.values() for s in times))}
    for channel in sorted(totals):
        curves[channel] = Curve(totals[channel], sorted(by_channel.get(channel, [])))
    return DeliveryReport(
        alert, curves, dict(sorted(failures.items())), progress.check_ins, pending
    )


def chart_png(report: DeliveryReport) -> bytes:
    """The delivery curve as a PNG, drawn in this process (the CLI)."""
    return draw(*_chart_input(report))


async def chart_png_apart(report: DeliveryReport) -> bytes:
    """The same, drawn in a child process: a first chart holds the interpreter for over a
    second (matplotlib's import and fonts), which a web process answering webhooks cannot
    spare."""
    return await draw_apart(*_chart_input(report))


def _chart_input(report: DeliveryReport) -> tuple[str, dict[str, tuple[int, list[float]]]]:
    alert = report.alert
    kind = "drill" if alert.drill else str(alert.kind).replace("_", " ")
    curves = {name: (c.recipients, c.seconds) for name, c in report.curves.items()}
    return f"#{alert.id} {kind}: delivery curve", curves
