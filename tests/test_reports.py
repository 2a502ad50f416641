"""Community reports end to end: reporter on Telegram or SMS, coordinators in Telegram, the
alert a confirmed report becomes; identities kept apart; limits, expiry and purge."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.core.audit import Actor, entries
from bot.core.reports import Reports
from bot.core.vocabulary import ReportRefusal, ReportStatus, Role
from bot.delivery.worker import Worker
from bot.sim.fake_telegram import SentMessage
from bot.storage.models import AlertRow, DeliveryRow, ReportRow
from bot.storage.outbox import open_notice
from tests.conftest import Bot
from tests.support import buttons, edited, eventually, latest, press, say
from tests.test_alerts import finished

ROSA, LUIS = 9001, 9002
MARIA = 72001  # a Telegram reporter
REPORTER_PHONE = "+13125550161"
SUBSCRIBERS = [(73001, "en", "60629"), (73002, "es", "60632"), (73003, "en", "60608")]


def reveals(text: str, secret: str) -> bool:
    """Whether `text` holds `secret`: a bare bool, so a failure never prints the number."""
    return secret in text


async def team(bot: Bot) -> None:
    """Rosa covers 60629 and its neighbours; Luis covers 60608."""
    for uid, label, zones in ((ROSA, "Rosa", "60629,60632"), (LUIS, "Luis", "60608")):
        bot.telegram.add_user(uid)
        await bot.services.coordinators.add(uid, Role.COORDINATOR, label, Actor.operator())
        [answer] = await say(bot, uid, f"/duty on {zones}")
        assert "On duty" in answer.text


async def subscribe(bot: Bot) -> None:
    for uid, language, zone in SUBSCRIBERS:
        bot.telegram.add_user(uid, language_code=language)
        await say(bot, uid, f"/start {language}_{zone}")


async def card(bot: Bot, user: int, report_id: int, already: int = 0) -> SentMessage:
    """The newest card of a report in a coordinator's chat (waiting for it to arrive)."""
    messages = await bot.telegram.wait_for(user, already + 1, timeout=10)
    cards = [m for m in messages if m.text.startswith(f"REPORT #{report_id} ")]
    assert cards, f"no card of #{report_id}"
    return cards[-1]


async def arrives(bot: Bot, user: int, fragment: str, within: float = 10.0) -> SentMessage:
    """The first message to `user` containing `fragment`, once it has arrived."""
    async with asyncio.timeout(within):
        while True:
            found = [m for m in bot.telegram.messages_to(user) if fragment in m.text]
            if found:
                return found[0]
            await asyncio.sleep(0.02)


async def telegram_report(bot: Bot) -> SentMessage:
    """Maria reports on Telegram, answering three questions and then Send now."""
    bot.telegram.add_user(MARIA, language_code="es")
    intro, question = await say(bot, MARIA, "/report", expect=2)
    assert "nunca" in intro.text.lower()  # the volunteers never see who you are (in Spanish)
    assert {"Omitir", "Enviar ahora"} <= set(buttons(question))
    [where] = await say(bot, MARIA, "Stop and search of cars by agents")  # "Stop..." is not STOP
    assert where.text.startswith("¿Dónde?")
    [when] = await say(bot, MARIA, "55th and Kedzie, 60629")
    [size] = await press(bot, MARIA, when, "Omitir")
    [receipt] = await press(bot, MARIA, size, "Enviar ahora")
    assert "#1" in receipt.text
    [outcome] = await press(bot, MARIA, receipt, "Quiero saber el resultado")
    assert "#1" in outcome.text
    return receipt


async def test_a_telegram_report_goes_to_its_zone_and_a_confirmed_one_becomes_an_alert(
    bot: Bot, worker: Worker
) -> None:
    await team(bot)
    await subscribe(bot)
    await telegram_report(bot)
    rosa_card = await card(bot, ROSA, 1, already=1)
    assert "60629" in rosa_card.text and "55th and Kedzie" in rosa_card.text
    assert "Stop and search" in rosa_card.text
    assert not reveals(rosa_card.text, str(MARIA))  # never who reported
    assert not [m for m in bot.telegram.messages_to(LUIS) if "REPORT #1" in m.text]

    # One card per report and coordinator, edited in place: no second copy.
    had = len(bot.telegram.messages_to(ROSA))
    await bot.telegram.press(ROSA, rosa_card.message_id, buttons(rosa_card)["I'm verifying"])
    claimed = await edited(bot, ROSA, rosa_card, "being verified by Rosa")
    assert "I'm verifying" not in buttons(claimed) and "Confirmed" in buttons(claimed)
    assert len(bot.telegram.messages_to(ROSA)) == had
    had = len(bot.telegram.messages_to(ROSA))
    await press(bot, ROSA, claimed, "Confirmed")

    async def since() -> list[SentMessage]:
        return bot.telegram.messages_to(ROSA)[had:]

    # Confirmed, the texts the preview has no room for (every language's template), then it.
    told = await eventually(since, lambda m: any("Preview of #1" in x.text for x in m))
    confirmed, preview = told[0], told[-1]
    assert "#1 confirmed" in confirmed.text
    assert "Kedzie" in preview.text and "Preview of #1" in preview.text
    everything = "\n".join(m.text for m in told)
    for code in bot.services.content.languages:  # each language's text, once
        assert everything.count(f"[{bot.services.content.language_name(code)}]\n") == 1, code
    drafted = await bot.services.alerts.get(1)
    assert drafted.zones[0] == "60629" and "60632" in drafted.zones  # its zone, then neighbours
    # Two coordinators: the second approves (the two-person rule holds for report alerts too).
    luis_had = len(bot.telegram.messages_to(LUIS))
    [waiting] = await press(bot, ROSA, preview, "Send for approval")
    assert "Waiting for a second coordinator" in waiting.text
    [request] = (await bot.telegram.wait_for(LUIS, luis_had + 1))[luis_had:]
    assert "approve #1" in request.text
    await press(bot, LUIS, request, "Approve")
    await finished(bot, 1)

    inside, neighbour, outside = (uid for uid, _, _ in SUBSCRIBERS)
    assert "Kedzie" in bot.telegram.messages_to(inside)[-1].text
    assert "Kedzie" in bot.telegram.messages_to(neighbour)[-1].text  # 60632 is next door
    assert "Kedzie" not in bot.telegram.messages_to(outside)[-1].text
    async with bot.services.db.transaction() as session:
        report = await session.get(ReportRow, 1)
        alert = await session.get(AlertRow, 1)
        assert report is not None and alert is not None
        assert report.alert_id == 1 and report.status == ReportStatus.CONFIRMED
        assert alert.verified_by == report.decided_by is not None
    # Maria hears the outcome, in Spanish, and never who verified it.
    outcome = await arrives(bot, MARIA, "los voluntarios lo confirmaron")
    assert "#1" in outcome.text and "Rosa" not in outcome.text and "Luis" not in outcome.text
    actions = [(e.actor, e.action) for e in await entries(bot.services.db)]
    assert ("Rosa", "report.claim") in actions and ("Rosa", "report.confirmed") in actions


async def test_an_sms_report_asks_for_the_place_and_a_false_alarm_sends_nothing(
    bot: Bot, worker: Worker
) -> None:
    await team(bot)
    await subscribe(bot)
    await bot.twilio.text(REPORTER_PHONE, "REPORT two vans with agents stopping people")
    receipt, where = await bot.twilio.wait_for(REPORTER_PHONE, 2)
    assert "#1" in receipt.body and "YES" in receipt.body
    assert "cross streets" in where.body
    # Nobody covers an unknown zone: every coordinator gets the card.
    rosa_card = await card(bot, ROSA, 1, already=1)
    await card(bot, LUIS, 1, already=1)
    assert not reveals(rosa_card.text, REPORTER_PHONE) and "two vans" in rosa_card.text
    await bot.twilio.text(REPORTER_PHONE, "55th and Kedzie 60629")
    [added] = (await bot.twilio.wait_for(REPORTER_PHONE, 3))[2:]
    assert "#1" in added.body
    await bot.twilio.text(REPORTER_PHONE, "yes")
    [agreed] = (await bot.twilio.wait_for(REPORTER_PHONE, 4))[3:]
    assert "#1" in agreed.body
    await arrives(bot, ROSA, "adds the place: 55th and Kedzie")

    # Both cards' outcomes are written (a group write a few ms after they arrive), so the
    # verdict finds Luis's card to edit.
    await eventually(lambda: bot.services.reports.cards(1), until=lambda c: len(c) == 2)
    [false] = await press(bot, ROSA, rosa_card, "False alarm")
    assert "Nothing is sent" in false.text
    [outcome] = (await bot.twilio.wait_for(REPORTER_PHONE, 5, timeout=10))[4:]
    assert "not immigration enforcement" in outcome.body and "Rosa" not in outcome.body
    assert (await bot.services.reports.view(1)).status is ReportStatus.FALSE_ALARM
    async with bot.services.db.transaction() as session:
        assert (await session.scalars(select(AlertRow))).all() == []  # nothing to subscribers
    for uid, _, _ in SUBSCRIBERS:
        assert all("vans" not in m.text for m in bot.telegram.messages_to(uid))
    # The other coordinator's card now says what happened, and has no buttons left.
    luis_card = await arrives(bot, LUIS, "false alarm (Rosa)")
    assert luis_card.text.startswith("REPORT #1 ") and buttons(luis_card) == {}


async def test_a_coordinators_question_is_relayed_both_ways_without_names(
    bot: Bot, worker: Worker
) -> None:
    await team(bot)
    await telegram_report(bot)
    rosa_card = await card(bot, ROSA, 1, already=1)
    [prompt] = await press(bot, ROSA, rosa_card, "Need more info")
    assert "question" in prompt.text
    had = len(bot.telegram.messages_to(MARIA))
    [sent] = await say(bot, ROSA, "Which direction were the vans heading?")
    assert "Sent to the reporter of #1" in sent.text
    [question] = (await bot.telegram.wait_for(MARIA, had + 1, timeout=10))[had:]
    assert "Which direction" in question.text and "Rosa" not in question.text
    rosa_had = len(bot.telegram.messages_to(ROSA))
    [thanks] = await say(bot, MARIA, "North on Kedzie")
    assert "gracias" in thanks.text.lower()
    [answer] = (await bot.telegram.wait_for(ROSA, rosa_had + 1, timeout=10))[rosa_had:]
    assert "Answer on report #1: North on Kedzie" in answer.text
    assert not reveals(answer.text, str(MARIA))
    # The cards are edited as the report moves; the reporter's own messages never are
    # (cards once shared the notices' ref, so the question became the coordinator's card).
    assert not any(chat == MARIA for chat, _ in await bot.services.reports.cards(1))
    await bot.telegram.press(ROSA, rosa_card.message_id, buttons(rosa_card)["I'm verifying"])
    await edited(bot, ROSA, rosa_card, "being verified by Rosa")
    await asyncio.sleep(0.2)  # any edit of Maria's messages would be in by now
    shown = latest(bot, MARIA, question).text
    assert "Which direction" in shown and "REPORT #1" not in shown and "Rosa" not in shown


async def test_a_photo_is_kept_as_its_file_id_and_shown_on_request(
    bot: Bot, worker: Worker
) -> None:
    await team(bot)
    bot.telegram.add_user(MARIA)
    await say(bot, MARIA, "/report", expect=2)
    had = len(bot.telegram.messages_to(MARIA))
    file_id = await bot.telegram.send_photo(MARIA)  # early: kept, the question stays
    [again] = (await bot.telegram.wait_for(MARIA, had + 1))[had:]
    [receipt] = await press(bot, MARIA, again, "Send now")
    assert "#1" in receipt.text
    rosa_card = await card(bot, ROSA, 1, already=1)
    assert "Photo: yes" in rosa_card.text
    [photo] = await press(bot, ROSA, rosa_card, "Show photo")
    assert photo.method == "sendPhoto" and photo.document is not None
    assert photo.document.filename == file_id
    async with bot.services.db.transaction() as session:
        row = await session.get(ReportRow, 1)
        assert row is not None and row.photo_cipher is not None
        assert file_id.encode() not in row.photo_cipher  # encrypted at rest


async def test_reports_are_rate_limited_and_a_blocked_sender_is_refused(
    bot: Bot, worker: Worker
) -> None:
    await team(bot)
    limit = bot.settings.reports_per_hour
    for i in range(limit):
        await bot.twilio.text(REPORTER_PHONE, f"REPORT agents at Kedzie and 55th, number {i}")
    count = len(bot.twilio.inbox(REPORTER_PHONE))
    await bot.twilio.text(REPORTER_PHONE, "REPORT one more at Kedzie and 55th")
    [refused] = (await bot.twilio.wait_for(REPORTER_PHONE, count + 1))[count:]
    assert (
        "several reports" in refused.body and bot.services.content.network.hotline in refused.body
    )
    async with bot.services.db.transaction() as session:
        assert len((await session.scalars(select(ReportRow))).all()) == limit

    await bot.services.reports.block_sender(1, Actor(1, "Rosa"))
    later = Reports(
        bot.services.db,
        bot.services.vault,
        bot.services.content,
        lambda: datetime.now(UTC) + timedelta(hours=2),  # past the hourly limit
        per_hour=limit,
    )
    async with bot.services.db.transaction() as session:
        refusal = await later.refused(session, "sms", REPORTER_PHONE)
        other = await later.refused(session, "sms", "+13125550199")
    assert refusal is not None and refusal.reason is ReportRefusal.BLOCKED
    assert other is None


async def test_upkeep_expires_sends_drafts_and_purges_text_but_keeps_counts(
    bot: Bot, worker: Worker
) -> None:
    await team(bot)
    await bot.twilio.text(REPORTER_PHONE, "REPORT agents at Kedzie and 55th 60629")
    bot.telegram.add_user(MARIA)
    await say(bot, MARIA, "/report", expect=2)
    await say(bot, MARIA, "A raid at a warehouse")  # then Maria stops answering
    await card(bot, ROSA, 1, already=1)

    def travel(delta: timedelta) -> Reports:
        return Reports(
            bot.services.db,
            bot.services.vault,
            bot.services.content,
            lambda: datetime.now(UTC) + delta,
        )

    # 20 minutes on: the unfinished draft is sent as it is, and its card goes out.
    done = await travel(timedelta(minutes=20)).upkeep()
    assert done["drafts"] == 1
    async with bot.services.db.transaction() as session:  # queued for then (time travel)
        cards = (
            await session.scalars(select(DeliveryRow).where(DeliveryRow.ref == "card:2"))
        ).all()
    assert len(cards) == 2 and cards[0].body_cipher is not None  # zone unknown: everyone
    text = open_notice(bot.services.vault, cards[0].id, cards[0].body_cipher).text
    assert "A raid at a warehouse" in text
    # 13 hours on: nobody acted, both expire.
    done = await travel(timedelta(hours=13)).upkeep()
    assert done["expired"] == 2
    assert (await bot.services.reports.view(1)).status is ReportStatus.EXPIRED
    # 31 days on: the text, the photo and the link to the reporter are gone; counts stay.
    done = await travel(timedelta(days=31)).upkeep()
    assert done["purged"] == 2
    async with bot.services.db.transaction() as session:
        rows = (await session.scalars(select(ReportRow).order_by(ReportRow.id))).all()
        assert [(r.status, r.zone) for r in rows] == [("expired", "60629"), ("expired", None)]
        for row in rows:
            assert row.details_cipher is None and row.reporter_cipher is None
            assert row.reporter_index is None and row.purged_at is not None
    actions = [e.action for e in await entries(bot.services.db)]
    assert "report.purge" in actions


async def test_open_in_reports_points_at_the_coordinators_card_instead_of_a_copy(
    bot: Bot, worker: Worker
) -> None:
    await team(bot)
    await telegram_report(bot)
    rosa_card = await card(bot, ROSA, 1, already=1)
    await eventually(lambda: bot.services.reports.cards(1))  # its outcome is written
    [listing] = await say(bot, ROSA, "/reports")
    [pointer] = await press(bot, ROSA, listing, "Open #1")
    assert pointer.reply_to == rosa_card.message_id and "#1" in pointer.text
    cards = [m for m in bot.telegram.messages_to(ROSA) if m.text.startswith("REPORT #1 ")]
    assert [m.message_id for m in cards] == [rosa_card.message_id]  # one card, no copy
    assert latest(bot, ROSA, listing).text == listing.text  # the list stays a list
    assert (await bot.services.reports.view(1)).claimed_by is None  # opening is not claiming
    # A coordinator who joined after the card went out has none to point at: a card, then.
    bot.telegram.add_user(9003)
    await bot.services.coordinators.add(9003, Role.COORDINATOR, "Ana", Actor.operator())
    [listing] = await say(bot, 9003, "/reports")
    [shown] = await press(bot, 9003, listing, "Open #1")
    assert shown.text.startswith("REPORT #1 ") and "I'm verifying" in buttons(shown)


async def test_need_more_info_while_composing_asks_to_drop_and_then_asks_about_that_report(
    bot: Bot, worker: Worker
) -> None:
    await team(bot)
    [kind] = await say(bot, ROSA, "/alert")
    await press(bot, ROSA, kind, "Alert")  # halfway through an alert
    await telegram_report(bot)
    rosa_card = await card(bot, ROSA, 1, already=3)
    [ask] = await press(bot, ROSA, rosa_card, "Need more info")
    assert "composing an alert" in ask.text
    [prompt] = await press(bot, ROSA, ask, "Drop it and start")
    assert "question for the reporter of #1" in prompt.text  # not "press it again"
    had = len(bot.telegram.messages_to(MARIA))
    [sent] = await say(bot, ROSA, "Which direction were the vans heading?")
    assert "Sent to the reporter of #1" in sent.text
    [question] = (await bot.telegram.wait_for(MARIA, had + 1, timeout=10))[had:]
    assert "Which direction" in question.text


async def test_send_now_on_an_empty_report_asks_once_more_then_drops_it(
    bot: Bot, worker: Worker
) -> None:
    await team(bot)
    bot.telegram.add_user(MARIA)
    _intro, question = await say(bot, MARIA, "/report", expect=2)
    again, first = await press(bot, MARIA, question, "Send now", expect=2)
    assert "needs at least what you see or where" in again.text
    assert "What is happening?" in first.text
    [dropped] = await press(bot, MARIA, first, "Send now")
    assert "Nothing was sent" in dropped.text and "/report" in dropped.text
    [listing] = await say(bot, ROSA, "/reports")
    assert "No open reports" in listing.text  # no card with no what and no where
    assert not [m for m in bot.telegram.messages_to(ROSA) if m.text.startswith("REPORT #")]
    # One thing said is enough to send it.
    _intro, question = await say(bot, MARIA, "/report", expect=2)
    await say(bot, MARIA, "Agents at the Pilsen Walgreens")
    [where] = bot.telegram.messages_to(MARIA)[-1:]
    [receipt] = await press(bot, MARIA, where, "Send now")
    assert "received" in receipt.text
