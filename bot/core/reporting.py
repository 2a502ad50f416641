"""The reporter's side of a report: what it awaits, who may send one, and taking it in.

`ReportIntake` starts a guided draft (Telegram) or takes one free-text SMS, fills the draft's
questions, submits it, and takes the reporter's later replies (the place, an answer to a
coordinator's question, YES to the outcome). It runs inside the conversation's transaction.
The coordinators' side, `Reports` in `bot.core.reports`, derives from it; what both sides
send through the outbox (a notice, one to each coordinator on duty) is here.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from bot.core.audit import Actor, record
from bot.core.cards import CardKeyboard
from bot.core.content import Content
from bot.core.i18n import N_, Lang
from bot.core.vocabulary import Channel, ReplyTaken, ReportRefusal, ReportStatus
from bot.storage.crypto import Purpose, Vault
from bot.storage.db import Database, Session
from bot.storage.models import CoordinatorRow, ReportRow, place
from bot.storage.outbox import ButtonRows, Notice, Outbox
from bot.storage.reports import ReportRows
from bot.storage.reports import reporter_key as reporter_key  # kept importable from here

STEPS = ("activity", "location", "time", "size", "uniform", "equipment", "photo")
"""The guided questions, in order (SALUTE, led by what is happening and where)."""

PROMPTS = {
    "activity": N_("What is happening? For example: agents stopping people, a raid at a building."),
    "location": N_(
        "Where? Cross streets or a landmark, and the ZIP code if you know it. Not a home address."
    ),
    "time": N_("When did you see it? For example: now, 20 minutes ago."),
    "size": N_("How many agents and vehicles?"),
    "uniform": N_("Uniforms or markings? For example: ICE, police, plain clothes."),
    "equipment": N_("Any equipment? For example: weapons, cameras, unmarked cars."),
    "photo": N_("A photo, if you took one safely: send it now, or tap Send now."),
}
ASKED_AGAIN = "asked_again"  # a draft's details: its empty Send now was asked about once
AWAIT_LOCATION = "where?"  # an SMS report without a place: the next reply adds it
AWAIT_ANSWER = "answer?"  # a coordinator's relayed question: the next reply answers it
AWAIT_OUTCOME = "outcome?"  # SMS: "reply YES to hear the outcome"
REPLY_WINDOW = timedelta(hours=2)
OPEN = (ReportStatus.NEW.value, ReportStatus.VERIFYING.value)  # waiting for a verdict
NOTICE_LIFETIME = timedelta(hours=24)
YES_WORDS = frozenset({"yes", "y", "si", "sí", "ok"})

_PLACE = re.compile(
    r"\b(st|street|ave|avenue|blvd|boulevard|rd|road|dr|drive|pl|place|pkwy|hwy|highway|"
    r"and|corner|near|across|by|at|on|between|calle|avenida|esquina|cerca|frente|entre|en|y)\b"
    r"|&|/|@|\b\d{5}\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Refusal:
    """Why a report was not taken: too many from this sender, or the sender is blocked."""

    reason: ReportRefusal


def mentions_place(text: str) -> bool:
    """Whether free text seems to say where (cross streets, a landmark word, a ZIP code)."""
    return bool(_PLACE.search(text))


_ENFORCEMENT = re.compile(
    r"\b(ice|dhs|cbp|hsi|agents?|officers?|vans?|trucks?|suvs?|raids?|checkpoints?|detain\w*|"
    r"arrest\w*|migra|agentes?|oficiales|camionetas?|patrullas?|redadas?|operativos?|"
    r"deten\w*|arrest\w*)\b",
    re.IGNORECASE,
)
_STREET = re.compile(
    r"\b(st|street|ave|avenue|blvd|boulevard|rd|road|corner|calle|avenida|esquina)\b"
    r"|&|\b\d{5}\b",
    re.IGNORECASE,
)


def looks_like_report(text: str) -> bool:
    """Whether a message that is no keyword reads as a sighting: it names agents, vans or a
    raid, or a street corner (a long text like this is a report, not a question)."""
    return bool(_ENFORCEMENT.search(text) or _STREET.search(text))


class ReportIntake(ABC):
    """What a reporter does with a report; `Reports` adds what coordinators do with it."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        content: Content,
        clock: Callable[[], datetime],
        *,
        per_hour: int = 3,
        expiry: timedelta = timedelta(hours=12),
        retention: timedelta = timedelta(days=30),
        timezone: tzinfo = UTC,
        keyboard: CardKeyboard | None = None,
        escalate_after: timedelta = timedelta(minutes=10),
        volunteers: Callable[[], Awaitable[list[str]]] | None = None,
    ) -> None:
        self.db = db
        self.escalate_after = escalate_after  # REPORT_ESCALATE_MINUTES
        self.volunteers = volunteers  # the hotline's numbers on duty: the last escalation
        self.keyboard = keyboard
        self.timezone = timezone  # the network's, for the times coordinators and alerts show
        self.vault = vault
        self.content = content
        self.clock = clock
        self.per_hour = per_hour
        self.expiry = expiry
        self.retention = retention

    async def awaiting(self, session: Session, channel: str, address: str) -> ReportRow | None:
        """The sender's report that expects their next message: a draft, or a reply."""
        return await ReportRows(session).expecting(self._indexes(channel, address), self.clock())

    async def refused(self, session: Session, channel: str, address: str) -> Refusal | None:
        """Why this sender's report is not taken now (blocked, or `per_hour` in the last
        hour), or None."""
        rows = ReportRows(session)
        indexes = self._indexes(channel, address)  # every key's: a rotation resets nothing
        if await rows.is_blocked(indexes):
            return Refusal(ReportRefusal.BLOCKED)
        recent = await rows.made_since(indexes, self.clock() - timedelta(hours=1))
        return Refusal(ReportRefusal.LIMIT) if recent >= self.per_hour else None

    async def start(
        self, session: Session, channel: str, address: str, language: str, zone: str | None
    ) -> ReportRow:
        """A guided report (Telegram): a draft at its first question. An older draft of the
        same sender is sent as it is rather than lost."""
        previous = await self.awaiting(session, channel, address)
        if previous is not None and previous.status == ReportStatus.DRAFT:
            await self._submit_or_drop(session, previous)
        row = await self._new(session, channel, address, language, zone, ReportStatus.DRAFT)
        row.step = STEPS[0]
        return row

    async def take_text(
        self,
        session: Session,
        channel: str,
        address: str,
        language: str,
        zone: str | None,
        text: str,
    ) -> ReportRow:
        """A one-message report (SMS `REPORT ...`): submitted at once. Without a place in it,
        the reporter's next reply is taken as the place."""
        row = await self._new(
            session, channel, address, language, self._zone_in(text) or zone, ReportStatus.NEW
        )
        details: dict[str, Any] = {"text": text}
        row.details_cipher = self._seal(row, details)
        if not mentions_place(text):
            self._await(row, AWAIT_LOCATION)
        else:
            self._await(row, AWAIT_OUTCOME)
        await self._submitted(session, row)
        return row

    async def hold_spoken(self, address: str, language: str, text: str) -> int | None:
        """A report said on the hotline (Twilio's transcript: nothing is recorded), before
        its ZIP code: a draft of the caller's number (its limits, its blind index), sent to
        nobody yet and awaiting no message; its number, or None when the number may not
        report now. `place_spoken` sends it; a call that ends first sends it as it is."""
        async with self.db.transaction() as session:
            if await self.refused(session, "sms", address) is not None:
                return None
            row = await self._new(session, "sms", address, language, None, ReportStatus.DRAFT)
            row.details_cipher = self._seal(row, {"text": text})
            return row.id

    async def place_spoken(self, report_id: int, address: str, zone: str | None) -> int | None:
        """The caller's spoken draft `report_id` goes to the coordinators of `zone` (None:
        the caller gave none it could be read as); its number, or None when there is no such
        draft of this caller (sent already: a replayed step)."""
        async with self.db.transaction() as session:
            row = await ReportRows(session).get(report_id)
            if row is None or not self._spoken_draft(row, address):
                return None
            row.zone = zone
            await self._send_spoken(session, row)
            return row.id

    async def send_unplaced(self, address: str) -> int:
        """The call ended before the ZIP code: the caller's spoken drafts go as they are."""
        async with self.db.transaction() as session:
            rows = await ReportRows(session).unasked_drafts(self._indexes("sms", address))
            for row in rows:
                await self._send_spoken(session, row)
            return len(rows)

    def _spoken_draft(self, row: ReportRow, address: str) -> bool:
        return (
            row.status == ReportStatus.DRAFT
            and row.step is None
            and row.reporter_index in self._indexes("sms", address)
        )

    async def _send_spoken(self, session: Session, row: ReportRow) -> None:
        row.status = ReportStatus.NEW
        self._await(row, AWAIT_OUTCOME)  # "YES" by SMS later: the outcome, as for REPORT
        await self._submitted(session, row)

    def fill(self, row: ReportRow, answer: str | None, photo: str | None = None) -> str | None:
        """The answer to a draft's current question (None: skipped); the next question, or
        None when every question has had its turn."""
        step = row.step
        if step is None:
            return None
        if photo and step != "photo":
            # A photo sent early: kept, and the current question still waits for its answer.
            row.photo_cipher = self.vault.seal(photo, place(ReportRow.photo_cipher, row.id))
            return step
        details = self.details(row)
        if step == "photo":
            if photo:
                row.photo_cipher = self.vault.seal(photo, place(ReportRow.photo_cipher, row.id))
        elif answer:
            details[step] = answer
            if step == "location" and (zone := self._zone_in(answer)) is not None:
                row.zone = zone
            row.details_cipher = self._seal(row, details)
        following = STEPS.index(step) + 1
        row.step = STEPS[following] if following < len(STEPS) else None
        return row.step

    def has_substance(self, row: ReportRow) -> bool:
        """Whether a draft says what was seen or where (or shows it in a photo): something a
        volunteer can verify. An empty card only costs them time."""
        details = self.details(row)
        return bool(
            details.get("activity")
            or details.get("location")
            or details.get("text")  # said on the hotline
            or row.photo_cipher
        )

    def ask_again(self, row: ReportRow) -> bool:
        """An empty draft's one second chance: back to its first question. False when it has
        had it already (then it is dropped)."""
        details = self.details(row)
        if details.get(ASKED_AGAIN):
            return False
        details[ASKED_AGAIN] = True
        row.details_cipher = self._seal(row, details)
        row.step = STEPS[0]
        return True

    async def drop(self, session: Session, row: ReportRow) -> None:
        """A draft with nothing in it, deleted: nobody is told, there is nothing to verify."""
        await ReportRows(session).remove(row)

    async def submit(self, session: Session, row: ReportRow) -> None:
        """A draft goes to the coordinators (Send now, or its last question answered)."""
        row.status = ReportStatus.NEW
        row.step = None
        row.awaiting_until = None
        await self._submitted(session, row)

    async def take_reply(self, session: Session, row: ReportRow, text: str) -> ReplyTaken:
        """A reply to what the report awaited: its place, an answer, or YES to the outcome;
        what it was taken as."""
        awaited = row.step
        now = self.clock()
        if awaited == AWAIT_OUTCOME or (
            awaited == AWAIT_LOCATION and text.strip().lower().strip(".!") in YES_WORDS
        ):
            if text.strip().lower().strip(".!") in YES_WORDS:
                row.wants_outcome = True
                if awaited == AWAIT_OUTCOME:
                    row.step, row.awaiting_until = None, None
                return ReplyTaken.OUTCOME
            row.step, row.awaiting_until = None, None
            return ReplyTaken.OTHER
        details = self.details(row)
        if awaited == AWAIT_LOCATION:
            details["location"] = text
            if row.zone is None and (zone := self._zone_in(text)) is not None:
                row.zone = zone
            row.details_cipher = self._seal(row, details)
            self._await(row, AWAIT_OUTCOME)
            await self._to_coordinators(
                session,
                row,
                lambda lang, _viewer: (
                    lang.gettext("Report #{id}: the reporter adds the place: {place}").format(
                        id=row.id, place=text
                    ),
                    (),
                ),
            )
            record(session, Actor(None, "reporter"), "report.place", f"report:{row.id}", now)
            return ReplyTaken.LOCATION
        if awaited == AWAIT_ANSWER:
            details.setdefault("answers", []).append(text)
            row.details_cipher = self._seal(row, details)
            asked_by = row.asked_by
            row.step, row.awaiting_until, row.asked_by = None, None, None
            if asked_by is None and row.help_for is not None:  # a help request: to the team
                added = N_("Help request #{id}: they add: {answer}")
                await self._to_coordinators(
                    session,
                    row,
                    lambda lang, _: (lang.gettext(added).format(id=row.id, answer=text), ()),
                )
            elif asked_by is not None:
                coordinator = await ReportRows(session).coordinator(asked_by)
                if coordinator is not None and coordinator.active:
                    language = self.content.supported(coordinator.language)
                    await self._notice(
                        session,
                        Channel.TELEGRAM,
                        language,
                        self.content.lang(language)
                        .gettext("Answer on report #{id}: {answer}")
                        .format(id=row.id, answer=text),
                        coordinator_id=coordinator.id,
                        ref=f"report:{row.id}",
                    )
            record(session, Actor(None, "reporter"), "report.answer", f"report:{row.id}", now)
            return ReplyTaken.ANSWER
        return ReplyTaken.OTHER

    async def want_outcome(
        self, session: Session, channel: str, address: str, report_id: int
    ) -> bool:
        """The reporter tapped "Tell me the outcome" (only their own report counts)."""
        row = await ReportRows(session).get(report_id)
        if row is None or row.reporter_index not in self._indexes(channel, address):
            return False
        row.wants_outcome = True
        return True

    def details(self, row: ReportRow) -> dict[str, Any]:
        if row.details_cipher is None:
            return {}
        loaded = json.loads(
            self.vault.open(row.details_cipher, place(ReportRow.details_cipher, row.id))
        )
        return loaded if isinstance(loaded, dict) else {}

    # --- internals ---------------------------------------------------------------------

    async def _new(
        self,
        session: Session,
        channel: str,
        address: str,
        language: str,
        zone: str | None,
        status: ReportStatus,
    ) -> ReportRow:
        """A new report, added (it has its number) with its reporter sealed to it."""
        row = ReportRow(
            status=status,
            channel=channel,
            language=language,
            zone=zone,
            reporter_index=self._index(channel, address),
            wants_outcome=False,
            created_at=self.clock(),
        )
        await ReportRows(session).add(row)
        row.reporter_cipher = self.vault.seal(address, place(ReportRow.reporter_cipher, row.id))
        return row

    def reporter(self, row: ReportRow) -> str | None:
        """The reporter's address (None once purged): only to send them something."""
        if row.reporter_cipher is None:
            return None
        return self.vault.open(row.reporter_cipher, place(ReportRow.reporter_cipher, row.id))

    def _index(self, channel: str, address: str) -> str:
        """The sender's blind index: what limits and blocks are counted by."""
        return self.vault.index(reporter_key(channel, address), Purpose.REPORTER)

    def _indexes(self, channel: str, address: str) -> list[str]:
        """The sender's index under every key (the newest first): to find their rows."""
        return self.vault.indexes(reporter_key(channel, address), Purpose.REPORTER)

    def _zone_in(self, text: str) -> str | None:
        for found in re.findall(r"\b(\d{5})\b", text):
            if self.content.zones.name_of(found) is not None:
                return str(found)
        return None

    def _await(self, row: ReportRow, what: str) -> None:
        row.step = what
        row.awaiting_until = self.clock() + REPLY_WINDOW

    def _seal(self, row: ReportRow, details: dict[str, Any]) -> bytes:
        return self.vault.seal(
            json.dumps(details, ensure_ascii=False), place(ReportRow.details_cipher, row.id)
        )

    async def _submit_or_drop(self, session: Session, row: ReportRow) -> None:
        if self.has_substance(row):
            await self.submit(session, row)
        else:
            await self.drop(session, row)  # nothing was said: nothing to verify

    async def _submitted(self, session: Session, row: ReportRow) -> None:
        row.submitted_at = self.clock()
        record(
            session,
            Actor(None, "reporter"),
            "report.new",
            f"report:{row.id}",
            self.clock(),
            channel=row.channel,
            zone=row.zone or "-",
        )
        await self._cards(session, row)

    @abstractmethod
    async def _cards(self, session: Session, row: ReportRow) -> None:
        """A submitted report's card to the coordinators on duty (the coordinators' side
        draws it)."""

    # --- notices through the outbox: both sides send them ------------------------------

    async def _to_coordinators(
        self,
        session: Session,
        row: ReportRow,
        render: Callable[[Lang, int], tuple[str, ButtonRows]],
        ref: str | None = None,
    ) -> None:
        """A notice about the report to each coordinator on duty, in their language."""
        for coordinator in await self._on_duty(session, row.zone):
            language = self.content.supported(coordinator.language)
            text, buttons = render(self.content.lang(language), coordinator.id)
            await self._notice(
                session,
                Channel.TELEGRAM,
                language,
                text,
                coordinator_id=coordinator.id,
                ref=ref or f"report:{row.id}",
                buttons=buttons,
                priority=1,
            )

    async def _on_duty(self, session: Session, zone: str | None) -> list[CoordinatorRow]:
        """Who is told of a report in `zone`: the coordinators on duty there (or everywhere),
        or every active coordinator when none is, so no report goes unseen."""
        everyone = await ReportRows(session).active_coordinators()
        covering = [
            c
            for c in everyone
            if c.on_duty and (not c.duty_zones or (zone is not None and zone in c.duty_zones))
        ]
        return covering or everyone

    async def _notice(
        self,
        session: Session,
        channel: str,
        language: str,
        text: str,
        *,
        ref: str,
        subscriber_id: int | None = None,
        address: str | None = None,
        coordinator_id: int | None = None,
        buttons: ButtonRows = (),
        priority: int = 5,
        edits: str | None = None,
    ) -> None:
        now = self.clock()
        await Outbox(session).enqueue_notice(
            Notice(
                channel=channel,
                language=language,
                text=self.content.out(channel, language, text),
                buttons=buttons,
                expires_at=now + NOTICE_LIFETIME,
                ref=ref,
                subscriber_id=subscriber_id,
                address=address,
                coordinator_id=coordinator_id,
                priority=priority,
                edits=edits,
            ),
            now,
            self.vault,
        )
