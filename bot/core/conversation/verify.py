"""VERIFY: "is it true?" answered from what coordinators verified, faster than a rumor.

Anyone may ask, subscribed or not (a number that texted STOP still gets nothing: carrier
rules). The answer lists the verified alerts still active near a ZIP code (the zone and its
neighbours) from the last VERIFY_HOURS, or says there is no confirmed activity there, and
always asks not to forward unverified posts. Without a ZIP code (cross streets, a place's
name, nothing) it answers for the whole area, whose alerts name their places. Each question
is counted per zone and hour, without the asker; each sender has a limit per hour, kept by
blind index only.
"""

from __future__ import annotations

from datetime import timedelta

from bot.core.alertwords import AlertWords, Marks
from bot.core.conversation.messages import Reply
from bot.core.conversation.turn import BaseTurn
from bot.core.i18n import N_
from bot.core.keywords import zip_in
from bot.core.segments import MAX_SEGMENTS, count_segments
from bot.core.vocabulary import AlertKind
from bot.storage.alerts import AlertRows
from bot.storage.crypto import Purpose
from bot.storage.models import AlertRow
from bot.storage.outbox import ALL_ZONES
from bot.storage.reports import reporter_key
from bot.storage.verify import VerifyRows

RUMOR_CONTROL = N_("RUMOR CONTROL")
SHOWN = 3  # alerts listed at most (an SMS has four segments)
LINE = 90  # characters of an alert's text in its line
SHORTEST = 20  # where an SMS answer cuts it to fit
NO_ZONE = "-"  # how a question without a ZIP code is counted

FOUND = N_("Verified alerts near {place}, last {hours} h:")
NONE_FOUND = N_("No confirmed activity near {place} in the last {hours} hours.")
DO_NOT_FORWARD = N_(
    "Please do not forward posts nobody has verified. To report or ask: hotline {hotline}."
)
ASKED_TOO_OFTEN = N_(
    "You have asked several times in the last hour. For anything urgent, call the hotline "
    "{hotline}."
)
ADD_ZIP = N_("Add a ZIP code to check one place, like VERIFY 60629.")


class VerifyAnswers(BaseTurn):
    """The answer to VERIFY (SMS) and /verify (Telegram)."""

    async def verify(self) -> list[Reply]:
        _ = self._
        hotline = self.content.network.hotline
        asked = (self.request.arg or "").strip()
        zip_code = zip_in(asked) if asked else None
        if zip_code is None and not asked and self.row is not None:
            zip_code = self.row.zone  # /verify alone: the subscriber's own zone
        if zip_code is not None and self.content.zones.name_of(zip_code) is None:
            zip_code = None  # outside the area: what the whole area knows
        rows = VerifyRows(self.session)
        who = self.c.vault.index(
            reporter_key(self.inbound.channel.value, self.inbound.address), Purpose.ASKER
        )
        if not await rows.allow(who, self.now, self.c.verify_per_hour):
            return [Reply(_(ASKED_TOO_OFTEN).format(hotline=hotline))]
        await rows.count(zip_code or NO_ZONE, self.now)
        hours = self.c.verify_hours
        since = self.now - timedelta(hours=hours)
        sent = AlertRows(self.session)
        alerts = await sent.confirmed_since(since, self.now)
        rumors = await sent.confirmed_since(since, self.now, AlertKind.RUMOR)
        if zip_code is not None:
            near = {zip_code, *self.content.zones.neighbours(zip_code)}
            alerts = [a for a in alerts if ALL_ZONES in a.zones or near & set(a.zones)]
            rumors = [a for a in rumors if ALL_ZONES in a.zones or near & set(a.zones)]
            name = self.content.zones.name_of(zip_code)
            place = zip_code if name in (None, zip_code) else f"{zip_code} ({name})"
        else:
            place = self.content.zones.area_name(self.lang.code)
        footer = [_(DO_NOT_FORWARD).format(hotline=hotline)]
        # The network's rumor-control notices for the place: what is going round is false.
        notices = [self._line(rumor) for rumor in rumors[:1]]
        if not alerts:
            head = [_(NONE_FOUND).format(place=place, hours=hours)]
            hint = [_(ADD_ZIP)] if zip_code is None else []
            return [Reply("\n".join([*head, *notices, *hint, *footer]))]
        head = [_(FOUND).format(place=place, hours=hours)]
        shown = [self._line(alert) for alert in alerts[:SHOWN]]
        # By SMS, the newest alerts that fit in four segments: the last ones go first, then
        # the newest one's words are cut shorter (its number and time always stay).
        width = LINE
        while self.sms:
            text = "\n".join([*head, *shown, *notices, *footer])
            out = self.content.out(self.inbound.channel, self.lang.code, text)
            if count_segments(out).segments <= MAX_SEGMENTS:
                break
            if notices:
                notices = []
            elif len(shown) > 1:
                shown.pop()
            elif width > SHORTEST:
                width -= 10
                shown = [self._line(alerts[0], width)]
            else:
                break
        return [Reply("\n".join([*head, *shown, *notices, *footer]))]

    def _line(self, alert: AlertRow, width: int = LINE) -> str:
        """#12 3:40 PM: the alert's first words, in the asker's language where it has them
        (a rumor-control notice keeps its heading: RUMOR CONTROL #13 ...)."""
        code = self.lang.code if self.lang.code in alert.texts else "en"
        # As sent, the text has the bot's own words around it (Alerts.render): the line
        # keeps what happened.
        marks = Marks(check_in=alert.check_in, drill=alert.drill)
        text = AlertWords(self.content).body_of(
            AlertKind(alert.kind), code, alert.texts.get(code, ""), marks
        )
        if len(text) > width:
            text = text[: width - 1].rstrip() + "…"
        approved = alert.approved_at or alert.created_at
        at = self.content.clock_time(self.lang.code, approved.astimezone(self.c.timezone).time())
        mark = f"{self._(RUMOR_CONTROL)} " if alert.kind == AlertKind.RUMOR else ""
        return f"{mark}#{alert.id} {at}: {text}"
