"""The hotline by phone over the fake Twilio Voice: signed webhooks, TwiML followed as a
caller hears it (bot/sim/fake_voice.py), in English and Spanish."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.core import phone as prompts
from bot.core.audit import Actor
from bot.core.parse import ParseError, weekly_shift
from bot.core.vocabulary import Channel, Role, SubscriberStatus
from bot.sim.fake_voice import VoiceCall
from bot.storage.hotline import in_shift
from tests.conftest import Bot, Worker
from tests.support import eventually, say
from tests.test_cli import rrbot
from tests.test_deletions import deletions
from tests.test_reports import reveals

CALLER = "+13125550142"


def bridged(call: VoiceCall, number: str) -> bool:
    """Whether the call reached `number`; compared here so that a failure prints no number."""
    return call.connected_to == number


async def rung(bot: Bot, numbers: list[str]) -> bool:
    return await bot.services.hotline.ringing() == numbers


ANA, LUIS = "+13125550191", "+13125550192"
FALLBACK = "+18554357693"


async def test_rights_read_aloud_in_spanish_from_the_language_menu(bot: Bot) -> None:
    call = await bot.twilio.call(CALLER)
    first = call.heard[:2]
    assert [(h.text, h.language) for h in first] == [
        ("For English, press 1.", "en-US"),
        ("Para Español, oprima 2.", "es-MX"),
    ]
    assert "For more languages, press 9." in call.said  # the others, a page further
    await call.press("2")
    menu_at = len(call.heard)
    assert "Para conocer sus derechos, oprima 1" in call.said[-1]
    await call.press("1")
    summary = bot.services.content.rights["es"].summary_sms
    assert " ".join(summary.split()) in call.said
    assert "Para En casa, oprima 1." in call.said[-1]  # the topics, by number
    await call.press("1")
    home = bot.services.content.rights["es"].topics["home"]
    assert call.said[-2].startswith("En casa. " + " ".join(home.sms.split())[:40])
    assert all(h.language == "es-MX" for h in call.heard[menu_at - 1 :] if h.kind == "say")
    assert call.statuses and set(call.statuses) == {200}


async def test_the_next_page_of_languages_and_no_choice_twice_means_english(bot: Bot) -> None:
    call = await bot.twilio.call(CALLER)
    await call.press("9")
    names = [h.text for h in call.heard if h.kind == "say"]
    assert any(text.startswith("Aby wybrać") or "Polski" in text for text in names)
    another = await bot.twilio.call("+13125550143")
    await another.silence()  # the menu once more
    await another.silence()
    assert "For your rights, press 1." in another.said[-1]


async def test_no_input_at_the_menu_twice_rings_a_volunteer(bot: Bot) -> None:
    await bot.services.hotline.add(ANA, "Ana", Actor.operator())
    bot.twilio.answers[ANA] = "accepts"
    bot.twilio.names[ANA] = "Ana"
    call = await bot.twilio.call(CALLER)
    await call.press("1")
    await call.silence()  # the menu again
    await call.silence()  # then a person
    reached = bridged(call, ANA)  # bound first: a failure prints no number
    assert reached, "not bridged to the expected line"


async def test_the_first_volunteer_to_accept_gets_the_call_with_the_hotline_number_shown(
    bot: Bot,
) -> None:
    for phone, name in ((ANA, "Ana"), (LUIS, "Luis")):
        await bot.services.hotline.add(phone, name, Actor.operator())
        bot.twilio.names[phone] = name
    bot.twilio.answers.update({ANA: "voicemail", LUIS: "accepts"})  # a voicemail never takes it
    call = await bot.twilio.call(CALLER)
    await call.press("1")
    await call.press("3")
    assert "Connecting you to a volunteer. Please wait." in call.said
    [dial] = call.dials
    assert dial["callerId"] == bot.twilio.phone_number  # never the caller's number
    assert dial["timeout"] == "25"
    assert ("dial", "Ana, Luis") in [(h.kind, h.text) for h in call.heard]
    reached = bridged(call, LUIS)  # bound first: a failure prints no number
    assert reached, "not bridged to the expected line"
    assert call.heard[-1].kind == "hangup"


async def test_with_nobody_on_duty_the_caller_is_told_and_forwarded(bot: Bot) -> None:
    volunteer = await bot.services.hotline.add(ANA, "Ana", Actor.operator())
    await bot.services.hotline.set_duty(volunteer.id, False, Actor.operator())
    bot.twilio.answers[FALLBACK] = "accepts"
    call = await bot.twilio.call(CALLER)
    await call.press("2")
    await call.press("3")
    assert call.said[-1].startswith("Ningún voluntario puede contestar ahora")
    reached = bridged(call, FALLBACK)  # bound first: a failure prints no number
    assert reached, "not bridged to the expected line"
    # Rung but nobody accepts within the time: the same, after the ringing.
    await bot.services.hotline.set_duty(volunteer.id, True, Actor.operator())
    bot.twilio.answers[ANA] = "busy"
    late = await bot.twilio.call("+13125550144")
    await late.press("1")
    await late.press("3")
    assert "Connecting you to a volunteer. Please wait." in late.said
    assert late.said[-1].startswith("No volunteer can answer right now")
    reached = bridged(late, FALLBACK)  # bound first: a failure prints no number
    assert reached, "not bridged to the expected line"


async def test_a_spoken_report_becomes_a_card_without_the_callers_number(
    bot: Bot, worker: Worker
) -> None:
    """What is happening is said first, then the ZIP code keyed: only then does the card go
    out, to the zone's coordinators, with the report's number said back."""
    rosa = 9301
    bot.telegram.add_user(rosa)
    await bot.services.coordinators.add(rosa, Role.ADMIN, "Rosa", Actor.operator())
    call = await bot.twilio.call(CALLER)
    await call.press("1")
    await call.press("2")
    assert call.said[-1].startswith("After the tone, say what is happening and where")
    assert call.waiting is not None and call.waiting.get("input") == "speech"
    assert call.waiting.get("language") == "en-US"
    await call.speak("two ICE vans at 26th and Pulaski right now")
    assert call.said[-1] == "Enter the ZIP code of the place on the keypad."
    assert await bot.services.reports.open_reports() == []  # nothing sent before the ZIP
    await call.press("60629")
    assert "Your report number is 1." in call.said[-2]
    [card] = await bot.telegram.wait_for(rosa, 1)
    assert "26th and Pulaski" in card.text and "60629" in card.text
    shown = reveals(card.text, CALLER) or reveals(card.text, CALLER[2:])  # no number printed
    assert not shown, "the card shows the caller's number"
    # Each step sent again (a replay) takes no second report and sends no second card.
    async with httpx.AsyncClient() as client:
        for step, given in (
            ("report/said?lang=en", {"SpeechResult": "two ICE vans at 26th and Pulaski"}),
            ("report/zip?lang=en&report=1&tries=0", {"Digits": "60629"}),
        ):
            form = call._form(given)
            url = f"{bot.url}/twilio/voice/{step}"
            signed = {"X-Twilio-Signature": bot.twilio.sign(url, form)}
            again = await client.post(url, data=form, headers=signed)
            assert again.status_code == 200 and b"report number" not in again.content
    assert [r.id for r in await bot.services.reports.open_reports()] == [1]
    await asyncio.sleep(0.2)
    assert len(bot.telegram.messages_to(rosa)) == 1


async def test_a_spoken_report_goes_even_without_its_zip_code(bot: Bot, worker: Worker) -> None:
    """A ZIP code outside the area is asked once more, then the report goes without one; a
    caller who hangs up before keying it still has it sent when the call ends."""
    rosa = 9304
    bot.telegram.add_user(rosa)
    await bot.services.coordinators.add(rosa, Role.ADMIN, "Rosa", Actor.operator())
    call = await bot.twilio.call(CALLER)
    await call.press("1")
    await call.press("2")
    await call.speak("agents near the Midway Orange Line station")
    await call.press("90210")
    assert call.said[-2:] == [
        "That ZIP code is not in our area.",
        "Enter the ZIP code of the place on the keypad.",
    ]
    await call.press("90210")
    assert "Your report number is 1." in call.said[-2]
    gone = await bot.twilio.call("+13125550149")
    await gone.press("1")
    await gone.press("2")
    await gone.speak("a checkpoint on Cicero Avenue")
    assert await bot.services.reports.open_reports() != []  # only the first so far
    await gone.hang_up()
    assert gone.status_callbacks == [200]
    texts = sorted(card.text for card in await bot.telegram.wait_for(rosa, 2) if "#" in card.text)
    assert "Midway" in texts[0] and "Cicero" in texts[1]
    assert sorted(r.id for r in await bot.services.reports.open_reports()) == [1, 2]


async def test_text_alerts_by_keypad_sign_the_caller_up_and_text_the_confirmation(
    bot: Bot, worker: Worker
) -> None:
    call = await bot.twilio.call(CALLER)
    await call.press("2")
    await call.press("4")
    await call.press("90210")
    assert call.said[-2] == "Ese código postal no está en nuestra zona."
    await call.press("60629")
    assert "60629" not in call.said[-2] and "Chicago Lawn" in call.said[-2]
    row = await bot.services.directory.get(Channel.SMS, CALLER)
    assert row is not None and (row.language, row.zone, row.status) == (
        "es",
        "60629",
        SubscriberStatus.ACTIVE,
    )

    async def texts() -> list[str]:
        return [sms.body for sms in bot.twilio.inbox(CALLER)]

    [confirmation, *_] = await eventually(texts)
    assert "BAJA" in confirmation or "STOP" in confirmation
    assert "Chicago Rapid Response Network" in confirmation
    # The same keypad step posted again (a replay): no second sign-up text.
    had = len(await texts())
    form = call._form({"Digits": "60629"})
    url = f"{bot.url}/twilio/voice/alerts/zip?lang=es"
    signed = {"X-Twilio-Signature": bot.twilio.sign(url, form)}
    async with httpx.AsyncClient() as client:
        again = await client.post(url, data=form, headers=signed)
    assert again.status_code == 200
    await asyncio.sleep(0.5)  # the worker would have sent a second confirmation by now
    assert len(await texts()) == had


async def test_forged_and_replayed_calls_change_nothing(bot: Bot) -> None:
    url = f"{bot.url}/twilio/voice"
    async with httpx.AsyncClient() as client:
        forged = await client.post(url, data={"CallSid": "CA" + "0" * 32, "From": CALLER})
        assert forged.status_code == 403
    call = await bot.twilio.call(CALLER)
    form = call._form({})
    async with httpx.AsyncClient() as client:
        again = await client.post(
            url, data=form, headers={"X-Twilio-Signature": bot.twilio.sign(url, form)}
        )
    assert again.status_code == 200 and b"<Say" not in again.content  # a replay: nothing


async def test_the_volunteer_list_never_shows_a_number(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    added = await rrbot(
        database_url, tmp_path, "hotline", "add", "--phone", "(312) 555-0191", "--label", "Ana"
    )
    assert added.exit_code == 0, added.output
    assert "0191" not in added.output
    listed = await rrbot(database_url, tmp_path, "hotline", "list")
    assert "Ana" in listed.output and "yes" in listed.output and "0191" not in listed.output
    ringing = await rung(bot, [ANA])
    assert ringing, "Ana is not rung"
    off = await rrbot(database_url, tmp_path, "hotline", "off", "1")
    assert off.exit_code == 0 and "off duty" in off.output
    nobody = await rung(bot, [])
    assert nobody, "someone is still rung"
    bad = await rrbot(database_url, tmp_path, "hotline", "add", "--phone", "12")
    assert bad.exit_code == 1 and "not a phone number" in bad.output
    gone = await rrbot(database_url, tmp_path, "hotline", "remove", "1")
    assert gone.exit_code == 0 and await bot.services.hotline.volunteers() == []


async def test_a_call_is_deleted_at_twilio_once_it_has_ended(bot: Bot) -> None:
    """What Twilio keeps of a call goes with it: its id is scheduled when it comes in, the
    deletion waits while the call goes on (20009) and succeeds once it has ended."""
    call = await bot.twilio.call(CALLER)
    assert not call.ended
    later = datetime.now(UTC) + timedelta(minutes=5)
    first = await deletions(bot, at=later)
    assert first["deleted"] == 0 and call.sid in bot.twilio.calls  # in progress: kept
    await call.hang_up()
    again = await deletions(bot, at=later + timedelta(hours=1))
    assert again["deleted"] == 1 and call.sid not in bot.twilio.calls
    assert call.sid in bot.twilio.deleted


async def test_a_coordinator_puts_their_own_phone_on_the_hotline_in_telegram(bot: Bot) -> None:
    rosa, phone = 9302, "+13125550193"
    bot.telegram.add_user(rosa)
    await bot.services.coordinators.add(rosa, Role.COORDINATOR, "Rosa", Actor.operator())
    [told] = await say(bot, rosa, "/hotline")
    assert "/hotline phone NUMBER" in told.text
    [added] = await say(bot, rosa, "/hotline phone (312) 555-0193")
    assert "on duty" in added.text and "0193" not in added.text
    bot.twilio.answers[phone] = "accepts"
    call = await bot.twilio.call(CALLER)
    await call.press("1")
    await call.press("3")
    reached = bridged(call, phone)  # bound first: a failure prints no number
    assert reached, "not bridged to the expected line"
    [off] = await say(bot, rosa, "/hotline off")
    assert "no longer ring" in off.text
    bot.twilio.answers[FALLBACK] = "accepts"
    later = await bot.twilio.call("+13125550145")
    await later.press("1")
    await later.press("3")
    reached = bridged(later, FALLBACK)  # bound first: a failure prints no number
    assert reached, "not bridged to the expected line"
    [bad] = await say(bot, rosa, "/hotline phone 12")
    assert "not a phone number" in bad.text
    [state] = await say(bot, rosa, "/hotline")
    assert "off duty" in state.text


async def test_calls_leave_only_weekly_counts_which_stats_export_prints(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    bot.twilio.answers[FALLBACK] = "accepts"
    for number in ("+13125550146", "+13125550147"):
        call = await bot.twilio.call(number)
        await call.press("1")
        await call.press("1")
    spanish = await bot.twilio.call("+13125550148")
    await spanish.press("2")
    await spanish.press("3")  # nobody on duty: forwarded
    today = datetime.now(bot.settings.zone).date()  # the week is the network's
    counts = {
        (language, event): n
        for _week, language, event, n in await bot.services.hotline.weekly_counts(today, today)
    }
    assert counts == {
        ("en", "call"): 2,
        ("en", "rights"): 2,
        ("es", "call"): 1,
        ("es", "volunteer"): 1,
        ("es", "forwarded"): 1,
        ("all", "call:<1m"): 1,  # the forwarded call ended when the fallback line hung up
    }
    day = today.isoformat()
    exported = await rrbot(
        database_url, tmp_path, "stats", "export", "--from", day, "--to", day, "--of", "calls"
    )
    assert exported.exit_code == 0, exported.output
    lines = exported.output.splitlines()
    assert lines[0] == "week,language,event,count"
    assert any(line.endswith(",en,call,<5") for line in lines)  # small counts suppressed
    assert "555" not in exported.output


async def test_how_long_calls_and_volunteers_talk_is_counted_once_in_ranges(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    """The number's status callback gives a call's length, the Dial's action the talk's:
    each is counted in a range (never a time of day), and a replayed callback adds nothing."""
    await bot.services.hotline.add(ANA, "Ana", Actor.operator())
    bot.twilio.answers[ANA] = "accepts"
    call = await bot.twilio.call(CALLER)
    await call.press("2")
    call.elapse(600)  # ten minutes on the line, without waiting for them
    call.talk_seconds = 200
    await call.press("3")
    assert call.ended and call.status_callbacks == [200]
    url = bot.twilio.voice_status_url
    assert url is not None
    form = call._form({"CallStatus": "completed", "CallDuration": "600"})
    async with httpx.AsyncClient() as client:
        again = await client.post(
            url, data=form, headers={"X-Twilio-Signature": bot.twilio.sign(url, form)}
        )
        forged = await client.post(url, data=form, headers={"X-Twilio-Signature": "forged"})
    assert again.status_code == 200 and forged.status_code == 403
    today = datetime.now(bot.settings.zone).date()
    counts = {
        (language, event): n
        for _week, language, event, n in await bot.services.hotline.weekly_counts(today, today)
    }
    assert counts[("all", "call:5-15m")] == 1
    assert counts[("es", "talk:1-5m")] == 1
    assert counts[("es", "answered")] == 1
    assert not any(event.startswith("call:") and n != 1 for (_, event), n in counts.items())
    day = today.isoformat()
    exported = await rrbot(
        database_url, tmp_path, "stats", "export", "--from", day, "--to", day, "--of", "calls"
    )
    assert any(line.endswith(",all,call:5-15m,<5") for line in exported.output.splitlines())


async def test_a_weekly_shift_rings_a_coordinator_who_is_off_duty_within_it(bot: Bot) -> None:
    rosa, phone = 9303, "+13125550194"
    bot.telegram.add_user(rosa)
    await bot.services.coordinators.add(rosa, Role.COORDINATOR, "Rosa", Actor.operator())
    await say(bot, rosa, "/hotline phone (312) 555-0194")
    await say(bot, rosa, "/hotline off")
    nobody = await rung(bot, [])
    assert nobody, "someone is still rung"
    now = datetime.now(bot.settings.zone)
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[now.weekday()]
    hours = f"{now.hour}-{(now.hour + 1) % 24}"  # this hour, past midnight at 23
    [shift] = await say(bot, rosa, f"/hotline shift {day} {hours}")
    assert f"{now.hour:02d}:00-" in shift.text and "clear" in shift.text
    ringing = await rung(bot, [phone])
    assert ringing, "Rosa's phone is not rung in her shift"
    [bad] = await say(bot, rosa, "/hotline shift someday 18-22")
    assert "Mon 18-22" in bad.text
    [cleared] = await say(bot, rosa, "/hotline shift clear")
    assert "No weekly shifts" in cleared.text
    nobody = await rung(bot, [])
    assert nobody, "someone is still rung"


def test_weekly_shifts_are_read_in_english_and_spanish_and_may_pass_midnight() -> None:
    assert weekly_shift("Mon 18-22") == (0, 18 * 60, 22 * 60)
    assert weekly_shift("sáb 9:30-13") == (5, 9 * 60 + 30, 13 * 60)
    assert weekly_shift("Fri 22-2") == (4, 22 * 60, 2 * 60)
    assert in_shift([[4, 22 * 60, 2 * 60]], 5, 60) and not in_shift([[4, 22 * 60, 120]], 5, 180)
    for text in ("Mon", "Mon 18", "Mon 25-26", "Mon 18-18", "lunes 18:70-20"):
        with pytest.raises(ParseError):
            weekly_shift(text)


@pytest.mark.parametrize("language", ["en", "es"])
async def test_every_branch_of_the_menu_in_english_and_spanish(
    bot: Bot, worker: Worker, language: str
) -> None:
    """1 rights, 2 report, 3 volunteer, 4 alerts and 9 repeat, each said in the language."""
    lang = bot.services.content.lang(language)
    digit = "1" if language == "en" else "2"
    tag = bot.services.content.voices[language].language
    menu = lang.gettext(
        "For your rights, press 1. To report what is happening, press 2. To talk to a "
        "volunteer, press 3. To get alerts by text message at this number, press 4. To hear "
        "this again, press 9."
    )
    await bot.services.hotline.add(ANA, "Ana", Actor.operator())
    bot.twilio.answers[ANA] = "accepts"
    for i, branch in enumerate(("1", "2", "3", "4", "9")):
        call = await bot.twilio.call(f"+1312555016{i}")
        await call.press(digit)
        assert call.said[-1] == menu
        await call.press(branch)
        if branch == "1":
            assert bot.services.content.rights_in(language).summary_sms.split()[0] in call.said[-2]
        elif branch == "2":
            assert call.said[-1] == prompts.text(bot.services.content, language, "report-say")
            assert call.waiting is not None and call.waiting.get("language") == tag
        elif branch == "3":
            reached = bridged(call, ANA)  # bound first: a failure prints no number
            assert reached, "not bridged to the expected line"
        elif branch == "4":
            assert call.said[-1] == lang.gettext("Enter the ZIP code where you live on the keypad.")
        else:
            assert call.said[-1] == menu
        spoken = [h for h in call.heard if h.kind == "say"][-1]
        assert spoken.language == tag, (branch, spoken)
