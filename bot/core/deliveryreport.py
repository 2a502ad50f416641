"""After an alert (a drill above all): how fast it reached people. `rrbot alerts report ID`
prints it and writes the chart; the composer gets the chart in Telegram once every delivery
has ended.

The curve counts, for each share of the recipients (50 %, 90 %, 99 %, 100 %), the seconds
from the approval until that many had been handed to their provider (`sent_at`), overall and
by channel; failures are counted by reason (the provider's error code, or why it was
skipped); check-in answers come with it. Counts and times only: nobody is named.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

from bot.core.alerts import Alert, Alerts, CheckIns
from bot.core.vocabulary import DeliveryStatus
from bot.storage.alerts import delivery_times

MILESTONES = (0.5, 0.9, 0.99, 1.0)
ALL = "all"
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
    """The delivery curve as a PNG: the share of recipients sent to over the seconds after
    the approval, one line per channel and one for all, the milestones marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    alert = report.alert
    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.subplots()
    for name, curve in report.curves.items():
        if not curve.recipients:
            continue
        xs = [0.0, *curve.seconds]
        ys = [0.0, *(100 * (i + 1) / curve.recipients for i in range(len(curve.seconds)))]
        axes.step(xs, ys, where="post", label=f"{name} ({curve.recipients})",
                  linewidth=2.5 if name == ALL else 1.5)  # fmt: skip
    for share in MILESTONES[:-1]:
        axes.axhline(100 * share, color="grey", linewidth=0.6, linestyle=":")
    axes.set_ylim(0, 101)
    axes.set_xlim(left=0)
    axes.set_xlabel("seconds after approval")
    axes.set_ylabel("% of recipients sent to")
    kind = "drill" if alert.drill else str(alert.kind).replace("_", " ")
    axes.set_title(f"#{alert.id} {kind}: delivery curve")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
