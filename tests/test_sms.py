"""SMS end to end: signed Twilio webhooks in, TwiML out, through the real app on loopback."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from bot.app import build_services
from bot.channels.sms.inbound import read_inbound
from bot.core.segments import MAX_SEGMENTS, count_segments
from bot.core.vocabulary import Channel, SubscriberStatus
from bot.storage.models import ReportRow
from tests.conftest import Bot, make_settings
from tests.support import metrics

CONFIG = Path(__file__).resolve().parent.parent / "config"

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


def sent_to(bot: Bot, phone: str = PHONE) -> list[tuple[str, str, str]]:
    """What Twilio recorded for the phone: (via, status, body), failed sends included."""
    return [(sms.via, sms.status, sms.body) for sms in bot.twilio.sent if sms.to == phone]


async def test_stop_is_answered_by_twilio_then_silence_until_start(bot: Bot) -> None:
    await text(bot, "JOIN 60629")
    # Twilio blocks the number and answers STOP itself; a reply of ours would only fail.
    assert await text(bot, "STOP") == []
    via, status, body = sent_to(bot)[-1]
    assert (via, status) == ("provider", "sent") and "Reply START" in body
    assert (await subscriber(bot)).status == SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    for body in ("STOP", "RIGHTS", "hello?", "HELP"):
        assert await text(bot, body) == [], body
    again = await text(bot, "START")
    assert "Msg & data rates may apply" in again[0]
    stored = await subscriber(bot)
    assert (
        stored is not None and stored.status == SubscriberStatus.ACTIVE and stored.zone == "60629"
    )
    assert not [s for s in sent_to(bot) if s[1] == "failed"]  # no red bubble on the way


async def test_join_after_stop_waits_for_start_as_twilio_does(bot: Bot) -> None:
    await text(bot, "JOIN 60608")
    await text(bot, "STOP")
    had = len(sent_to(bot))
    # Twilio still blocks the number: nothing could reach it, so nothing is sent, and the
    # bot does not count a subscriber who can receive nothing.
    assert await text(bot, "JOIN 60608") == []
    assert await text(bot, "ALTA 60608") == []
    assert len(sent_to(bot)) == had
    assert (await subscriber(bot)).status == SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    # YES is one of Twilio's opt-in words: it lifts the block, so it signs them up again.
    [welcome] = await text(bot, "yes")
    assert "Msg & data rates may apply" in welcome
    assert (await subscriber(bot)).status == SubscriberStatus.ACTIVE  # type: ignore[union-attr]
    assert not [s for s in sent_to(bot) if s[1] == "failed"]


async def test_stop_as_a_first_message_is_remembered_so_a_later_join_waits_too(bot: Bot) -> None:
    assert await text(bot, "STOP") == []
    stored = await subscriber(bot)
    assert stored is not None and stored.status == SubscriberStatus.OPTED_OUT
    assert await text(bot, "JOIN 60629") == []
    assert (await subscriber(bot)).status == SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    # Twilio matches the whole message: "START 60629" lifts nothing; "START" does.
    assert await text(bot, "START 60629") == []
    assert "Msg & data rates may apply" in (await text(bot, "START"))[0]


async def test_baja_is_the_bots_own_opt_out_its_confirmation_names_start(bot: Bot) -> None:
    await text(bot, "ALTA 60623")
    # BAJA is no Twilio keyword: Twilio keeps delivering, the bot confirms and then goes quiet.
    [confirmation] = await text(bot, "BAJA")
    assert "START" in confirmation and "ALTA" not in confirmation  # ALTA lifts no block
    assert (await subscriber(bot)).status == SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    assert await text(bot, "DERECHOS") == []
    # HELP still answers (carriers require it), and ALTA signs them up again.
    assert "1-855-435-7693" in (await text(bot, "AYUDA"))[0]
    assert "AYUDA" in (await text(bot, "ALTA"))[0]
    assert (await subscriber(bot)).status == SubscriberStatus.ACTIVE  # type: ignore[union-attr]


@pytest.mark.parametrize("bot_env", [{"TWILIO_OPT_IN_KEYWORDS": "START,UNSTOP,YES,ALTA"}])
async def test_an_opt_in_keyword_added_in_twilio_signs_up_after_stop(
    bot: Bot, bot_env: dict[str, str]
) -> None:
    bot.twilio.opt_in_keywords |= {"ALTA"}  # as set in the account's Advanced Opt-Out
    await text(bot, "JOIN 60629")
    await text(bot, "STOP")
    [welcome] = await text(bot, "ALTA")
    assert "AYUDA" in welcome  # Spanish: ALTA is a Spanish keyword
    assert (await subscriber(bot)).status == SubscriberStatus.ACTIVE  # type: ignore[union-attr]
    assert not [s for s in sent_to(bot) if s[1] == "failed"]


async def test_twilio_advanced_opt_out_is_honoured_without_a_second_confirmation(bot: Bot) -> None:
    await text(bot, "JOIN 60629")
    bot.twilio.advanced_opt_out = True
    assert await text(bot, "STOP") == []
    assert (await subscriber(bot)).status == SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    assert await text(bot, "START") == []
    assert (await subscriber(bot)).status == SubscriberStatus.ACTIVE  # type: ignore[union-attr]


async def test_rights_menu_then_a_number_gives_that_topic(bot: Bot) -> None:
    summary, menu = await text(bot, "RIGHTS")
    assert "not legal advice" in summary and "1-855-435-7693" in summary
    assert "1 At home" in menu and "12 Someone was detained" in menu
    home = (await text(bot, "1"))[0]
    assert "warrant" in home.lower() and "1-855-435-7693" in home
    notario = (await text(bot, "11"))[0]
    assert notario.startswith("Notario fraud") and "1-855-435-7693" in notario
    resumen, menu = await text(bot, "derechos")
    # Spanish by SMS goes without accents (GSM-7: a segment holds 153 characters, not 67).
    assert "no es asesoria legal" in resumen and "1 En casa" in menu
    assert count_segments(resumen).encoding == "GSM-7"


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
    assert "En casa" in (await text(bot, "RIGHTS"))[1]


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


async def test_a_replayed_request_is_answered_with_nothing_and_changes_nothing(
    bot: Bot,
) -> None:
    first = await bot.twilio.text(PHONE, "JOIN 60629")
    assert first.status == 200 and first.replies
    await bot.twilio.text(PHONE, "STOP")
    # Someone who captured the signed JOIN sends it again, after the STOP.
    again = await bot.twilio.replay()
    assert (again.status, again.replies) == (200, [])
    row = await subscriber(bot)
    assert row is not None and row.status is SubscriberStatus.OPTED_OUT  # the STOP stands
    counted = await metrics(bot)
    assert 'rrbot_webhooks_rejected_total{route="replay"} 1.0' in counted


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
        "BAJA",  # the bot's own opt-out: HELP and JOIN still answer after it
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


async def test_a_long_sighting_is_cut_by_twilio_and_still_taken_as_a_report(bot: Bot) -> None:
    sighting = "Two ICE vans and six agents are stopping people at 26th and Pulaski. " * 30
    assert len(sighting) > 2000
    [receipt] = await text(bot, sighting)
    assert "Report #1 received" in receipt
    async with bot.services.db.transaction() as session:
        details = bot.services.reports.details(await session.get(ReportRow, 1))  # type: ignore[arg-type]
    assert details["text"] == sighting[:1600].strip()  # what Twilio passed on, all of it kept
    question = "I would like to know more about what this service does and who runs it. " * 25
    [menu] = await text(bot, question)
    assert "JOIN" in menu and "Report #" not in menu


@pytest.fixture
def network_wide(tmp_path: Path) -> Path:
    """The shipped config with `outside_area: network_wide` (a network's choice)."""
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    zones = config / "zones.yaml"
    zones.write_text(
        zones.read_text(encoding="utf-8").replace(
            "outside_area: refuse", "outside_area: network_wide"
        ),
        encoding="utf-8",
    )
    return config


async def test_a_network_may_sign_up_zips_outside_its_area_for_network_wide_alerts(
    database_url: str, tmp_path: Path, network_wide: Path
) -> None:
    services = build_services(make_settings(database_url, tmp_path, CONFIG_DIR=str(network_wide)))
    try:
        inbound = read_inbound({"From": PHONE, "Body": "JOIN 90210"}, services.content)
        assert inbound is not None
        [welcome] = await services.conversation.handle(inbound)
        # The full carrier confirmation, saying what they will get.
        assert "whole network" in welcome.text and "outside the Chicago area" in welcome.text
        assert "Msg & data rates may apply" in welcome.text and "STOP" in welcome.text
        stored = await services.directory.get(Channel.SMS, PHONE)
        assert stored is not None and stored.status is SubscriberStatus.ACTIVE
        assert stored.zone is None  # alerts for every zone reach them; zoned ones do not
    finally:
        await services.db.close()


@pytest.mark.parametrize(
    "body",
    [
        "JOIN \u1369\u136a\u136b\u136c\u136d",  # Ethiopic numbers: no ZIP (it was HTTP 500)
        "\u0666\u0660\u0666\u0662\u0669",  # Arabic-Indic digits: ZIP 60629
        "\u1369",  # an Ethiopic "1" alone (int() cannot read it)
        "\u200f\u200f\u200f",  # nothing but invisible marks
    ],
)
async def test_digits_and_marks_of_any_keyboard_get_an_answer(bot: Bot, body: str) -> None:
    result = await bot.twilio.text(PHONE, body)
    assert result.status == 200 and result.replies


async def test_a_zip_in_arabic_indic_digits_signs_up_for_that_zip(bot: Bot) -> None:
    await text(bot, "JOIN \u0666\u0660\u0666\u0662\u0669")
    row = await subscriber(bot)
    assert row is not None and row.zone == "60629"


async def test_an_opt_out_word_that_begins_a_sentence_is_asked_about(bot: Bot) -> None:
    await text(bot, "JOIN 60629")
    [asked] = await text(bot, "cancel my RSVP for Saturday")
    assert asked == "Reply STOP to stop all messages."
    row = await subscriber(bot)
    assert row is not None and row.status is SubscriberStatus.ACTIVE
    await text(bot, "\u200fSTOP\u200f")  # a right-to-left keyboard's marks around it
    row = await subscriber(bot)
    assert row is not None and row.status is SubscriberStatus.OPTED_OUT


async def test_a_native_panic_while_handling_answers_500_and_is_counted(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Panic(BaseException):  # as pyo3's PanicException is: no Exception
        pass

    async def panics(*_: object, **__: object) -> None:
        raise Panic

    monkeypatch.setattr(bot.services.conversation, "handle", panics)
    result = await bot.twilio.text(PHONE, "RIGHTS")
    assert (result.status, result.replies) == (500, [])
    assert 'rrbot_handler_errors_total{channel="sms"} 1.0' in await metrics(bot)
    monkeypatch.undo()
    assert (await bot.twilio.text(PHONE, "RIGHTS")).status == 200  # still serving
