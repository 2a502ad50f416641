"""Retention for everything, and forgetting one person (issue 15, point 10): a STOPped
number's cipher goes (the STOP still holds and START still works), deliveries and notices
lose their link to people, RSVPs and consents go, and `rrbot forget` leaves nothing of one
person, here or at Twilio."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.core.alerts import AlertDraft
from bot.core.audit import Actor, entries
from bot.core.retention import Retention
from bot.core.vocabulary import AlertKind, Channel, Role
from bot.delivery.worker import Worker
from bot.storage.models import (
    AlertRow,
    CheckInRow,
    ConsentRow,
    DeletionRow,
    DeliveryRow,
    ReportRow,
    RsvpRow,
    SubscriberRow,
)
from tests.conftest import Bot
from tests.support import say
from tests.test_alerts import finished
from tests.test_cli import rrbot
from tests.test_workshops import LUCIA, START, people, rsvp_both, schedule

PHONE = "+13125550171"


def retention(bot: Bot, days: float) -> Retention:
    """The application's retention with its clock `days` ahead."""
    moment = datetime.now(UTC) + timedelta(days=days)
    live = bot.services.retention
    return Retention(live.db, live.vault, lambda: moment, live.periods)


async def subscriber_rows(bot: Bot) -> list[SubscriberRow]:
    async with bot.services.db.transaction() as session:
        return list((await session.scalars(select(SubscriberRow))).all())


async def alert(bot: Bot, text: str) -> None:
    sent = await bot.services.alerts.send_now(
        AlertDraft(AlertKind.ALERT, ("60629",), {"en": text}), Actor.operator()
    )
    await finished(bot, sent.id)


async def test_a_stopped_number_is_dropped_after_30_days_and_the_stop_still_holds(
    bot: Bot, worker: Worker
) -> None:
    await bot.twilio.text(PHONE, "JOIN 60629")
    await bot.twilio.text(PHONE, "STOP")
    assert (await retention(bot, 29).purge())["optout_numbers"] == 0  # not yet
    assert (await retention(bot, 31).purge())["optout_numbers"] == 1
    [row] = await subscriber_rows(bot)
    assert row.address_cipher is None and row.address_index  # the index keeps the opt-out
    had = len(bot.twilio.inbox(PHONE))
    await alert(bot, "Agents at 59th and Kedzie.")
    assert len(bot.twilio.inbox(PHONE)) == had  # still opted out: nothing sent

    await bot.twilio.text(PHONE, "START")  # the same row is found, and the number kept again
    [row] = await subscriber_rows(bot)
    assert row.status == "active" and row.address_cipher is not None
    await alert(bot, "Checkpoint on Pulaski.")
    assert "Checkpoint on Pulaski" in bot.twilio.inbox(PHONE)[-1].body


async def test_deliveries_and_notices_lose_their_link_to_people_counts_stay(
    bot: Bot, worker: Worker
) -> None:
    await bot.twilio.text(PHONE, "JOIN 60629")
    await alert(bot, "Agents at 59th and Kedzie.")
    bot.telegram.add_user(9101)
    await bot.services.coordinators.add(9101, Role.ADMIN, "Rosa", Actor.operator())
    await bot.services.coordinators.notify("a card", ref="report:1")
    await bot.telegram.wait_for(9101, 1)
    await bot.twilio.wait_status_idle()
    assert (await retention(bot, 29).purge())["deliveries"] == 0
    done = await retention(bot, 31).purge()
    assert done["deliveries"] == 1 and done["notices"] >= 1
    async with bot.services.db.transaction() as session:
        kept = (await session.scalars(select(DeliveryRow))).all()
        [purged_at] = (await session.scalars(select(AlertRow.purged_at))).all()
    assert purged_at is not None
    assert all(d.subscriber_id is None and d.provider_id is None for d in kept)
    assert all(d.body_cipher is None and d.address_cipher is None for d in kept)
    progress = await bot.services.alerts.progress(1)
    assert progress.counts == {("sms", "delivered"): 1}  # what the network counts stays
    assert (await retention(bot, 32).purge())["deliveries"] == 0  # nothing done twice
    actions = [e.action for e in await entries(bot.services.db)]
    assert "retention.purge" in actions


async def test_check_in_answers_lose_who_gave_them_with_the_deliveries_counts_stay(
    bot: Bot, worker: Worker
) -> None:
    await bot.twilio.text(PHONE, "JOIN 60629")
    sent = await bot.services.alerts.send_now(
        AlertDraft(AlertKind.ALERT, ("60629",), {"en": "Agents at 59th."}, check_in=True),
        Actor.operator(),
    )
    await finished(bot, sent.id)
    await bot.twilio.text(PHONE, "1")
    await bot.twilio.wait_status_idle()
    async with bot.services.db.transaction() as session:
        [answer] = (await session.scalars(select(CheckInRow))).all()
    assert answer.subscriber_id is not None
    assert (await retention(bot, 31).purge())["deliveries"] == 1
    async with bot.services.db.transaction() as session:
        [answer] = (await session.scalars(select(CheckInRow))).all()
    assert answer.subscriber_id is None and answer.answer == "safe"
    check_ins = (await bot.services.alerts.progress(sent.id)).check_ins
    assert check_ins is not None and check_ins.safe == 1


async def test_rsvps_and_old_consents_go_each_subscribers_latest_consent_stays(bot: Bot) -> None:
    await people(bot)
    await schedule(bot)
    await rsvp_both(bot)
    await bot.twilio.text(PHONE, "JOIN 60629")
    await bot.twilio.text(PHONE, "STOP")
    await bot.twilio.text(PHONE, "START")
    after_workshop = (START.astimezone(UTC) - datetime.now(UTC)).days + 31
    done = await retention(bot, after_workshop).purge()
    assert done["rsvps"] == 2
    async with bot.services.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(RsvpRow)) == 0
    done = await retention(bot, 1462).purge()
    async with bot.services.db.transaction() as session:
        per_person = (
            await session.execute(
                select(ConsentRow.subscriber_id, func.count()).group_by(ConsentRow.subscriber_id)
            )
        ).all()
    assert done["consents"] == 2 and all(n == 1 for _, n in per_person)  # the latest each


async def test_forget_leaves_nothing_of_one_person_here_or_at_twilio(
    bot: Bot, worker: Worker, database_url: str, tmp_path: Path
) -> None:
    await bot.twilio.text(PHONE, "JOIN 60629")
    await bot.twilio.text(PHONE, "REPORT two vans with agents at 55th and Kedzie 60629")
    await alert(bot, "Agents at 59th and Kedzie.")
    await bot.twilio.wait_status_idle()
    other = "+13125550172"
    await bot.twilio.text(other, "JOIN 60629")
    async with bot.services.db.transaction() as session:
        sms_sids = set(
            (
                await session.scalars(
                    select(DeliveryRow.provider_id).where(DeliveryRow.subscriber_id == 1)
                )
            ).all()
        )
    forgotten = await rrbot(database_url, tmp_path, "forget", "--phone", "(312) 555-0171")
    assert forgotten.exit_code == 0, forgotten.output
    assert "subscriptions: 1" in forgotten.output and "reports: 1" in forgotten.output
    assert "0171" not in forgotten.output
    rows = await subscriber_rows(bot)
    assert len(rows) == 1  # the other person stays
    async with bot.services.db.transaction() as session:
        [report] = (await session.scalars(select(ReportRow))).all()
        assert report.reporter_index is None and report.reporter_cipher is None
        assert report.details_cipher is None
        scheduled = set((await session.scalars(select(DeletionRow.sid))).all())
        left = (
            await session.scalars(select(DeliveryRow).where(DeliveryRow.subscriber_id == 1))
        ).all()
    assert not left and sms_sids <= scheduled  # the alert's SMS is deleted at Twilio too
    log = await rrbot(database_url, tmp_path, "audit")
    assert "person.forget" in log.output and "0171" not in log.output
    # A Telegram subscriber is forgotten by id, and an id nobody has just finds nothing.
    bot.telegram.add_user(LUCIA, language_code="es")
    await say(bot, LUCIA, "/start es_60629")
    gone = await bot.services.retention.forget(Channel.TELEGRAM, str(LUCIA), Actor.operator())
    assert gone["subscriptions"] == 1 and len(await subscriber_rows(bot)) == 1
    nobody = await rrbot(database_url, tmp_path, "forget", "--telegram-id", "123")
    assert "subscriptions: 0" in nobody.output
    both = await rrbot(database_url, tmp_path, "forget")
    assert both.exit_code == 2 and "--phone or --telegram-id" in both.output


async def test_the_workers_upkeep_applies_retention_hourly_and_deletes_at_twilio(bot: Bot) -> None:
    from bot.app import build_upkeep

    upkeep = build_upkeep(bot.services)
    try:
        first = await upkeep.tick()
        assert "retention_optout_numbers" in first and "twilio_deleted" in first
        second = await upkeep.tick()  # a minute later: the retention round waits for the hour
        assert "retention_optout_numbers" not in second and "twilio_deleted" in second
    finally:
        await upkeep.stop()
