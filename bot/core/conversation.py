"""The conversation: what the bot answers to each request, the same on every channel.

Channels parse input into a `Request`, call `Conversation.handle`, and render the `Reply`s:
Telegram turns choices into buttons; SMS texts already carry their numbered menus.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.core.content import DEFAULT_LANGUAGE, TOPIC_KEYS, Content, is_real_zip
from bot.core.intents import Intent, Request
from bot.core.reports import AWAIT_LOCATION, PROMPTS, Refusal, Reports
from bot.core.segments import count_segments
from bot.core.subscribers import DEFAULT_TOPICS
from bot.core.vocabulary import Channel, ReplyTaken, ReportRefusal, ReportStatus, SubscriberStatus
from bot.core.workshops import Rsvp, Workshops, calendar_file
from bot.storage.crypto import Vault
from bot.storage.db import Conflict, Database, Session
from bot.storage.models import ReportRow, SubscriberRow
from bot.storage.subscribers import Subscribers


class Style(StrEnum):
    """How much room a reply has: SMS is short and menu-numbered; rich has buttons."""

    SMS = "sms"
    RICH = "rich"


@dataclass(frozen=True)
class Choice:
    """A button: its label and the request it stands for when tapped (the channel packs it)."""

    label: str
    request: Request


@dataclass(frozen=True)
class Attachment:
    """A file sent with a reply where the channel can (Telegram): a calendar event."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class Reply:
    """One message back to the person."""

    text: str
    choices: tuple[Choice, ...] = ()
    attachment: Attachment | None = None


@dataclass(frozen=True)
class Inbound:
    """A request from one address on one channel."""

    channel: Channel
    address: str
    request: Request
    # The language the person's app reports (Telegram's language_code): a hint for newcomers.
    client_language: str | None = None
    # Twilio's Advanced Opt-Out already answered STOP/START/HELP: record, don't answer again.
    provider_answered: bool = False
    # The message as sent (free text answers a report's question) and a photo's file id.
    # Kept in memory for this turn only; a report stores what it needs encrypted.
    text: str | None = None
    photo: str | None = None


class ZoneCheck(StrEnum):
    """What a five-digit string means to this network."""

    IN_AREA = "in_area"
    OUTSIDE_AREA = "outside_area"
    NOT_A_ZIP = "not_a_zip"


# What may answer an open report: free text (MENU), a photo, its buttons, and on SMS a bare
# ZIP code or number (the place, an answer) rather than a change of zone or a rights topic.
REPORT_REPLIES = frozenset(
    {Intent.MENU, Intent.REPORT_ACTION, Intent.SET_ZONE, Intent.RIGHTS_TOPIC}
)

SMS_WORKSHOPS = 2  # workshops an SMS lists (Telegram lists a few more, with buttons)
MAX_SMS_SEGMENTS = 4

STYLE = {Channel.SMS: Style.SMS, Channel.TELEGRAM: Style.RICH}


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
    ) -> None:
        self.db = db
        self.vault = vault
        self.content = content
        self.clock = clock
        self.reports = reports
        self.workshops = workshops

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
            return await turn.answer()


class _Turn:
    """One inbound message being answered, inside one transaction."""

    def __init__(
        self,
        conversation: Conversation,
        inbound: Inbound,
        subscribers: Subscribers,
        row: SubscriberRow | None,
        session: Session,
    ) -> None:
        self.c = conversation
        self.session = session
        self.content = conversation.content
        self.inbound = inbound
        self.request = inbound.request
        self.subscribers = subscribers
        self.row = row
        self.style = STYLE[inbound.channel]
        self.now = conversation.clock()
        self.lang = self.content.lang(self._language())
        self._ = self.lang.gettext

    def _language(self) -> str:
        spoken = self.request.keyword_language
        if spoken and spoken != DEFAULT_LANGUAGE:
            return self.content.supported(spoken)
        if self.row is not None:
            return self.content.supported(self.row.language)
        return self.content.supported(spoken or self.inbound.client_language)

    @property
    def sms(self) -> bool:
        return self.style is Style.SMS

    @property
    def active(self) -> bool:
        return self.row is not None and self.row.status == SubscriberStatus.ACTIVE

    async def answer(self) -> list[Reply]:
        intent = self.request.intent
        if self.row is not None and self.row.status == SubscriberStatus.BLOCKED:
            # They wrote to us, so they unblocked the bot: reachable again, not yet subscribed.
            self.subscribers.set_status(
                self.row, SubscriberStatus.OPTED_OUT, via="unblocked", now=self.now
            )
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
        if self.c.reports is not None and (intent in REPORT_REPLIES or free):
            pending = await self.c.reports.awaiting(
                self.session, self.inbound.channel, self.inbound.address
            )
            if pending is not None:
                return await self.report_reply(self.c.reports, pending)
        handler = {
            Intent.SUBSCRIBE: self.subscribe,
            Intent.STOP: self.stop,
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
            Intent.MENU: self.menu,
        }[intent]
        replies = await handler()
        if self.inbound.provider_answered and intent in (
            Intent.SUBSCRIBE,
            Intent.STOP,
            Intent.HELP,
        ):
            return []
        return replies

    # --- consent -------------------------------------------------------------------------

    async def subscribe(self) -> list[Reply]:
        _ = self._
        via = self._via()
        zip_code = self.request.arg
        zone_note: str | None = None
        zone: str | None = None
        if zip_code:
            check = self.c.check_zone(zip_code)
            if check is ZoneCheck.IN_AREA:
                zone = zip_code
            else:
                zone_note = self._zone_problem(zip_code, check)
        was_active = self.active
        if self.row is None:
            self.row = await self.subscribers.add(
                self.inbound.channel,
                self.inbound.address,
                language=self.lang.code,
                zone=zone,
                topics=list(DEFAULT_TOPICS),
                via=via,
                now=self.now,
            )
        else:
            if not was_active:
                self.subscribers.set_status(
                    self.row, SubscriberStatus.ACTIVE, via=via, now=self.now
                )
            self.row.language = self.lang.code
            if zone:
                self.row.zone = zone
        replies = [Reply(self._welcome(already=was_active), self._welcome_choices())]
        if zone_note:
            replies.append(Reply(zone_note))
        elif self.row.zone is None and (self.sms or self.request.keyword_language):
            # On Telegram without a language in the link, the language buttons come first
            # and the ZIP prompt follows the choice.
            replies.append(Reply(self._zip_prompt()))
        return replies

    def _welcome(self, *, already: bool) -> str:
        _ = self._
        network = self.content.network
        zone = self.row.zone if self.row else None
        values = {
            "program": network.name,
            "zone": self._zone_label(zone),
            "frequency": network.in_language(network.alert_frequency, self.lang.code),
        }
        if self.sms:
            # CTIA opt-in confirmation: program, what and how often, rates, HELP, STOP.
            if zone:
                text = _(
                    "{program}: you're signed up for verified alerts for {zone} and "
                    "know-your-rights info ({frequency}). Msg & data rates may apply. "
                    "Reply HELP for help, STOP to opt out."
                )
            else:
                text = _(
                    "{program}: you're signed up for verified alerts and know-your-rights "
                    "info ({frequency}). Msg & data rates may apply. Reply HELP for help, "
                    "STOP to opt out."
                )
            return text.format(**values)
        lead = _("You're already signed up.") if already else _("Welcome to {program}.")
        if zone:
            body = _(
                "You'll receive verified alerts about immigration enforcement in {zone}, "
                "workshop reminders, and know-your-rights answers whenever you ask "
                "({frequency}). We never ask for your name or location."
            )
        else:
            body = _(
                "You'll receive verified alerts about immigration enforcement, workshop "
                "reminders, and know-your-rights answers whenever you ask ({frequency}). "
                "We never ask for your name or location."
            )
        parts = [lead, body, _("Send /stop at any time to stop, /help for help.")]
        if not self.request.keyword_language:
            parts.append(_("Choose your language:"))
        return "\n\n".join(part.format(**values) for part in parts)

    def _welcome_choices(self) -> tuple[Choice, ...]:
        if self.sms or self.request.keyword_language:
            return ()
        return self._language_choices()

    async def stop(self) -> list[Reply]:
        _ = self._
        if self.row is None or not self.active:
            if self.sms and self.row is not None:
                return []  # confirmed once already: silence
            if self.sms:
                return [Reply(self._stop_confirmation())]
            return [Reply(_("You're not subscribed. Send /start to sign up."))]
        self.subscribers.set_status(
            self.row, SubscriberStatus.OPTED_OUT, via=self._via(), now=self.now
        )
        return [Reply(self._stop_confirmation())]

    def _stop_confirmation(self) -> str:
        _ = self._
        if self.sms:
            return _(
                "{program}: you're unsubscribed and will get no more messages. "
                "Reply START to sign up again."
            ).format(program=self.content.network.name)
        return _(
            "You're unsubscribed: no more alerts or reminders. Send /start to sign up again, "
            "or /rights any time."
        )

    # --- answers on demand ---------------------------------------------------------------

    async def help(self) -> list[Reply]:
        _ = self._
        network = self.content.network
        if self.sms:
            return [
                Reply(
                    _(
                        "{program}: verified immigration alerts and know-your-rights info. "
                        "Hotline {hotline}. Contact {contact}. Text RIGHTS for your rights. "
                        "Msg & data rates may apply. Reply STOP to opt out."
                    ).format(program=network.name, hotline=network.hotline, contact=network.contact)
                )
            ]
        lines = [
            _("{program} sends verified alerts about immigration enforcement near you.").format(
                program=network.name
            ),
            "",
            _("/rights - know your rights"),
            _("/language - change language"),
            _("/zone - change your ZIP code"),
            _("/workshops - upcoming workshops"),
            _("/report - report enforcement activity"),
            _("/stop - stop messages"),
            "",
            _("{name}: {hotline}").format(
                name=network.in_language(network.hotline_name, self.lang.code),
                hotline=network.hotline,
            ),
        ]
        for resource in self.content.resources:
            what = resource.what.get(self.lang.code) or resource.what.get(DEFAULT_LANGUAGE, "")
            reach = resource.phone or resource.website or ""
            lines.append(
                f"• {resource.name} ({reach}): {what}" if what else f"• {resource.name} ({reach})"
            )
        return [Reply("\n".join(lines), self._menu_choices())]

    async def rights(self) -> list[Reply]:
        _ = self._
        rights = self.content.rights_in(self.lang.code)
        if self.sms:
            menu = ", ".join(
                f"{number} {self.content.topic(self.lang.code, key).title}"
                for number, key in enumerate(TOPIC_KEYS, start=1)
            )
            text = _("{summary} Reply {menu}.").format(summary=rights.summary_sms, menu=menu)
            return [Reply(self._with_hotline(text))]
        choices = tuple(
            Choice(self.content.topic(self.lang.code, key).title, Request(Intent.RIGHTS_TOPIC, key))
            for key in TOPIC_KEYS
        )
        return [Reply(self._with_hotline(rights.summary_telegram), choices)]

    async def rights_topic(self) -> list[Reply]:
        arg = self.request.arg or ""
        key = TOPIC_KEYS[int(arg) - 1] if arg.isdigit() and 0 < int(arg) <= len(TOPIC_KEYS) else arg
        if key not in TOPIC_KEYS:
            return await self.rights()
        topic = self.content.topic(self.lang.code, key)
        if self.sms:
            return [Reply(self._with_hotline(topic.sms))]
        back = (Choice(self._("All topics"), Request(Intent.RIGHTS)),)
        return [Reply(self._with_hotline(f"{topic.title}\n\n{topic.telegram}"), back)]

    def _with_hotline(self, text: str) -> str:
        network = self.content.network
        line = self._("Hotline {hotline}").format(hotline=network.hotline)
        return (
            f"{text} {line}"
            if self.sms
            else f"{text}\n\n{network.in_language(network.hotline_name, self.lang.code)}: {network.hotline}"
        )

    async def workshops(self) -> list[Reply]:
        _ = self._
        workshops = self.c.workshops
        listed = await workshops.listed(self.session, self.row) if workshops else []
        if workshops is None or not listed:
            return [
                Reply(
                    _("No workshops are scheduled right now. Call {hotline} to ask.").format(
                        hotline=self.content.network.hotline
                    )
                )
            ]
        code = self.lang.code
        if self.sms:
            # Two at most, one line each, and one only if two would take over 4 segments.
            for shown in range(min(SMS_WORKSHOPS, len(listed)), 0, -1):
                lines = [
                    f"{n}. {w.title(code)}: {workshops.when(w.starts_at, code)}, {w.place}"
                    + (" " + _("(full)") if w.full else "")
                    for n, w in enumerate(listed[:shown], start=1)
                ]
                lines.append(_("Reply RSVP and the number to save a seat."))
                text = "\n".join(lines)
                if count_segments(text).segments <= MAX_SMS_SEGMENTS:
                    break
            return [Reply(text)]
        lines = [_("Next know-your-rights workshops:")]
        for number, workshop in enumerate(listed, start=1):
            given = ", ".join(self.content.language_name(c) for c in workshop.languages)
            full = " " + _("(full)") if workshop.full else ""
            lines.append(
                f"{number}. {workshop.title(code)}: {workshops.when(workshop.starts_at, code)}, "
                f"{workshop.place} ({given}){full}"
            )
            if workshop.description(code):
                lines.append(f"   {workshop.description(code)}")
        choices = tuple(
            Choice(_("I'm coming to {number}").format(number=n), Request(Intent.RSVP, str(n)))
            for n in range(1, len(listed) + 1)
        )
        return [Reply("\n".join(lines), choices)]

    async def rsvp(self) -> list[Reply]:
        _ = self._
        workshops = self.c.workshops
        words = (self.request.arg or "").lower().split()
        numbers = [int(w) for w in words if w.isdigit()]
        if workshops is None or not numbers:
            return await self.workshops()
        if self.row is None or not self.active:
            return [
                Reply(
                    _("Sign up first to get reminders: text JOIN and your ZIP code.")
                    if self.sms
                    else _("Sign up first to get reminders: /start.")
                )
            ]
        going = not ({"no", "not", "cancel"} & set(words))
        result, workshop = await workshops.rsvp(self.session, self.row, numbers[0], going)
        code = self.lang.code
        if result is Rsvp.UNKNOWN or (workshop is None and result is not Rsvp.FULL):
            return await self.workshops()
        if result is Rsvp.FULL:
            text = _("That workshop is full.")
            if workshop is not None:
                text += " " + _("The next one with seats: {title}, {when}.").format(
                    title=workshop.title(code), when=workshops.when(workshop.starts_at, code)
                )
            return [Reply(text)]
        assert workshop is not None  # noqa: S101 (GOING and NOT_GOING name the workshop)
        if result is Rsvp.NOT_GOING:
            return [
                Reply(
                    _("Noted: you are not coming to {title}. Its reminders are off.").format(
                        title=workshop.title(code)
                    )
                )
            ]
        return [
            Reply(
                _(
                    "See you at {title}, {when}, at {place}. We will remind you the day before "
                    "and 2 hours before. RSVP NO {number} if you cannot come."
                ).format(
                    number=numbers[0],
                    title=workshop.title(code),
                    when=workshops.when(workshop.starts_at, code),
                    place=workshop.place,
                ),
                # Telegram gets the calendar file with it; an SMS cannot carry one.
                attachment=None
                if self.sms
                else Attachment(f"workshop-{workshop.id}.ics", calendar_file(workshop, code)),
            )
        ]

    # --- reports -----------------------------------------------------------------------

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
        await reports.submit(self.session, row)
        return [self._receipt_reply(row.id)]

    async def report_action(self) -> list[Reply]:
        """A report button outside a draft: "Tell me the outcome" on a receipt."""
        reports = self.c.reports
        kind, _sep, arg = (self.request.arg or "").partition(":")
        if reports is None or kind != "outcome" or not arg.isdigit():
            return await self.menu()
        taken = await reports.want_outcome(
            self.session, self.inbound.channel, self.inbound.address, int(arg)
        )
        if not taken:
            return await self.menu()
        return [Reply(self._("We will tell you the outcome of report #{id}.").format(id=arg))]

    async def menu(self) -> list[Reply]:
        _ = self._
        if self.sms:
            if self.active:
                text = _(
                    "Text RIGHTS for your rights, HELP for help, a ZIP code to change your "
                    "area, LANG for language, STOP to opt out."
                )
            else:
                text = _(
                    "Text JOIN and your ZIP code (like JOIN 60629) for verified alerts, "
                    "RIGHTS for your rights, HELP for help."
                )
            return [Reply(text)]
        if self.active:
            text = _("What would you like to do?")
        else:
            text = _("Send /start to get verified alerts, or choose:")
        return [Reply(text, self._menu_choices())]

    def _menu_choices(self) -> tuple[Choice, ...]:
        _ = self._
        return (
            Choice(_("Know your rights"), Request(Intent.RIGHTS)),
            Choice(_("Language"), Request(Intent.LANGUAGE_MENU)),
            Choice(_("ZIP code"), Request(Intent.ZONE_PROMPT)),
            Choice(_("Help"), Request(Intent.HELP)),
        )

    # --- preferences ---------------------------------------------------------------------

    async def language_menu(self) -> list[Reply]:
        if self.sms:
            names = ", ".join(
                self.content.language_name(code).upper() for code in self.content.languages
            )
            return [Reply(self._("Reply with your language: {names}").format(names=names))]
        return [Reply(self._("Choose your language:"), self._language_choices())]

    def _language_choices(self) -> tuple[Choice, ...]:
        return tuple(
            Choice(self.content.language_name(code), Request(Intent.SET_LANGUAGE, code))
            for code in self.content.languages
        )

    async def set_language(self) -> list[Reply]:
        code = self.content.supported(self.request.arg)
        self.lang = self.content.lang(code)
        self._ = _ = self.lang.gettext
        if self.row is None:
            return await self.menu()
        self.row.language = code
        text = _("Language set: {name}.").format(name=self.content.language_name(code))
        if self.row.zone is None and self.active:
            return [Reply(text), Reply(self._zip_prompt())]
        return [Reply(text)]

    async def zone_prompt(self) -> list[Reply]:
        return [Reply(self._zip_prompt())]

    def _zip_prompt(self) -> str:
        _ = self._
        if self.sms:
            return _("Reply with your 5-digit ZIP code to get alerts for your area.")
        return _(
            "Send your 5-digit ZIP code to get alerts for your area. We never ask for your address."
        )

    async def set_zone(self) -> list[Reply]:
        _ = self._
        zip_code = self.request.arg or ""
        check = self.c.check_zone(zip_code)
        if check is not ZoneCheck.IN_AREA:
            return [Reply(self._zone_problem(zip_code, check))]
        if self.row is None or not self.active:
            if self.sms:
                return [Reply(_("To get alerts for {zip}, text JOIN {zip}.").format(zip=zip_code))]
            return [Reply(_("Send /start to get alerts for {zip}.").format(zip=zip_code))]
        self.row.zone = zip_code
        return [
            Reply(_("Your area is now {zone}.").format(zone=self._zone_label(zip_code).strip()))
        ]

    def _zone_label(self, zip_code: str | None) -> str:
        """ "60629 (Chicago Lawn, West Lawn, Gage Park)": the ZIP and the names people use."""
        if zip_code is None:
            return ""
        name = self.content.zones.name_of(zip_code)
        return f"{zip_code} ({name})" if name and name != zip_code else zip_code

    def _zone_problem(self, zip_code: str, check: ZoneCheck) -> str:
        _ = self._
        if check is ZoneCheck.OUTSIDE_AREA:
            return _(
                "{zip} is outside {area}, the area this network serves. Send a ZIP code in {area}."
            ).format(zip=zip_code, area=self.content.zones.area_name(self.lang.code))
        return _("{zip} is not a ZIP code. Send a 5-digit ZIP code like 60629.").format(
            zip=zip_code
        )

    def _via(self) -> str:
        """How consent was given, for the consent record: a channel and a keyword or command."""
        return f"{self.inbound.channel}:{self.request.keyword or self.request.intent}"
