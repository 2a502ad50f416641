"""The operator's `rrbot` commands for coordinators, alerts and the audit log."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app as cli
from bot.core.vocabulary import AlertKind, Channel
from bot.delivery.worker import Worker
from tests.conftest import DATA_KEY, Bot
from tests.test_alerts import finished


async def rrbot(database_url: str, tmp_path: Path, *args: str) -> Result:
    env = {
        "DATABASE_URL": database_url,
        "DATA_KEY": DATA_KEY,
        "VAR_DIR": str(tmp_path / "var"),
        "COLUMNS": "200",
    }
    # The command runs its own event loop, as from a shell: give it a thread of its own.
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def test_coordinators_are_added_listed_and_removed_and_audited(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    added = await rrbot(
        database_url,
        tmp_path,
        "coordinators",
        "add",
        "--telegram-id",
        "424242",
        "--role",
        "admin",
        "--label",
        "Rosa",
    )
    assert added.exit_code == 0, added.output
    assert "#1" in added.output
    again = await rrbot(database_url, tmp_path, "coordinators", "add", "--telegram-id", "424242")
    assert again.exit_code == 1 and "already" in again.output
    listed = await rrbot(database_url, tmp_path, "coordinators", "list")
    assert "Rosa" in listed.output and "admin" in listed.output and "424242" not in listed.output
    removed = await rrbot(database_url, tmp_path, "coordinators", "remove", "1")
    assert removed.exit_code == 0
    assert "Rosa" not in (await rrbot(database_url, tmp_path, "coordinators", "list")).output
    log = await rrbot(database_url, tmp_path, "audit")
    assert "coordinator.add" in log.output and "coordinator.remove" in log.output
    assert "424242" not in log.output


async def test_alerts_send_from_the_server_reaches_subscribers(
    bot: Bot, worker: Worker, database_url: str, tmp_path: Path
) -> None:
    await bot.twilio.text("+13125550141", "ALTA 60629")
    await bot.twilio.text("+13125550142", "JOIN 60608")
    sent = await rrbot(
        database_url, tmp_path, "alerts", "send", "--zones", "60629,60632", "--text", "Agents at 63rd and Kedzie.",
        "--text-es", "Agentes en la 63 y Kedzie.", "--expires", "2h", "--yes",
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    alert_id = int(sent.stdout.strip().splitlines()[-1])
    await finished(bot, alert_id)
    [alert] = [s.body for s in bot.twilio.inbox("+13125550141") if "Kedzie" in s.body]
    assert "Agentes en la 63" in alert
    assert not [s for s in bot.twilio.inbox("+13125550142") if "Kedzie" in s.body]
    status = await rrbot(database_url, tmp_path, "alerts", "status", str(alert_id), "--json")
    data = json.loads(status.stdout)
    assert (
        data["recipients"] == 1
        and data["counts"]["sms"].get("sent", 0) + data["counts"]["sms"].get("delivered", 0) == 1
    )
    listed = await rrbot(database_url, tmp_path, "alerts", "list")
    assert "60629" in listed.output
    assert "alert.send" in (await rrbot(database_url, tmp_path, "audit")).output
    assert await bot.services.directory.get(Channel.SMS, "+13125550141") is not None


async def test_a_bad_alert_is_refused_with_the_reason(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    result = await rrbot(
        database_url, tmp_path, "alerts", "send", "--zones", "90210", "--text", "x", "--yes"
    )
    # Read as Telegram reads zone lists (bot.core.parse): a usage error, naming the code.
    assert result.exit_code == 2 and "Not zones of this network: 90210" in result.output
    bad_expiry = await rrbot(
        database_url,
        tmp_path,
        "alerts",
        "send",
        "--zones",
        "all",
        "--text",
        "x",
        "--expires",
        "soon",
        "--yes",
    )
    assert bad_expiry.exit_code == 2


@pytest.mark.parametrize("spelling", ["all-clear", "all_clear", "ALL-CLEAR"])
async def test_multi_word_values_take_the_contracts_hyphen_or_an_underscore(
    bot: Bot, worker: Worker, database_url: str, tmp_path: Path, spelling: str
) -> None:
    await bot.twilio.text("+13125550143", "JOIN 60629")
    first = await rrbot(
        database_url, tmp_path, "alerts", "send", "--zones", "60629", "--text", "Agents at 63rd.",
        "--yes",
    )  # fmt: skip
    original = int(first.stdout.strip().splitlines()[-1])
    await finished(bot, original)
    clear = await rrbot(
        database_url, tmp_path, "alerts", "send", "--zones", "60629", "--type", spelling,
        "--refers", str(original), "--text", "They have left.", "--yes",
    )  # fmt: skip
    assert clear.exit_code == 0, clear.output
    assert (await bot.services.alerts.get(original + 1)).kind is AlertKind.ALL_CLEAR
    wrong = await rrbot(database_url, tmp_path, "alerts", "send", "--zones", "all", "--type",
                        "allclear", "--text", "x", "--yes")  # fmt: skip
    assert wrong.exit_code == 2 and "all-clear" in wrong.output


@pytest.mark.parametrize(
    "args",
    [
        ("alerts", "status", "99999999999999999999"),
        ("workshops", "cancel", "99999999999999999999"),
        ("alerts", "send", "--zones", "all", "--text", "x", "--expires", "99999999999d", "--yes"),
        ("alerts", "send", "--zones", "all", "--text", "x", "--expires", "9999d", "--yes"),
    ],
)
async def test_a_number_too_large_is_refused_in_a_line_naming_it(
    bot: Bot, database_url: str, tmp_path: Path, args: tuple[str, ...]
) -> None:
    result = await rrbot(database_url, tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "OverflowError" not in result.output
    said = " ".join(result.output.split())
    assert any(
        clear in said for clear in ("2147483647", "at most ten years", "use days, hours or minutes")
    ), said


async def test_a_command_on_a_database_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    """Issue 16, point 8: a read command says so in a line; no directory, no empty file."""
    missing = tmp_path / "not" / "there" / "bot.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{missing}", "VAR_DIR": str(tmp_path / "var")}
    for args in (["audit"], ["alerts", "list"], ["subscribers", "stats"]):
        result = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)
        assert result.exit_code == 2 and "does not exist yet" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "not").exists()
