"""Coordinators in Telegram: compose, preview, send, approve, invite; invisible to anyone else."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.channels.telegram.buttons import (
    Agree,
    Approve,
    CancelWorkshop,
    Card,
    DuplicateOf,
    Invite,
    PickExpiry,
    PickKind,
    Preview,
    PreviewChoice,
    Refuse,
    Reject,
    Remove,
    SaveWorkshop,
    WorkshopChoice,
)
from bot.core.audit import Actor, entries
from bot.core.cards import CardAction
from bot.core.vocabulary import AlertKind, Role
from bot.delivery.worker import Worker
from bot.sim.fake_telegram import SentMessage
from bot.storage.models import DeliveryRow
from tests.conftest import Bot
from tests.support import buttons, edited, eventually, latest, press, say
from tests.test_alerts import finished

ROSA, LUIS, ANA = 9001, 9002, 9003


async def subscribers(bot: Bot) -> list[int]:
    people = []
    for i, (language, zone) in enumerate([("en", "60629"), ("es", "60629"), ("en", "60608")]):
        uid = 71000 + i
        bot.telegram.add_user(uid, language_code=language)
        await say(bot, uid, f"/start {language}_{zone}")
        people.append(uid)
    return people


async def compose(bot: Bot, user: int) -> SentMessage:
    """Rosa composes an alert for 60629 in English and Spanish; returns the preview."""
    [kind] = await say(bot, user, "/alert")
    [zones] = await press(bot, user, kind, "Alert")
    assert "ZIP" in zones.text
    [english] = await say(bot, user, "60629")
    assert "English" in english.text and "template" in english.text
    assert {"Agents seen", "Enforcement confirmed"} <= set(buttons(english))
    [spanish] = await say(bot, user, "Agents at 55th and Kedzie. Stay inside.")
    assert "Español" in spanish.text
    [expiry] = await say(bot, user, "Agentes de inmigración en la 55 y Kedzie. Quédese adentro.")
    [preview] = await press(bot, user, expiry, "4 hours")
    return preview


async def test_a_coordinator_composes_previews_and_sends_an_alert(bot: Bot, worker: Worker) -> None:
    people = await subscribers(bot)
    bot.telegram.add_user(ROSA)
    await bot.services.coordinators.add(ROSA, Role.ADMIN, "Rosa", Actor.operator())
    preview = await compose(bot, ROSA)
    assert "2 people" in preview.text  # the two in 60629
    assert "SMS in English: 1 segment, GSM-7" in preview.text
    assert "Zones: 60629 Chicago Lawn" in preview.text and "Holds until" in preview.text
    assert "UCS-2 (forced by ó)" in preview.text  # the Spanish accent
    assert "VERIFIED ALERT" in preview.text and "ALERTA VERIFICADA" in preview.text
    [sending] = await press(bot, ROSA, preview, "Send now")
    assert "Sending #1 to 2 people" in sending.text
    assert latest(bot, ROSA, preview).reply_markup is None  # a sent preview has no buttons
    await finished(bot, 1)
    english, spanish, elsewhere = people
    assert "55th and Kedzie" in bot.telegram.messages_to(english)[-1].text
    assert "55 y Kedzie" in bot.telegram.messages_to(spanish)[-1].text
    assert "Kedzie" not in bot.telegram.messages_to(elsewhere)[-1].text
    [status] = await say(bot, ROSA, "/status")
    assert "#1 Alert" in status.text and "telegram: sent 2" in status.text
    # Once every delivery has ended, the composer hears how it went, once.
    [summary] = (await bot.telegram.wait_for(ROSA, len(bot.telegram.messages_to(ROSA)) + 1))[-1:]
    assert "#1 is done: 2 of 2 reached" in summary.text


async def test_a_filled_template_reaches_each_language_in_its_own_words(
    bot: Bot, worker: Worker
) -> None:
    """The coordinator fills a template once; every language's text comes from its own
    template (times as each writes them), and each subscriber gets theirs."""
    languages = ("en", "es", "pl", "zh-Hans", "ar")
    people = {}
    for i, code in enumerate(languages):
        uid = 72000 + i
        bot.telegram.add_user(uid, language_code=code)
        await say(bot, uid, f"/start {code}_60629")
        people[code] = uid
    bot.telegram.add_user(ROSA)
    await bot.services.coordinators.add(ROSA, Role.ADMIN, "Rosa", Actor.operator())
    [kind] = await say(bot, ROSA, "/alert")
    await press(bot, ROSA, kind, "Alert")
    [english] = await say(bot, ROSA, "60629")
    [place] = await press(bot, ROSA, english, "Agents seen")
    assert "Cross streets" in place.text
    [when] = await say(bot, ROSA, "26th and Pulaski")
    assert "At what time" in when.text
    bad, again = await say(bot, ROSA, "half past", expect=2)  # asked again, nothing lost
    assert "no time" in bad.text and "At what time" in again.text
    [what] = await say(bot, ROSA, "3:40 pm")
    assert "few words" in what.text
    [expiry] = await say(bot, ROSA, "2 unmarked vans")
    had = len(bot.telegram.messages_to(ROSA))
    await press(bot, ROSA, expiry, "4 hours")

    async def shown() -> list[SentMessage]:
        return bot.telegram.messages_to(ROSA)[had:]

    # The texts that do not fit the preview come first, each language once, then the preview.
    sent = await eventually(shown, lambda m: any("Preview of #1" in x.text for x in m))
    preview = sent[-1]
    assert "Preview of #1" in preview.text and buttons(preview)
    content = bot.services.content
    everything = "\n".join(m.text for m in sent)
    for code in content.languages:
        assert everything.count(f"[{content.language_name(code)}]\n") == 1, code
    for code in languages:  # the recipients' languages are on the preview itself
        assert f"[{content.language_name(code)}]" in preview.text, code
    assert "Immigration agents seen at 26th and Pulaski (Chicago Lawn" in preview.text
    assert "around 3:40 PM: 2 unmarked vans" in preview.text
    assert "alrededor de las 3:40 p.m." in preview.text  # Spanish in the U.S.: 12-hour
    assert "15:40" in preview.text  # Polish and Chinese write the 24-hour clock
    await press(bot, ROSA, preview, "Send now")
    await finished(bot, 1)
    for code, uid in people.items():
        template = content.alert_templates["sighting"][code].split("{")[0].strip()
        got = bot.telegram.messages_to(uid)[-1].text.replace("\u2066", "").replace("\u2069", "")
        assert "Pulaski" in got and "2 unmarked vans" in got, code
        assert template.replace("\u2066", "").replace("\u2069", "") in got, code


async def test_one_button_sends_the_sms_without_what_forced_ucs2(bot: Bot, worker: Worker) -> None:
    """A coordinator's own Spanish text: the preview names what forces UCS-2 and offers one
    button with the segments before and after; the SMS then goes in GSM-7, Telegram as typed."""
    people = await subscribers(bot)
    phone = "+13125550177"
    await bot.twilio.text(phone, "ALTA 60629")
    bot.telegram.add_user(ROSA)
    await bot.services.coordinators.add(ROSA, Role.ADMIN, "Rosa", Actor.operator())
    preview = await compose(bot, ROSA)
    assert "SMS in Español: 2 segments, UCS-2 (forced by ó); without them: 1" in preview.text
    [plain] = await press(bot, ROSA, preview, "SMS without them: 2 → 1 segments")
    assert "SMS in Español: 1 segment, GSM-7" in plain.text
    assert "without them" not in plain.text  # nothing left to take out
    await press(bot, ROSA, plain, "Send now")
    await finished(bot, 1)
    sms = [m.body for m in bot.twilio.inbox(phone) if "Kedzie" in m.body]
    # ó has no place in GSM-7 and goes; é has one and stays.
    assert len(sms) == 1 and "Agentes de inmigracion en la 55 y Kedzie. Quédese" in sms[0]
    assert "inmigración en la 55" in bot.telegram.messages_to(people[1])[-1].text


async def test_with_two_coordinators_a_second_one_approves(bot: Bot, worker: Worker) -> None:
    people = await subscribers(bot)
    for uid, label in ((ROSA, "Rosa"), (LUIS, "Luis")):
        bot.telegram.add_user(uid)
        await bot.services.coordinators.add(uid, Role.COORDINATOR, label, Actor.operator())
    preview = await compose(bot, ROSA)
    [waiting] = await press(bot, ROSA, preview, "Send for approval")
    assert "Waiting for a second coordinator" in waiting.text
    [request] = await bot.telegram.wait_for(LUIS, 1)
    assert "Rosa asks you to approve #1" in request.text and "2 people" in request.text
    async with bot.services.db.transaction() as session:  # through the outbox, not sent directly
        refs = (
            await session.scalars(select(DeliveryRow.ref).where(DeliveryRow.ref.is_not(None)))
        ).all()
    assert refs == ["alert:1"]
    assert "Kedzie" not in bot.telegram.messages_to(people[0])[-1].text  # nothing out yet
    rosa_had = len(bot.telegram.messages_to(ROSA))
    [approved] = await press(bot, LUIS, request, "Approve")
    assert "sending #1 to 2 people" in approved.text
    [told] = (await bot.telegram.wait_for(ROSA, rosa_had + 1))[rosa_had:]
    assert "approved by Luis" in told.text
    await finished(bot, 1)
    assert "Kedzie" in bot.telegram.messages_to(people[0])[-1].text
    actions = [(e.actor, e.action) for e in await entries(bot.services.db)]
    assert ("Rosa", "alert.submit") in actions and ("Luis", "alert.approve") in actions


async def test_once_one_coordinator_decides_every_other_request_says_who_and_loses_its_buttons(
    bot: Bot, worker: Worker
) -> None:
    await subscribers(bot)
    for uid, label in ((ROSA, "Rosa"), (LUIS, "Luis"), (ANA, "Ana")):
        bot.telegram.add_user(uid)
        await bot.services.coordinators.add(uid, Role.COORDINATOR, label, Actor.operator())
    ana = await bot.services.coordinators.by_telegram(ANA)
    assert ana is not None
    await bot.services.coordinators.set_language(ana.id, "es")
    preview = await compose(bot, ROSA)
    await press(bot, ROSA, preview, "Send for approval")
    [luis_request] = await bot.telegram.wait_for(LUIS, 1)
    [ana_request] = await bot.telegram.wait_for(ANA, 1)
    # Both requests' outcomes are written (within the worker's group write of a few ms).
    await eventually(
        lambda: bot.services.coordinators.notices("alert:1"), until=lambda found: len(found) == 2
    )
    assert set(buttons(ana_request)) == {"Aprobar", "Rechazar"}
    await press(bot, LUIS, luis_request, "Approve")
    settled = await edited(bot, ANA, ana_request, "Aprobada por Luis")
    assert settled.reply_markup is None and "Rosa" in settled.text  # the request, then who
    assert latest(bot, LUIS, luis_request).reply_markup is None
    # Her stale press is refused in words and sends nothing twice.
    before = len(bot.telegram.messages_to(ANA))
    await bot.telegram.press(ANA, ana_request.message_id, buttons(ana_request)["Aprobar"])
    await finished(bot, 1)
    assert [a.recipients for a in await bot.services.alerts.recent(5)] == [2]
    assert len(bot.telegram.messages_to(ANA)) == before


async def test_an_admin_invites_a_coordinator_with_a_one_time_link(bot: Bot) -> None:
    bot.telegram.add_user(ROSA)
    bot.telegram.add_user(LUIS)
    bot.telegram.add_user(ANA)
    await bot.services.coordinators.add(ROSA, Role.ADMIN, "Rosa", Actor.operator())
    [team] = await say(bot, ROSA, "/coordinators")
    [invite] = await press(bot, ROSA, team, "Invite a coordinator")
    code = invite.text.split("start=inv_", 1)[1].split()[0]
    [welcome] = await say(bot, LUIS, f"/start inv_{code}")
    assert "Welcome, coordinator #2" in welcome.text
    [used] = await say(bot, ANA, f"/start inv_{code}")
    assert "not valid" in used.text
    assert await bot.services.coordinators.by_telegram(ANA) is None
    [status] = await say(bot, LUIS, "/status")
    assert "No alerts yet" in status.text


PRIVILEGED_COMMANDS = [
    "/alert",
    "/status",
    "/coordinators",
    "/skip",
    "/cancel",
    "/reports",
    "/duty",
    "/workshop",
]
FORGED_BUTTONS = [
    button.pack()
    for button in (
        PickKind(1, AlertKind.ALERT),
        Preview(1, PreviewChoice.SEND),
        Approve(1),
        Reject(1),
        Agree(1),
        Refuse(1),
        Invite(Role.ADMIN),
        Remove(1),
        PickExpiry(1, 4),
        Card(1, CardAction.CLAIM),
        Card(1, CardAction.CONFIRM),
        Card(1, CardAction.FALSE_ALARM),
        DuplicateOf(1, 2),
        Card(1, CardAction.ASK),
        Card(1, CardAction.BLOCK),
        Card(1, CardAction.PHOTO),
        SaveWorkshop(1, WorkshopChoice.ANNOUNCE),
        CancelWorkshop(1),
    )
]


@pytest.mark.parametrize("command", PRIVILEGED_COMMANDS)
async def test_a_subscriber_trying_a_coordinator_command_gets_the_ordinary_menu(
    bot: Bot, command: str
) -> None:
    bot.telegram.add_user(ANA)
    await bot.services.coordinators.add(ROSA, Role.ADMIN, "Rosa", Actor.operator())
    [menu] = await say(bot, ANA, command)
    [unknown] = await say(bot, ANA, "/dance")
    assert menu.text == unknown.text and buttons(menu) == buttons(unknown)
    assert "Rosa" not in menu.text and "coordinator" not in menu.text.lower()


async def test_forged_coordinator_buttons_do_nothing_for_a_subscriber(
    bot: Bot, worker: Worker
) -> None:
    people = await subscribers(bot)
    await bot.services.coordinators.add(ROSA, Role.ADMIN, "Rosa", Actor.operator())
    await bot.services.coordinators.add(LUIS, Role.COORDINATOR, "Luis", Actor.operator())
    bot.telegram.add_user(ROSA)
    preview = await compose(bot, ROSA)
    await press(bot, ROSA, preview, "Send for approval", expect=1)
    before = [e.action for e in await entries(bot.services.db)]
    bot.telegram.add_user(ANA)
    [menu] = await say(bot, ANA, "hello")
    for data in FORGED_BUTTONS:
        count = len(bot.telegram.messages_to(ANA))
        await bot.telegram.press(ANA, menu.message_id, data)
        [answer] = (await bot.telegram.wait_for(ANA, count + 1))[count:]
        assert "Rosa" not in answer.text and "#1" not in answer.text
    assert [
        e.action for e in await entries(bot.services.db)
    ] == before  # nothing approved or invited
    assert (await bot.services.alerts.get(1)).status == "pending"
    assert all("Kedzie" not in bot.telegram.messages_to(uid)[-1].text for uid in people)


async def test_an_invite_expires_after_a_day(bot: Bot) -> None:
    from datetime import timedelta

    from bot.core.coordinators import CoordinatorError, Coordinators

    rosa = await bot.services.coordinators.add(ROSA, Role.ADMIN, "Rosa", Actor.operator())
    code = await bot.services.coordinators.invite(Role.COORDINATOR, rosa.actor())
    now = bot.services.coordinators.clock()
    tomorrow = Coordinators(
        bot.services.db, bot.services.vault, lambda: now + timedelta(hours=24, seconds=1)
    )
    with pytest.raises(CoordinatorError, match="not valid"):
        await tomorrow.redeem(code, LUIS, "Luis")
    assert await bot.services.coordinators.by_telegram(LUIS) is None


async def test_two_people_redeeming_one_invite_at_once_make_one_coordinator(bot: Bot) -> None:
    from bot.core.coordinators import CoordinatorError

    coordinators = bot.services.coordinators
    rosa = await coordinators.add(ROSA, Role.ADMIN, "Rosa", Actor.operator())
    code = await coordinators.invite(Role.COORDINATOR, rosa.actor())
    results = await asyncio.gather(
        coordinators.redeem(code, LUIS, "Luis"),
        coordinators.redeem(code, LUIS + 1, "Ana"),
        return_exceptions=True,
    )
    joined = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, CoordinatorError)]
    assert (len(joined), len(refused)) == (1, 1), [type(r).__name__ for r in results]
    assert len(await coordinators.all()) == 2  # Rosa and whoever won


async def test_a_removed_coordinators_unused_invites_stop_working(bot: Bot) -> None:
    from bot.core.coordinators import CoordinatorError

    coordinators = bot.services.coordinators
    rosa = await coordinators.add(ROSA, Role.ADMIN, "Rosa", Actor.operator())
    code = await coordinators.invite(Role.COORDINATOR, rosa.actor())
    await coordinators.remove(rosa.id, Actor.operator())
    with pytest.raises(CoordinatorError, match="not valid"):
        await coordinators.redeem(code, LUIS, "Luis")
    assert await coordinators.by_telegram(LUIS) is None
