"""A report nobody claims is escalated (issue 19, point 4): to every coordinator after
REPORT_ESCALATE_MINUTES, to the admins after twice that, by SMS to the hotline volunteers on
duty after three times; claiming stops it. The clock is a parameter: nothing sleeps."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.app import build_worker
from bot.core.audit import Actor
from bot.core.vocabulary import Role
from tests.conftest import Bot, Worker
from tests.support import buttons, edited, eventually, say
from tests.test_reports import arrives, card, reveals

ROSA, LUIS, ADA = 9501, 9502, 9503  # Rosa on duty for 60629; Luis for 60608; Ada an admin
VOLUNTEER = "+13125550195"
REPORTER = "+13125550196"


async def team(bot: Bot) -> None:
    for uid, label, role, zones in (
        (ROSA, "Rosa", Role.COORDINATOR, "60629"),
        (LUIS, "Luis", Role.COORDINATOR, "60608"),
        (ADA, "Ada", Role.ADMIN, None),
    ):
        bot.telegram.add_user(uid)
        await bot.services.coordinators.add(uid, role, label, Actor.operator())
        await say(bot, uid, f"/duty on {zones}" if zones else "/duty off")
    await bot.services.hotline.add(VOLUNTEER, "Vol", Actor.operator())


async def reported(bot: Bot) -> int:
    result = await bot.twilio.text(REPORTER, "REPORT two vans of agents at 55th and Kedzie 60629")
    assert result.status == 200
    [report] = await bot.services.reports.open_reports()
    return report.id


async def test_an_unclaimed_report_goes_to_everyone_then_the_admins_then_the_hotline(
    bot: Bot, worker: Worker
) -> None:
    await team(bot)
    number = await reported(bot)
    await card(bot, ROSA, number, already=1)  # on duty for 60629: the card at once
    seen_by_luis = len(bot.telegram.messages_to(LUIS))
    view = await bot.services.reports.view(number)
    start = view.submitted_at
    assert start is not None
    reports = bot.services.reports
    assert await reports.escalate(start + timedelta(minutes=9)) == 0  # not yet
    assert await reports.escalate(start + timedelta(minutes=10)) == 1
    escalated = await arrives(bot, LUIS, f"ESCALATED: report #{number} has waited 10 min")
    assert "REPORT #" in escalated.text and f"r:{number}:claim" in str(escalated.reply_markup)
    assert len(bot.telegram.messages_to(LUIS)) == seen_by_luis + 1
    assert await reports.escalate(start + timedelta(minutes=11)) == 0  # once per step
    assert await reports.escalate(start + timedelta(minutes=20)) == 1
    await arrives(bot, ADA, f"report #{number} has waited 20 min")
    await asyncio.sleep(0.2)  # anything sent with the admins' notice has arrived too
    assert not [m for m in bot.telegram.messages_to(LUIS) if "20 min" in m.text]  # admins only
    assert await reports.escalate(start + timedelta(minutes=30)) == 1

    async def alarms() -> list[str]:
        return [s.body for s in bot.twilio.inbox(VOLUNTEER) if f"#{number}" in s.body]

    [alarm] = await eventually(alarms)
    assert "60629" in alarm and "30 min" in alarm
    named = reveals(alarm, REPORTER[2:])  # bound first: a failure prints no number
    assert not named, "the alarm names the reporter's number"
    assert await reports.escalate(start + timedelta(hours=2)) == 0  # three steps, no more


async def test_claiming_stops_the_escalation(bot: Bot, worker: Worker) -> None:
    await team(bot)
    number = await reported(bot)
    first = await card(bot, ROSA, number, already=1)
    await bot.telegram.press(ROSA, first.message_id, buttons(first)["I'm verifying"])
    view = await eventually(
        lambda: bot.services.reports.view(number), lambda v: v.claimed_by is not None
    )
    assert view.submitted_at is not None
    assert await bot.services.reports.escalate(view.submitted_at + timedelta(minutes=45)) == 0


async def test_three_people_in_neighbouring_zones_corroborate_one_card(
    bot: Bot, worker: Worker
) -> None:
    """Corroboration (point 3): reports from three different senders in 60629 and two of
    its neighbours, within the window, are shown on the third's card as from three people,
    with the VERIFY questions about those zones in the last hour."""
    await team(bot)
    for number, text in (
        ("+13125550182", "REPORT ICE vans on Archer 60632"),
        ("+13125550183", "REPORT agents at the Marquette Park gate 60636"),
        ("+13125550181", "REPORT agents at 55th and Kedzie 60629"),
        ("+13125550181", "REPORT they are still at 55th and Kedzie 60629"),  # the same person
    ):
        assert (await bot.twilio.text(number, text)).status == 200
    await bot.twilio.text("+13125550184", "VERIFY 60629")
    await bot.twilio.text("+13125550185", "VERIFY 60632")
    card = await arrives(bot, ROSA, "REPORT #4 ")
    assert (
        "Nearby within 3 hours: #1, #2, #3, from 3 different people (sms 3; photos: 0)" in card.text
    )
    view = await bot.services.reports.view(4)
    assert view.support.verify_asks == 2 and view.support.people == 3
    far = await bot.twilio.text("+13125550186", "REPORT agents in Uptown 60640")
    assert far.status == 200
    lonely = await bot.services.reports.view(5)
    assert lonely.nearby == [] and lonely.support.people == 1


async def test_a_card_already_sent_is_edited_as_corroborating_reports_arrive(
    bot: Bot, worker: Worker
) -> None:
    """Rosa's card of the first report does not stay as it was: each report near it edits it
    (through the outbox) to count the others and offer to confirm them together."""
    await team(bot)
    assert (await bot.twilio.text("+13125550171", "REPORT ICE vans on 59th 60629")).status == 200
    first = await card(bot, ROSA, 1, already=1)
    assert "Nearby" not in first.text and "Confirm all" not in str(first.reply_markup)
    await eventually(lambda: bot.services.reports.cards(1))  # recorded as sent: editable
    for number, text in (
        ("+13125550172", "REPORT agents at the Marquette Park gate 60629"),
        ("+13125550173", "REPORT agents at 55th and Kedzie 60629"),
    ):
        assert (await bot.twilio.text(number, text)).status == 200
    now = await edited(bot, ROSA, first, "from 3 different people")
    assert "Nearby within 3 hours: #2, #3" in now.text and now.text.startswith("REPORT #1 ")
    assert "Confirm all 3 together" in buttons(now)
    # Claimed by Rosa: the others' arrival keeps her buttons as hers (the verdicts).
    await bot.telegram.press(ROSA, now.message_id, buttons(now)["I'm verifying"])
    await edited(bot, ROSA, first, "being verified by Rosa")
    assert (await bot.twilio.text("+13125550174", "REPORT still there 60629")).status == 200
    latest_card = await edited(bot, ROSA, first, "#2, #3, #4")
    assert "Confirmed" in buttons(latest_card) and "being verified by Rosa" in latest_card.text


async def test_a_card_still_queued_goes_out_counting_the_reports_that_came_since(
    bot: Bot,
) -> None:
    """No worker runs while three reports arrive (a burst: cards wait their turn); the first
    card, once sent, already counts the two after it."""
    await team(bot)
    for number, text in (
        ("+13125550175", "REPORT ICE vans on 59th 60629"),
        ("+13125550176", "REPORT agents at the Marquette Park gate 60629"),
        ("+13125550177", "REPORT agents at 55th and Kedzie 60629"),
    ):
        assert (await bot.twilio.text(number, text)).status == 200
    running = build_worker(bot.services)
    await running.start()
    try:
        first = await card(bot, ROSA, 1, already=1)
    finally:
        await running.stop()
    assert "Nearby within 3 hours: #2, #3, from 3 different people" in first.text
    assert "Confirm all 3 together" in buttons(first)


async def test_a_coordinator_confirms_a_group_of_corroborating_reports_at_once(
    bot: Bot, worker: Worker
) -> None:
    """Point 3's other half: the card of a report with unclaimed nearby ones offers to
    confirm them together; this one is confirmed (its alert draft opens, nothing is sent
    without a coordinator) and the others become its duplicates."""
    await team(bot)
    for number, text in (
        ("+13125550182", "REPORT ICE vans on Archer 60632"),
        ("+13125550183", "REPORT agents at the Marquette Park gate 60636"),
        ("+13125550181", "REPORT agents at 55th and Kedzie 60629"),
    ):
        assert (await bot.twilio.text(number, text)).status == 200
    card = await arrives(bot, ROSA, "REPORT #3 ")
    assert "Confirm all 3 together" in buttons(card)
    await bot.telegram.press(ROSA, card.message_id, buttons(card)["Confirm all 3 together"])
    preview = await arrives(bot, ROSA, "Preview of #1")
    assert "55th and Kedzie" in preview.text  # the confirmed report's draft, not yet sent

    async def statuses() -> list[str]:
        return [str((await bot.services.reports.view(i)).status) for i in (1, 2, 3)]

    done = await eventually(statuses, lambda s: s == ["duplicate", "duplicate", "confirmed"])
    assert done == ["duplicate", "duplicate", "confirmed"]
    assert [(await bot.services.reports.view(i)).duplicate_of for i in (1, 2)] == [3, 3]
    assert await bot.services.alerts.recent(5) != []  # a draft only
    assert all(a.status == "draft" for a in await bot.services.alerts.recent(5))
