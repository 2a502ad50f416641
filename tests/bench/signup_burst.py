"""A viral sign-up post: a burst of SMS and Telegram sign-ups, each answered once and stored.

Runs ``rrbot run`` as its own process (so that the bot and this load generator each get a
core) against the fake Telegram and Twilio servers served from this process's event loop,
sends N ``JOIN 60629`` texts and M Telegram ``/start`` spread evenly over a few seconds, and
prints per channel and database: answered, lost, answered twice, stored, and answer times.

    python -m tests.bench.signup_burst [--sms 500] [--telegram 500] [--seconds 10]
        [--database sqlite|postgres|both] [--postgres-url postgresql://…]

Exit status: 0 when every sign-up was answered exactly once and stored; 1 when one was lost,
answered twice or not stored, or the bot failed; 2 when PostgreSQL was asked for and is
unreachable. Phone numbers and chat ids are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
from rich import box
from rich.console import Console
from rich.table import Table

from bot.core.vocabulary import Channel, SubscriberStatus
from bot.sim.fake_telegram import FakeTelegram
from bot.sim.fake_twilio import FakeTwilio
from bot.sim.serve import serve
from bot.storage.crypto import Vault, generate_key
from bot.storage.db import Database
from bot.storage.subscribers import Subscribers
from tests.bench.common import (
    BOT_NUMBER,
    DEFAULT_POSTGRES_URL,
    LOG_TAIL,
    SERIOUS,
    TELEGRAM_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    PostgresUnreachableError,
    async_url,
    level_of,
    ms,
    percentile,
    phone_numbers,
    read_log,
    reset_postgres,
    start_bot,
    stop_bot,
)
from tests.processes import free_port

SIGN_UP_SMS = "JOIN 60629"
SIGN_UP_TELEGRAM = "/start"
FIRST_USER_ID = 880_000_001
ANSWER_TIMEOUT = 60.0  # seconds a Telegram sign-up may wait for its welcome
SETTLE = 2.0  # seconds to wait after the last answer for late duplicates

console = Console(highlight=False)


@dataclass
class ChannelResult:
    channel: str
    sent: int
    answered: int = 0
    lost: int = 0
    doubled: int = 0
    stored: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # exception or status, by kind
    times: list[float] = field(default_factory=list)  # seconds, per answered sign-up

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and self.stored == self.sent


@dataclass
class RunResult:
    database: str
    channels: list[ChannelResult]
    spread: float  # seconds from the first to the last sign-up sent
    done: float  # seconds from the first sign-up sent to the last one finished
    launch_lag: float  # worst lateness of a scheduled sign-up: the load generator's own lag
    bot_exit: int | None
    bot_warnings: int  # WARNING-or-worse lines in the bot's log
    log_tail: list[str]

    @property
    def ok(self) -> bool:
        clean_exit = self.bot_exit in (0, -signal.SIGTERM)
        return clean_exit and all(channel.ok for channel in self.channels)


# ---------------------------------------------------------------------------- helpers


async def stored_counts(url: str, data_key: str) -> Counter[str]:
    """Active subscribers per channel, as the bot stored them."""
    db = Database.from_url(async_url(url))
    try:
        async with db.transaction() as session:
            rows = await Subscribers(session, Vault.from_setting(data_key)).counts()
    finally:
        await db.close()
    counts: Counter[str] = Counter()
    for row in rows:
        if row.status == SubscriberStatus.ACTIVE:
            counts[str(row.channel)] += row.count
    return counts


# ---------------------------------------------------------------------------- the burst


async def one_sms(twilio: FakeTwilio, number: str, result: ChannelResult) -> None:
    try:
        answer = await twilio.text(number, SIGN_UP_SMS)
    except httpx.HTTPError as exc:
        result.errors[type(exc).__name__] += 1
        return
    if answer.status != 200:
        result.errors[f"HTTP {answer.status}"] += 1
    elif answer.replies:
        result.times.append(answer.elapsed)


async def one_telegram(telegram: FakeTelegram, user_id: int, result: ChannelResult) -> None:
    telegram.add_user(user_id)
    started = time.monotonic()
    await telegram.send_text(user_id, SIGN_UP_TELEGRAM)
    try:
        first, *_ = await telegram.wait_for(user_id, 1, timeout=ANSWER_TIMEOUT)
    except TimeoutError:
        result.errors["no answer"] += 1
        return
    result.times.append(first.at - started)


async def burst(
    jobs: list[tuple[float, Callable[[], Awaitable[None]]]],
) -> tuple[float, float, float]:
    """Launch each job at its offset; return (spread, done, worst launch lag) in seconds."""
    start = time.monotonic()
    lags: list[float] = []
    launched: list[float] = []

    async def at(offset: float, job: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(max(0.0, start + offset - time.monotonic()))
        now = time.monotonic()
        lags.append(now - start - offset)
        launched.append(now - start)
        await job()

    async with asyncio.TaskGroup() as group:
        for offset, job in jobs:
            group.create_task(at(offset, job))
    done = time.monotonic() - start
    return max(launched, default=0.0), done, max(lags, default=0.0)


async def run_once(
    database: str, url: str, n_sms: int, n_telegram: int, seconds: float
) -> RunResult:
    if database == "postgres":
        await reset_postgres(url)
    data_key = generate_key()
    numbers = phone_numbers(n_sms)
    users = [FIRST_USER_ID + i for i in range(n_telegram)]
    with tempfile.TemporaryDirectory(prefix="rrbot-bench-") as tmp:
        workdir = Path(tmp)
        if database == "sqlite":
            url = f"sqlite:///{workdir / 'bot.sqlite3'}"
        log = workdir / "bot.log"
        telegram = FakeTelegram(TELEGRAM_TOKEN)
        twilio = FakeTwilio(TWILIO_SID, TWILIO_TOKEN, phone_number=BOT_NUMBER)
        telegram_server = await serve(telegram.app)
        twilio_server = await serve(twilio.app)
        port = free_port()
        bot_url = f"http://127.0.0.1:{port}"
        twilio.webhook_url = f"{bot_url}/twilio/sms"
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TELEGRAM_", "TWILIO_", "DATABASE_", "DATA_"))
        }
        env = {
            **inherited,
            "DATABASE_URL": url,
            "DATA_KEY": data_key,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PUBLIC_URL": bot_url,
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_API_URL": telegram_server.url,
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_FROM_NUMBER": BOT_NUMBER,
            "TWILIO_API_URL": twilio_server.url,
            "VAR_DIR": str(workdir / "var"),
            "LOG_LEVEL": "WARNING",
        }
        sms = ChannelResult("SMS", n_sms)
        tg = ChannelResult("Telegram", n_telegram)
        process: asyncio.subprocess.Process | None = None
        bot_exit: int | None = None
        try:
            process = await start_bot(env, bot_url, log)
            jobs: list[tuple[float, Callable[[], Awaitable[None]]]] = []
            for i, number in enumerate(numbers):
                jobs.append((i * seconds / n_sms, partial(one_sms, twilio, number, sms)))
            for i, user in enumerate(users):
                jobs.append((i * seconds / n_telegram, partial(one_telegram, telegram, user, tg)))
            spread, done, lag = await burst(jobs)
            await asyncio.sleep(SETTLE)  # late duplicates would arrive here
            for result, received in (
                (sms, [len(twilio.inbox(number)) for number in numbers]),
                (tg, [len(telegram.messages_to(user)) for user in users]),
            ):
                result.answered = sum(1 for count in received if count >= 1)
                result.lost = sum(1 for count in received if count == 0)
                result.doubled = sum(1 for count in received if count > 1)
            stored = await stored_counts(url, data_key)
            sms.stored = stored[str(Channel.SMS)]
            tg.stored = stored[str(Channel.TELEGRAM)]
        finally:
            if process is not None:
                bot_exit = await stop_bot(process)
            await telegram.aclose()
            await twilio.aclose()
            await telegram_server.stop()
            await twilio_server.stop()
            lines = read_log(log)
        warnings = sum(1 for line in lines if level_of(line) in SERIOUS)
        return RunResult(
            database, [sms, tg], spread, done, lag, bot_exit, warnings, lines[-LOG_TAIL:]
        )


# ---------------------------------------------------------------------------- report


def report(run: RunResult, seconds: float) -> None:
    sent = " + ".join(f"{c.sent} {c.channel}" for c in run.channels)
    table = Table(
        title=f"{run.database}: {sent} sign-ups over {seconds:g} s (answer times in ms)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    names = ("channel", "sent", "answered", "lost", "doubled", "stored", "median", "p95")
    for name in (*names, "max"):
        table.add_column(name, justify="left" if name == "channel" else "right", no_wrap=True)
    for c in run.channels:
        times = c.times
        figures = (
            [ms(statistics.median(times)), ms(percentile(times, 0.95)), ms(max(times))]
            if times
            else ["-", "-", "-"]
        )
        table.add_row(
            c.channel,
            str(c.sent),
            str(c.answered),
            str(c.lost),
            str(c.doubled),
            str(c.stored),
            *figures,
            style=None if c.ok else "bold red",
        )
    console.print(table)
    console.print(
        f"burst: sent over {run.spread:.1f} s, all finished after {run.done:.1f} s "
        f"(load generator lag at most {ms(run.launch_lag)} ms); "
        f"bot log: {run.bot_warnings} warning/error lines; bot exit: {run.bot_exit}"
    )
    for c in run.channels:
        if c.errors:
            kinds = ", ".join(f"{kind} x{count}" for kind, count in c.errors.most_common())
            console.print(f"{c.channel} errors: {kinds}")
    if not run.ok:
        console.print(f"[bold red]{run.database}: FAILED[/]")
        if run.bot_exit not in (0, -signal.SIGTERM):
            console.print("the bot did not stop cleanly on SIGTERM")
        console.print(f"last {len(run.log_tail)} lines of the bot's log:")
        for line in run.log_tail:
            console.print(line, markup=False)
    console.print()


async def main_async(args: argparse.Namespace) -> int:
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    if "postgres" in databases:
        try:
            await reset_postgres(args.postgres_url)  # fail fast, before any burst
        except PostgresUnreachableError as exc:
            console.print(
                f"[bold red]PostgreSQL at --postgres-url is unreachable ({exc}).[/] Start it, "
                "or run with --database sqlite."
            )
            return 2
    failed = False
    for database in databases:
        try:
            run = await run_once(database, args.postgres_url, args.sms, args.telegram, args.seconds)
        except PostgresUnreachableError as exc:
            console.print(f"[bold red]PostgreSQL became unreachable ({exc}).[/]")
            return 2
        except RuntimeError as exc:
            console.print(f"[bold red]{database}: {exc}[/]")
            failed = True
            continue
        report(run, args.seconds)
        failed = failed or not run.ok
    return 1 if failed else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.signup_burst",
        description="A burst of SMS and Telegram sign-ups against `rrbot run`.",
    )
    parser.add_argument("--sms", type=int, default=500, help="SMS sign-ups (default 500)")
    parser.add_argument("--telegram", type=int, default=500, help="Telegram sign-ups (default 500)")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="spread the burst over (default 10)"
    )
    parser.add_argument(
        "--database", choices=("sqlite", "postgres", "both"), default="both", help="default both"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help=f"its public schema is dropped and recreated (default {DEFAULT_POSTGRES_URL})",
    )
    args = parser.parse_args(argv)
    if args.sms < 1 or args.telegram < 1 or args.seconds <= 0:
        parser.error("--sms and --telegram must be at least 1, --seconds positive")
    if args.sms > 800 * 10_000:
        parser.error("--sms is at most 8000000")
    return args


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
