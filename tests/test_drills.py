"""Drills (issue 19, point 6): every text of a drill begins with the drill line in the
reader's language; DRILLS OFF skips drills and nothing else; VERIFY never names a drill;
`rrbot alerts report ID` prints the delivery curve and writes it as a PNG chart, which the
composer also gets in Telegram; a monthly drill goes out once on its day."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import build_services
from bot.core.alerts import AlertDraft
from bot.core.audit import Actor
from bot.core.vocabulary import AlertKind, Role
from tests.conftest import Bot, Worker
from tests.support import eventually, press, say
from tests.test_alerts import finished
from tests.test_checkin import text
from tests.test_cli import rrbot
from tests.test_coordinator_telegram import compose

PNG = b"\x89PNG\r\n\x1a\n"
ENGLISH, SPANISH, NO_DRILLS = "+13125550401", "+13125550402", "+13125550403"
DRILL_EN = "DRILL — SIMULACRO — no action needed."
DRILL_ES = "SIMULACRO — DRILL — no tiene que hacer nada."
ROSA = 9701


async def people(bot: Bot) -> None:
    for number, join in (
        (ENGLISH, "JOIN 60629"),
        (SPANISH, "ALTA 60629"),
        (NO_DRILLS, "JOIN 60629"),
    ):
        assert (await bot.twilio.text(number, join)).status == 200
    assert "will not get drills" in await text(bot, NO_DRILLS, "DRILLS OFF")


def drill(body: str = "This is the monthly test of our alerts.") -> AlertDraft:
    return AlertDraft(
        AlertKind.ALERT,
        ("60629",),
        {"en": body, "es": "Esta es la prueba mensual de nuestras alertas."},
        drill=True,
    )


async def test_a_drills_texts_begin_with_the_drill_line_and_drills_off_skips_only_drills(
    bot: Bot, worker: Worker
) -> None:
    await people(bot)
    sent = await bot.services.alerts.send_now(drill(), Actor.operator())
    assert sent.recipients == 2  # the one who said DRILLS OFF is not queued
    [english] = [m.body for m in await bot.twilio.wait_for(ENGLISH, 2) if "monthly test" in m.body]
    [spanish] = [
        m.body for m in await bot.twilio.wait_for(SPANISH, 2) if "prueba mensual" in m.body
    ]
    # By SMS the dashes are plain, so the drill line alone makes no English SMS UCS-2.
    assert english.startswith(DRILL_EN.replace("—", "-"))
    assert spanish.startswith(DRILL_ES.replace("—", "-"))
    assert sent.texts["en"].startswith(DRILL_EN)  # as Telegram shows it
    assert not [m for m in bot.twilio.inbox(NO_DRILLS) if "monthly test" in m.body]
    # A real alert still reaches them, and VERIFY names it but never the drill.
    real = AlertDraft(AlertKind.ALERT, ("60629",), {"en": "ICE agents at 55th and Kedzie."})
    await bot.services.alerts.send_now(real, Actor.operator())
    await eventually(lambda: _bodies(bot, NO_DRILLS), lambda found: any("ICE" in b for b in found))
    verified = await text(bot, "+13125550409", "VERIFY 60629")
    assert "ICE agents" in verified and "monthly test" not in verified
    assert "get the network's drills" in await text(bot, NO_DRILLS, "DRILLS ON")
    again = await bot.services.alerts.send_now(drill("Second test."), Actor.operator())
    assert again.recipients == 3


async def _bodies(bot: Bot, number: str) -> list[str]:
    return [m.body for m in bot.twilio.inbox(number)]


async def test_the_delivery_report_prints_the_curve_and_writes_the_chart(
    bot: Bot, worker: Worker, database_url: str, tmp_path: Path
) -> None:
    await people(bot)
    bot.twilio.fail_next(1, status=400)  # one SMS fails for good: a failure by reason
    sent = await bot.services.alerts.send_now(drill(), Actor.operator())
    await finished(bot, sent.id)
    chart = tmp_path / "drill.png"
    printed = await rrbot(database_url, tmp_path, "alerts", "report", str(sent.id), "--chart",
                          str(chart), "--json")  # fmt: skip
    assert printed.exit_code == 0, printed.output
    report = json.loads(printed.output)
    assert report["drill"] is True and report["chart"] == str(chart)
    overall = report["curves"]["all"]
    assert (overall["recipients"], overall["sent"]) == (2, 1)
    assert overall["50%"] is not None and overall["100%"] is None  # one never reached
    assert report["failures"] == {"failed: twilio:20400": 1}
    assert chart.read_bytes().startswith(PNG) and chart.stat().st_size > 5_000
    table = await rrbot(database_url, tmp_path, "alerts", "report", str(sent.id), "--chart",
                        str(tmp_path / "again.png"))  # fmt: skip
    assert table.exit_code == 0, table.output
    assert (
        "50%" in table.output and "99%" in table.output and "not delivered, failed" in table.output
    )


async def test_a_drill_from_the_composer_reaches_people_and_its_chart_reaches_the_composer(
    bot: Bot, worker: Worker
) -> None:
    for uid in (71100, 71101):
        bot.telegram.add_user(uid)
        await say(bot, uid, "/start en_60629")
    bot.telegram.add_user(ROSA)
    await bot.services.coordinators.add(ROSA, Role.ADMIN, "Rosa", Actor.operator())
    preview = await compose(bot, ROSA)
    [drilled] = await press(bot, ROSA, preview, "Make it a drill", expect=1)
    assert "DRILL: every text says no action is needed" in drilled.text
    [sending] = await press(bot, ROSA, drilled, "Send now")
    assert "Sending #1 to 2 people" in sending.text
    await finished(bot, 1)
    [got] = (await bot.telegram.wait_for(71100, 2))[-1:]
    assert got.text.startswith(DRILL_EN)

    async def charts() -> list:  # type: ignore[type-arg]
        return [m for m in bot.telegram.messages_to(ROSA) if m.method == "sendPhoto"]

    [chart] = await eventually(charts, within=15)
    assert "#1 is done: 2 of 2 reached" in chart.text  # the summary is its caption
    assert chart.document is not None and (chart.document.content or b"").startswith(PNG)


async def test_the_monthly_drill_goes_out_once_on_its_day(
    bot: Bot, worker: Worker, database_url: str, tmp_path: Path
) -> None:
    await people(bot)
    drills = bot.services.drills
    zone = ZoneInfo("America/Chicago")
    refused = await rrbot(database_url, tmp_path, "alerts", "monthly-drill", "--day", "31",
                          "--text", "x")  # fmt: skip
    assert refused.exit_code != 0  # not every month has a 31st
    set_ = await rrbot(database_url, tmp_path, "alerts", "monthly-drill", "--day", "3",
                       "--time", "18:00", "--zones", "60629", "--text", "Monthly test.")  # fmt: skip
    assert set_.exit_code == 0, set_.output
    shown = await rrbot(database_url, tmp_path, "alerts", "monthly-drill")
    assert "day 3 at 18:00" in shown.output
    before = datetime(2031, 3, 3, 17, 59, tzinfo=zone).astimezone(UTC)
    assert await drills.send_due(before) is None
    on_time = before + timedelta(minutes=1)
    first = await drills.send_due(on_time)
    assert first is not None
    assert await drills.send_due(on_time + timedelta(hours=2)) is None  # once a month
    assert await drills.send_due(datetime(2031, 3, 4, 18, 30, tzinfo=zone)) is None
    alert = await bot.services.alerts.get(first)
    assert alert.drill and alert.texts["en"].startswith(DRILL_EN)
    later = await drills.send_due(datetime(2031, 4, 3, 18, 0, tzinfo=zone))
    assert later is not None and later != first
    stopped = await rrbot(database_url, tmp_path, "alerts", "monthly-drill", "--off")
    assert "stopped" in stopped.output and await drills.monthly() is None


async def test_two_processes_ticking_at_once_send_the_monthly_drill_once(bot: Bot) -> None:
    """Every process runs the upkeep: the month is claimed by a conditional update, so two
    ticks at the same moment queue one drill."""
    await bot.services.drills.set_monthly(
        3, time(18), ("60629",), {"en": "Monthly test."}, Actor.operator()
    )
    at = datetime(2031, 3, 3, 18, 5, tzinfo=ZoneInfo("America/Chicago"))
    other = build_services(bot.settings)  # a second process's own services and connections
    try:
        sent = await asyncio.gather(bot.services.drills.send_due(at), other.drills.send_due(at))
    finally:
        await other.db.close()
    assert sorted(s is not None for s in sent) == [False, True]
    assert len([a for a in await bot.services.alerts.recent(10) if a.drill]) == 1


async def test_the_cli_sends_a_drill_with_a_check_in(
    bot: Bot, worker: Worker, database_url: str, tmp_path: Path
) -> None:
    await people(bot)
    sent = await rrbot(database_url, tmp_path, "alerts", "send", "--zones", "60629", "--text",
                       "Test of the alerts.", "--drill", "--check-in", "--yes")  # fmt: skip
    assert sent.exit_code == 0, sent.output
    alert = await bot.services.alerts.get(int(sent.output.split()[-1]))
    assert alert.drill and alert.check_in and alert.recipients == 2
    found = await eventually(
        lambda: _bodies(bot, ENGLISH), lambda bodies: any("Test of the alerts" in b for b in bodies)
    )
    [body] = [b for b in found if "Test of the alerts" in b]
    assert body.startswith(DRILL_EN.replace("—", "-"))
    assert body.endswith("Reply 1 if you are safe, 2 if you need help.")
