"""The bot as a real process (`python -m bot ...`), for the process tests and the benchmarks."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from typing import IO

import httpx


class Processes:
    """Bot processes a test started; whatever happens, none outlives the test."""

    def __init__(self) -> None:
        self.started: list[asyncio.subprocess.Process] = []

    async def spawn(
        self,
        args: list[str],
        env: dict[str, str],
        stderr: IO[bytes] | int = asyncio.subprocess.PIPE,
    ) -> asyncio.subprocess.Process:
        process = await spawn(args, env, stderr)
        self.started.append(process)
        return process

    async def kill_all(self) -> None:
        for process in self.started:
            if process.returncode is None:
                process.kill()
                await process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def spawn(
    args: list[str], env: dict[str, str], stderr: IO[bytes] | int = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr,
    )


async def wait_healthy(process: asyncio.subprocess.Process, url: str, within: float) -> None:
    """Until GET /healthz answers 200; kills the process and raises if it never does."""
    async with httpx.AsyncClient(trust_env=False) as client:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"the bot exited during start-up ({process.returncode})")
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    process.kill()
    await process.wait()
    raise RuntimeError(f"the bot was not healthy within {within:g} s")
