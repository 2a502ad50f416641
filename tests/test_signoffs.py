"""The two-person rule beyond alerts (issue 15, points 7 and 8): a workshop announcement waits
for a second coordinator, and removing a coordinator or inviting an admin for a second admin;
a removed coordinator loses their queued notices at once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.channels.telegram.buttons import Agree
from bot.core.audit import Actor, entries
from bot.core.coordinators import Coordinator, CoordinatorError
from bot.core.signoffs import SignOffError
from bot.core.vocabulary import Role, SignOffAction
from bot.core.workshops import WorkshopPlan
from bot.delivery.worker import Worker
from bot.storage.models import DeliveryRow
from tests.conftest import Bot
from tests.support import buttons, press, say
from tests.test_workshops import LUCIA, PHONE, START, deliver_at, people, schedule

ROSA, LUIS, ANA = 9001, 9002, 9003


async def team(bot: Bot, *members: tuple[int, Role, str]) -> list[Coordinator]:
    made = []
    for uid, role, label in members:
        bot.telegram.add_user(uid)
        made.append(await bot.services.coordinators.add(uid, role, label, Actor.operator()))
    return made


async def workshop_deliveries(bot: Bot, workshop_id: int) -> list[DeliveryRow]:
    async with bot.services.db.transaction() as session:
        query = select(DeliveryRow).where(DeliveryRow.ref == f"workshop:{workshop_id}")
        return list((await session.scalars(query)).all())


async def test_a_workshop_announcement_waits_for_a_second_coordinator(
    bot: Bot, worker: Worker
) -> None:
    rosa, luis = await team(bot, (ROSA, Role.COORDINATOR, "Rosa"), (LUIS, Role.COORDINATOR, "Luis"))
    await people(bot)  # two subscribers in 60629
    await say(bot, ROSA, "/workshop")
    for answer in ("Know your rights", "Conozca sus derechos", "2027-11-07 10:00"):
        await say(bot, ROSA, answer)
    await say(bot, ROSA, "Gage Park library")
    await say(bot, ROSA, "60629")
    [summary] = await say(bot, ROSA, "20")
    [label] = [b for b in buttons(summary) if b.startswith("Schedule") and "announce" in b]
    [saved] = await press(bot, ROSA, summary, label)
    assert "#1 is scheduled" in saved.text and "waits for a second coordinator" in saved.text
    assert await workshop_deliveries(bot, 1) == []  # nothing queued to subscribers yet
    [request] = await bot.telegram.wait_for(LUIS, 1)
    assert "Rosa asks you to agree: announce workshop #1" in request.text
    assert "Gage Park library" in request.text and set(buttons(request)) == {"Agree", "Refuse"}

    # Rosa cannot agree to her own request (the button's data pressed from her chat).
    pending = await bot.services.signoffs.get(1)
    assert pending is not None and pending.action is SignOffAction.ANNOUNCE
    with pytest.raises(SignOffError, match="second coordinator"):
        await bot.services.signoffs.decide(1, rosa.actor(), grant=True)

    rosa_had = len(bot.telegram.messages_to(ROSA))
    [agreed] = await press(bot, LUIS, request, "Agree")
    assert "announcement of workshop #1 goes to 2 people" in agreed.text
    [told] = (await bot.telegram.wait_for(ROSA, rosa_had + 1))[rosa_had:]
    assert "Luis agreed" in told.text
    await deliver_at(bot, (await bot.services.workshops.one(1)).starts_at.replace(hour=9))
    assert bot.telegram.messages_to(LUCIA)[-1].text.startswith('Nuevo taller: "Conozca')
    assert bot.twilio.inbox(PHONE)[-1].body.startswith("New workshop: Know your rights")
    # A second press of the same request does nothing more.
    with pytest.raises(SignOffError, match="already decided"):
        await bot.services.signoffs.decide(1, luis.actor(), grant=True)
    assert len(await workshop_deliveries(bot, 1)) == 2
    actions = [(e.actor, e.action) for e in await entries(bot.services.db)]
    assert ("Rosa", "signoff.ask") in actions and ("Luis", "signoff.grant") in actions
    assert ("Luis", "workshop.announce") in actions


async def test_the_author_of_a_workshop_cannot_agree_to_its_announcement(bot: Bot) -> None:
    rosa, luis = await team(bot, (ROSA, Role.COORDINATOR, "Rosa"), (LUIS, Role.COORDINATOR, "Luis"))
    made = await bot.services.workshops.add(
        WorkshopPlan(titles={"en": "KYR"}, starts_at=START, minutes=60, place="x"), rosa.actor()
    )
    asked = await bot.services.workshops.announce(made.id, luis.actor())
    assert asked.waiting is not None and asked.queued == 0
    with pytest.raises(SignOffError, match="other than the workshop's author"):
        await bot.services.signoffs.decide(asked.waiting.id, rosa.actor(), grant=True)


async def test_two_agreements_at_once_announce_once(bot: Bot) -> None:
    rosa, luis, ana = await team(
        bot,
        (ROSA, Role.COORDINATOR, "Rosa"),
        (LUIS, Role.COORDINATOR, "Luis"),
        (ANA, Role.COORDINATOR, "Ana"),
    )
    await people(bot)
    first = await schedule(bot)
    asked = (await bot.services.workshops.announce(first, rosa.actor())).waiting
    assert asked is not None
    results = await asyncio.gather(
        *(bot.services.signoffs.decide(asked.id, who.actor(), grant=True) for who in (luis, ana)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Decision", "SignOffError"]
    assert len(await workshop_deliveries(bot, first)) == 2


async def test_removing_a_coordinator_needs_a_second_admin_and_drops_their_notices(
    bot: Bot, worker: Worker
) -> None:
    _, luis, ana = await team(
        bot, (ROSA, Role.ADMIN, "Rosa"), (LUIS, Role.ADMIN, "Luis"), (ANA, Role.COORDINATOR, "Ana")
    )
    [listing] = await say(bot, ROSA, "/coordinators")
    [asked] = await press(bot, ROSA, listing, "Remove #3")
    assert "A second admin must agree" in asked.text
    assert await bot.services.coordinators.by_telegram(ANA) is not None  # not yet removed
    [request] = await bot.telegram.wait_for(LUIS, 1)
    assert "Rosa asks you to agree: remove coordinator #3 (Ana)" in request.text
    assert not any("remove coordinator" in m.text for m in bot.telegram.messages_to(ANA))
    # Ana is no admin (and it is her removal): her press of the request's button is refused.
    agree = Agree(int(buttons(request)["Agree"].split(":")[1]))
    with pytest.raises(SignOffError):
        await bot.services.signoffs.decide(agree.sign_off, ana.actor(), grant=True)

    # A notice still queued to Ana when she is removed is never sent.
    await worker.stop()
    await bot.services.coordinators.notify("a card for Ana", to=[ana.id], ref="report:7")
    ana_had = len(bot.telegram.messages_to(ANA))
    decision = await bot.services.signoffs.decide(agree.sign_off, luis.actor(), grant=True)
    assert decision.sign_off.status == "granted"
    assert await bot.services.coordinators.by_telegram(ANA) is None
    await worker.start()
    async with bot.services.db.transaction() as session:
        [card] = (
            await session.scalars(select(DeliveryRow).where(DeliveryRow.ref == "report:7"))
        ).all()
    assert (card.status, card.error) == ("skipped", "removed")
    await asyncio.sleep(0.3)
    assert len(bot.telegram.messages_to(ANA)) == ana_had


async def test_an_admin_alone_cannot_remove_or_make_an_admin_the_operator_can(bot: Bot) -> None:
    rosa, luis = await team(bot, (ROSA, Role.ADMIN, "Rosa"), (LUIS, Role.COORDINATOR, "Luis"))
    coordinators = bot.services.coordinators
    with pytest.raises(SignOffError, match="a second admin must agree"):
        await coordinators.remove(luis.id, rosa.actor())
    with pytest.raises(SignOffError, match="a second admin must agree"):
        await coordinators.invite(Role.ADMIN, rosa.actor())
    with pytest.raises(SignOffError, match="only an admin"):
        await coordinators.invite(Role.ADMIN, luis.actor())
    assert isinstance(await coordinators.invite(Role.COORDINATOR, rosa.actor()), str)
    assert await coordinators.remove(luis.id, Actor.operator()) is None
    assert await coordinators.by_telegram(LUIS) is None
    with pytest.raises(CoordinatorError, match="another admin would have to remove you"):
        await coordinators.remove(rosa.id, rosa.actor())


async def test_an_admin_invite_is_made_when_a_second_admin_agrees(bot: Bot, worker: Worker) -> None:
    await team(bot, (ROSA, Role.ADMIN, "Rosa"), (LUIS, Role.ADMIN, "Luis"))
    [listing] = await say(bot, ROSA, "/coordinators")
    [asked] = await press(bot, ROSA, listing, "Invite an admin")
    assert "A second admin must agree" in asked.text and "start=inv_" not in asked.text
    [request] = await bot.telegram.wait_for(LUIS, 1)
    assert "invite one new admin" in request.text
    rosa_had = len(bot.telegram.messages_to(ROSA))
    [agreed] = await press(bot, LUIS, request, "Agree")
    assert "invite link goes to the admin who asked" in agreed.text
    assert "start=inv_" not in agreed.text  # the link goes to Rosa only
    [link] = (await bot.telegram.wait_for(ROSA, rosa_had + 1))[rosa_had:]
    assert "Luis agreed" in link.text
    code = link.text.split("start=inv_", 1)[1].split()[0]
    bot.telegram.add_user(ANA)
    [welcome] = await say(bot, ANA, f"/start inv_{code}")
    assert "Welcome, coordinator #3" in welcome.text
    joined = await bot.services.coordinators.by_telegram(ANA)
    assert joined is not None and joined.role is Role.ADMIN


async def test_a_removed_coordinators_report_card_is_no_longer_edited(
    bot: Bot, worker: Worker
) -> None:
    from tests.support import edited, latest
    from tests.test_reports import card

    await team(bot, (ROSA, Role.ADMIN, "Rosa"), (LUIS, Role.COORDINATOR, "Luis"))
    await bot.twilio.text("+13125550191", "REPORT agents at 55th and Kedzie 60629")
    rosa_card = await card(bot, ROSA, 1)
    luis_card = await card(bot, LUIS, 1)
    luis = await bot.services.coordinators.by_telegram(LUIS)
    assert luis is not None
    await bot.services.coordinators.remove(luis.id, Actor.operator())
    await bot.telegram.press(ROSA, rosa_card.message_id, buttons(rosa_card)["I'm verifying"])
    await edited(bot, ROSA, rosa_card, "being verified by Rosa")
    await asyncio.sleep(0.3)  # the cards are edited one after the other: time for his
    # Luis's copy still shows the report as it was when he was removed: no news of it.
    assert latest(bot, LUIS, luis_card).text == luis_card.text
