"""Know-your-rights workshops: schedule, RSVP, and reminders that survive restarts.

The database is the truth. A reminder is a notice in the outbox, written when someone says
they are coming: due at the reminder time, expiring when the workshop starts. So a restart
loses none, one that fell due while the bot was down goes out when it is back (if the
workshop has not started) and never after, several workers never send one twice, and a
cancellation skips what is still pending.

Why one module: scheduling, announcing (with its sign-off), RSVPs, moves and reminders all
write notices through one path (`_said`, `_notice`) with one set of rules on channels,
languages and quiet hours; split, each part would need them again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum

from dateutil.rrule import MONTHLY, rrule, weekday
from icalendar import Calendar, Event

from bot.core.audit import Actor, record
from bot.core.content import DEFAULT_LANGUAGE, Content
from bot.core.errors import Explained
from bot.core.i18n import N_, Lang
from bot.core.intents import Intent, Request
from bot.core.signoffs import SignOff, SignOffError, SignOffs
from bot.core.vocabulary import Channel, SignOffAction, WorkshopState
from bot.storage.crypto import Vault
from bot.storage.db import Database, Session
from bot.storage.models import SubscriberRow, WorkshopRow
from bot.storage.outbox import ALL_ZONES, ButtonRows, Notice, Outbox
from bot.storage.workshops import HAPPENING as HAPPENING  # kept importable from here
from bot.storage.workshops import WorkshopRows

REMINDERS = (timedelta(hours=24), timedelta(hours=2))
DEFAULT_MINUTES = 90  # how long a workshop lasts when nobody says
LISTED = 3  # workshops shown at a time


class WorkshopError(Explained):
    """A workshop operation that cannot be done; the message is safe to show."""


class Rsvp(StrEnum):
    """What an RSVP came to."""

    GOING = "going"
    NOT_GOING = "not_going"
    FULL = "full"
    UNKNOWN = "unknown"  # no such number in the list


@dataclass(frozen=True)
class WorkshopPlan:
    """A workshop to create (from the CLI, a YAML season, or Telegram)."""

    titles: dict[str, str]
    starts_at: datetime  # timezone-aware
    minutes: int
    place: str
    languages: tuple[str, ...] = (DEFAULT_LANGUAGE,)
    zones: tuple[str, ...] = (ALL_ZONES,)
    capacity: int | None = None
    descriptions: dict[str, str] = field(default_factory=dict)
    series: str | None = None


@dataclass(frozen=True)
class Workshop:
    id: int
    titles: dict[str, str]
    starts_at: datetime
    minutes: int
    place: str
    languages: tuple[str, ...]
    zones: tuple[str, ...]
    capacity: int | None
    state: WorkshopState
    going: int
    descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.going >= self.capacity

    def title(self, language: str) -> str:
        return self.titles.get(language) or self.titles[DEFAULT_LANGUAGE]

    def description(self, language: str) -> str:
        return self.descriptions.get(language) or self.descriptions.get(DEFAULT_LANGUAGE, "")


@dataclass(frozen=True)
class Announcement:
    """An announcement queued (for `due`: now, or the end of the quiet hours), or `waiting`
    for a second coordinator to agree, with nothing queued yet."""

    queued: int
    due: datetime
    waiting: SignOff | None = None


Said = tuple[str, ButtonRows]
"""A notice's text and its buttons (none on SMS)."""


class Workshops:
    def __init__(
        self,
        db: Database,
        vault: Vault,
        content: Content,
        clock: Callable[[], datetime],
        *,
        timezone: tzinfo = UTC,
        reminders: Sequence[timedelta] = REMINDERS,
        quiet: tuple[int, int] = (21, 8),
        buttons: Callable[[Request], str] | None = None,
        signoffs: SignOffs | None = None,
    ) -> None:
        self.db = db
        # The two-person rule for announcements (the application shares one with alerts).
        self.signoffs = signoffs or SignOffs(db, clock)
        self.signoffs.executes(SignOffAction.ANNOUNCE, self._granted)
        # Packs a subscriber's choice as a Telegram button's data (None without Telegram):
        # notices to Telegram offer a button where an SMS names a keyword.
        self.buttons = buttons
        self.vault = vault
        self.content = content
        self.clock = clock
        self.timezone = timezone
        self.reminders = tuple(reminders)
        self.quiet = quiet  # local hours [from, to) during which announcements wait

    # --- coordinators and operators ------------------------------------------------------

    async def add(self, plan: WorkshopPlan, by: Actor) -> Workshop:
        if DEFAULT_LANGUAGE not in plan.titles:
            raise WorkshopError(
                N_("an English title is required (other languages fall back to it)")
            )
        if plan.starts_at.tzinfo is None:
            raise WorkshopError(N_("the start time needs a time zone"))
        if plan.starts_at <= self.clock():
            raise WorkshopError(N_("the start time is in the past"))
        if not _exists(plan.starts_at):
            raise WorkshopError(
                N_("{time} does not exist here: the clocks move forward then"),
                time=f"{plan.starts_at:%Y-%m-%d %H:%M}",
            )
        if not 1 <= plan.minutes <= 24 * 60:
            raise WorkshopError(N_("a workshop lasts from 1 minute to 24 hours"))
        if plan.capacity is not None and plan.capacity < 1:
            raise WorkshopError(N_("a workshop has at least one seat (or no limit)"))
        foreign = [code for code in plan.languages if code not in self.content.languages]
        if foreign or not plan.languages:
            raise WorkshopError(
                N_("not languages of this network: {codes}"), codes=", ".join(foreign) or "-"
            )
        unknown = [
            z for z in plan.zones if z != ALL_ZONES and self.content.zones.name_of(z) is None
        ]
        if unknown:
            raise WorkshopError(N_("not zones of this network: {zones}"), zones=", ".join(unknown))
        now = self.clock()
        async with self.db.transaction() as session:
            row = await WorkshopRows(session).add(
                titles=dict(plan.titles),
                descriptions=dict(plan.descriptions),
                starts_at=plan.starts_at.astimezone(UTC),
                minutes=plan.minutes,
                place=plan.place,
                languages=plan.languages,
                zones=plan.zones or (ALL_ZONES,),
                capacity=plan.capacity,
                series=plan.series,
                created_by=by.coordinator_id,
                now=now,
            )
            record(session, by, "workshop.add", f"workshop:{row.id}", now)
            return await self._of(session, row)

    async def announce(
        self, workshop_id: int, by: Actor, *, quiet_hours: bool = True
    ) -> Announcement:
        """Tell the subscribers of its zones and languages who follow the workshops topic,
        through the outbox; during quiet hours the notices wait for the morning (unless
        `quiet_hours` is False). When the two-person rule is on, a second coordinator must
        agree first (`SignOffs.decide`), and nothing is queued until then."""
        now = self.clock()
        async with self.db.transaction() as session:
            row = await self._row(session, workshop_id)
            self._announceable(row, now)
            if await self.signoffs.required(session, SignOffAction.ANNOUNCE, by):
                waiting = await self.signoffs.ask(
                    session, SignOffAction.ANNOUNCE, row.id, by, now, quiet=quiet_hours
                )
                return Announcement(0, self._due(now, quiet_hours), waiting)
            return await self._announce(session, row, by, now, quiet_hours)

    async def _granted(
        self, session: Session, sign_off: SignOff, by: Actor, now: datetime
    ) -> Announcement:
        """A second coordinator agreed: the announcement goes out (or waits for the morning)."""
        row = await self._row(session, sign_off.subject)
        if row.created_by is not None and row.created_by == by.coordinator_id:
            raise SignOffError(N_("a coordinator other than the workshop's author must agree"))
        self._announceable(row, now)
        return await self._announce(session, row, by, now, bool(sign_off.detail.get("quiet")))

    @staticmethod
    def _announceable(row: WorkshopRow, now: datetime) -> None:
        if row.starts_at <= now:  # (a cancelled one is not found at all)
            raise WorkshopError(N_("workshop #{id} has already started"), id=row.id)

    def _due(self, now: datetime, quiet_hours: bool) -> datetime:
        return self.after_quiet(now) if quiet_hours else now

    async def _announce(
        self, session: Session, row: WorkshopRow, by: Actor, now: datetime, quiet_hours: bool
    ) -> Announcement:
        due = self._due(now, quiet_hours)
        count = 0
        for subscriber in await WorkshopRows(session).active_subscribers(row.zones):
            if "workshops" not in (subscriber.topics or []):
                continue
            if subscriber.language not in row.languages and DEFAULT_LANGUAGE not in row.languages:
                continue  # given in neither their language nor English
            lang = self._lang(subscriber)
            said = self._said(
                subscriber,
                lang,
                row,
                sms=N_(
                    "New workshop: {title}, {when}, at {place}. Reply WORKSHOPS to save a seat."
                ),
                rich=N_("New workshop: {title}, {when}, at {place}."),
                button=N_("Save a seat"),
            )
            await self._notice(session, row, subscriber, said, due=due, expires=row.starts_at)
            count += 1
        record(session, by, "workshop.announce", f"workshop:{row.id}", now, queued=count)
        return Announcement(count, due)

    def after_quiet(self, moment: datetime) -> datetime:
        """`moment`, or the end of the quiet hours it falls in (network time)."""
        start, end = self.quiet
        local = moment.astimezone(self.timezone)
        hour = local.hour
        quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
        if not quiet:
            return moment
        wake = local.replace(hour=end, minute=0, second=0, microsecond=0)
        if wake <= local:
            wake = (local + timedelta(days=1)).replace(hour=end, minute=0, second=0, microsecond=0)
        # Rebuild in the zone so a daylight-saving change in between is respected.
        return datetime(wake.year, wake.month, wake.day, end, tzinfo=self.timezone).astimezone(UTC)

    async def one(self, workshop_id: int) -> Workshop:
        async with self.db.transaction() as session:
            return await self._of(session, await self._row(session, workshop_id))

    async def upcoming(self, limit: int = 50) -> list[Workshop]:
        async with self.db.transaction() as session:
            rows = await self._next(session, None, limit)
            return [await self._of(session, row) for row in rows]

    async def cancel(self, workshop_id: int, by: Actor) -> int:
        """Cancel: pending reminders are dropped and everyone coming is told. How many."""
        now = self.clock()
        async with self.db.transaction() as session:
            row = await self._row(session, workshop_id)
            row.state = WorkshopState.CANCELLED
            await self._drop_reminders(session, row.id, None, "cancelled")
            told = 0
            for subscriber in await self._coming(session, row.id):
                lang = self._lang(subscriber)
                said = self._said(
                    subscriber,
                    lang,
                    row,
                    sms=N_(
                        "Cancelled: {title}, {when}. We are sorry. Reply WORKSHOPS for the others."
                    ),
                    rich=N_("Cancelled: {title}, {when}. We are sorry."),
                    button=N_("Other workshops"),
                )
                await self._notice(session, row, subscriber, said, due=now, expires=row.starts_at)
                told += 1
            record(session, by, "workshop.cancel", f"workshop:{row.id}", now, told=told)
            return told

    async def move(
        self, workshop_id: int, starts_at: datetime, by: Actor, place: str | None = None
    ) -> int:
        """A new time (and place): reminders follow it, and everyone coming is told."""
        now = self.clock()
        if starts_at <= now:
            raise WorkshopError(N_("the new start time is in the past"))
        async with self.db.transaction() as session:
            row = await self._row(session, workshop_id)
            row.starts_at = starts_at.astimezone(UTC)
            row.place = place or row.place
            row.state = WorkshopState.MOVED
            await self._drop_reminders(session, row.id, None, "moved")
            told = 0
            for subscriber in await self._coming(session, row.id):
                lang = self._lang(subscriber)
                text = self._fill(
                    lang.gettext("Moved: {title} is now {when}, at {place}."), row, lang.code
                )
                await self._notice(session, row, subscriber, text, due=now, expires=row.starts_at)
                await self._remind(session, row, subscriber)
                told += 1
            record(session, by, "workshop.move", f"workshop:{row.id}", now, told=told)
            return told

    # --- subscribers, inside the conversation's transaction -----------------------------

    async def attending(
        self, session: Session, subscriber: SubscriberRow | None, workshops: Sequence[Workshop]
    ) -> set[int]:
        """Which of these workshops the person said they are coming to (and not cancelled)."""
        if subscriber is None:
            return set()
        rsvps = WorkshopRows(session)
        going = set()
        for workshop in workshops:
            answer = await rsvps.rsvp(workshop.id, subscriber.id)
            if answer is not None and answer.going:
                going.add(workshop.id)
        return going

    async def listed(self, session: Session, subscriber: SubscriberRow | None) -> list[Workshop]:
        """The next few workshops for this person's zone (every zone if they have none)."""
        zone = subscriber.zone if subscriber is not None else None
        rows = await self._next(session, zone, LISTED)
        return [await self._of(session, row) for row in rows]

    async def rsvp(
        self, session: Session, subscriber: SubscriberRow, number: int, going: bool
    ) -> tuple[Rsvp, Workshop | None]:
        """RSVP to the `number`th workshop of their list; FULL offers the next one there is."""
        listed = await self.listed(session, subscriber)
        if not 1 <= number <= len(listed):
            return Rsvp.UNKNOWN, None
        chosen = listed[number - 1]
        row = await self._row(session, chosen.id)
        rsvps = WorkshopRows(session)
        existing = await rsvps.rsvp(row.id, subscriber.id)
        now = self.clock()
        if not going:
            if existing is not None and existing.going:
                existing.going, existing.updated_at = False, now
                await self._drop_reminders(session, row.id, subscriber.id, "not_going")
            return Rsvp.NOT_GOING, chosen
        if existing is not None and existing.going:
            return Rsvp.GOING, chosen
        if chosen.full:
            later = next((w for w in listed[number:] if not w.full), None)
            return Rsvp.FULL, later
        if existing is None:
            await rsvps.add_rsvp(row.id, subscriber.id, now)
        else:
            existing.going, existing.updated_at = True, now
        await self._remind(session, row, subscriber)
        return Rsvp.GOING, await self._of(session, row)

    def when(self, moment: datetime, language: str) -> str:
        """A start time as people read it, in the network's time zone and their language."""
        return self.content.day_time(language, moment.astimezone(self.timezone))

    # --- internals -----------------------------------------------------------------------

    async def _remind(self, session: Session, row: WorkshopRow, subscriber: SubscriberRow) -> None:
        """One outbox notice per reminder still ahead: due then, void once it starts."""
        now = self.clock()
        lang = self._lang(subscriber)
        said = self._said(
            subscriber,
            lang,
            row,
            sms=N_("Reminder: {title}, {when}, at {place}. Reply WORKSHOPS for details."),
            rich=N_("Reminder: {title}, {when}, at {place}."),
            button=N_("Workshops"),
        )
        for before in self.reminders:
            due = row.starts_at - before
            if due <= now:
                continue
            await self._notice(session, row, subscriber, said, due=due, expires=row.starts_at)

    def _lang(self, subscriber: SubscriberRow) -> Lang:
        return self.content.speaking(subscriber.language)

    def _said(
        self,
        subscriber: SubscriberRow,
        lang: Lang,
        row: WorkshopRow,
        *,
        sms: str,
        rich: str,
        button: str,
    ) -> Said:
        """A notice as the subscriber's channel says it: on SMS the keyword to reply, on
        Telegram a button for the workshops list (where each has its RSVP button)."""
        if subscriber.channel == Channel.SMS:
            return self._fill(lang.gettext(sms), row, lang.code), ()
        text = self._fill(lang.gettext(rich), row, lang.code)
        if self.buttons is None:
            return text, ()
        return text, (((lang.gettext(button), self.buttons(Request(Intent.WORKSHOPS))),),)

    def _fill(self, message: str, row: WorkshopRow, language: str) -> str:
        """A translated message about the workshop with its title, start and place filled in
        (a message may leave any of them out)."""
        return message.format(
            title=_title(row, language), when=self.when(row.starts_at, language), place=row.place
        )

    async def _notice(
        self,
        session: Session,
        row: WorkshopRow,
        subscriber: SubscriberRow,
        said: str | Said,
        *,
        due: datetime,
        expires: datetime,
    ) -> None:
        text, buttons = (said, ()) if isinstance(said, str) else said
        await Outbox(session).enqueue_notice(
            Notice(
                channel=subscriber.channel,
                language=subscriber.language,
                text=self.content.out(subscriber.channel, subscriber.language, text),
                buttons=buttons,
                expires_at=expires,
                ref=_ref(row.id),
                subscriber_id=subscriber.id,
                due_at=due,
            ),
            self.clock(),
            self.vault,
        )

    async def _drop_reminders(
        self, session: Session, workshop_id: int, subscriber_id: int | None, reason: str
    ) -> None:
        await WorkshopRows(session).drop_reminders(
            _ref(workshop_id), subscriber_id, reason=reason, now=self.clock()
        )

    async def _coming(self, session: Session, workshop_id: int) -> list[SubscriberRow]:
        return await WorkshopRows(session).coming(workshop_id)

    async def _next(self, session: Session, zone: str | None, limit: int) -> list[WorkshopRow]:
        rows = await WorkshopRows(session).upcoming(self.clock())
        # JSON lists differ by backend: the zone filter is done here (a season is small).
        serves = [r for r in rows if zone is None or ALL_ZONES in r.zones or zone in r.zones]
        return serves[:limit]

    async def _row(self, session: Session, workshop_id: int) -> WorkshopRow:
        row = await WorkshopRows(session).get(workshop_id)
        if row is None or row.state not in HAPPENING:
            raise WorkshopError(N_("no scheduled workshop #{id}"), id=workshop_id)
        return row

    async def _of(self, session: Session, row: WorkshopRow) -> Workshop:
        going = await WorkshopRows(session).going(row.id)
        return Workshop(
            id=row.id,
            titles=dict(row.titles),
            starts_at=row.starts_at,
            minutes=row.minutes,
            place=row.place,
            languages=tuple(row.languages),
            zones=tuple(row.zones),
            capacity=row.capacity,
            state=WorkshopState(row.state),
            going=going,
            descriptions=dict(row.descriptions or {}),
        )


ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
            "fourth": 4, "4th": 4, "last": -1}  # fmt: skip
WEEKDAYS = {name: day for day, name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}  # fmt: skip


def monthly(first: datetime, rule: str, count: int) -> list[datetime]:
    """The starts of a monthly series, "second saturday" for instance, from `first` (aware,
    in the network's time zone) on: the same wall-clock time each month, whatever the DST."""
    words = rule.lower().split()
    if len(words) != 2 or words[0] not in ORDINALS or words[1] not in WEEKDAYS:
        raise WorkshopError(
            N_("{rule}: say which weekday of the month, like 'second saturday'"), rule=repr(rule)
        )
    if not 1 <= count <= 24:
        raise WorkshopError(N_("a series has 1 to 24 workshops"))
    zone = first.tzinfo
    day = weekday(WEEKDAYS[words[1]])(ORDINALS[words[0]])
    naive = rrule(MONTHLY, dtstart=first.replace(tzinfo=None), byweekday=day, count=count)
    return [moment.replace(tzinfo=zone) for moment in naive]


def series(plan: WorkshopPlan, repeat: str | None, count: int) -> list[WorkshopPlan]:
    """`plan` alone, or with `repeat` ("second saturday") the `count` workshops of a monthly
    series starting at its start, each marked as one series."""
    if not repeat:
        return [plan]
    label = f"{repeat} from {plan.starts_at:%Y-%m-%d}"
    return [
        replace(plan, starts_at=when, series=label)
        for when in monthly(plan.starts_at, repeat, count)
    ]


def calendar_file(workshop: Workshop, language: str) -> bytes:
    """An iCalendar (.ics) event for the workshop, in the person's language."""
    calendar = Calendar()
    calendar.add("prodid", "-//Rapid Response Bot//workshops//EN")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", f"workshop-{workshop.id}@rapid-response-bot")
    event.add("dtstamp", workshop.starts_at)
    event.add("dtstart", workshop.starts_at)
    event.add("dtend", workshop.starts_at + timedelta(minutes=workshop.minutes))
    event.add("summary", workshop.title(language))
    event.add("location", workshop.place)
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def _exists(moment: datetime) -> bool:
    """Whether a wall-clock time exists in its zone (02:30 on the spring-forward night does
    not: zoneinfo would move it silently)."""
    back = moment.astimezone(UTC).astimezone(moment.tzinfo)
    return back.replace(tzinfo=None) == moment.replace(tzinfo=None)


def _ref(workshop_id: int) -> str:
    """What the notices about a workshop are about: reminders are found, and dropped, by it."""
    return f"workshop:{workshop_id}"


def _title(row: WorkshopRow, language: str) -> str:
    return row.titles.get(language) or row.titles[DEFAULT_LANGUAGE]
