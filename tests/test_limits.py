"""Bodies are limited before they are read (issue 16, point 1): a 256 MB POST, declared or
streamed, is refused with 413 and does not grow the process by the body's size."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from tests.conftest import Bot
from tests.processes import Processes
from tests.test_crash import sms_web

HUGE = 256 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def streamed(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // len(CHUNK)):
        yield CHUNK
        await asyncio.sleep(0)


async def chunked_status(url: str, path: str, body: bytes) -> int:
    """A raw chunked POST (no Content-Length): the status line the server answers."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode()
        )
        writer.write(f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        return int(status.split()[1])
    finally:
        writer.close()


async def test_a_huge_body_is_refused_before_it_is_read(
    bot: Bot, database_url: str, tmp_path: Path, processes: Processes
) -> None:
    web, url, _ = await sms_web(bot, database_url, tmp_path, processes)
    before = rss_mb(web.pid)
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client:
        declared = await client.post(
            "/twilio/sms", content=streamed(HUGE), headers={"Content-Length": str(HUGE)}
        )
        assert declared.status_code == 413
        # Streamed without a length: refused once 64 KB are read; the connection may end
        # before the client has written it all, which is refusal too.
        try:
            undeclared = await client.post("/twilio/sms", content=streamed(HUGE))
            assert undeclared.status_code == 413
        except httpx.TransportError:
            pass
        assert await chunked_status(url, "/twilio/sms", b"a=" + b"x" * 200_000) == 413
        assert await chunked_status(url, "/twilio/status", b"a=" + b"x" * 100_000) == 413
        assert await chunked_status(url, "/twilio/status", b"a=b") == 403  # small: read
        assert (await client.get("/healthz")).status_code == 200  # still serving
    grown = rss_mb(web.pid) - before
    assert grown < 64, f"the process grew by {grown:.0f} MB"
