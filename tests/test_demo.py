"""`rrbot demo` as a newcomer first sees it in the terminal: a few plain lines, no log noise."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from tests.processes import free_port, wait_healthy

pytestmark = pytest.mark.once  # the demo is SQLite by design


async def read_until(path: Path, text: str, within: float) -> str:
    async with asyncio.timeout(within):
        while True:
            found = await asyncio.to_thread(path.read_text, encoding="utf-8")
            if text in found:
                return found
            await asyncio.sleep(0.1)


async def test_the_demo_says_in_one_plain_line_that_it_uses_a_demo_key(tmp_path: Path) -> None:
    port = free_port()
    # Narrower than the banner's lines: none of them may be broken to fit.
    env = {**os.environ, "COLUMNS": "50", "PTB_TIMEDELTA": "true"}
    for name in list(env):
        if name.startswith(("TELEGRAM_", "TWILIO_", "DATABASE_URL", "DATA_KEY")):
            del env[name]
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    data = tmp_path / "demo"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bot", "demo", "--port", str(port), "--data", str(data)),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
        try:
            await wait_healthy(process, f"http://127.0.0.1:{port}", within=60)
            await read_until(out, "starts over", within=30)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 20)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()

    lines = out.read_text(encoding="utf-8").splitlines()
    key_lines = [line for line in lines if "demo encryption key" in line]
    assert len(key_lines) == 1, lines
    assert re.fullmatch(
        r"Uses a demo encryption key \(\S*data\.key\); a real network sets DATA_KEY\.",
        key_lines[0],
    )
    assert f"Rapid Response Bot demo is running: open http://127.0.0.1:{port}/sim" in lines
    assert "Ctrl-C stops it; `make demo` keeps the data, `make demo-reset` starts over." in lines
    assert (data / "data.key").exists()
    logged = err.read_text(encoding="utf-8")
    assert "DATA_KEY" not in logged, logged
