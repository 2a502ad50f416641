"""Reporters' words shown safely and every text cut to fit (issue 16, point 3): no control or
bidi character reaches a coordinator, and nothing is refused for its length."""

from __future__ import annotations

from bot.core.text import ELLIPSIS, TELEGRAM_LIMIT, cut, for_sms, for_telegram, shown
from bot.delivery.worker import Worker
from tests.conftest import Bot
from tests.test_reports import ROSA, card, team

OVERRIDE = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: turns the rest of the line around


def test_controls_and_bidi_marks_are_taken_out() -> None:
    assert shown(f"agents at{OVERRIDE} 26th\x07 and\tPulaski\u200b\u2066!") == (
        "agents at 26th and Pulaski!"
    )
    assert shown("شارع\u200f 26") == "شارع 26"  # letters of any script stay


def test_a_long_text_is_cut_with_an_ellipsis_within_the_limit() -> None:
    assert cut("short", 10) == "short"
    long = "word " * 1000
    assert len(for_sms(long)) <= 1600 and for_sms(long).endswith(ELLIPSIS)
    emoji = "🚨" * 3000  # two UTF-16 units each: Telegram counts those
    sent = for_telegram(emoji)
    assert len(sent.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT and sent.endswith(ELLIPSIS)


async def test_a_1600_character_report_with_an_override_reaches_the_card_clean(
    bot: Bot, worker: Worker
) -> None:
    await team(bot)
    body = "REPORT agents at 26th and Pulaski 60629 " + OVERRIDE + "x" * 1600
    result = await bot.twilio.text("+13125550199", body)  # Twilio passes 1,600 characters
    assert result.status == 200
    got = await card(bot, ROSA, 1, already=1)
    assert OVERRIDE not in got.text and "26th and Pulaski" in got.text
    assert len(got.text.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT


async def test_a_long_guided_telegram_report_still_reaches_the_coordinator(
    bot: Bot, worker: Worker
) -> None:
    from tests.support import press, say
    from tests.test_reports import MARIA

    await team(bot)
    bot.telegram.add_user(MARIA, language_code="es")
    await say(bot, MARIA, "/report", expect=2)
    long = "agentes en la esquina " * 150  # 3,300 characters an answer
    await say(bot, MARIA, long)
    await say(bot, MARIA, "55th and Kedzie, 60629 " + long)
    [size] = await say(bot, MARIA, long)
    [receipt] = await press(bot, MARIA, size, "Omitir")
    if "Enviar ahora" in str(receipt.reply_markup):
        await press(bot, MARIA, receipt, "Enviar ahora")
    got = await card(bot, ROSA, 1, already=1)  # it arrives: cut, never refused whole
    assert len(got.text.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT
    assert ELLIPSIS in got.text


async def test_a_coordinators_screen_longer_than_telegram_allows_still_arrives(bot: Bot) -> None:
    from bot.core.audit import Actor
    from bot.core.vocabulary import Role
    from tests.support import say

    bot.telegram.add_user(ROSA)
    await bot.services.coordinators.add(ROSA, Role.COORDINATOR, "Rosa", Actor.operator())
    await say(bot, ROSA, "/workshop")
    title = "Conozca sus derechos " * 150  # 3,150 characters
    await say(bot, ROSA, title)
    await say(bot, ROSA, title)  # the Spanish title
    await say(bot, ROSA, "2027-11-07 10:00")
    await say(bot, ROSA, "Biblioteca " * 150)  # the place
    await say(bot, ROSA, "60629")
    [summary] = await say(bot, ROSA, "20")  # title and place: past 4,096 together
    assert len(summary.text.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT
    assert summary.text.endswith(ELLIPSIS)
