"""The hotline's volunteers: who is rung when a caller asks for a person, and who is on duty.

Their numbers are sealed to their rows and leave the database only for the `<Dial>` that
rings them (bot/channels/voice/): never listed, shown or logged. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

import phonenumbers

from bot.core.audit import Actor, record
from bot.core.content import Content
from bot.core.errors import Explained
from bot.core.i18n import N_
from bot.storage.crypto import Vault
from bot.storage.db import Database
from bot.storage.hotline import CallCounts, VolunteerRows
from bot.storage.models import HotlineVolunteerRow
from bot.storage.outbox import Notice, Outbox

MAX_RINGS = 10
"""A `<Dial>` rings at most ten numbers at once (Twilio's limit)."""
LABEL_LENGTH = 64
TEXT_LIFETIME = timedelta(hours=1)  # a confirmation later than this is no use


class HotlineError(Explained):
    """A volunteer change that cannot be made; `message` says why."""


@dataclass(frozen=True)
class Volunteer:
    """A volunteer as the operator and coordinators see them: never their number."""

    id: int
    label: str
    on_duty: bool
    coordinator_id: int | None
    shifts: tuple[tuple[int, int, int], ...] = ()  # weekday, first minute, end minute


def _of(row: HotlineVolunteerRow) -> Volunteer:
    shifts = tuple((d, s, e) for d, s, e in row.shifts or ())
    return Volunteer(row.id, row.label, row.on_duty, row.coordinator_id, shifts)


def phone_number(raw: str, region: str = "US") -> str:
    """A phone number in E.164 (+13125550123), or HotlineError (never echoing it back)."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise HotlineError(N_("that is not a phone number")) from None
    if not phonenumbers.is_valid_number(number):
        raise HotlineError(N_("that is not a phone number"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class Hotline:
    """Add, list, put on or off duty and remove the volunteers the hotline rings."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        content: Content,
        clock: Callable[[], datetime],
        timezone: tzinfo = UTC,
    ) -> None:
        self.db = db
        self.vault = vault
        self.content = content
        self.clock = clock
        self.timezone = timezone  # the network's: a week starts on its Monday

    async def add(self, phone: str, label: str, by: Actor) -> Volunteer:
        number = phone_number(phone)
        label = " ".join(label.split())[:LABEL_LENGTH] or "volunteer"
        now = self.clock()
        async with self.db.transaction() as session:
            row = await VolunteerRows(session, self.vault).add(number, label, now)
            record(session, by, "hotline.add", f"volunteer:{row.id}", now)
            return _of(row)

    async def volunteers(self) -> list[Volunteer]:
        async with self.db.transaction() as session:
            return [_of(row) for row in await VolunteerRows(session, self.vault).all()]

    async def set_duty(self, volunteer_id: int, on: bool, by: Actor) -> Volunteer:
        now = self.clock()
        async with self.db.transaction() as session:
            row = await VolunteerRows(session, self.vault).get(volunteer_id)
            if row is None:
                raise HotlineError(N_("no volunteer #{id}"), id=volunteer_id)
            row.on_duty = on
            action = "hotline.on" if on else "hotline.off"
            record(session, by, action, f"volunteer:{row.id}", now)
            return _of(row)

    async def remove(self, volunteer_id: int, by: Actor) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            rows = VolunteerRows(session, self.vault)
            row = await rows.get(volunteer_id)
            if row is None:
                raise HotlineError(N_("no volunteer #{id}"), id=volunteer_id)
            await rows.remove(row)
            record(session, by, "hotline.remove", f"volunteer:{volunteer_id}", now)

    async def mine(self, coordinator_id: int) -> Volunteer | None:
        """The volunteer entry a coordinator registered their own phone as, if any."""
        async with self.db.transaction() as session:
            row = await VolunteerRows(session, self.vault).of_coordinator(coordinator_id)
            return _of(row) if row is not None else None

    async def register(self, coordinator_id: int, phone: str, label: str, by: Actor) -> Volunteer:
        """A coordinator's own phone, rung while they are on duty (a new number replaces the
        one they gave before); on duty at once."""
        number = phone_number(phone)
        now = self.clock()
        async with self.db.transaction() as session:
            rows = VolunteerRows(session, self.vault)
            old = await rows.of_coordinator(coordinator_id)
            if old is not None:
                await rows.remove(old)
                await session.flush()
            row = await rows.add(number, label[:LABEL_LENGTH], now, coordinator_id)
            record(session, by, "hotline.register", f"volunteer:{row.id}", now)
            return _of(row)

    async def phone_of(self, coordinator_id: int) -> str | None:
        """The phone a coordinator registered for hotline calls (a call-back rings it)."""
        async with self.db.transaction() as session:
            rows = VolunteerRows(session, self.vault)
            row = await rows.of_coordinator(coordinator_id)
            return rows.phone(row) if row is not None else None

    async def ringing(self) -> list[str]:
        """The numbers to ring now: every volunteer on duty or in a weekly shift, at most ten."""
        now = self.clock().astimezone(self.timezone)
        minute = now.hour * 60 + now.minute
        async with self.db.transaction() as session:
            on = await VolunteerRows(session, self.vault).ringable(now.weekday(), minute, MAX_RINGS)
            return [phone for _, phone in on]

    async def set_shifts(
        self, volunteer_id: int, shifts: list[tuple[int, int, int]], by: Actor
    ) -> Volunteer:
        """A volunteer's weekly shifts, replacing the ones before (empty: none)."""
        now = self.clock()
        async with self.db.transaction() as session:
            row = await VolunteerRows(session, self.vault).get(volunteer_id)
            if row is None:
                raise HotlineError(N_("no volunteer #{id}"), id=volunteer_id)
            row.shifts = [list(shift) for shift in shifts]
            record(session, by, "hotline.shifts", f"volunteer:{row.id}", now, shifts=len(shifts))
            return _of(row)

    async def text(self, caller: str, language: str, texts: list[str]) -> None:
        """Texts to a caller's number by SMS through the outbox (a sign-up's confirmation):
        a landline simply never gets them."""
        now = self.clock()
        async with self.db.transaction() as session:
            outbox = Outbox(session)
            for text in texts:
                notice = Notice(
                    channel="sms",
                    language=language,
                    text=self.content.out("sms", language, text),
                    expires_at=now + TEXT_LIFETIME,
                    ref="hotline",
                    address=caller,
                )
                await outbox.enqueue_notice(notice, now, self.vault)

    async def count(self, language: str, event: str) -> None:
        """One more `event` this week in `language`: a call, a menu choice, answered or
        forwarded. Counts only: no number, no time of day."""
        day = self.clock().astimezone(self.timezone).date()
        async with self.db.transaction() as session:
            await CallCounts(session).bump(day - timedelta(days=day.weekday()), language, event)

    async def lasted(self, language: str, what: str, seconds: int) -> None:
        """A call (`what` "call", all languages) or a volunteer's conversation ("talk", in
        the caller's language) counted by how long it lasted: under a minute, 1-5, 5-15 or
        15 minutes and more. A length, never a time of day."""
        await self.count(language, f"{what}:{length_bucket(seconds)}")

    async def weekly_counts(self, start: date, end: date) -> list[tuple[date, str, str, int]]:
        """(Monday, language, event, count) for the weeks from `start`'s to `end`'s."""
        first = start - timedelta(days=start.weekday())
        async with self.db.transaction() as session:
            return await CallCounts(session).between(first, end)


LENGTHS = ((60, "<1m"), (300, "1-5m"), (900, "5-15m"))
"""Upper bounds in seconds, and what a call under each is counted as (15m+ beyond)."""


def length_bucket(seconds: int) -> str:
    for bound, name in LENGTHS:
        if seconds < bound:
            return name
    return "15m+"
