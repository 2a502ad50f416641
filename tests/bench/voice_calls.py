"""Calls to the hotline at once: each walks the menus as a caller would, and every TwiML
answer is timed (Twilio gives a webhook 15 s; a caller hears silence while it waits).

Runs ``rrbot run`` as its own process against the fake Twilio served from this process's
event loop; N calls start together and each: picks Spanish, hears the rights, picks a topic,
goes back to the menu, asks for text alerts and keys in a ZIP code, and asks for a volunteer
(nobody is on duty: the fallback line). Prints answers, failures and the answer times.

Two rounds against the same bot, with different callers:

- **listening**: the N calls start in the same second, and each caller hears a prompt out
  before pressing (a random 1 to 4 s, as a prompt takes that long to hear): what N people
  calling during one incident meet. The issue's p95 target is measured here.
- **in lockstep**: every caller presses the next key the instant the last answer arrives, so
  all N reach each step together; the worst case, where one web process's CPU queues them.

    python -m tests.bench.voice_calls [--calls 50] [--database sqlite|postgres]

Exit status: 0 when every answer was 200 and every call reached its end; 1 otherwise; 2 when
PostgreSQL was asked for and is unreachable. Phone numbers are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.sim.fake_twilio import FakeTwilio
from bot.sim.fake_voice import VoiceCall
from bot.sim.serve import serve
from bot.storage.crypto import generate_key
from tests.bench.common import (
    BOT_NUMBER,
    DEFAULT_POSTGRES_URL,
    TWILIO_SID,
    TWILIO_TOKEN,
    PostgresUnreachableError,
    ms,
    percentile,
    phone_numbers,
    reset_postgres,
    start_bot,
    stop_bot,
)
from tests.processes import free_port

console = Console()
FALLBACK = "+18554357693"


LISTEN = (1.0, 4.0)  # seconds a listening caller takes to hear a prompt out


async def walk(twilio: FakeTwilio, number: str, listen: random.Random | None) -> VoiceCall:
    async def hear() -> None:
        if listen is not None:
            await asyncio.sleep(listen.uniform(*LISTEN))

    await hear()  # the calls start within the same second
    call = await twilio.call(number)
    for keys in ("2", "1", "1", "0", "4", "60629", "3"):  # 0: back to the menu
        await hear()
        await call.press(keys)
    return call  # the last, 3, meets nobody on duty: the fallback line


async def round_of(
    twilio: FakeTwilio, numbers: list[str], listen: random.Random | None
) -> tuple[list[VoiceCall | BaseException], float]:
    started = time.perf_counter()
    done = await asyncio.gather(*(walk(twilio, n, listen) for n in numbers), return_exceptions=True)
    return done, time.perf_counter() - started


async def run(database: str, postgres_url: str, calls: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="rrbot-bench-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'bot.sqlite3'}" if database == "sqlite" else postgres_url
        if database == "postgres":
            await reset_postgres(postgres_url)
        twilio = FakeTwilio(TWILIO_SID, TWILIO_TOKEN, phone_number=BOT_NUMBER)
        twilio.answers[FALLBACK] = "accepts"
        server = await serve(twilio.app)
        port = free_port()
        bot_url = f"http://127.0.0.1:{port}"
        twilio.webhook_url = f"{bot_url}/twilio/sms"
        twilio.voice_url = f"{bot_url}/twilio/voice"
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "TWILIO_", "DATABASE_", "DATA_"))
        }
        env = {
            **inherited,
            "DATABASE_URL": url,
            "DATA_KEY": generate_key(),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PUBLIC_URL": bot_url,
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_FROM_NUMBER": BOT_NUMBER,
            "TWILIO_API_URL": server.url,
            "VAR_DIR": str(workdir / "var"),
            "LOG_LEVEL": "WARNING",
        }
        process = await start_bot(env, bot_url, workdir / "bot.log")
        numbers = phone_numbers(2 * calls)
        try:
            listening = await round_of(twilio, numbers[:calls], random.Random(calls))
            lockstep = await round_of(twilio, numbers[calls:], None)
        finally:
            await stop_bot(process)
            await twilio.aclose()
            await server.stop()
    ok = report(*listening, f"{calls} calls in the same second, callers listening, {database}")
    return report(*lockstep, f"{calls} calls in lockstep, {database}") and ok


def report(done: list[VoiceCall | BaseException], took: float, title: str) -> bool:
    calls = len(done)
    ended = [c for c in done if isinstance(c, VoiceCall)]
    failed = len(done) - len(ended)
    answers = [s for c in ended for s in c.seconds]
    errors = sum(1 for c in ended for status in c.statuses if status != 200)
    finished = sum(1 for c in ended if c.connected_to == FALLBACK)
    table = Table(title=f"{title}: every TwiML answer")
    for column in ("answers", "not 200", "calls to their end", "p50", "p95", "max", "wall"):
        table.add_column(column, justify="right")
    table.add_row(
        str(len(answers)), str(errors + failed), f"{finished}/{calls}",
        ms(percentile(answers, 0.5)), ms(percentile(answers, 0.95)), ms(max(answers, default=0)),
        f"{took:.1f} s",
    )  # fmt: skip
    console.print(table)
    by_step: dict[str, list[float]] = {}
    for call in ended:
        for path, seconds in zip(call.paths, call.seconds, strict=True):
            by_step.setdefault(path.removeprefix("/twilio/voice") or "/", []).append(seconds)
    steps = Table(title=f"{title}: by step (ms)")
    for column in ("step", "answers", "p50", "p95", "max"):
        steps.add_column(column, justify="right")
    for step, times in sorted(by_step.items(), key=lambda item: -percentile(item[1], 0.95)):
        steps.add_row(
            step, str(len(times)), ms(percentile(times, 0.5)), ms(percentile(times, 0.95)),
            ms(max(times)),
        )  # fmt: skip
    console.print(steps)
    return errors == 0 and failed == 0 and finished == calls


async def main_async(args: argparse.Namespace) -> int:
    try:
        ok = await run(args.database, args.postgres_url, args.calls)
    except PostgresUnreachableError as exc:
        console.print(f"[bold red]PostgreSQL at --postgres-url is unreachable ({exc}).[/]")
        return 2
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.voice_calls")
    parser.add_argument("--calls", type=int, default=50, help="calls at once (default 50)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    if not 1 <= args.calls <= 1000:
        parser.error("--calls is 1 to 1000")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
