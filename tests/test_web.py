"""/healthz, /metrics and the CLI's subscriber counts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from typer.testing import CliRunner

from bot.app import build_services, build_web
from bot.cli import app as cli
from bot.sim.serve import serve
from tests.conftest import DATA_KEY, Bot, make_settings


async def test_healthz_answers_json_when_the_database_answers(bot: Bot) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{bot.url}/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_healthz_answers_503_when_the_database_does_not(tmp_path: Path) -> None:
    # A closed port: nothing listens there, so every connection is refused.
    settings = make_settings(
        "postgresql://postgres@127.0.0.1:1/none",
        tmp_path,
        TELEGRAM_BOT_TOKEN="",
        TWILIO_ACCOUNT_SID="",
        TWILIO_AUTH_TOKEN="",
    )
    server = await serve(build_web(build_services(settings)), lifespan="on")
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{server.url}/healthz")
    finally:
        await server.stop()
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


async def test_metrics_count_inbound_messages_and_refused_webhooks(bot: Bot) -> None:
    await bot.twilio.text("+13125550111", "JOIN 60629")
    await bot.twilio.text("+13125550111", "JOIN", forge=True)
    async with httpx.AsyncClient() as client:
        body = (await client.get(f"{bot.url}/metrics")).text
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
