"""The reporter's side of the conversation: a report begun, its questions answered, the
receipt, and the refusals, in words. What the report does with them is in `bot.core.reporting`."""

from __future__ import annotations

from bot.core.conversation.messages import Choice, Reply
from bot.core.conversation.turn import BaseTurn
from bot.core.intents import Intent, Request
from bot.core.parse import number
from bot.core.reporting import AWAIT_LOCATION, PROMPTS, Refusal
from bot.core.reports import Reports
from bot.core.vocabulary import ReplyTaken, ReportRefusal, ReportStatus
from bot.storage.models import ReportRow


class ReportAnswers(BaseTurn):
    """Answers to REPORT and its buttons, and to whatever replies to an open report."""

    async def report(self) -> list[Reply]:
        _ = self._
        reports = self.c.reports
        if reports is None:
            return [Reply(self._call_hotline())]
        refusal = await reports.refused(self.session, self.inbound.channel, self.inbound.address)
        if refusal is not None:
            return [Reply(self._refusal(refusal))]
        if self.sms:
            if not self.request.arg:
                return [
                    Reply(
                        _(
                            "Text REPORT and what you see, where (cross streets or a landmark, "
                            "not a home address) and when. Example: REPORT 2 ICE vans at 26th "
                            "and Pulaski, now"
                        )
                    )
                ]
            return await self._take_sms_report(reports, self.request.arg)
        row = await reports.start(
            self.session, self.inbound.channel, self.inbound.address, self.lang.code, self._zone()
        )
        intro = _(
            "Report what you see. Answer what you can: every question can be skipped, and "
            "Send now sends what you have. The volunteers who verify it never see who you are."
        )
        return [Reply(intro), self._report_question(row.step or "")]

    async def _take_sms_report(self, reports: Reports, text: str) -> list[Reply]:
        row = await reports.take_text(
            self.session,
            self.inbound.channel,
            self.inbound.address,
            self.lang.code,
            self._zone(),
            text,
        )
        replies = [Reply(self._receipt(row.id))]
        if row.step == AWAIT_LOCATION:
            replies.append(
                Reply(
                    self._("What cross streets or landmark? Reply with them (not a home address).")
                )
            )
        return replies

    def _zone(self) -> str | None:
        return self.row.zone if self.row is not None else None

    def _report_question(self, step: str) -> Reply:
        _ = self._
        return Reply(
            _(PROMPTS[step]),
            (
                Choice(_("Skip"), Request(Intent.REPORT_ACTION, "skip")),
                Choice(_("Send now"), Request(Intent.REPORT_ACTION, "send")),
            ),
        )

    def _receipt(self, report_id: int) -> str:
        _ = self._
        text = _(
            "Report #{id} received. Trained volunteers verify it before any alert goes out. "
            "Stay safe: keep your distance and do not obstruct. Please don't share unverified "
            "news."
        ).format(id=report_id)
        if self.sms:
            text += " " + _("Reply YES to hear the outcome.")
        return text

    def _receipt_reply(self, report_id: int) -> Reply:
        return Reply(
            self._receipt(report_id),
            (
                Choice(
                    self._("Tell me the outcome"),
                    Request(Intent.REPORT_ACTION, f"outcome:{report_id}"),
                ),
            ),
        )

    def _refusal(self, refusal: Refusal) -> str:
        _ = self._
        if refusal.reason is ReportRefusal.LIMIT:
            return _(
                "You have sent several reports in the last hour. For anything urgent, call "
                "the hotline {hotline}."
            ).format(hotline=self.content.network.hotline)
        return _("This report could not be taken. Call the hotline {hotline}.").format(
            hotline=self.content.network.hotline
        )

    def _call_hotline(self) -> str:
        return self._(
            "To report immigration enforcement, call the hotline {hotline}: trained "
            "volunteers verify reports before any alert. Please don't share "
            "unverified news."
        ).format(hotline=self.content.network.hotline)

    async def report_reply(self, reports: Reports, row: ReportRow) -> list[Reply]:
        """The sender's message answers their open report: a draft's question, the place,
        a coordinator's question, or YES to the outcome."""
        # In the report's language, whatever word the answer begins with ("Stop and ...").
        self.lang = self.content.speaking(row.language)
        self._ = _ = self.lang.gettext
        if row.status == ReportStatus.DRAFT:
            action = self.request.arg if self.request.intent is Intent.REPORT_ACTION else None
            if action == "send":
                return await self._submit_draft(reports, row)
            answer = None if action == "skip" else self.inbound.text
            following = reports.fill(row, answer, self.inbound.photo)
            if following is None:
                return await self._submit_draft(reports, row)
            return [self._report_question(following)]
        text = self.inbound.text or ""
        if self.request.intent is Intent.REPORT_ACTION or not text.strip():
            return await self.menu()
        taken = await reports.take_reply(self.session, row, text)
        if taken is ReplyTaken.LOCATION:
            return [Reply(_("Thank you, added to report #{id}.").format(id=row.id))]
        if taken is ReplyTaken.ANSWER:
            return [Reply(_("Thank you, your answer was passed on."))]
        if taken is ReplyTaken.OUTCOME:
            return [Reply(_("We will tell you the outcome of report #{id}.").format(id=row.id))]
        return await self.menu()

    async def _submit_draft(self, reports: Reports, row: ReportRow) -> list[Reply]:
        _ = self._
        if not reports.has_substance(row):
            # Send now before saying anything: asked once more, then dropped, in words.
            if reports.ask_again(row):
                return [
                    Reply(_("A report needs at least what you see or where it is.")),
                    self._report_question(row.step or ""),
                ]
            await reports.drop(self.session, row)
            # (A guided report is Telegram's: SMS takes a report in one message.)
            return [
                Reply(
                    _(
                        "Nothing was sent: a report needs what you see or where. Send /report "
                        "to start again."
                    )
                )
            ]
        await reports.submit(self.session, row)
        return [self._receipt_reply(row.id)]

    async def report_action(self) -> list[Reply]:
        """A report button outside a draft: "Tell me the outcome" on a receipt."""
        reports = self.c.reports
        kind, _sep, arg = (self.request.arg or "").partition(":")
        report_id = number(arg)
        if reports is None or kind != "outcome" or report_id is None:
            return await self.menu()
        taken = await reports.want_outcome(
            self.session, self.inbound.channel, self.inbound.address, report_id
        )
        if not taken:
            return await self.menu()
        return [Reply(self._("We will tell you the outcome of report #{id}.").format(id=arg))]
