"""VERIFY: "is it true?" answered from verified alerts, by SMS and on Telegram (issue 19)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.alerts import AlertDraft
from bot.core.audit import Actor
from bot.core.segments import MAX_SEGMENTS, count_segments
from bot.core.vocabulary import AlertKind, Role
from bot.sim.fake_telegram import SentMessage
from bot.storage.verify import VerifyRows
from tests.conftest import Bot, Worker
from tests.support import eventually, press, say
from tests.test_alerts import finished
from tests.test_cli import rrbot

ASKER = "+13125550171"
MIDWAY = "Agents at Midway, 55th and Cicero."


async def alert(bot: Bot, zones: tuple[str, ...], text: str = MIDWAY) -> int:
    sent = await bot.services.alerts.send_now(
        AlertDraft(AlertKind.ALERT, zones, {"en": text, "es": "Agentes en Midway."}),
        Actor.operator(),
    )
    return sent.id


async def verify(bot: Bot, body: str, number: str = ASKER) -> str:
    result = await bot.twilio.text(number, body)
    assert result.status == 200
    return "\n".join(result.replies)


async def test_verify_lists_a_verified_alert_in_the_zone_and_its_neighbours(bot: Bot) -> None:
    number = await alert(bot, ("60629",))
    here = await verify(bot, "VERIFY 60629")
    assert "Verified alerts near 60629 (Chicago Lawn" in here
    assert f"#{number} " in here and f": {MIDWAY}" in here  # what happened, not the heading
    assert "do not forward posts nobody has verified" in here
    near = await verify(bot, "verify 60632", "+13125550172")  # a neighbouring zone
    assert f"#{number} " in near
    far = await verify(bot, "VERIFY 60640", "+13125550173")  # Uptown: far from Midway
    assert "No confirmed activity near 60640" in far and "last 6 hours" in far
    assert "Midway" not in far


async def test_verificar_answers_in_spanish_and_a_correction_ends_the_alert(bot: Bot) -> None:
    number = await alert(bot, ("60629",))
    spanish = await verify(bot, "VERIFICAR 60629")
    assert "Alertas verificadas cerca de 60629" in spanish and "Agentes en Midway" in spanish
    await bot.services.alerts.send_now(
        AlertDraft(AlertKind.CORRECTION, (), {"en": "That was not ICE."}, refers_to=number),
        Actor.operator(),
    )
    after = await verify(bot, "VERIFICAR 60629", "+13125550174")
    assert "No hay actividad confirmada cerca de 60629" in after
    assert "#" not in after.split("\n")[0]


async def test_verify_without_a_zip_code_answers_for_the_whole_area(bot: Bot) -> None:
    number = await alert(bot, ("60640",), "Agents at Broadway and Lawrence.")
    streets = await verify(bot, "VERIFY Broadway and Lawrence")
    assert f"#{number} " in streets and "Broadway and Lawrence" in streets
    nothing = await verify(bot, "VERIFY", "+13125550175")
    assert "Verified alerts near" in nothing  # the area's, since one is active


async def test_each_sender_has_a_limit_and_questions_are_counted_per_zone(bot: Bot) -> None:
    answers = [await verify(bot, "VERIFY 60629") for _ in range(11)]
    assert all("No confirmed activity" in a for a in answers[:10])
    assert "asked several times in the last hour" in answers[10]
    other = await verify(bot, "VERIFY 60629", "+13125550176")  # another sender is not limited
    assert "No confirmed activity" in other
    since = datetime.now(UTC) - timedelta(hours=1)
    async with bot.services.db.transaction() as session:
        asked = await VerifyRows(session).asked_since(["60629"], since)
    assert asked == 11  # the refused one is not counted


async def test_a_number_that_texted_stop_gets_no_answer(bot: Bot) -> None:
    await verify(bot, "JOIN 60629")
    await verify(bot, "STOP")
    assert await verify(bot, "VERIFY 60629") == ""


async def test_telegram_verify_uses_the_subscribers_zone_or_the_one_given(bot: Bot) -> None:
    user = 81001
    bot.telegram.add_user(user)
    await say(bot, user, "/start en_60629", expect=1)
    number = await alert(bot, ("60629",))
    [own] = await say(bot, user, "/verify")
    assert "Verified alerts near 60629" in own.text and f"#{number} " in own.text
    [other] = await say(bot, user, "/verify 60640")
    assert "No confirmed activity near 60640" in other.text


async def test_an_sms_answer_keeps_to_four_segments_with_the_newest_alerts(bot: Bot) -> None:
    """Russian is UCS-2 (67 characters a segment): only the newest alerts that fit are
    listed, never a text past four segments."""
    numbers = [
        await alert(bot, ("60629",), f"Agents near the {n}th street school. " * 3)
        for n in (1, 2, 3)
    ]
    await verify(bot, "JOIN 60629 RUSSIAN")
    answer = await verify(bot, "VERIFY 60629")
    assert count_segments(answer).segments <= MAX_SEGMENTS
    assert f"#{numbers[-1]} " in answer and f"#{numbers[0]} " not in answer
    english = await verify(bot, "VERIFY 60629", "+13125550177")  # GSM-7: all three fit
    assert all(f"#{n} " in english for n in numbers)


async def test_upkeep_forgets_limits_after_an_hour_and_counts_with_report_texts(
    bot: Bot,
) -> None:
    """The worker's upkeep (Reports.upkeep) deletes a sender's limit an hour on and the
    zone's count once report texts go (REPORT_RETENTION_DAYS), and not before."""
    await verify(bot, "VERIFY 60629")
    reports = bot.services.reports
    start = reports.clock()
    assert (await reports.upkeep())["verify"] == 0  # this hour's limit and count stay
    reports.clock = lambda: start + timedelta(hours=2)
    assert (await reports.upkeep())["verify"] == 1  # the sender's limit
    async with bot.services.db.transaction() as session:
        asked = await VerifyRows(session).asked_since(["60629"], start - timedelta(hours=1))
    assert asked == 1  # the count is still there
    reports.clock = lambda: start + timedelta(days=31)
    assert (await reports.upkeep())["verify"] == 1  # the zone's count, with the texts


async def test_a_languages_own_word_asks_and_answers_in_that_language(bot: Bot) -> None:
    polish = await verify(bot, "SPRAWDZ 60629")  # typed without its accent
    assert polish.startswith("Brak potwierdzonych") and "60629" in polish


async def test_a_rumor_control_notice_goes_out_and_verify_mentions_it(
    bot: Bot, worker: Worker, database_url: str, tmp_path: Path
) -> None:
    """Rumor control (point 2): sent from the server like an alert, with its own heading,
    to the zone; VERIFY about the zone then says nothing is confirmed and points to it."""
    reader = "+13125550178"
    await verify(bot, "ALTA 60629", reader)
    sent = await rrbot(
        database_url, tmp_path, "alerts", "send", "--type", "rumor", "--zones", "60629",
        "--text", "A post about a raid at the Midway school is false.",
        "--text-es", "Una publicación sobre una redada en la escuela de Midway es falsa.",
        "--yes",
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    number = int(sent.stdout.strip().splitlines()[-1])
    await finished(bot, number)
    [notice] = [s.body for s in bot.twilio.inbox(reader) if "Midway" in s.body]
    assert "CONTROL DE RUMORES" in notice and "es falsa" in notice
    answer = await verify(bot, "VERIFY 60632")  # a neighbouring zone
    assert answer.startswith("No confirmed activity near 60632")
    assert f"RUMOR CONTROL #{number} " in answer and "raid at the Midway school is false" in answer


async def test_a_coordinator_composes_rumor_control_from_its_template(
    bot: Bot, worker: Worker
) -> None:
    rosa = 9401
    bot.telegram.add_user(rosa)
    await bot.services.coordinators.add(rosa, Role.ADMIN, "Rosa", Actor.operator())
    [kind] = await say(bot, rosa, "/alert")
    [zones] = await press(bot, rosa, kind, "Rumor control")
    assert "Which zones?" in zones.text
    [text] = await say(bot, rosa, "60629")
    [what] = await press(bot, rosa, text, "Rumor not confirmed")
    assert "few words" in what.text
    [place] = await say(bot, rosa, "a raid")
    assert "Cross streets" in place.text
    [expiry] = await say(bot, rosa, "the Midway school")
    had = len(bot.telegram.messages_to(rosa))
    await press(bot, rosa, expiry, "4 hours")

    async def shown() -> list[SentMessage]:
        return bot.telegram.messages_to(rosa)[had:]

    sent = await eventually(shown, lambda m: any("Preview of #1" in x.text for x in m))
    preview = sent[-1]
    assert "RUMOR CONTROL" in preview.text and "Rumor control" in preview.text
    everything = "\n".join(m.text for m in sent)
    assert "a post about a raid at the Midway school (Chicago Lawn" in everything
    [sending] = await press(bot, rosa, preview, "Send now")
    assert "Sending #1" in sending.text
    await finished(bot, 1)
    [status] = await say(bot, rosa, "/status")
    assert "#1 Rumor control" in status.text
