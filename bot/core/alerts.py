"""Alerts: a verified message from the network to the people of some zones, in their languages.

The lifecycle follows the Common Alerting Protocol: an alert, then updates, a correction or
an all-clear that go to exactly the people the alert reached. A coordinator drafts; with the
two-person rule another approves; approval fills the outbox and the workers deliver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.core.alertwords import MAX_SMS_CHARACTERS, AlertWords, Marks
from bot.core.audit import Actor, record
from bot.core.content import DEFAULT_LANGUAGE, Content
from bot.core.errors import Explained
from bot.core.i18n import N_
from bot.core.segments import SegmentCount, count_segments
from bot.core.signoffs import approval_needed
from bot.core.vocabulary import AlertKind, AlertStatus, ApprovalMode, CheckInAnswer
from bot.storage.alerts import AlertRows
from bot.storage.checkins import CheckInRows
from bot.storage.db import Database, Session
from bot.storage.models import AlertRow
from bot.storage.outbox import ALL_ZONES, Outbox

DEFAULT_EXPIRY = timedelta(hours=4)
MAX_EXPIRY = timedelta(hours=24)
DRAFT_LIFETIME = timedelta(days=1)  # then a draft past its expiry (unsendable) is dropped

# Lower goes first: a correction overtakes what is still queued.
PRIORITY = {
    AlertKind.CORRECTION: 5,
    AlertKind.RUMOR: 7,  # a false post spreads in hours
    AlertKind.ALL_CLEAR: 8,
    AlertKind.UPDATE: 9,
    AlertKind.ALERT: 10,
}


class AlertError(Explained):
    """An alert that cannot be drafted, approved or sent; the message is safe to show."""


KIND_WORDS = {
    AlertKind.ALERT: N_("an alert"),
    AlertKind.UPDATE: N_("an update"),
    AlertKind.CORRECTION: N_("a correction"),
    AlertKind.ALL_CLEAR: N_("an all-clear"),
    AlertKind.RUMOR: N_("a rumor-control notice"),
}
"""An alert's kind as a refusal names it."""

STATUS_WORDS = {
    AlertStatus.DRAFT: N_("draft"),
    AlertStatus.PENDING: N_("waiting for approval"),
    AlertStatus.REJECTED: N_("rejected"),
    AlertStatus.QUEUED: N_("sending"),
    AlertStatus.DONE: N_("done"),
}
"""An alert's status as a refusal names it (the words of the coordinators' /status)."""

NOT_IN = {
    AlertStatus.DRAFT: N_("alert #{id} is no longer a draft ({status_said})"),
    AlertStatus.PENDING: N_("alert #{id} is not waiting for approval ({status_said})"),
}
"""Why an alert cannot take a step that needs it in one status: it is in another."""


@dataclass(frozen=True)
class AlertDraft:
    """What a coordinator composes: the type, where, the words per language, how long it holds."""

    kind: AlertKind
    zones: tuple[str, ...]  # ZIP codes, or ("all",)
    texts: dict[str, str]  # by language; English is required, others fall back to it
    expires_in: timedelta = DEFAULT_EXPIRY
    refers_to: int | None = None
    # Languages whose SMS go without the characters that force UCS-2 (the coordinator's
    # choice in the preview, or words from a template in a language whose SMS go so).
    plain_sms: tuple[str, ...] = ()
    check_in: bool = False  # ends by asking: reply 1 if you are safe, 2 if you need help
    drill: bool = False  # a rehearsal: begins with the drill line; DRILLS OFF skips it

    @property
    def marks(self) -> Marks:
        return Marks(check_in=self.check_in, drill=self.drill)


@dataclass(frozen=True)
class Alert:
    """A drafted or sent alert, as coordinators see it."""

    id: int
    kind: AlertKind
    refers_to: int | None
    zones: tuple[str, ...]
    texts: dict[str, str]  # as each language receives it, heading and hotline included
    status: AlertStatus
    expires_at: datetime
    created_at: datetime
    created_by: int | None
    recipients: int
    sms_texts: dict[str, str] = field(default_factory=dict)  # by SMS, where different
    check_in: bool = False
    drill: bool = False
    approved_at: datetime | None = None

    def sms_text(self, language: str) -> str:
        """What an SMS in `language` says (English's where it has no text of its own)."""
        if language in self.texts:
            return self.sms_texts.get(language) or self.texts[language]
        return self.sms_texts.get(DEFAULT_LANGUAGE) or self.texts[DEFAULT_LANGUAGE]


@dataclass(frozen=True)
class Preview:
    """What sending would do: who gets it, what it costs, how long it takes."""

    recipients: dict[tuple[str, str], int]  # (channel, language) -> people
    segments: dict[str, SegmentCount]  # language -> the SMS cost of its text
    fallback: tuple[str, ...]  # languages with recipients but no text of their own
    seconds: float  # at the configured provider limits

    @property
    def total(self) -> int:
        return sum(self.recipients.values())


@dataclass(frozen=True)
class CheckIns:
    """How the people an alert asked to check in answered (counts only)."""

    safe: int
    help: int
    no_answer: int


@dataclass(frozen=True)
class Progress:
    """An alert's deliveries by channel and status, and its check-in's answers."""

    alert: Alert
    counts: dict[tuple[str, str], int]
    check_ins: CheckIns | None = None  # None: it asked nobody to check in


def _of(row: AlertRow) -> Alert:
    return Alert(
        id=row.id,
        kind=AlertKind(row.kind),
        refers_to=row.refers_to,
        zones=tuple(row.zones),
        texts=dict(row.texts),
        status=AlertStatus(row.status),
        expires_at=row.expires_at,
        created_at=row.created_at,
        created_by=row.created_by,
        recipients=row.recipients,
        sms_texts=dict(row.sms_texts or {}),
        check_in=row.check_in,
        drill=row.drill,
        approved_at=row.approved_at,
    )


class Alerts(AlertWords):
    """Draft, preview, approve, reject and follow alerts."""

    def __init__(
        self,
        db: Database,
        content: Content,
        clock: Callable[[], datetime],
        *,
        rates: dict[str, float],
        approval: ApprovalMode = ApprovalMode.AUTO,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(content)
        self.db = db
        self.clock = clock
        self.rates = rates
        self.approval = approval
        self.on_queued = on_queued

    def _checked(self, draft: AlertDraft) -> dict[str, str]:
        body = {lang: text.strip() for lang, text in draft.texts.items() if text and text.strip()}
        if DEFAULT_LANGUAGE not in body:
            raise AlertError(N_("an English text is required (other languages fall back to it)"))
        unknown = [lang for lang in body if lang not in self.content.rights]
        if unknown:
            raise AlertError(
                N_("no such language here: {languages}"), languages=", ".join(sorted(unknown))
            )
        if not timedelta(minutes=5) <= draft.expires_in <= MAX_EXPIRY:
            raise AlertError(N_("the expiry must be between 5 minutes and 24 hours"))
        return body

    def _texts(
        self, draft: AlertDraft, body: dict[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Each language's text as Telegram shows it, and by SMS where that differs."""
        marks = draft.marks
        texts = {lang: self.render(draft.kind, lang, text, marks) for lang, text in body.items()}
        too_long = [
            lang for lang, text in body.items() if self.over_length(draft.kind, lang, text, marks)
        ]
        if too_long:
            raise AlertError(
                N_("too long for SMS ({limit} characters): {languages}"),
                limit=MAX_SMS_CHARACTERS,
                languages=", ".join(too_long),
            )
        sms = {
            lang: self.render_sms(draft.kind, lang, text, lang in draft.plain_sms, marks)
            for lang, text in body.items()
        }
        return texts, {lang: text for lang, text in sms.items() if text != texts[lang]}

    async def check(self, draft: AlertDraft) -> None:
        """Raise AlertError where `draft` could not be drafted; nothing is stored (the
        monthly drill's words, checked when it is set)."""
        body = self._checked(draft)
        async with self.db.transaction() as session:
            await self._zones(session, draft)
        self._texts(draft, body)

    async def draft(self, draft: AlertDraft, by: Actor) -> Alert:
        body = self._checked(draft)
        now = self.clock()
        async with self.db.transaction() as session:
            zones = await self._zones(session, draft)
            draft = await self._drill_follows(session, draft)
            texts, sms_texts = self._texts(draft, body)
            row = await AlertRows(session).add_draft(
                kind=draft.kind,
                refers_to=draft.refers_to,
                zones=zones,
                texts=texts,
                sms_texts=sms_texts,
                expires_at=now + draft.expires_in,
                created_by=by.coordinator_id,
                now=now,
                check_in=draft.check_in,
                drill=draft.drill,
            )
            marked = {"check_in": True} if draft.check_in else {}
            if draft.drill:
                marked["drill"] = True
            record(
                session, by, "alert.draft", f"alert:{row.id}", now, kind=str(draft.kind), **marked
            )
            return _of(row)

    async def revise(self, alert_id: int, draft: AlertDraft, by: Actor) -> Alert:
        """The composer changes their draft (zones, texts, expiry) before sending it."""
        body = self._checked(draft)
        now = self.clock()
        async with self.db.transaction() as session:
            row = await self._row(session, alert_id, lock=True)
            self._expect(row, AlertStatus.DRAFT)
            self._expect_composer(row, by)
            draft = replace(draft, refers_to=row.refers_to)
            zones = await self._zones(session, draft)
            draft = await self._drill_follows(session, draft)
            row.zones = list(zones)
            texts, sms_texts = self._texts(replace(draft, kind=AlertKind(row.kind)), body)
            row.texts, row.sms_texts = texts, sms_texts or None
            row.check_in, row.drill = draft.check_in, draft.drill
            row.expires_at = now + draft.expires_in
            record(session, by, "alert.revise", f"alert:{row.id}", now)
            return _of(row)

    @staticmethod
    async def _drill_follows(session: Session, draft: AlertDraft) -> AlertDraft:
        """An update, correction or all-clear of a drill is part of the drill."""
        if draft.drill or not draft.kind.follows_up or draft.refers_to is None:
            return draft
        original = await AlertRows(session).get(draft.refers_to)
        return replace(draft, drill=True) if original is not None and original.drill else draft

    @staticmethod
    def _expect_composer(row: AlertRow, by: Actor) -> None:
        if by.coordinator_id is not None and row.created_by != by.coordinator_id:
            raise AlertError(N_("alert #{id} is another coordinator's draft"), id=row.id)

    async def _zones(self, session: Session, draft: AlertDraft) -> tuple[str, ...]:
        if not draft.kind.follows_up:
            if draft.refers_to is not None:
                raise AlertError(
                    N_("a new alert refers to nothing; use update, correction or all-clear")
                )
            zones = tuple(dict.fromkeys(z.strip() for z in draft.zones if z.strip()))
            if not zones:
                raise AlertError(N_("choose the zones: ZIP codes, or all"))
            if ALL_ZONES in zones:
                return (ALL_ZONES,)
            unknown = [z for z in zones if self.content.zones.name_of(z) is None]
            if unknown:
                raise AlertError(N_("not zones of this network: {zones}"), zones=", ".join(unknown))
            return zones
        if draft.refers_to is None:
            raise AlertError(
                N_("{kind_said} must refer to the alert it follows"),
                kind_said=KIND_WORDS[draft.kind],
            )
        original = await AlertRows(session).get(draft.refers_to)
        if original is None or original.kind != AlertKind.ALERT:
            raise AlertError(N_("no alert #{id} to follow up"), id=draft.refers_to)
        if original.status not in (AlertStatus.QUEUED, AlertStatus.DONE):
            raise AlertError(N_("alert #{id} was never sent"), id=original.id)
        return tuple(original.zones)

    async def get(self, alert_id: int) -> Alert:
        async with self.db.transaction() as session:
            return _of(await self._row(session, alert_id))

    async def _row(self, session: Session, alert_id: int, *, lock: bool = False) -> AlertRow:
        row = await AlertRows(session).get(alert_id, lock=lock)
        if row is None:
            raise AlertError(N_("no alert #{id}"), id=alert_id)
        return row

    async def preview(self, alert_id: int) -> Preview:
        async with self.db.transaction() as session:
            row = await self._row(session, alert_id)
            rows = AlertRows(session)
            if not AlertKind(row.kind).follows_up:
                recipients = await rows.reach_zones(row.zones, drill=row.drill)
            else:
                assert row.refers_to is not None  # noqa: S101 (checked when drafted)
                recipients = await rows.reach_followers(row.refers_to)
        alert = _of(row)
        texts = alert.texts
        languages = sorted({lang for _, lang in recipients} | set(texts))
        segments = {lang: count_segments(alert.sms_text(lang)) for lang in languages}
        fallback = tuple(lang for lang in languages if lang not in texts)
        return Preview(recipients, segments, fallback, self._seconds(recipients, segments))

    def _seconds(
        self, recipients: dict[tuple[str, str], int], segments: dict[str, SegmentCount]
    ) -> float:
        """The slowest channel's time: a long code sends about one SMS segment a second."""
        per_channel: dict[str, float] = {}
        for (channel, language), n in recipients.items():
            cost = segments[language].segments if channel == "sms" else 1
            per_channel[channel] = per_channel.get(channel, 0.0) + n * cost
        return max(
            (
                units / self.rates[ch] if self.rates.get(ch) else 0.0
                for ch, units in per_channel.items()
            ),
            default=0.0,
        )

    async def needs_approval(self) -> bool:
        async with self.db.transaction() as session:
            return await approval_needed(session, self.approval)

    async def submit(self, alert_id: int, by: Actor) -> Alert:
        """The composer's "send": straight out, or to a second coordinator for approval."""
        if by.coordinator_id is not None and await self.needs_approval():
            now = self.clock()
            async with self.db.transaction() as session:
                row = await self._row(session, alert_id, lock=True)
                self._expect(row, AlertStatus.DRAFT)
                self._expect_composer(row, by)
                row.status = AlertStatus.PENDING
                record(session, by, "alert.submit", f"alert:{row.id}", now)
                return _of(row)
        return await self._approve(alert_id, by, second=False)

    async def approve(self, alert_id: int, by: Actor) -> Alert:
        """A second coordinator's yes: the deliveries are queued at once."""
        return await self._approve(alert_id, by, second=True)

    async def reject(self, alert_id: int, by: Actor) -> Alert:
        now = self.clock()
        async with self.db.transaction() as session:
            row = await self._row(session, alert_id, lock=True)
            self._expect(row, AlertStatus.PENDING)
            row.status = AlertStatus.REJECTED
            record(session, by, "alert.reject", f"alert:{row.id}", now)
            return _of(row)

    async def _approve(self, alert_id: int, by: Actor, *, second: bool) -> Alert:
        now = self.clock()
        async with self.db.transaction() as session:
            row = await self._row(session, alert_id, lock=True)
            if second:
                self._expect(row, AlertStatus.PENDING)
                if row.created_by is not None and row.created_by == by.coordinator_id:
                    raise AlertError(N_("a second coordinator must approve this alert"))
            else:
                self._expect(row, AlertStatus.DRAFT)
                self._expect_composer(row, by)
            if row.expires_at <= now:
                raise AlertError(N_("alert #{id} has expired"), id=row.id)
            outbox = Outbox(session)
            kind = AlertKind(row.kind)
            priority = PRIORITY[kind]
            if not kind.follows_up:
                # Only the first chunk of its recipients now: the approval commits in moments
                # whatever the size, its first sends go out at once, and workers queue the rest
                # chunk by chunk from the alert's cursor. Everyone it will reach is counted
                # after the commit, unless the first chunk was all of them: counting a million
                # (60-180 ms) had held up the first sends.
                row.enqueue_phase, row.enqueue_after = 0, 0
                count = await outbox.enqueue_chunk(row, now, priority)
                counted = row.enqueue_phase is None
            else:
                assert row.refers_to is not None  # noqa: S101 (checked when drafted)
                if kind is AlertKind.CORRECTION:
                    await outbox.cancel_pending(row.refers_to, now, reason="corrected")
                count = await outbox.enqueue_followers(row.id, row.refers_to, now, priority)
                counted = True
            row.status = AlertStatus.QUEUED if count else AlertStatus.DONE
            row.recipients = count
            row.approved_by = by.coordinator_id
            row.approved_at = now
            action = "alert.approve" if second else "alert.send"
            # The audit entry lands with the approval; a large alert's full count, on its row.
            detail = {"recipients": count} if counted else {"queued_first": count}
            record(session, by, action, f"alert:{row.id}", now, **detail)
            result = _of(row)
        if count and self.on_queued is not None:
            self.on_queued()
        if not counted:
            async with self.db.transaction() as session:
                row = await self._row(session, alert_id)
                row.recipients = await AlertRows(session).count_zones(row.zones, drill=row.drill)
                result = _of(row)
        return result

    @staticmethod
    def _expect(row: AlertRow, status: AlertStatus) -> None:
        if row.status != status:
            raise AlertError(
                NOT_IN[status], id=row.id, status_said=STATUS_WORDS[AlertStatus(row.status)]
            )

    async def send_now(self, draft: AlertDraft, by: Actor) -> Alert:
        """Draft and send in one step (the operator's CLI; coordinators go through submit)."""
        alert = await self.draft(draft, by)
        return await self.submit(alert.id, by)

    async def progress(self, alert_id: int) -> Progress:
        async with self.db.transaction() as session:
            alert = _of(await self._row(session, alert_id))
            counts = await Outbox(session).counts(alert_id)
            check_ins = await self._check_ins(session, alert)
        return Progress(alert, counts, check_ins)

    @staticmethod
    async def _check_ins(session: Session, alert: Alert) -> CheckIns | None:
        if not alert.check_in:
            return None
        answers = await CheckInRows(session).counts(alert.id)
        safe, help_ = answers.get(CheckInAnswer.SAFE, 0), answers.get(CheckInAnswer.HELP, 0)
        return CheckIns(safe, help_, max(0, alert.recipients - safe - help_))

    async def take_finished(self) -> list[Progress]:
        """Alerts whose deliveries have all ended and whose composer has not been told yet.

        Marked as told in the same transaction: with several web processes, one tells.
        """
        now = self.clock()
        async with self.db.transaction() as session:
            finished = []
            for row in await AlertRows(session).finished_untold():
                row.summarized_at = now
                alert = _of(row)
                counts = await Outbox(session).counts(row.id)
                finished.append(Progress(alert, counts, await self._check_ins(session, alert)))
            return finished

    async def recent(self, limit: int = 10) -> list[Alert]:
        async with self.db.transaction() as session:
            return [_of(row) for row in await AlertRows(session).recent(limit)]

    async def drop_stale_drafts(self) -> int:
        """Delete drafts older than DRAFT_LIFETIME that can no longer be sent (upkeep): one
        composed and never sent or cancelled would otherwise stay forever. How many."""
        now = self.clock()
        async with self.db.transaction() as session:
            dropped = await AlertRows(session).remove_stale_drafts(
                created_before=now - DRAFT_LIFETIME, now=now
            )
            for alert_id in dropped:
                record(session, Actor.system(), "alert.drop", f"alert:{alert_id}", now)
            return len(dropped)
