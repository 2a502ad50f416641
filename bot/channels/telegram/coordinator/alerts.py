"""Alerts in Telegram: compose (type, zones, a text per language, expiry), preview and change
any part, then send, or ask a second coordinator (approvals.py). /status is following.py.

The composer is a flow (bot/core/flows.py) whose steps are `Step`; what it has gathered is
the flow's data, so a restart in the middle leaves the coordinator where they were.

Why one module over 500 lines: the steps (kind, original, zones, own text or a template and
its slots, expiry, preview and its changes) hand each other the flow's data, and read top to
bottom they are the conversation a coordinator has; approvals.py and following.py are apart.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from bot.channels.telegram.buttons import (
    CoordinatorButton,
    PickExpiry,
    PickKind,
    PickOriginal,
    PickTemplate,
    PickText,
    Preview,
    PreviewChoice,
)
from bot.channels.telegram.coordinator.approvals import ApprovalsFeature
from bot.channels.telegram.coordinator.turn import Feature, Rows, Turn
from bot.core.alerts import Alert, AlertDraft, AlertError, Alerts
from bot.core.alerts import Preview as Cost
from bot.core.content import DEFAULT_LANGUAGE, Content
from bot.core.coordinators import Coordinators
from bot.core.flows import Flow
from bot.core.i18n import N_, Lang
from bot.core.parse import ALL_ZONES, ParseError, clock, zone_list
from bot.core.segments import count_segments, gsm_fold
from bot.core.templates import NAMES, PROMPTS, asked, fill, offered
from bot.core.text import shown
from bot.core.vocabulary import AlertKind, AlertStatus, FlowKind

EXPIRY_CHOICES = (2, 4, 8, 12)  # hours
SLOT_LENGTH = 120  # characters of a template's slot: a place, a few words
TEXT_PAGE = 3900  # characters of one preview message (Telegram's limit is 4,096)
ASKED_LANGUAGES = 2
"""The composer asks for the text of the first two languages in turn (English, then Spanish:
the metro's everyday two); every other language gets English until a coordinator gives it
its own text from the preview ("Change a text"), which lists every language."""
KIND_NAMES = {
    AlertKind.ALERT: N_("Alert"),
    AlertKind.UPDATE: N_("Update"),
    AlertKind.CORRECTION: N_("Correction"),
    AlertKind.ALL_CLEAR: N_("All clear"),
    AlertKind.RUMOR: N_("Rumor control"),
}


class Step(StrEnum):
    """The composer's steps."""

    KIND = "kind"  # alert, update, correction or all-clear
    ORIGINAL = "original"  # the alert an update, correction or all-clear follows
    ZONES = "zones"
    TEXT = "text"  # one language after another, English first; or a template's button
    SLOT = "slot"  # a template's slots, one after another (data["slots"])
    EXPIRY = "expiry"
    PREVIEW = "preview"  # everything shown; send, or change a part
    CHANGE_ZONES = "change_zones"
    CHANGE_TEXT = "change_text"  # the language in data["changing"]


def forcing(characters: tuple[str, ...], shown: int = 8) -> str:
    """The characters that force UCS-2, the first few of them (a script forces them all)."""
    visible = [c for c in characters if unicodedata.category(c) != "Cf"] or list(characters)
    more = "…" if len(visible) > shown else ""
    return " ".join(visible[:shown]) + more


def kind_name(turn: Turn, kind: AlertKind) -> str:
    return turn._(KIND_NAMES[kind])


class AlertsFeature(Feature):
    """/alert and the composer's buttons; a draft that needs a second coordinator goes to
    `approvals` (approvals.py), which describes it with this composer's words."""

    commands = ("alert",)
    buttons = (PickKind, PickOriginal, PickExpiry, Preview, PickText, PickTemplate)
    flow = FlowKind.ALERT

    def __init__(
        self, alerts: Alerts, coordinators: Coordinators, content: Content, timezone: tzinfo
    ) -> None:
        self.alerts = alerts
        self.coordinators = coordinators
        self.content = content
        self.timezone = timezone
        self.approvals = ApprovalsFeature(alerts, coordinators, content, self.describe)

    def help(self, turn: Turn) -> list[str]:
        return [
            turn._("/alert composes an alert, update, correction, all-clear or rumor control"),
        ]

    async def command(self, turn: Turn, name: str, args: list[str]) -> None:
        if await turn.may_start(FlowKind.ALERT):
            await self.begin(turn)

    async def begin(self, turn: Turn, subject: int = 0) -> None:
        flow = await turn.flows.start(turn.me.id, FlowKind.ALERT, Step.KIND)
        await self.resume(turn, flow)

    async def resume(self, turn: Turn, flow: Flow) -> None:
        _ = turn._
        step = Step(flow.step)
        if step is Step.KIND:
            t = flow.token
            await turn.say(
                _("New message to subscribers. What kind? (/cancel to stop)"),
                [
                    [
                        (_("Alert"), PickKind(t, AlertKind.ALERT)),
                        (_("Update"), PickKind(t, AlertKind.UPDATE)),
                    ],
                    [
                        (_("Correction"), PickKind(t, AlertKind.CORRECTION)),
                        (_("All clear"), PickKind(t, AlertKind.ALL_CLEAR)),
                    ],
                    [(_("Rumor control"), PickKind(t, AlertKind.RUMOR))],
                ],
            )
        elif step is Step.ORIGINAL:
            await self._ask_original(turn, flow)
        elif step in (Step.ZONES, Step.CHANGE_ZONES):
            await turn.say(
                _("Which zones? Send ZIP codes separated by commas (60629, 60632), or all.")
            )
        elif step in (Step.TEXT, Step.CHANGE_TEXT):
            await self._ask_text(turn, flow)
        elif step is Step.SLOT:
            await turn.say(_(PROMPTS[str(flow.data["slots"][0])]))
        elif step is Step.EXPIRY:
            await self._ask_expiry(turn, flow)
        else:
            await self._preview(turn, flow)

    # --- buttons -----------------------------------------------------------------------

    async def button(self, turn: Turn, button: CoordinatorButton) -> None:
        token = getattr(button, "flow", None)
        flow = await turn.flow(FlowKind.ALERT, token)
        if flow is None:
            await turn.stale()
            return
        step = Step(flow.step)
        match button:
            case PickKind(kind=kind) if step is Step.KIND:
                await turn.answer()
                await turn.close_keyboard(kind_name(turn, kind))
                if not kind.follows_up:
                    await self._save(turn, flow.at(Step.ZONES, kind=kind.value))
                else:
                    await self._save(turn, flow.at(Step.ORIGINAL, kind=kind.value))
            case PickOriginal(alert=alert_id) if step is Step.ORIGINAL:
                await turn.answer()
                await turn.close_keyboard(f"#{alert_id}")
                await self._save(turn, flow.at(Step.TEXT, refers_to=alert_id, **self._texts()))
            case PickTemplate(template=name) if step is Step.TEXT and name in offered(
                self.content, AlertKind(flow.data["kind"])
            ):
                await turn.answer()
                await turn.close_keyboard(turn._(NAMES[name]))
                slots = asked(self.content, name)
                await self._save(turn, flow.at(Step.SLOT, template=name, slots=slots, values={}))
            case PickExpiry(hours=hours) if step is Step.EXPIRY:
                await turn.answer()
                await turn.close_keyboard(turn._("{hours} hours").format(hours=hours))
                await self._draft(turn, flow.at(Step.PREVIEW, hours=hours))
            case Preview(choice=choice) if step is Step.PREVIEW:
                await self._from_preview(turn, flow, choice)
            case PickText(code=code) if step is Step.PREVIEW and code in self.content.languages:
                await turn.answer()
                await turn.close_keyboard(self.content.language_name(code))
                await self._save(turn, flow.at(Step.CHANGE_TEXT, changing=code))
            case _:
                await turn.stale()

    async def _from_preview(self, turn: Turn, flow: Flow, choice: PreviewChoice) -> None:
        _ = turn._
        kind = AlertKind(flow.data.get("kind", AlertKind.ALERT))
        if choice is PreviewChoice.ZONES and kind.follows_up:
            await turn.stale()  # follow-ups go to the people the alert reached: no zones
            return
        if choice in (PreviewChoice.CANCEL, PreviewChoice.SEND) and not await turn.finish(flow):
            return
        await turn.answer()
        if choice is PreviewChoice.CANCEL:
            await turn.close_keyboard(_("Cancelled: nothing was sent."))
        elif choice is PreviewChoice.SEND:
            await self._send(turn, int(flow.data["alert_id"]))
        elif choice is PreviewChoice.ZONES:
            await turn.close_keyboard(_("Change the zones"))
            await self._save(turn, flow.at(Step.CHANGE_ZONES))
        elif choice is PreviewChoice.EXPIRY:
            await turn.close_keyboard(_("Change the expiry"))
            await self._save(turn, flow.at(Step.EXPIRY))
        elif choice in (PreviewChoice.CHECK_IN, PreviewChoice.DRILL):
            key = "check_in" if choice is PreviewChoice.CHECK_IN else "drill"  # the flow's data
            on = not flow.data.get(key)
            said = {
                (PreviewChoice.CHECK_IN, True): _("Check-in added"),
                (PreviewChoice.CHECK_IN, False): _("Check-in removed"),
                (PreviewChoice.DRILL, True): _("Made a drill"),
                (PreviewChoice.DRILL, False): _("No longer a drill"),
            }[choice, on]
            await turn.close_keyboard(said)
            await self._draft(turn, flow.at(Step.PREVIEW, **{key: on}))
        elif choice is PreviewChoice.PLAIN:
            alert = await self.alerts.get(int(flow.data["alert_id"]))
            plain = set(flow.data.get("plain_sms", [])) | set(self._foldable(alert))
            await turn.close_keyboard(_("SMS without those characters"))
            await self._draft(turn, flow.at(Step.PREVIEW, plain_sms=sorted(plain)))
        else:
            await turn.close_keyboard(_("Change a text"))
            picks = [
                (self.content.language_name(code), PickText(flow.token, code))
                for code in self.content.languages
            ]
            rows = [picks[i : i + 3] for i in range(0, len(picks), 3)]
            await turn.say(_("Which language's text?"), rows)

    # --- typed steps ---------------------------------------------------------------------

    async def step(self, turn: Turn, flow: Flow, text: str | None) -> None:
        _ = turn._
        step = Step(flow.step)
        if step in (Step.ZONES, Step.CHANGE_ZONES):
            if text is None:
                await turn.say(_("The zones are needed: ZIP codes, or all."))
                return
            try:
                zones = zone_list(text, lambda z: self.content.zones.name_of(z) is not None)
            except ParseError as exc:
                await turn.say(exc.say(_))
                return
            if step is Step.CHANGE_ZONES:
                await self._draft(turn, flow.at(Step.PREVIEW, zones=list(zones)))
            else:
                await self._save(turn, flow.at(Step.TEXT, zones=list(zones), **self._texts()))
        elif step in (Step.TEXT, Step.CHANGE_TEXT):
            await self._take_text(turn, flow, text)
        elif step is Step.SLOT:
            await self._take_slot(turn, flow, text)
        else:
            await self.resume(turn, flow)  # a button is awaited: say again what it asks

    async def _take_text(self, turn: Turn, flow: Flow, text: str | None) -> None:
        _ = turn._
        changing = flow.step == Step.CHANGE_TEXT
        pending = [str(c) for c in flow.data.get("pending", [])]
        code = str(flow.data["changing"]) if changing else pending[0]
        texts = dict(flow.data.get("texts", {}))
        if text is None and code == DEFAULT_LANGUAGE:
            await turn.say(_("The English text is needed: every other language falls back to it."))
            return
        if text is None:
            texts.pop(code, None)
        else:
            kind = AlertKind(flow.data["kind"])
            body, heading = self.alerts.without_heading(kind, text)
            if heading is not None:
                await turn.say(
                    _('I left out "{heading}": the bot puts its own heading first.').format(
                        heading=heading
                    )
                )
            over = self.alerts.over_length(kind, code, body)
            if over:
                await turn.say(
                    turn.n_(
                        "That is {n} character too many for one SMS (1,600 with the heading and "
                        "the hotline). Send a shorter text.",
                        "That is {n} characters too many for one SMS (1,600 with the heading and "
                        "the hotline). Send a shorter text.",
                        over,
                    ).format(n=over)
                )
            if over or not body:
                await self.resume(turn, flow)  # the same question again; nothing is lost
                return
            texts[code] = body
        if changing:
            # Their own words now: by SMS as written, unless they choose otherwise again.
            plain = [c for c in flow.data.get("plain_sms", []) if c != code]
            await self._draft(turn, flow.at(Step.PREVIEW, texts=texts, plain_sms=plain))
            return
        pending = pending[1:]
        following = Step.TEXT if pending else Step.EXPIRY
        await self._save(turn, flow.at(following, texts=texts, pending=pending))

    async def _take_slot(self, turn: Turn, flow: Flow, text: str | None) -> None:
        """One slot of the chosen template; after the last, every language's text."""
        _ = turn._
        slots = [str(slot) for slot in flow.data.get("slots", [])]
        values = {str(k): str(v) for k, v in dict(flow.data.get("values", {})).items()}
        typed = shown(text or "")
        if not typed or len(typed) > SLOT_LENGTH:
            await turn.say(
                _("A few words, at most {n} characters.").format(n=SLOT_LENGTH)
                if typed
                else _("This one is needed.")
            )
            await self.resume(turn, flow)
            return
        slot = slots[0]
        if slot == "time":
            try:
                typed = clock(typed, datetime.now(self.timezone).time()).isoformat("minutes")
            except ParseError as exc:
                await turn.say(exc.say(_))
                await self.resume(turn, flow)
                return
        values[slot] = typed
        if slots[1:]:
            await self._save(turn, flow.at(Step.SLOT, slots=slots[1:], values=values))
            return
        names = await self._zone_names(flow)
        at = time.fromisoformat(values["time"]) if "time" in values else None
        texts = fill(self.content, str(flow.data["template"]), values, at, names)
        # The template's words are the bot's own: by SMS without accents where the language
        # reads well so (GSM-7, three times the room of UCS-2).
        plain = [code for code in texts if self.content.sms_plain(code)]
        await self._save(turn, flow.at(Step.EXPIRY, texts=texts, pending=[], plain_sms=plain))

    async def _zone_names(self, flow: Flow) -> Callable[[str], str]:
        """The names of the message's zones ({zone}): its own, or the alert it follows'."""
        zones = list(flow.data.get("zones", []))
        if flow.data.get("refers_to") is not None:
            zones = list((await self.alerts.get(int(flow.data["refers_to"]))).zones)
        named = [self.content.zones.name_of(z) or z for z in zones if z != ALL_ZONES]
        if named and ALL_ZONES not in zones:
            return lambda _language: ", ".join(named)
        return self.content.zones.area_name

    # --- asking --------------------------------------------------------------------------

    def _texts(self) -> dict[str, Any]:
        # Content.languages puts English first.
        return {"texts": {}, "pending": self.content.languages[:ASKED_LANGUAGES]}

    async def _save(self, turn: Turn, flow: Flow) -> None:
        saved = await turn.flows.save(flow)
        if saved is None:
            # Moved on by a double tap (that tap answers), or ended meanwhile.
            if await turn.flow(FlowKind.ALERT, flow.token) is None:
                await turn.say(turn._("That alert was ended meanwhile. /alert to start again."))
            return
        await self.resume(turn, saved)

    async def _ask_original(self, turn: Turn, flow: Flow) -> None:
        _ = turn._
        sent = [
            a
            for a in await self.alerts.recent(10)
            if a.kind is AlertKind.ALERT and a.status in (AlertStatus.QUEUED, AlertStatus.DONE)
        ]
        if not sent:
            await turn.flows.end(turn.me.id, flow.token)
            await turn.say(_("There is no sent alert to follow up."))
            return
        rows = [
            [
                (
                    f"#{a.id} {', '.join(a.zones)}",
                    PickOriginal(flow.token, a.id),
                )
            ]
            for a in sent[:6]
        ]
        await turn.say(_("Which alert does it follow?"), rows)

    async def _ask_text(self, turn: Turn, flow: Flow) -> None:
        _ = turn._
        code = (
            str(flow.data["changing"])
            if flow.step == Step.CHANGE_TEXT
            else str(flow.data["pending"][0])
        )
        name = self.content.language_name(code)
        kind = AlertKind(flow.data.get("kind", AlertKind.ALERT))
        if code == DEFAULT_LANGUAGE:
            prompt = _(
                "Send the text in {language}. Every language without its own text gets this one."
            )
        else:
            prompt = _(
                "Send the text in {language}, or /skip to send English to {language} speakers."
            )
        lines = [prompt.format(language=name)]
        lines.append(_("The bot adds the heading and the hotline itself."))
        rows: Rows = []
        first = flow.step == Step.TEXT and not flow.data.get("texts")
        templates = offered(self.content, kind) if first else ()
        if templates:
            # Filled once, each language from its own template: nothing to translate now.
            lines += ["", _("Or fill a template, and every language gets its own text:")]
            rows = [[(_(NAMES[t]), PickTemplate(flow.token, t)) for t in templates]]
        await turn.say("\n".join(lines), rows)

    async def _ask_expiry(self, turn: Turn, flow: Flow) -> None:
        _ = turn._
        rows = [
            [
                (_("{hours} hours").format(hours=h), PickExpiry(flow.token, h))
                for h in EXPIRY_CHOICES
            ]
        ]
        await turn.say(_("How long does it hold? After that it is never delivered late."), rows)

    # --- the draft and its preview -------------------------------------------------------

    def _draft_of(self, flow: Flow) -> AlertDraft:
        data = flow.data
        return AlertDraft(
            kind=AlertKind(data["kind"]),
            zones=tuple(data.get("zones", ())),
            texts=dict(data.get("texts", {})),
            expires_in=timedelta(hours=int(data.get("hours", 4))),
            refers_to=data.get("refers_to"),
            plain_sms=tuple(str(code) for code in data.get("plain_sms", ())),
            check_in=bool(data.get("check_in")),
            drill=bool(data.get("drill")),
        )

    async def _draft(self, turn: Turn, flow: Flow) -> None:
        """Draft (or revise) the alert from what the flow gathered, then preview it."""
        draft = self._draft_of(flow)
        try:
            if flow.data.get("alert_id") is not None:
                alert = await self.alerts.revise(int(flow.data["alert_id"]), draft, turn.me.actor())
            else:
                alert = await self.alerts.draft(draft, turn.me.actor())
        except AlertError as exc:
            # The flow stays at the step it was at: change what is wrong, or /cancel.
            await turn.say(
                turn._("Not drafted: {reason}. Change it, or /cancel to drop it.").format(
                    reason=exc.say(turn._)
                )
            )
            stored = await turn.flow(FlowKind.ALERT, flow.token)
            if stored is not None:
                await self.resume(turn, stored)
            return
        await self._save(turn, flow.at(Step.PREVIEW, alert_id=alert.id, zones=list(alert.zones)))

    async def show_draft(self, turn: Turn, alert: Alert, draft: AlertDraft) -> None:
        """A draft made elsewhere (a confirmed report) becomes the composer's, at its preview."""
        flow = await turn.flows.start(
            turn.me.id,
            FlowKind.ALERT,
            Step.PREVIEW,
            {
                "kind": alert.kind.value,
                "zones": list(alert.zones),
                "texts": dict(draft.texts),
                "plain_sms": list(draft.plain_sms),
                "hours": round(draft.expires_in.total_seconds() / 3600),
                "alert_id": alert.id,
            },
        )
        await self._preview(turn, flow)

    async def _preview(self, turn: Turn, flow: Flow) -> None:
        _ = turn._
        alert = await self.alerts.get(int(flow.data["alert_id"]))
        cost = await self.alerts.preview(alert.id)
        needs_approval = await self.alerts.needs_approval()
        t = flow.token
        send = _("Send for approval") if needs_approval else _("Send now")
        rows: Rows = [
            [
                (send, Preview(t, PreviewChoice.SEND)),
                (_("Cancel"), Preview(t, PreviewChoice.CANCEL)),
            ],
            [
                *(
                    [(_("Change zones"), Preview(t, PreviewChoice.ZONES))]
                    if not alert.kind.follows_up
                    else []
                ),
                (_("Change a text"), Preview(t, PreviewChoice.TEXT)),
            ],
            [(_("Change expiry"), Preview(t, PreviewChoice.EXPIRY))],
            [
                (
                    _("Remove the check-in") if alert.check_in else _("Add a safety check-in"),
                    Preview(t, PreviewChoice.CHECK_IN),
                ),
                (
                    _("Not a drill") if alert.drill else _("Make it a drill"),
                    Preview(t, PreviewChoice.DRILL),
                ),
            ],
        ]
        foldable = self._foldable(alert)
        if foldable:
            before = sum(b for b, _a in foldable.values())
            after = sum(a for _b, a in foldable.values())
            label = _("SMS without them: {before} → {after} segments").format(
                before=before, after=after
            )
            rows = [*rows, [(label, Preview(t, PreviewChoice.PLAIN))]]
        card, more = self.describe(turn.lang, alert, cost)
        for page in self.pages(more):
            await turn.say(page)
        await turn.say(card, rows)

    def describe(
        self, lang: Lang, alert: Alert, cost: Cost, room: int = TEXT_PAGE
    ) -> tuple[str, list[str]]:
        """Everything sending would do: type, zones, expiry, what it follows, who gets it in
        which language on which channel, the SMS cost, the time, and every text: the card
        with the texts that fit in it, and the texts (one block a language) that did not."""
        _, n_ = lang.gettext, lang.ngettext
        expires = alert.expires_at.astimezone(self.timezone)
        lines = [
            _("Preview of #{id}: {kind}").format(id=alert.id, kind=_(KIND_NAMES[alert.kind])),
        ]
        if alert.refers_to is not None:
            lines.append(
                _("Follows alert #{id}, to the people it reached").format(id=alert.refers_to)
            )
        else:
            lines.append(_("Zones: {zones}").format(zones=self.zones_named(lang, alert.zones)))
        if alert.drill:
            lines.append(_("DRILL: every text says no action is needed; DRILLS OFF skips it"))
        if alert.check_in:
            lines.append(_("Check-in: replies 1 (safe) and 2 (need help) are counted"))
        until = self.content.clock_time(lang.code, expires.time())
        lines.append(_("Holds until {time}, never delivered later").format(time=until))
        lines.append(n_("{people} person", "{people} people", cost.total).format(people=cost.total))
        foldable = self._foldable(alert)
        for (channel, code), n in sorted(cost.recipients.items()):
            lines.append(f"• {channel} · {self.content.language_name(code)}: {n}")
        for code, segments in sorted(cost.segments.items()):
            forced = (
                _(" (forced by {characters})").format(characters=forcing(segments.non_gsm))
                if segments.non_gsm
                else ""
            )
            lines.append(
                n_(
                    "SMS in {language}: {segments} segment, {encoding}{forced}",
                    "SMS in {language}: {segments} segments, {encoding}{forced}",
                    segments.segments,
                ).format(
                    language=self.content.language_name(code),
                    segments=segments.segments,
                    encoding=segments.encoding,
                    forced=forced,
                )
            )
            if code in foldable:
                lines[-1] += _("; without them: {after}").format(after=foldable[code][1])
        if cost.fallback:
            names = ", ".join(self.content.language_name(code) for code in cost.fallback)
            lines.append(
                _("No text of their own, they get English: {languages}").format(languages=names)
            )
        lines.append(self.how_long(lang, cost.seconds))
        card = "\n".join(lines)
        blocks = [
            f"[{self.content.language_name(code)}]\n{alert.texts[code]}"
            for code in self._text_order(alert, cost)
        ]
        # As many texts as fit in one message (English and the recipients' first); the rest
        # go in messages of their own before it, or are named (room: what the head needs).
        shown_here: list[str] = []
        rest: list[str] = []
        for block in blocks:
            used = len(card) + sum(len(b) + 2 for b in shown_here)
            fits = used + len(block) + 2 < room
            (shown_here if fits and not rest else rest).append(block)
        card = "\n\n".join([card, *shown_here])
        return card, rest

    @staticmethod
    def _foldable(alert: Alert) -> dict[str, tuple[int, int]]:
        """Languages whose SMS would cost fewer segments without the characters that force
        UCS-2 (é, ó, curly quotes: gsm_fold), with their segments before and after."""
        found = {}
        for code in alert.texts:
            text = alert.sms_text(code)
            before, after = count_segments(text), count_segments(gsm_fold(text))
            if after.segments < before.segments:
                found[code] = (before.segments, after.segments)
        return found

    def _text_order(self, alert: Alert, cost: Cost) -> list[str]:
        """English, then the languages with the most recipients, then the others."""
        people: dict[str, int] = {}
        for (_channel, code), n in cost.recipients.items():
            people[code] = people.get(code, 0) + n
        return sorted(
            alert.texts, key=lambda code: (code != DEFAULT_LANGUAGE, -people.get(code, 0))
        )

    @staticmethod
    def pages(blocks: list[str]) -> list[str]:
        """Text blocks packed into as few Telegram messages as they fit in."""
        pages: list[str] = []
        for block in blocks:
            if pages and len(pages[-1]) + len(block) + 2 <= TEXT_PAGE:
                pages[-1] += "\n\n" + block
            else:
                pages.append(block)
        return pages

    @staticmethod
    def how_long(lang: Lang, seconds: float) -> str:
        if seconds < 60:
            n = max(1, round(seconds))
            return lang.ngettext(
                "Time to send at the provider limits: about {n} second",
                "Time to send at the provider limits: about {n} seconds",
                n,
            ).format(n=n)
        n = round(seconds / 60)
        return lang.ngettext(
            "Time to send at the provider limits: about {n} minute",
            "Time to send at the provider limits: about {n} minutes",
            n,
        ).format(n=n)

    def zones_named(self, lang: Lang, zones: tuple[str, ...] | list[str]) -> str:
        if not zones or ALL_ZONES in zones:
            return lang.gettext("every zone")
        return ", ".join(f"{z} {self.content.zones.name_of(z) or ''}".strip() for z in zones)

    # --- sending and approving ------------------------------------------------------------

    async def _send(self, turn: Turn, alert_id: int) -> None:
        _ = turn._
        try:
            alert = await self.alerts.submit(alert_id, turn.me.actor())
        except AlertError as exc:
            await turn.close_keyboard()
            await turn.say(_("Not sent: {reason}").format(reason=exc.say(_)))
            return
        if alert.status is AlertStatus.PENDING:
            await turn.close_keyboard(_("Sent for approval"))
            await turn.say(
                _("Waiting for a second coordinator to approve #{id}.").format(id=alert.id)
            )
            await self.approvals.ask(turn, alert)
            return
        await turn.close_keyboard(_("Sent"))
        await turn.say(
            turn.n_(
                "Sending #{id} to {people} person. /status to follow it.",
                "Sending #{id} to {people} people. /status to follow it.",
                alert.recipients,
            ).format(id=alert.id, people=alert.recipients)
        )
