"""What the benchmarks share: the fakes' credentials, their own PostgreSQL database, the bot's
process and its log, and a few figures' helpers. Nothing here prints a number or a chat id."""

from __future__ import annotations

import asyncio
import json
import math
import signal
from pathlib import Path

import asyncpg
import phonenumbers

from bot.settings import async_database_url
from tests.processes import spawn, wait_healthy

TELEGRAM_TOKEN = "123456:BENCH-token-for-the-fake"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "twilio-bench-auth-token"
BOT_NUMBER = "+13125550100"
# A database of the benchmark's own, created on first use, so that a benchmark never empties
# the database the test suite is using at the same moment.
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/rrbot_bench"

HEALTHY_WITHIN = 60.0
STOP_WITHIN = 15.0
LOG_TAIL = 30  # lines of the bot's stderr shown when something went wrong


class PostgresUnreachableError(Exception):
    """PostgreSQL was asked for and does not answer."""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def phone_numbers(n: int) -> list[str]:
    """Distinct valid Chicago numbers (773-2XX-XXXX); 555 exchanges are not all valid."""
    numbers = [f"+1773{200 + i // 10_000:03d}{i % 10_000:04d}" for i in range(n)]
    for number in numbers:
        if not phonenumbers.is_valid_number(phonenumbers.parse(number)):
            raise ValueError("generated an invalid phone number; choose another range")
    return numbers


def async_url(url: str) -> str:
    return async_database_url(url)


def asyncpg_dsn(url: str) -> str:
    """The database URL as asyncpg takes it."""
    return async_url(url).replace("postgresql+asyncpg", "postgresql")


async def reset_postgres(url: str) -> None:
    dsn = asyncpg_dsn(url)
    try:
        try:
            connection = await asyncpg.connect(dsn, timeout=5)
        except asyncpg.InvalidCatalogNameError:
            await create_database(dsn)
            connection = await asyncpg.connect(dsn, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise PostgresUnreachableError(type(exc).__name__) from None
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()


async def vacuum(url: str) -> None:
    """VACUUM ANALYZE now, so that autovacuum does not wake during the next measurement: a
    broadcast leaves tens of thousands of dead row versions behind, and the baseline measured
    next would otherwise share the machine with their cleaning."""
    dsn = asyncpg_dsn(url)
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute("VACUUM (ANALYZE)")
    finally:
        await connection.close()


async def create_database(dsn: str) -> None:
    """CREATE DATABASE for the name in `dsn`, connected through the server's `postgres` database."""
    base, _, name = dsn.rpartition("/")
    connection = await asyncpg.connect(f"{base}/postgres", timeout=5)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


SERIOUS = frozenset({"WARNING", "ERROR", "CRITICAL"})


def level_of(line: str) -> str | None:
    """The level of one of the bot's JSON log lines (None for anything else)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return str(entry.get("level")) if isinstance(entry, dict) else None


def read_log(path: Path) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []


async def start_bot(env: dict[str, str], url: str, log: Path) -> asyncio.subprocess.Process:
    """`rrbot run` with its stderr in `log`, once its /healthz answers."""
    with log.open("wb") as stderr:
        process = await spawn(["run"], env, stderr)
    await wait_healthy(process, url, HEALTHY_WITHIN)
    return process


async def stop_bot(process: asyncio.subprocess.Process, within: float = STOP_WITHIN) -> int | None:
    """SIGTERM, then SIGKILL after `within` seconds; the exit status, None if it had to be killed."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), within)
        except TimeoutError:
            process.kill()
            await process.wait()
            return None  # did not stop on SIGTERM
    return process.returncode
