"""Workshops: list and RSVP by Telegram and SMS, reminders through the outbox with time travel
(no sleeping), restarts, cancel and move, and the November daylight-saving change."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app import build_worker
from bot.core.audit import Actor
from bot.core.workshops import WorkshopPlan
from bot.delivery.worker import RetryPolicy
from bot.storage.models import DeliveryRow
from tests.conftest import Bot
from tests.support import buttons, press, say

CHICAGO = ZoneInfo("America/Chicago")
# Sunday 7 November 2027, 10:00 in Chicago: hours after clocks go back (CDT -> CST at 2:00).
START = datetime(2027, 11, 7, 10, 0, tzinfo=CHICAGO)
LUCIA = 74001  # Telegram, Spanish
PHONE = "+13125550177"  # SMS, English


async def people(bot: Bot) -> None:
    bot.telegram.add_user(LUCIA, language_code="es")
    await say(bot, LUCIA, "/start es_60629")
    await bot.twilio.text(PHONE, "JOIN 60629")
    await bot.twilio.wait_for(PHONE, 1)


async def schedule(bot: Bot, capacity: int | None = None) -> int:
    workshop = await bot.services.workshops.add(
        WorkshopPlan(
            titles={"en": "Know your rights", "es": "Conozca sus derechos"},
            starts_at=START,
            minutes=90,
            place="Gage Park library",
            languages=("es", "en"),
            zones=("60629",),
            capacity=capacity,
            descriptions={"en": "Warrants and the door", "es": "Órdenes y la puerta"},
        ),
        Actor.operator(),
    )
    return workshop.id


async def deliver_at(bot: Bot, moment: datetime) -> None:
    """A worker whose clock reads `moment`: sends what is due then, and stops."""
    worker = build_worker(
        bot.services, clock=lambda: moment.astimezone(UTC), policy=RetryPolicy(base=0.02, cap=0.2)
    )
    await worker.start()
    try:
        for _ in range(100):
            async with bot.services.db.transaction() as session:
                waiting = (
                    await session.scalars(
                        select(DeliveryRow.id).where(
                            DeliveryRow.status.in_(("queued", "sending")),
                            DeliveryRow.due_at <= moment.astimezone(UTC),
                        )
                    )
                ).all()
            if not waiting:
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()


async def rsvp_both(bot: Bot) -> None:
    [listing] = await say(bot, LUCIA, "/workshops")
    assert "Conozca sus derechos" in listing.text and "dom 7 nov a las 10:00 a.m." in listing.text
    assert "Órdenes y la puerta" in listing.text  # the description, in her language
    [seat] = await press(bot, LUCIA, listing, "Voy al 1")
    assert "Conozca sus derechos" in seat.text and "10:00" in seat.text
    # With the confirmation, a calendar file: the start in UTC, after the DST change.
    assert seat.method == "sendDocument" and seat.document is not None
    assert seat.document.filename == "workshop-1.ics"
    ics = (seat.document.content or b"").decode()
    assert "DTSTART:20271107T160000Z" in ics and "SUMMARY:Conozca sus derechos" in ics
    await bot.twilio.text(PHONE, "WORKSHOPS")
    [_, listing_sms] = await bot.twilio.wait_for(PHONE, 2)
    assert (
        "1. Know your rights: Sun 7 Nov at 10:00 AM" in listing_sms.body
        and "RSVP" in listing_sms.body
    )
    await bot.twilio.text(PHONE, "RSVP 1")
    [*_, saved] = await bot.twilio.wait_for(PHONE, 3)
    assert "See you at Know your rights" in saved.body


async def test_reminders_come_at_the_right_moments_across_the_dst_change_and_a_restart(
    bot: Bot,
) -> None:
    await people(bot)
    await schedule(bot)
    await rsvp_both(bot)
    async with bot.services.db.transaction() as session:
        dues = sorted(
            row.due_at
            for row in (
                await session.scalars(select(DeliveryRow).where(DeliveryRow.ref == "workshop:1"))
            ).all()
        )
    # 24 hours and 2 hours before, in real time: the start is 16:00 UTC (CST, after the change),
    # the day-before reminder 16:00 UTC on Saturday (11:00 CDT, before it).
    assert (
        dues
        == [datetime(2027, 11, 6, 16, 0, tzinfo=UTC)] * 2
        + [datetime(2027, 11, 7, 14, 0, tzinfo=UTC)] * 2
    )

    telegram_before = len(bot.telegram.messages_to(LUCIA))
    sms_before = len(bot.twilio.inbox(PHONE))
    await deliver_at(bot, START - timedelta(hours=23))  # the day before: one reminder each
    tg = bot.telegram.messages_to(LUCIA)[telegram_before:]
    sms = bot.twilio.inbox(PHONE)[sms_before:]
    assert [m.text.split(":")[0] for m in tg] == ["Recordatorio"]
    assert "dom 7 nov a las 10:00 a.m." in tg[0].text and "Gage Park library" in tg[0].text
    assert len(sms) == 1 and sms[0].body.startswith(
        "Reminder: Know your rights, Sun 7 Nov at 10:00 AM"
    )

    # The bot is down over the 2-hour mark and comes back 30 minutes before: still sent, once.
    await deliver_at(bot, START - timedelta(minutes=30))
    assert len(bot.telegram.messages_to(LUCIA)) == telegram_before + 2
    assert len(bot.twilio.inbox(PHONE)) == sms_before + 2
    await deliver_at(bot, START + timedelta(hours=1))  # nothing is left, nothing repeats
    assert len(bot.telegram.messages_to(LUCIA)) == telegram_before + 2


async def test_a_reminder_that_fell_due_is_never_sent_after_the_start(bot: Bot) -> None:
    await people(bot)
    await schedule(bot)
    await rsvp_both(bot)
    before = len(bot.twilio.inbox(PHONE))
    await deliver_at(bot, START + timedelta(minutes=5))  # down until after it started
    assert len(bot.twilio.inbox(PHONE)) == before
    async with bot.services.db.transaction() as session:
        rows = (
            await session.scalars(select(DeliveryRow).where(DeliveryRow.ref == "workshop:1"))
        ).all()
    assert {(r.status, r.error) for r in rows} == {("skipped", "expired")}


async def test_cancel_drops_reminders_and_tells_who_was_coming_and_move_reschedules(
    bot: Bot,
) -> None:
    await people(bot)
    first = await schedule(bot)
    await rsvp_both(bot)
    moved_to = START + timedelta(days=7)
    told = await bot.services.workshops.move(first, moved_to, Actor.operator(), "Pilsen library")
    assert told == 2
    await deliver_at(bot, datetime.now(UTC))  # the notices are due now
    assert (
        'Cambio: "Conozca sus derechos" ahora es el dom' in bot.telegram.messages_to(LUCIA)[-1].text
    )
    assert "Pilsen library" in bot.twilio.inbox(PHONE)[-1].body
    async with bot.services.db.transaction() as session:
        pending = (
            await session.scalars(
                select(DeliveryRow.due_at).where(
                    DeliveryRow.ref == f"workshop:{first}", DeliveryRow.status == "queued"
                )
            )
        ).all()
    assert sorted(set(pending)) == [moved_to - timedelta(hours=24), moved_to - timedelta(hours=2)]

    told = await bot.services.workshops.cancel(first, Actor.operator())
    assert told == 2
    await deliver_at(bot, datetime.now(UTC))
    assert "Cancelled: Know your rights" in bot.twilio.inbox(PHONE)[-1].body
    before = len(bot.twilio.inbox(PHONE))
    await deliver_at(bot, moved_to - timedelta(hours=1))  # its reminders were dropped
    assert len(bot.twilio.inbox(PHONE)) == before
    [listing] = await say(bot, LUCIA, "/workshops")
    assert "Conozca" not in listing.text


async def test_a_full_workshop_says_so_and_rsvp_no_turns_reminders_off(bot: Bot) -> None:
    await people(bot)
    await schedule(bot, capacity=1)
    [listing] = await say(bot, LUCIA, "/workshops")
    await press(bot, LUCIA, listing, "Voy al 1")
    await bot.twilio.text(PHONE, "RSVP 1")
    [*_, full] = await bot.twilio.wait_for(PHONE, 2)
    assert "full" in full.body
    [cancelled] = await say(bot, LUCIA, "ASISTIR NO 1")
    assert "no viene" in cancelled.text.lower() or "no asistirá" in cancelled.text.lower()
    async with bot.services.db.transaction() as session:
        statuses = {
            r.status
            for r in (
                await session.scalars(select(DeliveryRow).where(DeliveryRow.ref == "workshop:1"))
            ).all()
        }
    assert statuses == {"skipped"}


async def test_an_sms_listing_fits_in_a_few_segments_in_spanish(bot: Bot) -> None:
    from bot.core.segments import count_segments

    await bot.twilio.text(PHONE, "ALTA 60629")
    await bot.twilio.wait_for(PHONE, 1)
    for days in (0, 7, 14):  # three workshops; an SMS lists two
        await bot.services.workshops.add(
            WorkshopPlan(
                titles={
                    "en": "Know your rights",
                    "es": "Conozca sus derechos: planes de seguridad familiar",
                },
                starts_at=START + timedelta(days=days),
                minutes=90,
                place="Centro comunitario de Pilsen, 1850 S Blue Island Ave",
                zones=("all",),
            ),
            Actor.operator(),
        )
    await bot.twilio.text(PHONE, "TALLERES")
    [*_, listing] = await bot.twilio.wait_for(PHONE, 2)
    # Two such long lines would take 5 segments: the first alone is listed.
    assert "1. Conozca" in listing.body and "2." not in listing.body and "ASISTIR" in listing.body
    assert count_segments(listing.body).segments <= 4


async def test_the_operator_imports_a_season_lists_moves_and_cancels(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    from tests.test_cli import rrbot

    imported = await rrbot(database_url, tmp_path, "workshops", "import", "config/workshops.yaml")
    assert imported.exit_code == 0, imported.output
    assert "4 workshop(s) scheduled: #1, #2, #3, #4" in imported.output  # 1 + a series of 3
    added = await rrbot(
        database_url, tmp_path, "workshops", "add", "--title", "Rights at work",
        "--start", "2027-11-07 10:00", "--place", "Gage Park library", "--zones", "60629",
        "--capacity", "30",
    )  # fmt: skip
    assert added.exit_code == 0 and added.output.strip() == "5", added.output
    listed = await rrbot(database_url, tmp_path, "workshops", "list")
    assert "Know your rights at home and at work" in listed.output
    assert "2027-11-07 10:00" in listed.output and "0/30" in listed.output
    moved = await rrbot(
        database_url, tmp_path, "workshops", "move", "5", "--start", "2027-11-14 10:00"
    )
    assert moved.exit_code == 0 and "moved" in moved.output
    cancelled = await rrbot(database_url, tmp_path, "workshops", "cancel", "1")
    assert cancelled.exit_code == 0, cancelled.output
    again = await rrbot(database_url, tmp_path, "workshops", "cancel", "1")
    assert again.exit_code == 1 and "no scheduled workshop #1" in again.output
    listed = await rrbot(database_url, tmp_path, "workshops", "list")
    assert "home and at work" not in listed.output and "2027-11-14 10:00" in listed.output
    # A monthly series across the November change keeps its wall-clock time.
    series = await rrbot(
        database_url, tmp_path, "workshops", "add", "--title", "Monthly", "--start",
        "2027-10-01 10:00", "--place", "x", "--repeat", "second saturday", "--count", "3",
    )  # fmt: skip
    assert series.exit_code == 0 and series.output.split() == ["6", "7", "8"], series.output
    listed = await rrbot(database_url, tmp_path, "workshops", "list")
    for day in ("2027-10-09 10:00", "2027-11-13 10:00", "2027-12-11 10:00"):
        assert day in listed.output
    bad = await rrbot(
        database_url, tmp_path, "workshops", "add", "--title", "T", "--start", "2027-10-01 10:00",
        "--place", "x", "--repeat", "every saturday",
    )  # fmt: skip
    assert bad.exit_code == 2 and "--repeat" in bad.output
    past = await rrbot(
        database_url, tmp_path, "workshops", "add", "--title", "Old", "--start", "2020-01-01 10:00",
        "--place", "x",
    )  # fmt: skip
    assert past.exit_code == 1 and "in the past" in past.output


async def test_an_announcement_reaches_the_zone_and_waits_out_the_quiet_hours(bot: Bot) -> None:
    from bot.core.workshops import Workshops

    await people(bot)  # Lucia (es) and the SMS phone (en), both in 60629
    bot.telegram.add_user(74002, language_code="en")
    await say(bot, 74002, "/start en_60608")  # another zone: not told
    first = await schedule(bot)
    announced = await bot.services.workshops.announce(first, Actor.operator(), quiet_hours=False)
    assert announced.queued == 2 and announced.waiting is None
    await deliver_at(bot, datetime.now(UTC))
    told = bot.telegram.messages_to(LUCIA)[-1]
    assert told.text.startswith('Nuevo taller: "Conozca sus derechos"')
    # Telegram gets a button where SMS names the keyword: no "Responda TALLERES" there.
    assert "TALLERES" not in told.text and "Apartar un lugar" in buttons(told)
    [listing] = await press(bot, LUCIA, told, "Apartar un lugar")
    assert "Voy al 1" in buttons(listing)
    assert bot.twilio.inbox(PHONE)[-1].body.startswith("New workshop: Know your rights")
    assert "Reply WORKSHOPS" in bot.twilio.inbox(PHONE)[-1].body
    assert not any("New workshop" in m.text for m in bot.telegram.messages_to(74002))

    # Announced at 23:30 in Chicago: the notices are due at 08:00 the next morning.
    late = datetime(2027, 3, 5, 23, 30, tzinfo=CHICAGO)
    night = Workshops(
        bot.services.db, bot.services.vault, bot.services.content, lambda: late.astimezone(UTC),
        timezone=CHICAGO,
    )  # fmt: skip
    assert night.after_quiet(late.astimezone(UTC)) == datetime(2027, 3, 6, 8, tzinfo=CHICAGO)
    early = datetime(2027, 3, 14, 6, 0, tzinfo=CHICAGO)  # the spring change is that night
    assert night.after_quiet(early.astimezone(UTC)) == datetime(2027, 3, 14, 8, tzinfo=CHICAGO)
    noon = datetime(2027, 3, 5, 12, 0, tzinfo=CHICAGO).astimezone(UTC)
    assert night.after_quiet(noon) == noon
    await night.announce(first, Actor.operator())
    async with bot.services.db.transaction() as session:
        dues = {
            r.due_at
            for r in (
                await session.scalars(
                    select(DeliveryRow).where(
                        DeliveryRow.ref == f"workshop:{first}", DeliveryRow.status == "queued"
                    )
                )
            ).all()
        }
    assert datetime(2027, 3, 6, 8, tzinfo=CHICAGO) in dues


async def test_a_coordinator_sets_one_up_in_telegram_announces_and_cancels_it(bot: Bot) -> None:
    from bot.core.vocabulary import Role

    rosa = 9001
    bot.telegram.add_user(rosa)
    await bot.services.coordinators.add(rosa, Role.COORDINATOR, "Rosa", Actor.operator())
    await people(bot)
    [title] = await say(bot, rosa, "/workshop")
    assert "title in English" in title.text
    await say(bot, rosa, "Know your rights")
    await say(bot, rosa, "Conozca sus derechos")
    [bad] = await say(bot, rosa, "next sunday")
    assert "YYYY-MM-DD HH:MM" in bad.text
    await say(bot, rosa, "2027-11-07 10:00")
    await say(bot, rosa, "Gage Park library")
    await say(bot, rosa, "60629")
    [summary] = await say(bot, rosa, "20")
    assert "Sun 7 Nov at 10:00 AM" in summary.text and "Seats: 20" in summary.text
    # What the button says is what happens: now by day, in the morning during quiet hours.
    [label] = [b for b in buttons(summary) if b.startswith("Schedule") and "announce" in b]
    at_night = "morning" in label
    assert ("Announce now, even at night" in buttons(summary)) == at_night
    [saved] = await press(bot, rosa, summary, label)
    assert "#1 is scheduled" in saved.text and "goes to 2 people" in saved.text
    assert ("after the quiet hours" in saved.text) == at_night
    await deliver_at(bot, datetime.now(UTC) + timedelta(hours=12))  # after any quiet hours
    assert bot.telegram.messages_to(LUCIA)[-1].text.startswith('Nuevo taller: "Conozca')
    [moved] = await say(bot, rosa, "/workshop move 1 2027-11-14 10:00 Pilsen library")
    assert "#1 is moved" in moved.text
    [listing] = await say(bot, rosa, "/workshop list")
    assert "#1 Know your rights: Sun 14 Nov at 10:00 AM, Pilsen library" in listing.text
    [cancelled] = await press(bot, rosa, listing, "Cancel #1")
    assert "#1 is cancelled" in cancelled.text
    assert await bot.services.workshops.upcoming() == []


async def test_on_telegram_an_rsvp_is_cancelled_by_button_and_no_keyword_is_named(
    bot: Bot,
) -> None:
    await people(bot)
    await schedule(bot)
    [listing] = await say(bot, LUCIA, "/workshops")
    [seat] = await press(bot, LUCIA, listing, "Voy al 1")
    assert "ASISTIR" not in seat.text and "RSVP" not in seat.text  # SMS words stay on SMS
    assert "No puedo ir" in buttons(seat)
    [again] = await say(bot, LUCIA, "/workshops")
    assert "No puedo ir al 1" in buttons(again) and "Voy al 1" not in buttons(again)
    [off] = await press(bot, LUCIA, seat, "No puedo ir")
    assert "no viene a Conozca sus derechos" in off.text
    [after] = await say(bot, LUCIA, "/workshops")
    assert "Voy al 1" in buttons(after)
    async with bot.services.db.transaction() as session:
        queued = (
            await session.scalars(
                select(DeliveryRow).where(
                    DeliveryRow.ref == "workshop:1", DeliveryRow.status == "queued"
                )
            )
        ).all()
    assert queued == []  # her reminders are off


async def test_a_workshop_that_cannot_be_is_refused_in_words(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    """Issue 16, point 7: no negative length, no capacity 0 (shown unlimited, counted full),
    no unknown language, no time the clocks skip (moved silently before)."""
    from dataclasses import replace

    import pytest

    from bot.core.workshops import WorkshopError
    from tests.test_cli import rrbot

    plan = WorkshopPlan(
        titles={"en": "Know your rights"}, starts_at=START, minutes=90, place="Gage Park"
    )
    for bad, said in (
        (replace(plan, minutes=-30), "from 1 minute"),
        (replace(plan, capacity=0), "at least one seat"),
        (replace(plan, languages=("en", "xx")), "not languages of this network: xx"),
        (
            replace(plan, starts_at=datetime(2027, 3, 14, 2, 30, tzinfo=CHICAGO)),
            "does not exist here",
        ),
    ):
        with pytest.raises(WorkshopError, match=said):
            await bot.services.workshops.add(bad, Actor.operator())
    assert await bot.services.workshops.upcoming() == []
    gap = await rrbot(
        database_url, tmp_path, "workshops", "add", "--title", "KYR", "--place", "x",
        "--start", "2027-03-14 02:30",
    )  # fmt: skip
    assert gap.exit_code == 1 and "does not exist here" in gap.output
    none = await rrbot(
        database_url, tmp_path, "workshops", "add", "--title", "KYR", "--place", "x",
        "--start", "2027-05-01 10:00", "--capacity", "0",
    )  # fmt: skip
    assert none.exit_code == 2


async def test_a_season_file_that_makes_nothing_or_is_malformed_says_so(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    from tests.test_cli import rrbot

    for text, code, said in (
        ("workshops: []\n", 1, "no workshops in it"),
        ("nothing: here\n", 1, "no workshops in it"),
        ("workshops:\n  - place: x\n", 2, "needs `title`"),
        ("workshops: [1, 2]\n", 2, "is malformed"),
        ("workshops: [\n", 2, "cannot be read as YAML"),
    ):
        season = tmp_path / "season.yaml"
        season.write_text(text, encoding="utf-8")
        result = await rrbot(database_url, tmp_path, "workshops", "import", str(season))
        assert result.exit_code == code, result.output
        assert said in " ".join(result.output.split()) and "Traceback" not in result.output
    assert await bot.services.workshops.upcoming() == []


async def test_a_spanish_sms_announcement_says_a_las_in_gsm7(bot: Bot) -> None:
    """The bot's own Spanish by SMS goes without accents ("sáb" once made it 3 segments),
    says the time as Spanish does (a las 10:00 a.m.) and quotes the title."""
    from bot.core.segments import count_segments

    spanish = "+13125550188"
    await bot.twilio.text(spanish, "ALTA 60629")
    await bot.twilio.wait_for(spanish, 1)
    first = await schedule(bot)
    await bot.services.workshops.announce(first, Actor.operator(), quiet_hours=False)
    await deliver_at(bot, datetime.now(UTC))
    told = bot.twilio.inbox(spanish)[-1].body
    assert told.startswith('Nuevo taller: "Conozca sus derechos", el dom 7 nov a las 10:00 a.m.')
    assert count_segments(told).encoding == "GSM-7"
    # Every language writes the day and time its own way, none fails (zh-Hans, fa-AF).
    for code in bot.services.content.languages:
        assert "10:00" in bot.services.workshops.when(START, code) or code in ("ar", "ps"), code
