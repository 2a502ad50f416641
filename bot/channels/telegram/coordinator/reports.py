"""Reports in Telegram: the card every coordinator on duty gets (one per report each, edited
in place as the report moves), /reports, and the verdicts; a question relayed to the reporter
is a flow (FlowKind.RELAY) whose one step is the question.

A card shows a report number and what was seen, never who sent it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from telegram import ReplyParameters
from telegram.error import TelegramError

from bot.channels.telegram.buttons import Card, CoordinatorButton, DuplicateOf
from bot.channels.telegram.coordinator.alerts import AlertsFeature
from bot.channels.telegram.coordinator.turn import Feature, Packed, Turn, keyboard, packed
from bot.core.alerts import AlertError, Alerts
from bot.core.cards import CardAction, card_actions
from bot.core.content import Content
from bot.core.coordinators import Coordinators
from bot.core.flows import Flow
from bot.core.helprequests import HelpError
from bot.core.i18n import N_, Lang
from bot.core.reports import ReportError, Reports, ReportView
from bot.core.vocabulary import FlowKind, ReportStatus

log = logging.getLogger(__name__)

ACTION_LABELS = {
    CardAction.OPEN: N_("Open #{id}"),
    CardAction.CLAIM: N_("I'm verifying"),
    CardAction.CONFIRM: N_("Confirmed"),
    CardAction.CONFIRM_GROUP: N_("Confirm all {n} together"),
    CardAction.NOT_CONFIRMED: N_("Not confirmed"),
    CardAction.FALSE_ALARM: N_("False alarm"),
    CardAction.DUPLICATE: N_("Duplicate of…"),
    CardAction.ASK: N_("Need more info"),
    CardAction.BLOCK: N_("Block sender"),
    CardAction.PHOTO: N_("Show photo"),
    CardAction.CALL_BACK: N_("Call back"),
    CardAction.RESOLVED: N_("Resolved"),
}
ON_IT = N_("I'm on it")  # a help request's claim: nothing to verify
VERDICTS = {
    CardAction.CONFIRM: ReportStatus.CONFIRMED,
    CardAction.NOT_CONFIRMED: ReportStatus.NOT_CONFIRMED,
    CardAction.FALSE_ALARM: ReportStatus.FALSE_ALARM,
    CardAction.RESOLVED: ReportStatus.RESOLVED,
}
LISTED = 8  # reports /reports offers to open


def card_keyboard(view: ReportView, lang: Lang, viewer: int | None) -> Packed:
    """A card's buttons for one coordinator (core's `CardKeyboard`)."""
    return packed(
        [
            [
                (
                    lang.gettext(
                        ON_IT
                        if action is CardAction.CLAIM and view.help_for is not None
                        else ACTION_LABELS[action]
                    ).format(id=view.id, n=len(view.group) + 1),
                    Card(view.id, action),
                )
                for action in row
            ]
            for row in card_actions(view, viewer)
        ]
    )


class ReportsFeature(Feature):
    """/reports, a card's buttons, and the relayed question."""

    commands = ("reports",)
    buttons = (Card, DuplicateOf)
    flow = FlowKind.RELAY

    def __init__(
        self,
        reports: Reports,
        alerts: Alerts,
        composer: AlertsFeature,
        coordinators: Coordinators,
        content: Content,
    ) -> None:
        self.reports = reports
        self.alerts = alerts
        self.composer = composer
        self.coordinators = coordinators
        self.content = content

    def help(self, turn: Turn) -> list[str]:
        return [turn._("/reports lists the open reports, by zone")]

    async def command(self, turn: Turn, name: str, args: list[str]) -> None:
        """Open reports by zone, newest first; reports of one zone close in time together."""
        _ = turn._
        open_reports = await self.reports.open_reports()
        if not open_reports:
            await turn.say(_("No open reports."))
            return
        now = self.reports.clock()
        by_zone: dict[str, list[ReportView]] = {}
        for report in open_reports:
            by_zone.setdefault(report.zone or "?", []).append(report)
        lines = [_("Open reports:")]
        listed: list[ReportView] = []
        for zone, reports in sorted(by_zone.items(), key=lambda item: -len(item[1])):
            name = self.content.zones.name_of(zone) or ""
            together = (
                turn.n_(" · {n} report", " · {n} reports together", len(reports)).format(
                    n=len(reports)
                )
                if len(reports) > 1
                else ""
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
                if report.help_for is not None:
                    what = _("HELP REQUEST after alert #{alert}").format(alert=report.help_for)
                minutes = turn.n_("{n} min", "{n} min", age).format(n=age)
                lines.append(f"  #{report.id} · {minutes} · {who} · {what[:60]}".rstrip(" ·"))
                listed.append(report)
        rows = [
            [(_(ACTION_LABELS[CardAction.OPEN]).format(id=r.id), Card(r.id, CardAction.OPEN))]
            for r in listed[:LISTED]
        ]
        await turn.say("\n".join(lines), rows)

    # --- buttons -----------------------------------------------------------------------

    async def button(self, turn: Turn, button: CoordinatorButton) -> None:
        if isinstance(button, DuplicateOf):
            await self._duplicate(turn, button.report, button.of)
            return
        if not isinstance(button, Card):
            await turn.stale()
            return
        action, report_id = button.action, button.report
        if action is CardAction.OPEN:
            await self._open(turn, report_id)
        elif action is CardAction.CLAIM:
            await self._act(turn, report_id, self.reports.claim(report_id, turn.me.actor()))
        elif action in VERDICTS:
            await self._verdict(turn, report_id, VERDICTS[action])
        elif action is CardAction.CONFIRM_GROUP:
            await self._confirm_group(turn, report_id)
        elif action is CardAction.DUPLICATE:
            await self._duplicate_choices(turn, report_id)
        elif action is CardAction.ASK:
            await self._ask(turn, report_id)
        elif action is CardAction.BLOCK:
            await self._block(turn, report_id)
        elif action is CardAction.CALL_BACK:
            await self._call_back(turn, report_id)
        else:
            await self._photo(turn, report_id)

    async def _view(self, turn: Turn, report_id: int) -> ReportView | None:
        try:
            return await self.reports.view(report_id)
        except ReportError as exc:
            await turn.answer(exc.say(turn._))
            return None

    async def _open(self, turn: Turn, report_id: int) -> None:
        """Show the card (opening is not claiming). One card per report per coordinator: if
        theirs is already in the chat, it is brought up to date and pointed at (a reply to
        it, which Telegram lets them tap to jump to); only a coordinator without one (who
        joined later, or whose card was never delivered) gets a new copy."""
        view = await self._view(turn, report_id)
        if view is None:
            return
        await turn.answer()
        chat = turn.update.effective_chat
        mine = [m for c, m in await self.reports.cards(report_id) if chat and c == chat.id]
        if chat is None or not mine:
            await turn.show(*self.reports.card(view, turn.lang, turn.me.id))
            return
        await self.refresh(turn, report_id, view, pressed_is_card=False)
        try:
            await chat.send_message(
                turn._("This is your card of #{id}.").format(id=report_id),
                reply_parameters=ReplyParameters(mine[-1], allow_sending_without_reply=False),
            )
        except TelegramError:  # the card was deleted in the chat: a new one, then
            await turn.show(*self.reports.card(view, turn.lang, turn.me.id))

    async def _act(
        self, turn: Turn, report_id: int, action: Awaitable[ReportView]
    ) -> ReportView | None:
        """Run a report action; on success, every coordinator's card of it is edited."""
        try:
            view = await action
        except ReportError as exc:
            await turn.answer(exc.say(turn._))
            await self.refresh(turn, report_id)
            return None
        await turn.answer()
        await self.refresh(turn, view.id, view)
        return view

    async def refresh(
        self,
        turn: Turn,
        report_id: int,
        view: ReportView | None = None,
        *,
        pressed_is_card: bool = True,
    ) -> None:
        """Edit every coordinator's card of the report: who took it, the verdict, and the
        buttons each of them may still use. The pressed message is edited too, when it is a
        card (not the /reports list an Open button sits on)."""
        if view is None:
            try:
                view = await self.reports.view(report_id)
            except ReportError:
                return
        chats = {chat: cid for cid, chat in (await self.coordinators.telegram_ids()).items()}
        languages = {c.id: c.language for c in await self.coordinators.all()}
        targets = set(await self.reports.cards(report_id))
        query = turn.update.callback_query
        pressed = query.message if query is not None else None
        if pressed_is_card and pressed is not None and turn.update.effective_chat is not None:
            targets.add((turn.update.effective_chat.id, pressed.message_id))
        for chat_id, message_id in targets:
            viewer = chats.get(chat_id)
            if viewer is None:
                continue
            lang = (
                turn.lang if viewer == turn.me.id else self.content.speaking(languages.get(viewer))
            )
            text, rows = self.reports.card(view, lang, viewer)
            try:
                await turn.context.bot.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, reply_markup=keyboard(rows)
                )
            except TelegramError as exc:
                # The card is a convenience; /reports shows the truth.
                log.info("report card not edited", extra={"error": type(exc).__name__})

    async def _verdict(self, turn: Turn, report_id: int, outcome: ReportStatus) -> None:
        _ = turn._
        view = await self._act(
            turn, report_id, self.reports.decide(report_id, outcome, turn.me.actor())
        )
        if view is None:
            return
        if outcome is ReportStatus.CONFIRMED:
            await self._draft_alert(turn, view)
        elif outcome is ReportStatus.RESOLVED:
            await turn.say(_("Help request #{id}: resolved.").format(id=view.id))
        elif outcome is ReportStatus.NOT_CONFIRMED:
            await turn.say(_("#{id}: not confirmed. Nothing is sent.").format(id=view.id))
        else:
            await turn.say(_("#{id}: false alarm. Nothing is sent.").format(id=view.id))

    async def _confirm_group(self, turn: Turn, report_id: int) -> None:
        """Reports that corroborate each other, confirmed at once: this one (its alert draft
        opens), and the nearby ones nobody has claimed marked its duplicates, so their
        reporters hear that volunteers are on it."""
        view = await self._view(turn, report_id)
        if view is None:
            return
        await self._verdict(turn, report_id, ReportStatus.CONFIRMED)
        for other in view.group:
            try:
                done = await self.reports.decide(
                    other, ReportStatus.DUPLICATE, turn.me.actor(), duplicate_of=report_id
                )
            except ReportError:
                continue  # claimed or decided meanwhile: left to whoever has it
            await self.refresh(turn, other, done, pressed_is_card=False)
            await turn.say(
                turn._("#{id} marked a duplicate of #{other}.").format(id=other, other=report_id)
            )

    async def _draft_alert(self, turn: Turn, view: ReportView) -> None:
        """Confirmed: an alert draft prefilled from the report, at the composer's preview."""
        _ = turn._
        draft = self.reports.alert_draft(view)
        try:
            alert = await self.alerts.draft(draft, turn.me.actor())
        except AlertError as exc:
            await turn.say(
                _(
                    "#{id} is confirmed, but no draft could be made: {reason}. /alert to write one."
                ).format(id=view.id, reason=exc.say(_))
            )
            return
        await self.reports.link_alert(view.id, alert.id, turn.me.actor())
        await turn.say(
            _(
                "#{id} confirmed. An alert is drafted from it: check every part before sending."
            ).format(id=view.id)
        )
        await self.composer.show_draft(turn, alert, draft)

    async def _duplicate_choices(self, turn: Turn, report_id: int) -> None:
        _ = turn._
        view = await self._view(turn, report_id)
        if view is None:
            return
        await turn.answer()
        if not view.nearby:
            await turn.say(
                _("No other report of zone {zone} within 3 hours.").format(zone=view.zone or "?")
            )
            return
        rows = [[(f"#{other}", DuplicateOf(view.id, other))] for other in view.nearby[:8]]
        await turn.say(_("#{id} repeats which report?").format(id=view.id), rows)

    async def _duplicate(self, turn: Turn, report_id: int, other: int) -> None:
        view = await self._act(
            turn,
            report_id,
            self.reports.decide(
                report_id, ReportStatus.DUPLICATE, turn.me.actor(), duplicate_of=other
            ),
        )
        if view is not None:
            await turn.close_keyboard(f"#{other}")
            await turn.say(
                turn._("#{id} marked a duplicate of #{other}.").format(id=view.id, other=other)
            )

    async def _ask(self, turn: Turn, report_id: int) -> None:
        if await self._view(turn, report_id) is None:
            return
        await turn.answer()
        if await turn.may_start(FlowKind.RELAY, report_id):
            await self.begin(turn, report_id)

    async def begin(self, turn: Turn, subject: int = 0) -> None:
        if not subject:  # a relay is always about a report: it starts from the card
            await turn.say(turn._("Press Need more info on the report's card again."))
            return
        # Checked before the flow starts: a question to a report that does not exist (a
        # forged button) or is decided would take the coordinator's next message for nothing.
        try:
            view = await self.reports.view(subject)
        except ReportError as exc:
            await turn.say(exc.say(turn._))
            return
        if not view.open:
            await turn.say(turn._("#{id} is decided: no question can be sent.").format(id=subject))
            return
        flow = await turn.flows.start(turn.me.id, FlowKind.RELAY, "question", {"report": subject})
        await self.resume(turn, flow)

    async def resume(self, turn: Turn, flow: Flow) -> None:
        await turn.say(
            turn._(
                "Type the one question for the reporter of #{id}. They see it from the network, "
                "not from you; their answer comes back here. /cancel to stop."
            ).format(id=flow.data["report"])
        )

    async def step(self, turn: Turn, flow: Flow, text: str | None) -> None:
        _ = turn._
        if text is None or not text.strip():
            await self.resume(turn, flow)
            return
        report_id = int(flow.data["report"])
        await turn.flows.end(turn.me.id, flow.token)
        try:
            await self.reports.ask(report_id, text, turn.me.actor())
        except ReportError as exc:
            await turn.say(exc.say(turn._))
            return
        await turn.say(_("Sent to the reporter of #{id}.").format(id=report_id))

    async def _block(self, turn: Turn, report_id: int) -> None:
        try:
            await self.reports.block_sender(report_id, turn.me.actor())
        except ReportError as exc:
            await turn.answer(exc.say(turn._))
            return
        await turn.answer()
        await turn.say(turn._("The sender of #{id} can send no more reports.").format(id=report_id))

    async def _call_back(self, turn: Turn, report_id: int) -> None:
        """The hotline rings the coordinator's phone, then the person: both see only the
        hotline's number."""
        try:
            await self.reports.call_back(report_id, turn.me.actor())
        except (ReportError, HelpError) as exc:
            await turn.answer(exc.say(turn._))
            await turn.say(exc.say(turn._))
            return
        await turn.answer()
        await turn.say(
            turn._(
                "Calling your hotline phone now. Press 1 when it rings and you will be connected "
                "to the person of #{id}; neither of you sees the other's number."
            ).format(id=report_id)
        )

    async def _photo(self, turn: Turn, report_id: int) -> None:
        chat = turn.update.effective_chat
        try:
            file_id = await self.reports.photo(report_id)
        except ReportError as exc:
            await turn.answer(exc.say(turn._))
            return
        await turn.answer()
        if file_id is None or chat is None:
            await turn.say(turn._("No photo is kept for #{id}.").format(id=report_id))
            return
        await turn.context.bot.send_photo(chat.id, file_id, caption=f"#{report_id}")
