"""The conversation: what the bot answers to each request, the same on every channel.

Channels parse input into a `Request`, call `Conversation.handle`, and render the `Reply`s:
Telegram turns choices into buttons; SMS texts already carry their numbered menus.

This module says which answer each request gets (`_Turn.answer`); the answers themselves live
in one module per feature: `consent` (JOIN, STOP, HELP), `preferences` (language, ZIP code),
`rights`, `workshops` (and RSVP), `reports` (a report and its replies), over the state of one
turn in `turn`. The types channels use are in `messages`, re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, tzinfo

from bot.core.content import Content, is_real_zip
from bot.core.conversation.checkin import CheckInAnswers
from bot.core.conversation.consent import ConsentAnswers
from bot.core.conversation.messages import Attachment, Choice, Inbound, Reply, Style, ZoneCheck
from bot.core.conversation.preferences import PreferenceAnswers
from bot.core.conversation.reports import ReportAnswers
from bot.core.conversation.rights import RightsAnswers
from bot.core.conversation.verify import VerifyAnswers
from bot.core.conversation.workshops import WorkshopAnswers
from bot.core.intents import Intent
from bot.core.reporting import looks_like_report
from bot.core.reports import Reports
from bot.core.vocabulary import Channel, SubscriberStatus
from bot.core.workshops import Workshops
from bot.storage.crypto import Vault
from bot.storage.db import Conflict, Database
from bot.storage.subscribers import Subscribers

log = logging.getLogger(__name__)

__all__ = ["Attachment", "Choice", "Conversation", "Inbound", "Reply", "Style", "ZoneCheck"]

LONG_SMS = 160  # characters: more than one segment of free text

# What may answer an open report: free text (MENU), a photo, its buttons, and on SMS a bare
# ZIP code or number (the place, an answer) rather than a change of zone or a rights topic.
REPORT_REPLIES = frozenset(
    {Intent.MENU, Intent.REPORT_ACTION, Intent.SET_ZONE, Intent.RIGHTS_TOPIC}
)


class Conversation:
    """Answers requests, and keeps each subscriber's consent, language and zone."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        content: Content,
        clock: Callable[[], datetime],
        reports: Reports | None = None,
        workshops: Workshops | None = None,
        *,
        opt_in_keywords: tuple[str, ...] = ("START", "UNSTOP", "YES"),
        timezone: tzinfo = UTC,
        verify_hours: int = 6,
        verify_per_hour: int = 10,
    ) -> None:
        self.db = db
        self.vault = vault
        self.content = content
        self.clock = clock
        self.reports = reports
        self.workshops = workshops
        # The keywords that lift Twilio's block after a STOP (TWILIO_OPT_IN_KEYWORDS); the
        # first is the one every STOP confirmation names.
        self.opt_in_keywords = opt_in_keywords
        self.timezone = timezone  # the network's: the times VERIFY's answers show
        self.verify_hours = verify_hours  # how far back VERIFY looks (VERIFY_HOURS)
        self.verify_per_hour = verify_per_hour  # questions one sender may ask in an hour

    def check_zone(self, zip_code: str) -> ZoneCheck:
        if self.content.zones.name_of(zip_code) is not None:
            return ZoneCheck.IN_AREA
        return ZoneCheck.OUTSIDE_AREA if is_real_zip(zip_code) else ZoneCheck.NOT_A_ZIP

    async def handle(self, inbound: Inbound) -> list[Reply]:
        try:
            return await self._handle(inbound)
        except Conflict:
            # Two messages from one newcomer at once (a double tap on /start): the other
            # transaction created the subscriber first; answering again now finds it.
            return await self._handle(inbound)

    async def _handle(self, inbound: Inbound) -> list[Reply]:
        async with self.db.transaction() as session:
            subscribers = Subscribers(session, self.vault)
            row = await subscribers.find(inbound.channel, inbound.address)
            turn = _Turn(self, inbound, subscribers, row, session)
            replies = await turn.answer()
            return [self._out(reply, turn.lang.code, inbound.channel) for reply in replies]

    def _out(self, reply: Reply, language: str, channel: Channel) -> Reply:
        """A reply as its channel sends it in `language` (Content.sms_out, directed)."""
        return replace(reply, text=self.content.out(channel, language, reply.text))


class _Turn(
    ConsentAnswers,
    PreferenceAnswers,
    RightsAnswers,
    WorkshopAnswers,
    ReportAnswers,
    VerifyAnswers,
    CheckInAnswers,
):
    """One inbound message being answered: the features' answers, and which one it gets."""

    async def answer(self) -> list[Reply]:
        intent = self.request.intent
        if self.row is not None and self.row.status == SubscriberStatus.BLOCKED:
            # They wrote to us, so they unblocked the bot: reachable again, not yet subscribed.
            self.subscribers.set_status(
                self.row, SubscriberStatus.OPTED_OUT, via="unblocked", now=self.now
            )
        if self.sms and self.row is not None and self.row.provider_blocked:
            if not self.inbound.provider_opt_in:
                return await self._while_blocked()
            # START (or YES, or a keyword the account added): Twilio delivers again, so this
            # is a sign-up, whatever the word means elsewhere (YES to a report's outcome).
            self.row.provider_blocked = False
            if intent is not Intent.SUBSCRIBE:
                self.request = replace(self.request, intent=Intent.SUBSCRIBE, arg=None)
                intent = Intent.SUBSCRIBE
        silenced = self.sms and self.row is not None and not self.active
        if silenced and intent not in (Intent.SUBSCRIBE, Intent.HELP):
            # Carrier rules: after STOP, silence until they opt in again; HELP still answers.
            # A report is still taken (a safety matter), without an answer.
            if intent is Intent.REPORT and self.request.arg and self.c.reports is not None:
                await self._take_sms_report(self.c.reports, self.request.arg)
            return []
        text = self.inbound.text or ""
        # On Telegram, any text that is not a command answers an open report (an answer may
        # begin with a word like "stop"); on SMS the carrier keywords keep their meaning.
        free = not self.sms and (
            bool(self.inbound.photo) or (bool(text) and not text.startswith("/"))
        )
        if intent is Intent.RIGHTS_TOPIC and (checked_in := await self.check_in()) is not None:
            return checked_in  # a bare 1 or 2 after an alert's check-in
        if self.c.reports is not None and (intent in REPORT_REPLIES or free):
            pending = await self.c.reports.awaiting(
                self.session, self.inbound.channel, self.inbound.address
            )
            if pending is not None:
                return await self.report_reply(self.c.reports, pending)
        if self.sms and intent is Intent.MENU and self._long_report():
            # More than one SMS of free text about agents or a place: the person is telling us
            # what they see, not asking for the menu (Twilio cuts it at 1,600 characters).
            self.request = replace(self.request, intent=Intent.REPORT, arg=text)
            intent = Intent.REPORT
        handler = {
            Intent.SUBSCRIBE: self.subscribe,
            Intent.STOP: self.stop,
            Intent.STOP_QUESTION: self.stop_question,
            Intent.HELP: self.help,
            Intent.RIGHTS: self.rights,
            Intent.RIGHTS_TOPIC: self.rights_topic,
            Intent.LANGUAGE_MENU: self.language_menu,
            Intent.SET_LANGUAGE: self.set_language,
            Intent.ZONE_PROMPT: self.zone_prompt,
            Intent.SET_ZONE: self.set_zone,
            Intent.WORKSHOPS: self.workshops,
            Intent.RSVP: self.rsvp,
            Intent.REPORT: self.report,
            Intent.REPORT_ACTION: self.report_action,
            Intent.VERIFY: self.verify,
            Intent.DRILLS: self.drills,
            Intent.MENU: self.menu,
        }[intent]
        replies = await handler()
        if self.inbound.provider_opt_out and intent is Intent.STOP:
            # Twilio blocks this number now and answers STOP itself (its confirmation names
            # START); ours would only fail, so none is sent.
            return []
        if self.inbound.provider_answered and intent in (
            Intent.SUBSCRIBE,
            Intent.STOP,
            Intent.HELP,
        ):
            return []
        return replies

    async def _while_blocked(self) -> list[Reply]:
        """Twilio blocks this number until it texts an opt-in keyword: nothing the bot sends
        can reach it, replies included, so nothing is sent and nobody is marked active (the
        STOP confirmation told them to text START). A report is still taken: a safety matter."""
        request = self.request
        if request.intent is Intent.REPORT and request.arg and self.c.reports is not None:
            await self._take_sms_report(self.c.reports, request.arg)
        elif request.intent is Intent.SUBSCRIBE:
            log.info("sign-up from a number the provider still blocks: not subscribed")
        return []

    def _long_report(self) -> bool:
        text = self.inbound.text or ""
        return len(text) > LONG_SMS and looks_like_report(text)
