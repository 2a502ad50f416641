"""Community reports: from "I saw something" to a coordinator's verdict, reporter protected.

A report is taken in the SALUTE shape (activity, location, time, size, uniform, equipment),
as a guided conversation on Telegram or one free-text SMS. Coordinators get a card through
the outbox, claim it, and decide: confirmed (an alert draft opens from it), not confirmed,
false alarm, or duplicate; or they relay one question to the reporter. A coordinator sees a
report number, never who sent it; a reporter hears the outcome, never who verified it.

What identifies the reporter or the place is encrypted and purged after the retention
period; status, zone and times stay, for the counts networks publish.

This module holds the coordinators' side (`Reports`: view, claim, decide, ask, block; upkeep,
purge and the weekly counts); the reporter's side, which `Reports` derives from, is in
`bot.core.reporting`, and the escalation of unclaimed reports in `bot.core.escalation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bot.core.alerts import AlertDraft
from bot.core.audit import Actor, record
from bot.core.cards import card_ref, render_card
from bot.core.cardupdates import REFRESHED, CardUpdates
from bot.core.errors import Explained
from bot.core.i18n import N_, Lang
from bot.core.reporting import AWAIT_ANSWER, AWAIT_LOCATION, OPEN
from bot.core.templates import fill
from bot.core.vocabulary import AlertKind, Channel, ReportStatus
from bot.storage.db import Session
from bot.storage.models import ReportRow, place
from bot.storage.outbox import ButtonRows, Outbox
from bot.storage.reports import ReportRows
from bot.storage.subscribers import Subscribers
from bot.storage.verify import VerifyRows

OUTCOMES = {
    # Confirmed is not yet an alert: a coordinator may still change or reject the draft.
    ReportStatus.CONFIRMED: N_(
        "Report #{id}: volunteers confirmed it. Thank you; any alert goes to the area from the "
        "network."
    ),
    ReportStatus.NOT_CONFIRMED: N_(
        "Report #{id}: volunteers could not confirm it. Thank you; keep reporting what you see."
    ),
    ReportStatus.FALSE_ALARM: N_(
        "Report #{id}: volunteers found it was not immigration enforcement. Thank you."
    ),
    ReportStatus.DUPLICATE: N_(
        "Report #{id}: others reported the same thing and volunteers are on it. Thank you."
    ),
}
DRAFT_TIMEOUT = timedelta(minutes=15)  # an unfinished guided report is sent as it is
GROUP_WINDOW = timedelta(hours=3)  # reports of one zone this close together corroborate
ALERT_EXPIRY = timedelta(hours=4)  # of an alert drafted from a confirmed report
DECIDED = (
    ReportStatus.CONFIRMED,
    ReportStatus.NOT_CONFIRMED,
    ReportStatus.FALSE_ALARM,
    ReportStatus.DUPLICATE,
    ReportStatus.RESOLVED,
)


class ReportError(Explained):
    """A coordinator's action that cannot be done (wrong state, unknown report), in words."""


STATUS_WORDS = {
    ReportStatus.NEW: N_("new"),
    ReportStatus.VERIFYING: N_("being verified"),
    ReportStatus.CONFIRMED: N_("confirmed"),
    ReportStatus.NOT_CONFIRMED: N_("not confirmed"),
    ReportStatus.FALSE_ALARM: N_("a false alarm"),
    ReportStatus.DUPLICATE: N_("a duplicate"),
    ReportStatus.EXPIRED: N_("expired"),
    ReportStatus.DRAFT: N_("a draft"),
    ReportStatus.RESOLVED: N_("resolved"),
}


@dataclass(frozen=True)
class Corroboration:
    """What backs a report up: the nearby reports (same zone and its neighbours, within
    GROUP_WINDOW) by how many different people, by channel and with photos, and how many
    people asked VERIFY about those zones in the last hour. Counts only: nobody's identity."""

    people: int = 1  # different senders, this report's included
    channels: dict[str, int] = field(default_factory=dict)  # the nearby reports, by channel
    photos: int = 0  # nearby reports with a photo
    verify_asks: int = 0


@dataclass(frozen=True)
class ReportView:
    """A report as a coordinator sees it: a number and what was seen, never who saw it."""

    id: int
    status: ReportStatus
    channel: str
    language: str
    zone: str | None
    details: dict[str, Any]
    has_photo: bool
    created_at: datetime
    submitted_at: datetime | None
    claimed_by: str | None = None  # the label of the coordinator verifying it
    claimer: int | None = None  # their id
    decided_by: str | None = None
    duplicate_of: int | None = None
    alert_id: int | None = None
    awaiting: str | None = None
    nearby: list[int] = field(default_factory=list)  # the zone's and its neighbours'
    group: list[int] = field(default_factory=list)  # of those, the ones nobody has claimed
    support: Corroboration = field(default_factory=lambda: Corroboration())
    help_for: int | None = None  # a help request: the alert whose check-in it answered
    call_back: bool = False  # a help request by SMS, and the hotline can call it back

    @property
    def open(self) -> bool:
        return self.status.value in OPEN

    @property
    def awaits_place(self) -> bool:
        """Whether the reporter was asked for the place (an SMS report without one)."""
        return self.awaiting == AWAIT_LOCATION


class Reports(CardUpdates):
    """Reports for the conversation (inside its transaction: what `ReportIntake` does) and
    for coordinators."""

    # --- coordinators ------------------------------------------------------------------

    async def view(self, report_id: int) -> ReportView:
        async with self.db.transaction() as session:
            return await self._view(session, await self._row(session, report_id))

    async def open_reports(self) -> list[ReportView]:
        """Reports waiting for a verdict, newest first."""
        async with self.db.transaction() as session:
            rows = await ReportRows(session).with_status(OPEN, limit=50)
            return [await self._view(session, row) for row in rows]

    async def claim(self, report_id: int, by: Actor) -> ReportView:
        async with self.db.transaction() as session:
            row = await self._row(session, report_id)
            await self._expect_open(session, row)
            if row.claimed_by is not None and row.claimed_by != by.coordinator_id:
                raise ReportError(
                    N_("#{id} is being verified by {name}"),
                    id=row.id,
                    name=await self._label(session, row.claimed_by),
                )
            row.status = ReportStatus.VERIFYING
            row.claimed_by = by.coordinator_id
            record(session, by, "report.claim", f"report:{row.id}", self.clock())
            return await self._view(session, row)

    async def decide(
        self, report_id: int, outcome: ReportStatus, by: Actor, duplicate_of: int | None = None
    ) -> ReportView:
        """Not confirmed, false alarm, duplicate (of another report) or confirmed; the reporter
        hears it if they asked to."""
        if outcome not in DECIDED:
            raise ReportError(N_("not a verdict: {outcome}"), outcome=outcome.value)
        now = self.clock()
        async with self.db.transaction() as session:
            row = await self._row(session, report_id)
            await self._expect_open(session, row)
            if (outcome is ReportStatus.RESOLVED) != (row.help_for is not None) and (
                outcome is not ReportStatus.DUPLICATE
            ):
                raise ReportError(
                    N_("#{id} is a help request: mark it resolved once someone has helped")
                    if row.help_for is not None
                    else N_("#{id} is a report, not a help request"),
                    id=row.id,
                )
            if outcome is ReportStatus.DUPLICATE:
                if duplicate_of is None or duplicate_of == row.id:
                    raise ReportError(N_("a duplicate needs the report it repeats"))
                await self._row(session, duplicate_of)
                row.duplicate_of = duplicate_of
            row.status = outcome
            row.decided_by = by.coordinator_id
            row.decided_at = now
            row.step, row.awaiting_until = None, None
            record(
                session,
                by,
                f"report.{outcome.value}",
                f"report:{row.id}",
                now,
                **({"duplicate_of": duplicate_of} if duplicate_of else {}),
            )
            if outcome in OUTCOMES:
                await self._tell_reporter(session, row, OUTCOMES[outcome])
            return await self._view(session, row)

    def alert_draft(self, view: ReportView) -> AlertDraft:
        """The alert a confirmed report suggests: its zone and the neighbouring ones, and the
        `report` template of config/alerts.yaml filled in every language with where and when
        (the reporter's time as they gave it, else the report's, as each language writes it)."""
        zones = (view.zone, *self.content.zones.neighbours(view.zone)) if view.zone else ()
        local = (view.submitted_at or view.created_at).astimezone(self.timezone)
        where = str(view.details.get("location") or view.details.get("text") or "")
        if not where and view.zone:
            where = f"{view.zone} {self.content.zones.name_of(view.zone) or ''}".strip()
        given = str(view.details.get("time") or "")
        values = {"place": where, "time": given}
        at = None if given else local.time()
        texts = fill(self.content, "report", values, at, lambda _language: "")
        plain = tuple(code for code in texts if self.content.sms_plain(code))
        return AlertDraft(AlertKind.ALERT, zones, texts, ALERT_EXPIRY, plain_sms=plain)

    async def link_alert(self, report_id: int, alert_id: int, by: Actor) -> None:
        """The alert drafted from a confirmed report records it (and the reports that
        repeated it), and who verified it."""
        async with self.db.transaction() as session:
            row = await self._row(session, report_id)
            await ReportRows(session).link_alert(row.id, alert_id, by.coordinator_id)
            record(session, by, "report.alert", f"report:{row.id}", self.clock(), alert=alert_id)

    async def ask(self, report_id: int, question: str, by: Actor) -> None:
        """Relay one question to the reporter; their next reply comes back to `by`."""
        async with self.db.transaction() as session:
            row = await self._row(session, report_id)
            await self._expect_open(session, row)
            if row.reporter_cipher is None:
                raise ReportError(N_("#{id} can no longer reach its reporter"), id=row.id)
            row.asked_by = by.coordinator_id
            self._await(row, AWAIT_ANSWER)
            lang = self.content.lang(row.language)
            asking = (
                N_(
                    "About your request for help (#{id}), a volunteer asks: {question} Reply to "
                    "this message to answer."
                )
                if row.help_for is not None
                else N_(
                    "About your report #{id}, a volunteer asks: {question} Reply to this "
                    "message to answer."
                )
            )
            text = lang.gettext(asking).format(id=row.id, question=question.strip())
            await self._to_reporter(session, row, text)
            record(session, by, "report.ask", f"report:{row.id}", self.clock())

    async def block_sender(self, report_id: int, by: Actor) -> None:
        """No more reports from this report's sender (kept as a blind index only)."""
        async with self.db.transaction() as session:
            row = await self._row(session, report_id)
            if row.reporter_index is None:
                raise ReportError(N_("#{id} no longer knows its sender"), id=row.id)
            rows = ReportRows(session)
            if not await rows.is_blocked([row.reporter_index]):
                rows.block(row.reporter_index, by.coordinator_id, self.clock())
            record(session, by, "report.block_sender", f"report:{row.id}", self.clock())

    async def photo(self, report_id: int) -> str | None:
        async with self.db.transaction() as session:
            row = await self._row(session, report_id)
            if row.photo_cipher is None:
                return None
            return self.vault.open(row.photo_cipher, place(ReportRow.photo_cipher, row.id))

    async def cards(self, report_id: int) -> list[tuple[int, int]]:
        """(chat id, message id) of every card of this report that reached a coordinator."""
        async with self.db.transaction() as session:
            sent = await Outbox(session).sent_notices(card_ref(report_id))
            return [
                (
                    int(self.vault.open(card.address_cipher, card.address_where)),
                    int(card.provider_id),
                )
                for card in sent
                if card.provider_id.isdigit()
            ]

    # --- upkeep (a periodic tick: several processes may run it at once) ----------------

    async def upkeep(self) -> dict[str, int]:
        """Send unfinished drafts, expire reports nobody acted on, purge old text."""
        now = self.clock()
        done = {"drafts": 0, "expired": 0, "escalated": 0, "verify": 0, "purged": 0}
        async with self.db.transaction() as session:
            rows = ReportRows(session)
            for row in await rows.drafts_before(now - DRAFT_TIMEOUT):
                await self._submit_or_drop(session, row)
                done["drafts"] += 1
            done["expired"] = await rows.expire_new(now - self.expiry)
        done["escalated"] = await self.escalate(now)
        async with self.db.transaction() as session:
            # VERIFY's limits last an hour; its counts per zone, as long as report texts.
            done["verify"] = await VerifyRows(session).forget(
                now - timedelta(hours=1), now - self.retention
            )
        done["purged"] = await self.purge(self.retention)
        return done

    async def purge(self, older_than: timedelta) -> int:
        """Delete the text, photo and reporter link of reports older than `older_than` (and
        the bodies and addresses of the notices about them); status, zone and times stay."""
        now = self.clock()
        async with self.db.transaction() as session:
            rows = ReportRows(session)
            ids = await rows.unpurged_before(now - older_than)
            if not ids:
                return 0
            await rows.purge(ids, now)
            kinds = ("report:{}", "card:{}", "cardedit:{}")  # card_ref's, and its edits
            await rows.forget_notices([kind.format(i) for i in ids for kind in kinds])
            record(
                session,
                Actor.system(),
                "report.purge",
                "reports",
                now,
                count=len(ids),
                older_than_days=round(older_than.total_seconds() / 86400, 2),
            )
            return len(ids)

    # --- internals ---------------------------------------------------------------------

    async def _cards(self, session: Session, row: ReportRow) -> None:
        """The card, with its buttons, to the coordinators on duty for the report's zone; and
        the cards already sent of the open reports near it, edited to count it."""
        view = await self._view(session, row)
        await self._to_coordinators(
            session, row, lambda lang, viewer: self.card(view, lang, viewer), ref=card_ref(row.id)
        )
        for other in view.nearby[-REFRESHED:]:  # the newest
            await self._refresh_cards(session, other)

    def card(self, view: ReportView, lang: Lang, viewer: int | None) -> tuple[str, ButtonRows]:
        """A report's card as one coordinator sees it: the text and its buttons."""
        buttons = self.keyboard(view, lang, viewer) if self.keyboard is not None else ()
        return render_card(view, self.content, lang.gettext), buttons

    async def _tell_reporter(self, session: Session, row: ReportRow, message: str) -> None:
        if not row.wants_outcome:
            return
        lang = self.content.lang(row.language)
        await self._to_reporter(session, row, lang.gettext(message).format(id=row.id))

    async def _to_reporter(self, session: Session, row: ReportRow, text: str) -> None:
        address = self.reporter(row)
        if address is None:
            return
        # A reporter who is also a subscriber goes through their subscription, so an SMS
        # STOP since the report silences this too.
        subscriber = await Subscribers(session, self.vault).find(row.channel, address)
        await self._notice(
            session,
            row.channel,
            row.language,
            text,
            subscriber_id=subscriber.id if subscriber is not None else None,
            address=None if subscriber is not None else address,
            ref=f"report:{row.id}",
        )

    async def _row(self, session: Session, report_id: int) -> ReportRow:
        row = await ReportRows(session).get(report_id)
        if row is None or row.status == ReportStatus.DRAFT:
            raise ReportError(N_("no report #{id}"), id=report_id)
        return row

    async def _expect_open(self, session: Session, row: ReportRow) -> None:
        if row.status in OPEN:
            return
        status = STATUS_WORDS[ReportStatus(row.status)]
        if row.decided_by is not None:
            raise ReportError(
                N_("#{id} was already marked {status_said} by {name}"),
                id=row.id,
                status_said=status,
                name=await self._label(session, row.decided_by),
            )
        raise ReportError(N_("#{id} is already {status_said}"), id=row.id, status_said=status)

    @staticmethod
    async def _label(session: Session, coordinator_id: int) -> str:
        holder = await ReportRows(session).coordinator(coordinator_id)
        return holder.label if holder is not None else "?"

    async def _view(self, session: Session, row: ReportRow) -> ReportView:
        rows = ReportRows(session)
        wanted = {i for i in (row.claimed_by, row.decided_by) if i is not None}
        labels = await rows.labels(wanted) if wanted else {}
        nearby: list[int] = []
        group: list[int] = []
        support = Corroboration()
        if row.zone is not None and row.submitted_at is not None and row.help_for is None:
            zones = [row.zone, *self.content.zones.neighbours(row.zone)]
            others = await rows.nearby(
                zones, row.id, row.submitted_at - GROUP_WINDOW, row.submitted_at + GROUP_WINDOW
            )
            nearby = [other.id for other in others]
            group = [o.id for o in others if o.status == ReportStatus.NEW and o.claimed_by is None]
            # Independent people: one blind index counts once (a purged one, as one more).
            people = {r.reporter_index or f"#{r.id}" for r in [row, *others]}
            channels: dict[str, int] = {}
            for other in others:
                channels[other.channel] = channels.get(other.channel, 0) + 1
            hour_ago = (self.clock() - timedelta(hours=1)).replace(
                minute=0, second=0, microsecond=0
            )
            asked = await VerifyRows(session).asked_since(zones, hour_ago)  # by the hour
            support = Corroboration(
                people=len(people),
                channels=channels,
                photos=sum(1 for other in others if other.photo_cipher is not None),
                verify_asks=asked,
            )
        return ReportView(
            id=row.id,
            status=ReportStatus(row.status),
            channel=row.channel,
            language=row.language,
            zone=row.zone,
            details=self.details(row),
            has_photo=row.photo_cipher is not None,
            created_at=row.created_at,
            submitted_at=row.submitted_at,
            claimed_by=labels.get(row.claimed_by) if row.claimed_by else None,
            claimer=row.claimed_by,
            decided_by=labels.get(row.decided_by) if row.decided_by else None,
            duplicate_of=row.duplicate_of,
            alert_id=row.alert_id,
            awaiting=row.step if row.awaiting_until is not None else None,
            nearby=nearby,
            group=group,
            support=support,
            help_for=row.help_for,
            call_back=(
                row.help_for is not None
                and row.channel == Channel.SMS
                and self.call_back_via is not None
            ),
        )

    # --- counts for transparency reports -------------------------------------------------

    async def weekly_counts(self, start: date, end: date) -> list[tuple[date, str, str, int]]:
        """Submitted reports by week, zone and outcome: (Monday of the week, ZIP or "unknown",
        status, count) for reports submitted from `start` to `end`, both included, as dates in
        the network's time zone; sorted by week, zone and outcome. Purged reports count too:
        the counts use only status, zone and times, which a purge keeps."""
        tz = self.timezone
        since = datetime(start.year, start.month, start.day, tzinfo=tz)
        after = end + timedelta(days=1)
        until = datetime(after.year, after.month, after.day, tzinfo=tz)
        async with self.db.transaction() as session:
            found = await ReportRows(session).submitted_between(since, until)
        counts: dict[tuple[date, str, str], int] = {}
        for report in found:
            if report.submitted_at is None:
                continue
            day = report.submitted_at.astimezone(tz).date()
            if not start <= day <= end:
                continue
            key = (
                day - timedelta(days=day.weekday()),
                report.zone or "unknown",
                str(report.status),
            )
            counts[key] = counts.get(key, 0) + 1
        return [(*key, n) for key, n in sorted(counts.items())]
