"""`rrbot run` as a real process: start, answer, stop cleanly on SIGTERM, restart with its data."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import time
from pathlib import Path

from bot.app import GC_THRESHOLDS, settle_heap
from tests.conftest import DATA_KEY, Fakes, process_env
from tests.processes import Processes, free_port, wait_healthy

PHONE = "+13125550166"
USER = 61001
STOP_WITHIN = 10.0  # seconds: a hung shutdown fails here rather than hanging CI


async def start(processes: Processes, env: dict[str, str], url: str) -> asyncio.subprocess.Process:
    process = await processes.spawn(["run"], env)
    await wait_healthy(process, url, within=30)
    return process


async def stop(process: asyncio.subprocess.Process) -> tuple[float, str]:
    """SIGTERM, then wait: shut down in order (uvicorn then re-raises the signal, as it should)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), STOP_WITHIN)
    output = stderr.decode()
    assert process.returncode in (0, -signal.SIGTERM), output[-2000:]
    assert "Application shutdown complete" in output, output[-2000:]
    return time.monotonic() - started, output


async def test_sigterm_stops_cleanly_and_a_restart_keeps_every_choice(
    fakes: Fakes, database_url: str, tmp_path: Path, processes: Processes
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = process_env(fakes, database_url, tmp_path, port)
    fakes.telegram.add_user(USER)

    process = await start(processes, env, url)
    assert "60629" in (await fakes.twilio.text(PHONE, "ALTA 60629")).replies[0]
    await fakes.telegram.send_text(USER, "/start es_60608")
    await fakes.telegram.wait_for(USER, 1, timeout=10)
    took, stderr = await stop(process)
    assert "telegram stopped" in stderr
    assert "start-up heap frozen" in stderr  # settle_heap ran before serving
    assert took < STOP_WITHIN

    process = await start(processes, env, url)
    try:
        # Spanish and still subscribed (an opted-out number would get silence).
        assert "En casa" in (await fakes.twilio.text(PHONE, "RIGHTS")).replies[1]
        await fakes.telegram.send_text(USER, "/rights")
        [rights] = (await fakes.telegram.wait_for(USER, 2, timeout=10))[1:]
        assert "En casa" in str(rights.reply_markup)
    finally:
        _, stderr = await stop(process)
    # Which kind leaked, never the value: a failing assertion prints its operands.
    secrets = {"number": PHONE, "national number": PHONE[2:], "chat id": str(USER)}
    assert [name for name, secret in secrets.items() if secret in stderr] == []


async def test_a_bad_setting_stops_start_up_with_a_message_naming_it(
    tmp_path: Path, processes: Processes
) -> None:
    env = {**os.environ, "TELEGRAM_MODE": "sideways", "VAR_DIR": str(tmp_path)}
    process = await processes.spawn(["run"], env)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"TELEGRAM_MODE" in stderr


async def test_web_refuses_to_start_on_a_database_that_was_not_migrated(
    tmp_path: Path, processes: Processes
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "DATA_KEY": DATA_KEY,
        "PORT": str(free_port()),
        "VAR_DIR": str(tmp_path),
    }
    process = await processes.spawn(["web"], env)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode != 0
    assert b"rrbot db upgrade" in stderr


def test_a_started_process_stops_scanning_what_start_up_built() -> None:
    before = gc.get_threshold()
    try:
        settle_heap()
        # This process has imported the whole bot: its modules and objects are now frozen.
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
