"""/healthz, /metrics and the CLI's subscriber counts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bot.app import build_services, build_web
from bot.cli import app as cli
from bot.settings import SettingsError, load_settings
from bot.sim.serve import serve
from tests.conftest import DATA_KEY, METRICS_TOKEN, Bot, make_settings
from tests.support import metrics


async def test_healthz_answers_json_when_the_database_answers(bot: Bot) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{bot.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}  # no version to match


async def test_metrics_answer_only_the_bearer_token(bot: Bot) -> None:
    async with httpx.AsyncClient() as client:
        url = f"{bot.url}/metrics"
        missing = await client.get(url)
        wrong = await client.get(url, headers={"Authorization": "Bearer not-the-token"})
        basic = await client.get(url, headers={"Authorization": f"Basic {METRICS_TOKEN}"})
        right = await client.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert [r.status_code for r in (missing, wrong, basic, right)] == [401, 401, 401, 200]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "rrbot_" not in missing.text + wrong.text + basic.text
    assert "rrbot_inbound_messages_total" in right.text


async def get_from_a_web_process(
    database_url: str, tmp_path: Path, path: str, **env: str
) -> httpx.Response:
    """GET `path` from the web app alone (no channels) on `database_url`."""
    off = {"TELEGRAM_BOT_TOKEN": "", "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""}
    settings = make_settings(database_url, tmp_path, **{**off, **env})
    server = await serve(build_web(build_services(settings)), lifespan="on")
    try:
        async with httpx.AsyncClient() as client:
            return await client.get(f"{server.url}{path}")
    finally:
        await server.stop()


async def test_metrics_answer_404_without_a_token_set(tmp_path: Path, database_url: str) -> None:
    response = await get_from_a_web_process(database_url, tmp_path, "/metrics", METRICS_TOKEN="")
    assert response.status_code == 404
    assert "rrbot_" not in response.text


def test_a_short_metrics_token_stops_start_up_naming_it() -> None:
    with pytest.raises(SettingsError, match="METRICS_TOKEN"):
        load_settings({"METRICS_TOKEN": "short"})


async def test_healthz_answers_503_when_the_database_does_not(tmp_path: Path) -> None:
    # A closed port: nothing listens there, so every connection is refused.
    down = "postgresql://postgres@127.0.0.1:1/none"
    response = await get_from_a_web_process(down, tmp_path, "/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


async def test_metrics_count_inbound_messages_and_refused_webhooks(bot: Bot) -> None:
    await bot.twilio.text("+13125550111", "JOIN 60629")
    await bot.twilio.text("+13125550111", "JOIN", forge=True)
    body = await metrics(bot)
    assert 'rrbot_inbound_messages_total{channel="sms",intent="subscribe"} 1.0' in body
    assert 'rrbot_webhooks_rejected_total{route="/twilio/sms"} 1.0' in body
    assert "5550111" not in body


async def test_subscriber_stats_are_counts_never_numbers(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    for number in ("+13125550121", "+13125550122"):
        await bot.twilio.text(number, "ALTA 60629")
    await bot.twilio.text("+13125550123", "JOIN 60608")
    await bot.twilio.text("+13125550123", "STOP")
    env = {"DATABASE_URL": database_url, "DATA_KEY": DATA_KEY, "VAR_DIR": str(tmp_path / "var")}
    # The command runs its own event loop, as from a shell: give it a thread of its own.
    invoke = CliRunner().invoke
    result = await asyncio.to_thread(
        invoke, cli, ["subscribers", "stats", "--by", "channel,zone,status", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    assert '"zone": "60629"' in result.output and '"count": 2' in result.output
    assert '"status": "opted_out"' in result.output
    table = await asyncio.to_thread(invoke, cli, ["subscribers", "stats"], env=env)
    assert table.exit_code == 0 and "total" in table.output and "3" in table.output
    for number in ("5550121", "5550122", "5550123"):
        assert number not in result.output + table.output


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for args in (
        [],
        ["run"],
        ["web"],
        ["db"],
        ["db", "upgrade"],
        ["subscribers", "stats"],
        ["keygen"],
    ):
        result = runner.invoke(cli, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, args
