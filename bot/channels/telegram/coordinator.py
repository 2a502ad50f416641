"""Coordinators in Telegram: compose an alert, preview it, send or approve it, follow it.

To anyone who is not a coordinator these commands and buttons do not exist: they get the
same menu as for any unknown command, and nothing about coordinators or subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.core.alerts import Alert, AlertDraft, AlertError, Alerts, Preview, Progress
from bot.core.content import DEFAULT_LANGUAGE, Content
from bot.core.coordinators import Coordinator, CoordinatorError, Coordinators
from bot.core.i18n import Lang
from bot.core.reports import (
    ReportError,
    Reports,
    ReportView,
    card_buttons,
    render_card,
)
from bot.core.workshops import DEFAULT_MINUTES, WorkshopError, WorkshopPlan, Workshops
from bot.storage.models import AlertKind, AlertStatus, ReportStatus, Role

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
COMMANDS = ("alert", "status", "coordinators", "reports", "duty", "workshop", "skip", "cancel")
PREFIX = "c:"  # callback data of coordinator buttons
EXPIRY_CHOICES = (2, 4, 8, 12)  # hours
COMPOSER = "composer"  # key in PTB's per-user data
ASKING = "asking"  # key in PTB's per-user data: the report whose question is being typed
PLANNING = "planning"  # key in PTB's per-user data: a workshop being set up
WORKSHOP_STEPS = ("title", "title_es", "start", "place", "zones", "capacity")
ALL_WORDS = frozenset({"all", "todas", "todos", "todo"})


@dataclass
class Composition:
    """An alert being composed, step by step, in one coordinator's chat."""

    step: str  # "kind", "zones", "refers", "text", "expiry", "preview"
    kind: AlertKind = AlertKind.ALERT
    zones: tuple[str, ...] = ()
    refers_to: int | None = None
    texts: dict[str, str] = field(default_factory=dict)
    pending_languages: list[str] = field(default_factory=list)
    alert_id: int | None = None


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=PREFIX + data) for label, data in row]
            for row in rows
        ]
    )


class CoordinatorHandlers:
    """The coordinator commands and buttons; `fallback` answers anyone else."""

    def __init__(
        self,
        coordinators: Coordinators,
        alerts: Alerts,
        content: Content,
        fallback: Any,  # async (update, context) -> None: the ordinary menu
        reports: Reports | None = None,
        workshops: Workshops | None = None,
    ) -> None:
        self.workshops = workshops
        self.coordinators = coordinators
        self.alerts = alerts
        self.content = content
        self.fallback = fallback
        self.reports = reports

    def lang(self, update: Update) -> Lang:
        user = update.effective_user
        return self.content.lang(self.content.supported(user.language_code if user else None))

    async def who(self, update: Update) -> Coordinator | None:
        user = update.effective_user
        chat = update.effective_chat
        if user is None or chat is None or chat.type != "private":
            return None
        return await self.coordinators.by_telegram(user.id)

    def composing(self, context: Context) -> Composition | None:
        data = context.user_data if context.user_data is not None else {}
        found = data.get(COMPOSER)
        return found if isinstance(found, Composition) else None

    # --- entry points ----------------------------------------------------------------------

    async def command(self, update: Update, context: Context) -> None:
        message = update.effective_message
        me = await self.who(update)
        if me is None or message is None or message.text is None:
            await self.fallback(update, context)
            return
        name = message.text.split()[0].lstrip("/").split("@", 1)[0].lower()
        if name == "alert":
            await self.start_composer(update, context)
        elif name == "status":
            await self.status(update)
        elif name == "coordinators":
            await self.list_coordinators(update, me)
        elif name == "reports" and self.reports is not None:
            await self.list_reports(update)
        elif name == "duty":
            await self.duty(update, me, message.text.split()[1:])
        elif name == "workshop" and self.workshops is not None:
            await self.workshop(update, context, me, message.text.split()[1:])
        elif name == "skip" and self._planning(context) is not None:
            await self.workshop_step(update, context, me, None)
        elif name == "cancel":
            self._stop(context)
            if context.user_data is not None:
                context.user_data.pop(ASKING, None)
                context.user_data.pop(PLANNING, None)
            await message.reply_text(self.lang(update).gettext("Cancelled."))
        elif name == "skip" and (composition := self.composing(context)) is not None:
            await self.text_step(update, context, composition, skip=True)
        else:
            await self.fallback(update, context)

    async def text(self, update: Update, context: Context) -> bool:
        """Text while composing belongs to the composer; False lets the ordinary handler answer."""
        asking = context.user_data.get(ASKING) if context.user_data is not None else None
        if isinstance(asking, int) and self.reports is not None:
            me = await self.who(update)
            message = update.effective_message
            if me is not None and message is not None and message.text:
                assert context.user_data is not None  # noqa: S101 (checked above)
                context.user_data.pop(ASKING, None)
                await self._relay_question(update, me, asking, message.text)
                return True
        if self._planning(context) is not None:
            me = await self.who(update)
            message = update.effective_message
            if me is not None and message is not None and message.text:
                await self.workshop_step(update, context, me, message.text)
                return True
        composition = self.composing(context)
        if composition is None or composition.step not in ("zones", "text"):
            return False
        if await self.who(update) is None:
            self._stop(context)
            return False
        await self.text_step(update, context, composition, skip=False)
        return True

    async def button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        await query.answer()
        me = await self.who(update)
        if me is None:
            # A forged or stale coordinator button from a subscriber: the ordinary menu.
            await self.fallback(update, context)
            return
        action, _, arg = query.data.removeprefix(PREFIX).partition(":")
        handlers = {
            "kind": self.chose_kind,
            "ref": self.chose_original,
            "exp": self.chose_expiry,
            "send": self.send,
            "drop": self.drop,
            "approve": self.approve,
            "reject": self.reject,
            "invite": self.invite,
            "remove": self.remove,
            "rclaim": self.report_claim,
            "rok": self.report_confirm,
            "rno": self.report_not_confirmed,
            "rfalse": self.report_false_alarm,
            "rdup": self.report_duplicate_choices,
            "rdupof": self.report_duplicate,
            "rask": self.report_ask,
            "rblock": self.report_block,
            "rphoto": self.report_photo,
            "wsave": self.workshop_save,
            "wcancel": self.workshop_cancel,
        }
        handler = handlers.get(action)
        if handler is not None:
            await handler(update, context, me, arg)

    # --- composing -------------------------------------------------------------------------

    async def start_composer(self, update: Update, context: Context) -> None:
        _ = self.lang(update).gettext
        if context.user_data is not None:
            context.user_data[COMPOSER] = Composition(step="kind")
        await self._say(
            update,
            _("New message to subscribers. What kind? (/cancel to stop)"),
            keyboard(
                [
                    [(_("Alert"), "kind:alert"), (_("Update"), "kind:update")],
                    [(_("Correction"), "kind:correction"), (_("All clear"), "kind:all_clear")],
                ]
            ),
        )

    async def chose_kind(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        composition = self.composing(context)
        if composition is None or composition.step != "kind" or arg not in set(AlertKind):
            return
        _ = self.lang(update).gettext
        composition.kind = AlertKind(arg)
        if composition.kind is AlertKind.ALERT:
            composition.step = "zones"
            await self._say(
                update,
                _("Which zones? Send ZIP codes separated by commas (60629, 60632), or all."),
            )
            return
        sent = [
            a
            for a in await self.alerts.recent(10)
            if a.kind is AlertKind.ALERT and a.status in (AlertStatus.QUEUED, AlertStatus.DONE)
        ]
        if not sent:
            self._stop(context)
            await self._say(update, _("There is no sent alert to follow up."))
            return
        composition.step = "refers"
        rows = [[(f"#{a.id} {', '.join(a.zones)}", f"ref:{a.id}")] for a in sent[:6]]
        await self._say(update, _("Which alert does it follow?"), keyboard(rows))

    async def chose_original(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        composition = self.composing(context)
        if composition is None or composition.step != "refers" or not arg.isdigit():
            return
        composition.refers_to = int(arg)
        await self._ask_texts(update, composition)

    async def _ask_texts(self, update: Update, composition: Composition) -> None:
        composition.step = "text"
        others = [code for code in self.content.languages if code != DEFAULT_LANGUAGE]
        composition.pending_languages = [DEFAULT_LANGUAGE, *others]
        await self._ask_next_text(update, composition)

    async def _ask_next_text(self, update: Update, composition: Composition) -> None:
        _ = self.lang(update).gettext
        code = composition.pending_languages[0]
        name = self.content.language_name(code)
        template = self.content.alert_templates.get(str(composition.kind), {}).get(code)
        if code == DEFAULT_LANGUAGE:
            prompt = _(
                "Send the text in {language}. Every language without its own text gets this one."
            )
        else:
            prompt = _(
                "Send the text in {language}, or /skip to send English to {language} speakers."
            )
        lines = [prompt.format(language=name)]
        if template:
            lines += ["", _("Template (copy it and fill in the brackets):"), template]
        await self._say(update, "\n".join(lines))

    async def text_step(
        self, update: Update, context: Context, composition: Composition, *, skip: bool
    ) -> None:
        message = update.effective_message
        if message is None:
            return
        _ = self.lang(update).gettext
        if composition.step == "zones":
            if skip:
                return
            words = [w.strip().lower() for w in (message.text or "").replace(" ", ",").split(",")]
            # "all" in English or Spanish (the prompt says it in the coordinator's language).
            composition.zones = tuple(
                "all" if w in ALL_WORDS else w for w in dict.fromkeys(w for w in words if w)
            )
            await self._ask_texts(update, composition)
            return
        code = composition.pending_languages[0]
        if skip and code == DEFAULT_LANGUAGE:
            await self._say(
                update, _("The English text is needed: every other language falls back to it.")
            )
            return
        if not skip:
            composition.texts[code] = message.text or ""
        composition.pending_languages.pop(0)
        if composition.pending_languages:
            await self._ask_next_text(update, composition)
            return
        composition.step = "expiry"
        rows = [[(_("{hours} hours").format(hours=h), f"exp:{h}") for h in EXPIRY_CHOICES]]
        await self._say(
            update,
            _("How long does it hold? After that it is never delivered late."),
            keyboard(rows),
        )

    async def chose_expiry(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        composition = self.composing(context)
        if composition is None or composition.step != "expiry" or not arg.isdigit():
            return
        _ = self.lang(update).gettext
        draft = AlertDraft(
            kind=composition.kind,
            zones=composition.zones,
            texts=composition.texts,
            expires_in=timedelta(hours=int(arg)),
            refers_to=composition.refers_to,
        )
        try:
            alert = await self.alerts.draft(draft, me.actor())
        except AlertError as exc:
            self._stop(context)
            await self._say(
                update, _("Not drafted: {reason}. /alert to start again.").format(reason=exc)
            )
            return
        await self._preview(update, composition, alert)

    async def _preview(self, update: Update, composition: Composition, alert: Alert) -> None:
        _ = self.lang(update).gettext
        composition.step = "preview"
        composition.alert_id = alert.id
        preview = await self.alerts.preview(alert.id)
        needs_approval = await self.alerts.needs_approval()
        send_label = _("Send for approval") if needs_approval else _("Send now")
        await self._say(
            update,
            self.describe(update, alert.id, preview, alert.texts),
            keyboard([[(send_label, f"send:{alert.id}"), (_("Cancel"), f"drop:{alert.id}")]]),
        )

    def describe(
        self, update: Update, alert_id: int, preview: Preview, texts: dict[str, str]
    ) -> str:
        """The preview: recipients by channel and language, SMS cost, time, and the texts."""
        _ = self.lang(update).gettext
        lines = [_("Preview of #{id}: {people} people").format(id=alert_id, people=preview.total)]
        for (channel, code), n in sorted(preview.recipients.items()):
            lines.append(f"• {channel} · {self.content.language_name(code)}: {n}")
        for code, cost in sorted(preview.segments.items()):
            forced = (
                _(" (forced by {characters})").format(characters=" ".join(cost.non_gsm))
                if cost.non_gsm
                else ""
            )
            lines.append(
                _("SMS in {language}: {segments} segment(s), {encoding}{forced}").format(
                    language=self.content.language_name(code),
                    segments=cost.segments,
                    encoding=cost.encoding,
                    forced=forced,
                )
            )
        if preview.fallback:
            names = ", ".join(self.content.language_name(code) for code in preview.fallback)
            lines.append(
                _("No text of their own, they get English: {languages}").format(languages=names)
            )
        lines.append(
            _("Time to send at the provider limits: about {minutes} min").format(
                minutes=max(1, round(preview.seconds / 60))
            )
        )
        for code, text in texts.items():
            lines += ["", f"[{self.content.language_name(code)}]", text]
        return "\n".join(lines)

    async def send(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        _ = self.lang(update).gettext
        self._stop(context)
        try:
            alert = await self.alerts.submit(int(arg), me.actor())
        except (AlertError, ValueError) as exc:
            await self._say(update, _("Not sent: {reason}").format(reason=exc))
            return
        if alert.status is AlertStatus.PENDING:
            await self._say(
                update, _("Waiting for a second coordinator to approve #{id}.").format(id=alert.id)
            )
            await self._ask_for_approval(update, context, me, alert.id)
            return
        await self._say(
            update,
            _("Sending #{id} to {people} people. /status to follow it.").format(
                id=alert.id, people=alert.recipients
            ),
        )

    async def _ask_for_approval(
        self, update: Update, context: Context, me: Coordinator, alert_id: int
    ) -> None:
        """The other coordinators get the preview with Approve and Reject, through the outbox."""
        alert = await self.alerts.get(alert_id)
        preview = await self.alerts.preview(alert_id)
        text = _approval_request(self, update, me, alert_id, preview, alert.texts)
        buttons = [
            [("Approve", f"{PREFIX}approve:{alert_id}"), ("Reject", f"{PREFIX}reject:{alert_id}")]
        ]
        await self.coordinators.notify(
            text, exclude=me.id, buttons=buttons, ref=f"alert:{alert_id}"
        )

    async def approve(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        _ = self.lang(update).gettext
        try:
            alert = await self.alerts.approve(int(arg), me.actor())
        except (AlertError, ValueError) as exc:
            await self._say(update, _("Not approved: {reason}").format(reason=exc))
            return
        await self._say(
            update,
            _("Approved: sending #{id} to {people} people.").format(
                id=alert.id, people=alert.recipients
            ),
        )
        await self._tell_author(
            context,
            alert.created_by,
            _("#{id} was approved by {name} and is being sent to {people} people.").format(
                id=alert.id, name=me.label, people=alert.recipients
            ),
        )

    async def reject(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        _ = self.lang(update).gettext
        try:
            alert = await self.alerts.reject(int(arg), me.actor())
        except (AlertError, ValueError) as exc:
            await self._say(update, _("Not rejected: {reason}").format(reason=exc))
            return
        await self._say(update, _("Rejected #{id}: nothing was sent.").format(id=alert.id))
        await self._tell_author(
            context,
            alert.created_by,
            _("#{id} was rejected by {name}: nothing was sent.").format(id=alert.id, name=me.label),
        )

    async def drop(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        self._stop(context)
        await self._say(update, self.lang(update).gettext("Cancelled: nothing was sent."))

    async def _tell_author(self, context: Context, author_id: int | None, text: str) -> None:
        if author_id is not None:
            await self.coordinators.notify(text, to=[author_id])

    # --- following ----------------------------------------------------------------------

    async def status(self, update: Update) -> None:
        _ = self.lang(update).gettext
        recent = await self.alerts.recent(5)
        if not recent:
            await self._say(update, _("No alerts yet. /alert to compose one."))
            return
        lines = []
        for alert in recent:
            progress = await self.alerts.progress(alert.id)
            by_channel: dict[str, dict[str, int]] = {}
            for (channel, status), n in progress.counts.items():
                by_channel.setdefault(channel, {})[status] = n
            lines.append(
                f"#{alert.id} {alert.kind} · {alert.status} · {', '.join(alert.zones) or '-'}"
            )
            for channel, counts in sorted(by_channel.items()):
                parts = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
                lines.append(f"   {channel}: {parts}")
        await self._say(update, "\n".join(lines))

    # --- reports ---------------------------------------------------------------------------

    async def list_reports(self, update: Update) -> None:
        """Open reports by zone, newest first; reports of one zone close in time together."""
        assert self.reports is not None  # noqa: S101 (the command exists only with reports)
        _ = self.lang(update).gettext
        open_reports = await self.reports.open_reports()
        if not open_reports:
            await self._say(update, _("No open reports."))
            return
        now = self.alerts.clock()
        by_zone: dict[str, list[ReportView]] = {}
        for report in open_reports:
            by_zone.setdefault(report.zone or "?", []).append(report)
        lines = [_("Open reports:")]
        rows: list[list[tuple[str, str]]] = []
        for zone, reports in sorted(by_zone.items(), key=lambda item: -len(item[1])):
            name = self.content.zones.name_of(zone) or ""
            together = (
                _(" · {n} reports together").format(n=len(reports)) if len(reports) > 1 else ""
            )
            lines.append(f"{zone} {name}{together}".strip())
            for report in reports:
                age = int((now - (report.submitted_at or report.created_at)).total_seconds() // 60)
                who = (
                    _("verifying: {name}").format(name=report.claimed_by)
                    if report.claimed_by
                    else _("unclaimed")
                )
                what = str(report.details.get("activity") or report.details.get("text") or "")
                lines.append(f"  #{report.id} · {age} min · {who} · {what[:60]}")
                rows.append([(_("Open #{id}").format(id=report.id), f"rclaim:{report.id}")])
        await self._say(update, "\n".join(lines), keyboard(rows[:8]))

    async def duty(self, update: Update, me: Coordinator, args: list[str]) -> None:
        _ = self.lang(update).gettext
        if not args or args[0].lower() not in ("on", "off"):
            covered = ", ".join(me.duty_zones) or _("every zone")
            state = _("on duty for {zones}").format(zones=covered) if me.on_duty else _("off duty")
            await self._say(
                update,
                _("You are {state}. /duty on [ZIP codes] or /duty off.").format(state=state),
            )
            return
        on = args[0].lower() == "on"
        zones = tuple(dict.fromkeys(z for arg in args[1:] for z in arg.split(",") if z.strip()))
        unknown = [z for z in zones if self.content.zones.name_of(z) is None]
        if unknown:
            await self._say(
                update, _("Not zones of this network: {zones}").format(zones=", ".join(unknown))
            )
            return
        await self.coordinators.set_duty(me.id, on, zones, me.actor())
        if on:
            text = _("On duty: new reports for {zones} come to you.").format(
                zones=", ".join(zones) or _("every zone")
            )
        else:
            text = _("Off duty: new reports go to the others (to everyone if nobody is on duty).")
        await self._say(update, text)

    async def _report_action(
        self, update: Update, context: Context, arg: str, action: Any
    ) -> ReportView | None:
        """Run a report action; on success refresh every coordinator's card of it."""
        if self.reports is None or not arg.isdigit():
            return None
        try:
            view: ReportView = await action(int(arg))
        except ReportError as exc:
            await self._say(update, str(exc))
            return None
        await self._refresh_cards(context, view)
        return view

    async def _refresh_cards(self, context: Context, view: ReportView) -> None:
        """Edit the card every coordinator got: who took it, the verdict, no more buttons."""
        assert self.reports is not None  # noqa: S101
        lang = self.content.lang(DEFAULT_LANGUAGE)
        text = render_card(view, self.content, lang.gettext)
        markup = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(label, callback_data=data) for label, data in row]
                for row in card_buttons(view, lang.gettext)
            ]
        )
        for chat_id, message_id in await self.reports.cards(view.id):
            try:
                await context.bot.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, reply_markup=markup
                )
            except Exception:
                # The card is a convenience; /reports shows the truth.
                log.warning("could not update a report card")

    async def report_claim(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        assert self.reports is not None  # noqa: S101
        reports = self.reports
        view = await self._report_action(
            update, context, arg, lambda i: reports.claim(i, me.actor())
        )
        if view is not None:
            _ = self.lang(update).gettext
            await self._say(
                update,
                render_card(view, self.content, _),
                keyboard(
                    [
                        [(label, data.removeprefix(PREFIX)) for label, data in row]
                        for row in card_buttons(view, _)
                    ]
                ),
            )

    async def _verdict(
        self, update: Update, context: Context, me: Coordinator, arg: str, outcome: ReportStatus
    ) -> ReportView | None:
        assert self.reports is not None  # noqa: S101
        reports = self.reports
        return await self._report_action(
            update, context, arg, lambda i: reports.decide(i, outcome, me.actor())
        )

    async def report_not_confirmed(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        if await self._verdict(update, context, me, arg, ReportStatus.NOT_CONFIRMED):
            await self._say(
                update,
                self.lang(update).gettext("#{id}: not confirmed. Nothing is sent.").format(id=arg),
            )

    async def report_false_alarm(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        if await self._verdict(update, context, me, arg, ReportStatus.FALSE_ALARM):
            await self._say(
                update,
                self.lang(update).gettext("#{id}: false alarm. Nothing is sent.").format(id=arg),
            )

    async def report_duplicate_choices(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        if self.reports is None or not arg.isdigit():
            return
        _ = self.lang(update).gettext
        try:
            view = await self.reports.view(int(arg))
        except ReportError as exc:
            await self._say(update, str(exc))
            return
        if not view.nearby:
            await self._say(
                update,
                _("No other report of zone {zone} within 3 hours.").format(zone=view.zone or "?"),
            )
            return
        rows = [[(f"#{other}", f"rdupof:{view.id}-{other}")] for other in view.nearby[:8]]
        await self._say(update, _("#{id} repeats which report?").format(id=view.id), keyboard(rows))

    async def report_duplicate(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        report, _sep, other = arg.partition("-")
        if self.reports is None or not other.isdigit():
            return
        reports = self.reports
        view = await self._report_action(
            update,
            context,
            report,
            lambda i: reports.decide(
                i, ReportStatus.DUPLICATE, me.actor(), duplicate_of=int(other)
            ),
        )
        if view is not None:
            await self._say(
                update,
                self.lang(update)
                .gettext("#{id} marked a duplicate of #{other}.")
                .format(id=view.id, other=other),
            )

    async def report_ask(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        if not arg.isdigit() or context.user_data is None:
            return
        context.user_data[ASKING] = int(arg)
        await self._say(
            update,
            self.lang(update)
            .gettext(
                "Type the one question for the reporter of #{id}. They see it from the network, "
                "not from you; their answer comes back here. /cancel to stop."
            )
            .format(id=arg),
        )

    async def _relay_question(
        self, update: Update, me: Coordinator, report_id: int, question: str
    ) -> None:
        assert self.reports is not None  # noqa: S101
        _ = self.lang(update).gettext
        try:
            await self.reports.ask(report_id, question, me.actor())
        except ReportError as exc:
            await self._say(update, str(exc))
            return
        await self._say(update, _("Sent to the reporter of #{id}.").format(id=report_id))

    async def report_block(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        if self.reports is None or not arg.isdigit():
            return
        try:
            await self.reports.block_sender(int(arg), me.actor())
        except ReportError as exc:
            await self._say(update, str(exc))
            return
        await self._say(
            update,
            self.lang(update)
            .gettext("The sender of #{id} can send no more reports.")
            .format(id=arg),
        )

    async def report_photo(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        chat = update.effective_chat
        if self.reports is None or not arg.isdigit() or chat is None:
            return
        file_id = await self.reports.photo(int(arg))
        if file_id is None:
            await self._say(
                update, self.lang(update).gettext("No photo is kept for #{id}.").format(id=arg)
            )
            return
        await context.bot.send_photo(chat.id, file_id, caption=f"#{arg}")

    async def report_confirm(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        """Confirmed: the verdict, then an alert draft prefilled from the report, previewed."""
        assert self.reports is not None  # noqa: S101
        view = await self._verdict(update, context, me, arg, ReportStatus.CONFIRMED)
        if view is None:
            return
        _ = self.lang(update).gettext
        draft = self.reports.alert_draft(view)
        try:
            alert = await self.alerts.draft(draft, me.actor())
        except AlertError as exc:
            await self._say(
                update,
                _(
                    "#{id} is confirmed, but no draft could be made: {reason}. /alert to write one."
                ).format(id=view.id, reason=exc),
            )
            return
        await self.reports.link_alert(view.id, alert.id, me.actor())
        composition = Composition(step="preview", zones=draft.zones, texts=dict(draft.texts))
        if context.user_data is not None:
            context.user_data[COMPOSER] = composition
        await self._say(
            update,
            _("#{id} confirmed. An alert is drafted from it: check the text and the zones.").format(
                id=view.id
            ),
        )
        await self._preview(update, composition, alert)

    # --- workshops -------------------------------------------------------------------------

    def _planning(self, context: Context) -> dict[str, Any] | None:
        data = context.user_data if context.user_data is not None else {}
        found = data.get(PLANNING)
        return found if isinstance(found, dict) else None

    async def workshop(
        self, update: Update, context: Context, me: Coordinator, args: list[str]
    ) -> None:
        """`/workshop`: set one up step by step; `/workshop list`: the upcoming ones, to cancel."""
        assert self.workshops is not None  # noqa: S101 (the command exists only with workshops)
        _ = self.lang(update).gettext
        if args and args[0].lower() == "list":
            upcoming = await self.workshops.upcoming(10)
            if not upcoming:
                await self._say(update, _("No workshops are scheduled."))
                return
            code = self.lang(update).code
            lines = [
                f"#{w.id} {w.title(code)}: {self.workshops.when(w.starts_at, code)}, {w.place} "
                f"({w.going}{'/' + str(w.capacity) if w.capacity else ''})"
                for w in upcoming
            ]
            rows = [[(_("Cancel #{id}").format(id=w.id), f"wcancel:{w.id}")] for w in upcoming]
            lines.append(_("To move one: /workshop move ID YYYY-MM-DD HH:MM [new place]"))
            await self._say(update, "\n".join(lines), keyboard(rows))
            return
        if args and args[0].lower() == "move":
            await self._move_workshop(update, me, args[1:])
            return
        if context.user_data is not None:
            context.user_data[PLANNING] = {"step": WORKSHOP_STEPS[0]}
        await self._say(update, _("New workshop. Its title in English? (/cancel to stop)"))

    async def _move_workshop(self, update: Update, me: Coordinator, args: list[str]) -> None:
        """`/workshop move ID YYYY-MM-DD HH:MM [new place]`: everyone coming is told."""
        assert self.workshops is not None  # noqa: S101
        _ = self.lang(update).gettext
        try:
            workshop_id = int(args[0])
            naive = datetime.strptime(" ".join(args[1:3]), "%Y-%m-%d %H:%M")  # noqa: DTZ007
        except (IndexError, ValueError):
            await self._say(
                update, _("Say /workshop move ID YYYY-MM-DD HH:MM, and a new place if it changes.")
            )
            return
        place = " ".join(args[3:]) or None
        try:
            told = await self.workshops.move(
                workshop_id, naive.replace(tzinfo=self.workshops.timezone), me.actor(), place
            )
        except WorkshopError as exc:
            await self._say(update, str(exc))
            return
        await self._say(
            update,
            _("Workshop #{id} is moved; {n} people are told.").format(id=workshop_id, n=told),
        )

    async def workshop_step(
        self, update: Update, context: Context, me: Coordinator, text: str | None
    ) -> None:
        assert self.workshops is not None  # noqa: S101
        plan = self._planning(context)
        if plan is None:
            return
        _ = self.lang(update).gettext
        step = plan["step"]
        value = (text or "").strip()
        if step == "start":
            try:
                naive = datetime.strptime(value, "%Y-%m-%d %H:%M")  # noqa: DTZ007 (zone below)
            except ValueError:
                await self._say(
                    update, _("Send the start as YYYY-MM-DD HH:MM, for example 2027-01-09 10:00.")
                )
                return
            plan["start"] = naive.replace(tzinfo=self.workshops.timezone)
        elif step == "zones":
            zones = tuple(z.strip() for z in value.replace(" ", ",").split(",") if z.strip()) or (
                "all",
            )
            plan["zones"] = tuple("all" if z.lower() in ALL_WORDS else z for z in zones)
        elif step == "capacity":
            if value and not value.isdigit():
                await self._say(update, _("A number of seats, or /skip for no limit."))
                return
            plan["capacity"] = int(value) if value else None
        elif value or step != "title":
            plan[step] = value or None
        else:
            return  # the English title cannot be skipped
        following = WORKSHOP_STEPS.index(step) + 1
        if following < len(WORKSHOP_STEPS):
            plan["step"] = WORKSHOP_STEPS[following]
            prompts = {
                "title_es": _("Its title in Spanish? (/skip to use the English one)"),
                "start": _("When does it start? YYYY-MM-DD HH:MM, network time."),
                "place": _("Where? An address or an online link."),
                "zones": _("Which zones does it serve? ZIP codes separated by commas, or all."),
                "capacity": _("How many seats? (/skip for no limit)"),
            }
            await self._say(update, prompts[plan["step"]])
            return
        plan["step"] = "confirm"
        code = self.lang(update).code
        summary = _("{title}: {when}, {place}. Zones: {zones}. Seats: {seats}.").format(
            title=plan["title"],
            when=self.workshops.when(plan["start"], code),
            place=plan["place"],
            zones=", ".join(plan["zones"]),
            seats=plan["capacity"] or _("no limit"),
        )
        await self._say(
            update,
            summary,
            keyboard(
                [
                    [
                        (_("Schedule"), "wsave:quiet"),
                        (_("Schedule and announce"), "wsave:announce"),
                    ],
                    [(_("Announce now, even at night"), "wsave:now"), (_("Cancel"), "wsave:drop")],
                ]
            ),
        )

    async def workshop_save(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        plan = self._planning(context)
        if self.workshops is None or plan is None or plan.get("step") != "confirm":
            return
        _ = self.lang(update).gettext
        assert context.user_data is not None  # noqa: S101 (plan came from it)
        context.user_data.pop(PLANNING, None)
        if arg == "drop":
            await self._say(update, _("Cancelled."))
            return
        titles = {"en": plan["title"], **({"es": plan["title_es"]} if plan.get("title_es") else {})}
        try:
            added = await self.workshops.add(
                WorkshopPlan(
                    titles=titles,
                    starts_at=plan["start"],
                    minutes=DEFAULT_MINUTES,
                    place=plan["place"] or "",
                    languages=tuple(self.content.languages),
                    zones=plan["zones"],
                    capacity=plan["capacity"],
                ),
                me.actor(),
            )
        except WorkshopError as exc:
            await self._say(update, _("Not scheduled: {reason}").format(reason=exc))
            return
        text = _("Workshop #{id} is scheduled.").format(id=added.id)
        if arg in ("announce", "now"):
            told = await self.workshops.announce(added.id, me.actor(), quiet_hours=arg != "now")
            later = _("The announcement goes to {n} people (after the quiet hours).")
            now = _("The announcement goes to {n} people now.")
            text += " " + (now if arg == "now" else later).format(n=told)
        await self._say(update, text)

    async def workshop_cancel(
        self, update: Update, context: Context, me: Coordinator, arg: str
    ) -> None:
        if self.workshops is None or not arg.isdigit():
            return
        _ = self.lang(update).gettext
        try:
            told = await self.workshops.cancel(int(arg), me.actor())
        except WorkshopError as exc:
            await self._say(update, str(exc))
            return
        await self._say(
            update, _("Workshop #{id} is cancelled; {n} people are told.").format(id=arg, n=told)
        )

    # --- coordinators (admins) ----------------------------------------------------------

    async def list_coordinators(self, update: Update, me: Coordinator) -> None:
        _ = self.lang(update).gettext
        everyone = await self.coordinators.all()
        lines = [_("Coordinators:")] + [f"#{c.id} {c.label} · {c.role}" for c in everyone]
        if not me.is_admin:
            await self._say(update, "\n".join(lines))
            return
        rows = [
            [
                (_("Invite a coordinator"), "invite:coordinator"),
                (_("Invite an admin"), "invite:admin"),
            ]
        ]
        rows += [
            [(_("Remove #{id}").format(id=c.id), f"remove:{c.id}")]
            for c in everyone
            if c.id != me.id
        ]
        await self._say(update, "\n".join(lines), keyboard(rows))

    async def invite(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        _ = self.lang(update).gettext
        if not me.is_admin or arg not in set(Role):
            return
        code = await self.coordinators.invite(Role(arg), me.actor())
        link = f"https://t.me/{context.bot.username}?start=inv_{code}"
        await self._say(
            update,
            _(
                "Invite for one {role}, valid 24 hours and once. Send them this link privately:\n{link}"
            ).format(role=arg, link=link),
        )

    async def remove(self, update: Update, context: Context, me: Coordinator, arg: str) -> None:
        _ = self.lang(update).gettext
        if not me.is_admin or not arg.isdigit():
            return
        try:
            await self.coordinators.remove(int(arg), me.actor())
        except CoordinatorError as exc:
            await self._say(update, str(exc))
            return
        await self._say(update, _("Removed #{id}.").format(id=arg))

    async def redeem(self, update: Update, code: str) -> None:
        """`/start inv_CODE`: join as a coordinator, or hear why the code does not work."""
        user = update.effective_user
        if user is None:
            return
        _ = self.lang(update).gettext
        try:
            joined = await self.coordinators.redeem(code, user.id, label=_("coordinator"))
        except CoordinatorError as exc:
            await self._say(update, str(exc))
            return
        await self._say(
            update,
            _(
                "Welcome, coordinator #{id}. /alert composes an alert, /status follows them, "
                "/coordinators lists the team."
            ).format(id=joined.id),
        )

    # --- helpers ------------------------------------------------------------------------

    def _stop(self, context: Context) -> None:
        if context.user_data is not None:
            context.user_data.pop(COMPOSER, None)

    async def _say(
        self, update: Update, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        chat = update.effective_chat
        if chat is not None:
            await chat.send_message(text, reply_markup=markup)


def _approval_request(
    handlers: CoordinatorHandlers,
    update: Update,
    author: Coordinator,
    alert_id: int,
    preview: Preview,
    texts: dict[str, str],
) -> str:
    _ = handlers.lang(update).gettext
    head = _("{name} asks you to approve #{id} before it goes out.").format(
        name=author.label, id=alert_id
    )
    return head + "\n\n" + handlers.describe(update, alert_id, preview, texts)


class Summaries:
    """Tells each composer how their alert went once every delivery has ended, through the
    outbox (a crash between marking an alert summarised and queueing its notice can still lose
    that one summary; /status shows the same counts)."""

    def __init__(
        self,
        alerts: Alerts,
        coordinators: Coordinators,
        content: Content,
        every: float = 2.0,
    ) -> None:
        self.alerts = alerts
        self.coordinators = coordinators
        self.content = content
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
                    summary(self.content.lang(DEFAULT_LANGUAGE), progress),
                    to=[progress.alert.created_by],
                    ref=f"alert:{progress.alert.id}",
                )
        return len(finished)


def summary(lang: Lang, progress: Progress) -> str:
    _ = lang.gettext
    alert = progress.alert
    totals: dict[str, int] = {}
    for (_channel, status), n in progress.counts.items():
        totals[status] = totals.get(status, 0) + n
    reached = totals.get("sent", 0) + totals.get("delivered", 0)
    lines = [
        _("#{id} is done: {reached} of {people} reached.").format(
            id=alert.id, reached=reached, people=alert.recipients
        )
    ]
    for (channel, status), n in sorted(progress.counts.items()):
        lines.append(f"• {channel} · {status}: {n}")
    return "\n".join(lines)
