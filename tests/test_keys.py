"""Start-up refusals: a process whose DATA_KEY cannot open the database, or whose database is
not upgraded, refuses to start and says why in a line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app import build_services, build_web
from bot.cli import app as cli
from bot.storage.crypto import Vault, generate_key
from bot.storage.keycheck import KeyMismatch, check_key
from tests.conftest import DATA_KEY, Bot, make_settings

OTHER_KEY = generate_key()


async def test_the_first_key_is_the_one_every_later_process_must_hold(bot: Bot) -> None:
    # The bot's start stored the check under DATA_KEY; its own key and a rotation pass.
    db = bot.services.db
    await check_key(db, Vault.from_setting(DATA_KEY))
    await check_key(db, Vault.from_setting(f"{OTHER_KEY},{DATA_KEY}"))
    for wrong in (OTHER_KEY, f"{OTHER_KEY},{generate_key()}"):
        with pytest.raises(KeyMismatch, match="DATA_KEY") as caught:
            await check_key(db, Vault.from_setting(wrong))
        assert OTHER_KEY not in str(caught.value) and DATA_KEY not in str(caught.value)


async def cli_with_key(database_url: str, tmp_path: Path, key: str, *args: str) -> tuple[int, str]:
    env = {"DATABASE_URL": database_url, "DATA_KEY": key, "VAR_DIR": str(tmp_path / "var")}
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)
    return result.exit_code, result.output


async def test_a_command_or_worker_with_another_key_refuses_naming_data_key(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    for command in (["audit"], ["subscribers", "stats"], ["worker"]):
        code, output = await cli_with_key(database_url, tmp_path, OTHER_KEY, *command)
        assert code == 2, command
        assert "DATA_KEY cannot open this database" in output and OTHER_KEY not in output
    code, _ = await cli_with_key(database_url, tmp_path, DATA_KEY, "audit")
    assert code == 0


async def test_a_web_process_with_another_key_does_not_start(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        DATA_KEY=OTHER_KEY,
        TELEGRAM_BOT_TOKEN="",
        TWILIO_ACCOUNT_SID="",
        TWILIO_AUTH_TOKEN="",
    )

    app = build_web(build_services(settings))
    # Its lifespan, as uvicorn runs it at start-up (uvicorn then exits with status 3).
    with pytest.raises(KeyMismatch, match="DATA_KEY"):
        async with app.router.lifespan_context(app):
            pass


async def test_a_command_on_a_database_not_yet_upgraded_says_what_to_run(tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    for command in ("audit", "worker"):
        code, output = await cli_with_key(empty, tmp_path, DATA_KEY, command)
        assert code == 2 and "run `rrbot db upgrade` first" in " ".join(output.split()), command
