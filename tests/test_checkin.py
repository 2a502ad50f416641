"""Safety check-ins after an alert (issue 19, point 5): an alert may end "Reply 1 if you are
safe, 2 if you need help"; 1 is counted, 2 opens a help request whose card reaches the
coordinators without the person's number, and from which a coordinator can have the hotline
call them back, both sides seeing only the hotline's number."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import httpx

from bot.core.alerts import AlertDraft, CheckIns
from bot.core.audit import Actor, AuditEntry, entries
from bot.core.vocabulary import AlertKind, Role
from bot.sim.fake_telegram import SentMessage
from tests.conftest import BOT_NUMBER, Bot, Worker
from tests.support import buttons, eventually, press, say
from tests.test_cli import rrbot
from tests.test_reports import arrives, reveals

ROSA = 9601
ROSA_PHONE = "+13125550390"
SAFE = "+13125550301"  # replies 1
HELPED = "+13125550302"  # replies 2, in Spanish
QUIET = 9611  # on Telegram, never answers
CHECK_IN_EN = "Reply 1 if you are safe, 2 if you need help."
CHECK_IN_ES = "Responda 1 si está a salvo, 2 si necesita ayuda."


async def people(bot: Bot) -> None:
    bot.telegram.add_user(ROSA)
    await bot.services.coordinators.add(ROSA, Role.COORDINATOR, "Rosa", Actor.operator())
    await say(bot, ROSA, "/duty on")
    for number, join in ((SAFE, "JOIN 60629"), (HELPED, "ALTA 60629")):
        assert (await bot.twilio.text(number, join)).status == 200
    bot.telegram.add_user(QUIET)
    await say(bot, QUIET, "/start en_60629")


async def sent_with_check_in(bot: Bot) -> int:
    draft = AlertDraft(
        AlertKind.ALERT,
        ("60629",),
        {"en": "ICE agents at 55th and Kedzie.", "es": "Agentes de ICE en la 55 y Kedzie."},
        check_in=True,
    )
    alert = await bot.services.alerts.send_now(draft, Actor.operator())
    for number in (SAFE, HELPED):
        await bot.twilio.wait_for(number, 2)
    return alert.id


async def help_requested(bot: Bot) -> SentMessage:
    """Everyone signed up, a check-in alert sent, and its "2" answered: the card Rosa gets."""
    await people(bot)
    await sent_with_check_in(bot)
    await text(bot, HELPED, "2")
    return await arrives(bot, ROSA, "HELP REQUEST #1 ")


async def text(bot: Bot, number: str, body: str) -> str:
    """What the bot replies to `body` from `number` (its webhook answer, or its next SMS)."""
    before = len(bot.twilio.inbox(number))
    result = await bot.twilio.text(number, body)
    assert result.status == 200
    if result.replies:
        return result.replies[-1]
    return (await bot.twilio.wait_for(number, before + 1))[-1].body


async def test_answers_are_counted_and_a_2_reaches_the_coordinators_without_the_number(
    bot: Bot, worker: Worker, database_url: str, tmp_path: Path
) -> None:
    await people(bot)
    alert_id = await sent_with_check_in(bot)
    [english] = [m.body for m in bot.twilio.inbox(SAFE) if "ICE agents" in m.body]
    [spanish] = [m.body for m in bot.twilio.inbox(HELPED) if "Agentes de ICE" in m.body]
    assert english.endswith(CHECK_IN_EN) and spanish.endswith(CHECK_IN_ES.replace("á", "a"))
    [telegram] = [m for m in await bot.telegram.wait_for(QUIET, 2) if "ICE agents" in m.text]
    assert telegram.text.endswith(CHECK_IN_EN)

    # VERIFY quotes what happened, without the bot's own words around it.
    verified = await text(bot, "+13125550309", "VERIFY 60629")
    assert "ICE agents at 55th and Kedzie." in verified and "Reply 1" not in verified
    assert "glad you are safe" in await text(bot, SAFE, "1")
    taken = await text(bot, HELPED, "2")
    assert "voluntari" in taken  # Spanish: "…los voluntarios de la red…"
    card = await arrives(bot, ROSA, "HELP REQUEST #1 ")
    assert f"check-in of alert #{alert_id}" in card.text
    shown = reveals(card.text, HELPED[2:]) or reveals(str(card.reply_markup), HELPED[2:])
    assert not shown, "the help request's card shows the person's number"
    assert set(buttons(card)) == {"I'm on it", "Resolved", "Need more info", "Call back"}

    # Their next message goes onto the request, to the coordinators on duty.
    await bot.twilio.text(HELPED, "en la parada de Pulaski, necesito un abogado")
    await arrives(bot, ROSA, "Help request #1: they add: en la parada de Pulaski")

    progress = await bot.services.alerts.progress(alert_id)
    assert progress.check_ins == CheckIns(safe=1, help=1, no_answer=1)
    [status] = await say(bot, ROSA, "/status")
    assert "check-in: safe 1, need help 1, no answer 1" in status.text
    printed = await rrbot(database_url, tmp_path, "alerts", "status", str(alert_id))
    assert "check-in: safe 1, need help 1, no answer 1" in printed.output
    as_json = await rrbot(database_url, tmp_path, "alerts", "status", str(alert_id), "--json")
    assert json.loads(as_json.output)["check_in"] == {"safe": 1, "help": 1, "no_answer": 1}
    # Answered: a 1 is a rights topic again, and a second 2 opens no second request.
    assert "glad you are safe" not in await text(bot, SAFE, "1")
    await bot.twilio.text(HELPED, "2")
    assert [r.id for r in await bot.services.reports.open_reports()] == [1]
    assert (await bot.services.alerts.progress(alert_id)).check_ins == progress.check_ins


async def test_a_1_or_2_with_no_check_in_asked_is_still_a_rights_topic(
    bot: Bot, worker: Worker
) -> None:
    await people(bot)
    plain = AlertDraft(AlertKind.ALERT, ("60629",), {"en": "ICE agents at 55th and Kedzie."})
    await bot.services.alerts.send_now(plain, Actor.operator())
    await bot.twilio.wait_for(SAFE, 2)
    assert not bot.twilio.inbox(SAFE)[-1].body.endswith(CHECK_IN_EN)
    assert "glad you are safe" not in await text(bot, SAFE, "1")
    await text(bot, SAFE, "2")
    assert await bot.services.reports.open_reports() == []


async def test_call_back_rings_the_coordinator_then_the_person_from_the_hotline_number(
    bot: Bot, worker: Worker
) -> None:
    card = await help_requested(bot)
    # A question relayed from the card reaches them as one about their request for help.
    await press(bot, ROSA, card, "Need more info")
    [sent] = await say(bot, ROSA, "¿Está en un lugar seguro ahora?")
    assert "Sent to the reporter of #1" in sent.text
    found = await eventually(
        lambda: _bodies(bot, HELPED), lambda found: any("(#1)" in b for b in found)
    )
    relayed = found[-1]
    assert "solicitud de ayuda (#1)" in relayed and "lugar seguro" in relayed
    await bot.twilio.text(HELPED, "Sí, en casa de mi hermana")
    await arrives(bot, ROSA, "Answer on report #1: Sí, en casa de mi hermana")
    # Without a phone of their own on the hotline, the coordinator is told how to add one.
    [told] = await press(bot, ROSA, card, "Call back")
    assert "/hotline phone" in told.text and not bot.twilio.placed
    await say(bot, ROSA, f"/hotline phone {ROSA_PHONE}")
    bot.twilio.answers[ROSA_PHONE] = "accepts"
    bot.twilio.answers[HELPED] = "accepts"
    [calling] = await press(bot, ROSA, card, "Call back")
    assert "Calling your hotline phone now" in calling.text
    # Two calls at Twilio: the coordinator's phone, then (once they pressed 1) the person,
    # each showing only the hotline's number.
    call, leg = await eventually(lambda: _placed(bot), lambda calls: len(calls) == 2)
    await eventually(lambda: _placed(bot), lambda calls: calls[0].ended)
    rang_rosa, shown_as = call.to == ROSA_PHONE, call.caller == BOT_NUMBER
    assert rang_rosa and shown_as, "the first call rings the coordinator from the hotline"
    assert "help request 1" in call.said[0] and call.heard[1].kind == "dial"
    bridged, masked = leg.to == HELPED, leg.caller == BOT_NUMBER
    assert bridged and masked and leg.parent == call.sid, "the person sees the hotline's number"
    audit = [e.action for e in await _audit(bot)]
    assert "report.call_back" in audit
    # The accepting step sent again (a replay of a signed request) dials nobody: its answer
    # would otherwise hand the person's number to whoever replays it.
    url = f"{bot.url}/twilio/voice/callback/accept?report=1"
    form = call._form({"Digits": "1"})
    async with httpx.AsyncClient() as client:
        again = await client.post(
            url, data=form, headers={"X-Twilio-Signature": bot.twilio.sign(url, form)}
        )
    leaked = reveals(again.text, HELPED[2:])
    assert again.status_code == 200 and not leaked and "<Dial" not in again.text

    # Resolved: a call-back placed now reaches nobody.
    fresh = await arrives(bot, ROSA, "HELP REQUEST #1 ")
    await press(bot, ROSA, fresh, "Resolved")
    assert await bot.services.reports.callee(1) is None


async def _bodies(bot: Bot, number: str) -> list[str]:
    return [m.body for m in bot.twilio.inbox(number)]


async def _placed(bot: Bot) -> list:  # type: ignore[type-arg]
    return list(bot.twilio.placed)


async def _audit(bot: Bot) -> list[AuditEntry]:
    return await entries(bot.services.db, 50)


async def test_a_forged_call_back_step_is_refused_and_help_requests_are_no_report_counts(
    bot: Bot, worker: Worker
) -> None:
    await help_requested(bot)
    url = f"{bot.url}/twilio/voice/callback/accept?report=1"
    form = {"CallSid": "CA" + "0" * 32, "Digits": "1", "From": BOT_NUMBER}
    async with httpx.AsyncClient() as client:
        forged = await client.post(url, data=form, headers={"X-Twilio-Signature": "forged"})
    leaked = reveals(forged.text, HELPED[2:])
    assert forged.status_code == 403 and not leaked
    today = datetime.now(bot.settings.zone).date()
    assert await bot.services.reports.weekly_counts(today, today) == []
    # Without a number to call from (the hotline is not set up), no card offers a call-back.
    assert (await bot.services.reports.view(1)).call_back
    bot.services.reports.call_back_via = None
    assert not (await bot.services.reports.view(1)).call_back
