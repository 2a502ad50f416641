"""SMS end to end: signed Twilio webhooks in, TwiML out, through the real app on loopback."""

from __future__ import annotations

import httpx
import pytest

from bot.core.segments import MAX_SEGMENTS, count_segments
from bot.core.vocabulary import Channel, SubscriberStatus
from tests.conftest import Bot

PHONE = "+13125550123"


async def text(bot: Bot, body: str, phone: str = PHONE) -> list[str]:
    result = await bot.twilio.text(phone, body)
    assert result.status == 200
    return result.replies


async def subscriber(bot: Bot, phone: str = PHONE):  # type: ignore[no-untyped-def]
    return await bot.services.directory.get(Channel.SMS, phone)


async def test_join_with_zip_confirms_as_carriers_require_and_stores_the_choice(bot: Bot) -> None:
    replies = await text(bot, "JOIN 60629")
    confirmation = replies[0]
    assert "Chicago Rapid Response Network" in confirmation
    assert "Msg & data rates may apply" in confirmation
    assert "HELP" in confirmation and "STOP" in confirmation
    assert "60629" in confirmation and "Chicago Lawn" in confirmation
    stored = await subscriber(bot)
    assert stored is not None
    assert (stored.zone, stored.language, stored.status) == ("60629", "en", SubscriberStatus.ACTIVE)


async def test_keywords_ignore_case_spaces_and_punctuation(bot: Bot) -> None:
    replies = await text(bot, "  join!! ")
    assert "Msg & data rates may apply" in replies[0]
    assert "ZIP" in replies[1]


async def test_a_spanish_keyword_answers_in_spanish_and_sets_the_language(bot: Bot) -> None:
    replies = await text(bot, "ALTA 60623")
    assert "AYUDA" in replies[0]
    stored = await subscriber(bot)
    assert stored is not None and stored.language == "es" and stored.zone == "60623"


async def test_stop_confirms_once_then_silence_until_start(bot: Bot) -> None:
    await text(bot, "JOIN 60629")
    first = await text(bot, "STOP")
    assert len(first) == 1 and "START" in first[0]
    assert (await subscriber(bot)).status == SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    assert await text(bot, "STOP") == []
    assert await text(bot, "RIGHTS") == []
    assert await text(bot, "hello?") == []
    again = await text(bot, "START")
    assert "Msg & data rates may apply" in again[0]
    stored = await subscriber(bot)
    assert (
        stored is not None and stored.status == SubscriberStatus.ACTIVE and stored.zone == "60629"
    )


async def test_help_answers_even_after_stop(bot: Bot) -> None:
    await text(bot, "JOIN")
    await text(bot, "STOP")
    replies = await text(bot, "HELP")
    assert "1-855-435-7693" in replies[0] and "STOP" in replies[0]


async def test_twilio_advanced_opt_out_is_honoured_without_a_second_confirmation(bot: Bot) -> None:
    await text(bot, "JOIN 60629")
    bot.twilio.advanced_opt_out = True
    assert await text(bot, "STOP") == []
    assert (await subscriber(bot)).status == SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    assert await text(bot, "START") == []
    assert (await subscriber(bot)).status == SubscriberStatus.ACTIVE  # type: ignore[union-attr]


async def test_rights_menu_then_a_number_gives_that_topic(bot: Bot) -> None:
    menu = (await text(bot, "RIGHTS"))[0]
    assert "1 At home" in menu and "6 " in menu and "1-855-435-7693" in menu
    home = (await text(bot, "1"))[0]
    assert "warrant" in home.lower() and "1-855-435-7693" in home
    derechos = (await text(bot, "derechos"))[0]
    assert "1 En casa" in derechos


async def test_unknown_text_gets_the_menu_never_silence(bot: Bot) -> None:
    replies = await text(bot, "what is this")
    assert len(replies) == 1 and "JOIN" in replies[0] and "RIGHTS" in replies[0]


async def test_a_zip_outside_the_area_is_named_and_a_bad_zip_is_explained(bot: Bot) -> None:
    await text(bot, "JOIN")
    outside = (await text(bot, "90210"))[0]
    assert "outside the Chicago area" in outside
    assert "not a ZIP code" in (await text(bot, "00000"))[0]
    assert (await subscriber(bot)).zone is None  # type: ignore[union-attr]
    assert "60629" in (await text(bot, "60629"))[0]
    assert (await subscriber(bot)).zone == "60629"  # type: ignore[union-attr]


async def test_language_by_its_own_name(bot: Bot) -> None:
    await text(bot, "JOIN 60629")
    assert "ESPAÑOL" in (await text(bot, "LANG"))[0]
    reply = (await text(bot, "Español"))[0]
    assert "Español" in reply
    assert (await subscriber(bot)).language == "es"  # type: ignore[union-attr]
    assert "En casa" in (await text(bot, "RIGHTS"))[0]


@pytest.mark.parametrize("mode", ["forged", "unsigned"])
async def test_a_forged_or_unsigned_webhook_gets_403_and_stores_nothing(
    bot: Bot, mode: str
) -> None:
    result = await bot.twilio.text(
        PHONE, "JOIN 60629", forge=mode == "forged", sign=mode != "unsigned"
    )
    assert result.status == 403
    assert result.replies == []
    assert await subscriber(bot) is None
    assert (await bot.services.directory.stats()) == []


async def test_a_signature_for_another_url_is_refused(bot: Bot) -> None:
    # Twilio signs the public URL; a request replayed against another path must not pass.
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{bot.url}/twilio/sms",
            data={"From": PHONE, "Body": "JOIN"},
            headers={"X-Twilio-Signature": "c2lnbmF0dXJl"},
        )
    assert response.status_code == 403


@pytest.mark.parametrize("language", ["en", "es"])
async def test_every_sms_reply_fits_in_four_segments(bot: Bot, language: str) -> None:
    # The zone with the longest name makes the longest confirmation.
    longest = max(bot.services.content.zones.names.items(), key=lambda item: len(item[1]))[0]
    join = f"JOIN {longest}" if language == "en" else f"ALTA {longest}"
    flows = [
        join,
        "JOIN",
        "RIGHTS" if language == "en" else "DERECHOS",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "HELP",
        "LANG",
        "90210",
        "00000",
        "60608",
        "WORKSHOPS",
        "REPORT",
        "hello",
        "STOP",
        "HELP",
        "JOIN",
        "unknown",
        "STOP",
        "STOP",
    ]
    phone = "+13125550188"
    await text(bot, join, phone)
    seen = 0
    for body in flows:
        for reply in await text(bot, body, phone):
            count = count_segments(reply)
            assert count.segments <= MAX_SEGMENTS, (body, count)
            seen += 1
    assert seen >= 20
