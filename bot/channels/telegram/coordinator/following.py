"""Following alerts in Telegram: /status (the latest alerts, delivery counts by channel) and
the summary a composer gets once every delivery of their alert has ended (bot/upkeep.py).
"""

from __future__ import annotations

from bot.channels.telegram.coordinator.alerts import KIND_NAMES
from bot.channels.telegram.coordinator.turn import Feature, Turn
from bot.core.alerts import STATUS_WORDS, Alerts, CheckIns, Progress
from bot.core.i18n import N_, Lang

DELIVERY_NAMES = {
    "queued": N_("waiting"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "delivered": N_("delivered"),
    "failed": N_("failed"),
    "skipped": N_("skipped"),
}


class StatusFeature(Feature):
    """/status."""

    commands = ("status",)

    def __init__(self, alerts: Alerts) -> None:
        self.alerts = alerts

    def help(self, turn: Turn) -> list[str]:
        return [turn._("/status follows the latest alerts")]

    async def command(self, turn: Turn, name: str, args: list[str]) -> None:
        await self.status(turn)

    async def status(self, turn: Turn) -> None:
        _ = turn._
        recent = await self.alerts.recent(5)
        if not recent:
            await turn.say(_("No alerts yet. /alert to compose one."))
            return
        lines = []
        for alert in recent:
            progress = await self.alerts.progress(alert.id)
            by_channel: dict[str, dict[str, int]] = {}
            for (channel, status), n in progress.counts.items():
                by_channel.setdefault(channel, {})[status] = n
            where = (
                _("as #{id}").format(id=alert.refers_to)
                if alert.refers_to is not None
                else ", ".join(alert.zones) or "-"
            )
            lines.append(
                f"#{alert.id} {_(KIND_NAMES[alert.kind])} · {_(STATUS_WORDS[alert.status])} · {where}"
            )
            for channel, counts in sorted(by_channel.items()):
                parts = ", ".join(
                    f"{_(DELIVERY_NAMES.get(status, status))} {n}"
                    for status, n in sorted(counts.items())
                )
                lines.append(f"   {channel}: {parts}")
            if progress.check_ins is not None:
                lines.append(f"   {check_in_line(turn.lang, progress.check_ins)}")
        await turn.say("\n".join(lines))


def check_in_line(lang: Lang, answers: CheckIns) -> str:
    return lang.gettext("check-in: safe {safe}, need help {help}, no answer {none}").format(
        safe=answers.safe, help=answers.help, none=answers.no_answer
    )


def summary(lang: Lang, progress: Progress) -> str:
    """What the composer is told once every delivery of their alert has ended."""
    _ = lang.gettext
    alert = progress.alert
    reached = sum(
        n for (_c, status), n in progress.counts.items() if status in ("sent", "delivered")
    )
    lines = [
        _("#{id} is done: {reached} of {people} reached.").format(
            id=alert.id, reached=reached, people=alert.recipients
        )
    ]
    for (channel, status), n in sorted(progress.counts.items()):
        lines.append(f"• {channel} · {_(DELIVERY_NAMES.get(status, status))}: {n}")
    if progress.check_ins is not None:
        lines.append(check_in_line(lang, progress.check_ins))
    return "\n".join(lines)
