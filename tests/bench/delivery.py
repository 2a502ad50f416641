"""Delivery: how fast, how politely and how correctly the outbox gets an alert out.

Runs the bot's parts as their own processes (`rrbot worker`, `rrbot run`) against the fake
Telegram and Twilio servers served from this process's event loop, so that the fakes and the
bot each get a core, on a database of the benchmark's own. Subscribers are inserted directly
(encrypted and blind-indexed as `bot/storage/subscribers.py` does); alerts are approved from
this process through `Alerts.send_now`, as the operator's CLI does. The scenarios:

1. throughput  one worker, no pacing (rates 0): Telegram and SMS, messages/s from approval to
               the last message at the fake, against the baseline a typical bot uses:
               python-telegram-bot's `Bot.send_message` awaited in a loop, one at a time,
               from a process of its own: 5,000 messages before, between and after the
               two broadcasts, each broadcast compared with the mean of the two around it
               (this shared machine's speed drifts within minutes).
2. limit       the fake limits Telegram at 200/s overall and 1/s per chat, TELEGRAM_RATE=200:
               the achieved rate as % of the limit, and the % of requests answered 429.
3. latency     approval to the first sendMessage at the fake, 20 alerts of 10 recipients:
               with the worker in the approving process (as `rrbot run`, woken by
               `on_queued`), and as a standalone `rrbot worker` (woken by PostgreSQL's NOTIFY).
4. rights      `rrbot run` broadcasting to 10,000 at the default 30/s, the fake limiting at
               30/s: how long a `/rights` asked meanwhile waits for its answer.
5. memory      the worker's RSS high-water mark (VmHWM) over scenario 1's broadcasts to N,
               and the time to enqueue N deliveries (the approval queues the first 1,000,
               workers the rest in committed chunks: until the alert's cursor is done); alone,
               it runs those broadcasts without the baseline.
6. workers     two `rrbot worker` processes on PostgreSQL against one broadcast, sharing
               TELEGRAM_RATE=200 through the database, the fake limiting at 200/s: nobody
               messaged twice or missed, 429s, and the achieved rate.
7. kills       one broadcast to 2,000 at TELEGRAM_RATE=200 (the fake limiting at 200/s), its
               `rrbot worker` SIGKILLed at a random moment 20 times and started again each
               time (DELIVERY_LEASE=2), then one more to finish: what each kill repeated,
               against the sends of 200 ms at the rate.

    python -m tests.bench.delivery [--large | --recipients N]
        [--only throughput,limit,latency,rights,memory,workers,kills]
        [--database postgres|sqlite] [--postgres-url postgresql://…]

N is 10,000 (--large: 100,000). The broadcasts at a provider's limit (2, 4, 6) go to at
most 10,000 people, and scenario 4 stops after its questions. The figures are printed, not
asserted; the exit status is 1 when a correctness check fails (someone messaged twice or
missed, a bot process failed), 2 when PostgreSQL is unreachable. Phone numbers and chat ids
are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import random
import shlex
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select, text, update

from bot.app import Services, build_services, build_worker
from bot.core.alerts import Alert, AlertDraft, Progress
from bot.core.audit import Actor
from bot.core.vocabulary import AlertKind, AlertStatus, Channel, DeliveryStatus, SubscriberStatus
from bot.settings import Settings, load_settings
from bot.sim.fake_telegram import FakeTelegram, SentMessage
from bot.sim.fake_twilio import FakeTwilio, Sms
from bot.sim.serve import RunningServer, serve
from bot.storage.crypto import Purpose, Vault, generate_key
from bot.storage.migrate import upgrade
from bot.storage.models import AlertRow, DeliveryRow, SubscriberRow, place
from bot.storage.outbox import Outbox
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
    vacuum,
)
from tests.processes import free_port, spawn

SCENARIOS = ("throughput", "limit", "latency", "rights", "memory", "workers", "kills")
DEFAULT_N = 10_000
LARGE_N = 100_000
MILLION = 1_000_000  # `--recipients 1000000`: the scale of a national network
LIMITED = 10_000  # recipients of the broadcasts at a provider's limit (scenarios 2, 4, 6)

# Zones (in config/zones.yaml): the first LIMITED Telegram subscribers live in BROADCAST,
# the rest of N in OVERFLOW; the SMS subscribers in SMS_ZONE; scenario 3 uses other zones.
BROADCAST_ZONE = "60629"
OVERFLOW_ZONE = "60632"
SMS_ZONE = "60623"
KILL_ZONE = "60608"
FIRST_CHAT = 910_000_001
LATENCY_CHAT = 930_000_001
RIGHTS_USER = 940_000_001
KILL_CHAT = 950_000_001
KILL_RECIPIENTS = 2_000
KILLS = 20
KILL_SEED = 20261206  # reproducible kill moments
KILL_AFTER = 0.4  # a kill comes at a random moment up to this long after a worker's 3rd send

LIMIT_RATE = 200.0  # scenarios 2 and 6: the fake's limit and TELEGRAM_RATE
TELEGRAM_DEFAULT_RATE = 30.0  # TELEGRAM_RATE's default, and Telegram's published limit
LATENCY_ALERTS = 20
LATENCY_RECIPIENTS = 10
RIGHTS_ASKS = 20
RIGHTS_EVERY = 1.0  # seconds between two people asking /rights
RIGHTS_WARMUP = 2.0  # seconds of broadcast before the first /rights
ANSWER_TIMEOUT = 10.0
BASELINE_MAX = 5_000  # messages a baseline run sends (its rate is steady long before)

STALL = 0.05  # seconds without a message that count as a stall of the flow
SETTLE = 1.0  # seconds to wait after a broadcast for late duplicates
READY_WITHIN = 60.0
STOP_WITHIN = 30.0  # a worker stopping finishes its round: up to lease/4 of sends at the rate
BATCH = 5_000  # subscribers per INSERT

# Targets, as the issue states them.
TARGET_SPEEDUP = 3.0
TARGET_LIMIT_SHARE = 0.95
TARGET_429 = 0.01
TARGET_LATENCY = 0.250
TARGET_REPLY = 1.0
TARGET_HWM_MB = 300.0
TARGET_ENQUEUE = {LARGE_N: 10.0, MILLION: 60.0}  # seconds to queue everyone, by size
TARGET_KILL_REPEATS = 0.2  # seconds of sends at the rate that a kill may repeat

SETTINGS_VARIABLES = {name.upper() for name in Settings.model_fields}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Wide enough for the tables when the output goes to a file or a pipe.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


# ---------------------------------------------------------------------------- measuring


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, summed over its cores."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float | None:
    """The process's RSS high-water mark (VmHWM) in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class CpuMeter:
    """CPU used by some processes and by the machine between start and stop, in % of a core."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.started = time.monotonic()
        self.before = {name: process_cpu(pid) for name, pid in pids.items()}
        self.machine_before = machine_cpu()
        self.shares: dict[str, float] = {}

    def stop(self) -> dict[str, float]:
        elapsed = max(1e-9, time.monotonic() - self.started)
        for name, pid in self.pids.items():
            self.shares[name] = 100 * (process_cpu(pid) - self.before[name]) / elapsed
        busy, total = machine_cpu()
        cores = (total - self.machine_before[1]) / elapsed
        self.shares["machine"] = 100 * (busy - self.machine_before[0]) / elapsed
        self.shares["cores"] = cores
        return self.shares


@dataclass
class Tracker:
    """Messages of one alert as the fake receives them: per recipient, first and last time."""

    marker: str
    expected: set[Any]
    counts: Counter[Any] = field(default_factory=Counter)
    first_at: float | None = None
    last_at: float | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)
    complete: asyncio.Event = field(default_factory=asyncio.Event)
    times: list[float] = field(default_factory=list)

    def see(self, key: Any, at: float) -> None:
        self.counts[key] += 1
        self.times.append(at)
        if self.first_at is None:
            self.first_at = at
            self.started.set()
        self.last_at = at
        if len(self.counts) >= len(self.expected):
            self.complete.set()

    def on_telegram(self, message: SentMessage) -> None:
        if message.method == "sendMessage" and self.marker in message.text:
            self.see(message.chat_id, message.at)

    def on_sms(self, sms: Sms) -> None:
        # Told once per API message: the benchmark turns the fake's status progression off.
        if sms.via == "api" and self.marker in sms.body:
            self.see(sms.to, sms.at)

    @property
    def missed(self) -> int:
        return len(self.expected - set(self.counts))

    @property
    def doubled(self) -> int:
        return sum(1 for n in self.counts.values() if n > 1)

    def between(self, start: float, end: float) -> int:
        return sum(1 for at in self.times if start <= at < end)

    def stalls(self, longer_than: float) -> tuple[int, float, list[int]]:
        """Pauses between two consecutive messages longer than `longer_than`: how many, their
        seconds in all, and after which message each came (batch boundaries show as round
        numbers: the worker claims 500 at a time)."""
        ordered = sorted(self.times)
        gaps = [
            (k, b - a)
            for k, (a, b) in enumerate(itertools.pairwise(ordered), 1)
            if b - a > longer_than
        ]
        return len(gaps), sum(gap for _, gap in gaps), [k for k, _ in gaps]


def draft(marker: str, zones: Iterable[str]) -> AlertDraft:
    return AlertDraft(
        AlertKind.ALERT,
        tuple(zones),
        {
            "en": f"Checkpoint reported at 59th and Kedzie; stay inside. [{marker}]",
            "es": f"Retén reportado en la 59 y Kedzie; quédense adentro. [{marker}]",
        },
    )


# ---------------------------------------------------------------------------- results


@dataclass
class Broadcast:
    """One alert to many, delivered by worker processes, as the fake saw it."""

    label: str
    channel: str
    recipients: int
    enqueue: float  # seconds send_now took (the INSERT … SELECT and its transaction)
    queued: float | None  # approval to every recipient queued (the alert's cursor done)
    first: float | None  # approval to the first message at the fake
    duration: float | None  # approval to the last message at the fake
    spread: float | None  # first to last message at the fake
    received: int
    missed: int
    doubled: int
    requests: int  # send requests the fake answered, 429s included
    rejected: int  # answered 429
    statuses: dict[str, int]  # the outbox's view, by delivery status
    cpu: dict[str, float]
    peak_mb: list[float | None]
    exits: list[int | None]
    workers: list[str] = field(default_factory=list)
    # pauses of the flow longer than STALL at the fake: how many, seconds, after which message
    stalls: tuple[int, float, list[int]] = (0, 0.0, [])
    split: list[int] = field(default_factory=list)  # sent per worker, when several
    limit: float | None = None

    @property
    def rate(self) -> float | None:
        return self.received / self.duration if self.duration else None

    @property
    def steady(self) -> float | None:
        return (self.received - 1) / self.spread if self.spread else None

    @property
    def share_429(self) -> float:
        return self.rejected / self.requests if self.requests else 0.0

    @property
    def ok(self) -> bool:
        return self.missed == 0 and self.doubled == 0 and all(e == 0 for e in self.exits)


@dataclass
class Baseline:
    sent: int
    seconds: float
    cpu: dict[str, float]

    @property
    def rate(self) -> float:
        return self.sent / self.seconds


@dataclass
class Latency:
    mode: str
    first: list[float]  # approval (send_now returned) to the first send at the fake
    last: list[float]  # … to the last of the alert's sends
    approve: list[float]  # how long send_now itself took
    missed: int
    doubled: int
    exits: list[int | None]

    @property
    def ok(self) -> bool:
        return self.missed == 0 and self.doubled == 0 and all(e == 0 for e in self.exits)


@dataclass
class Rights:
    recipients: int  # of the broadcast going on meanwhile
    asked: int
    replies: list[float]  # seconds from /rights sent to the first reply at the fake
    lost: int
    window: float
    broadcast_sent: int  # broadcast messages at the fake during the questions
    requests: int
    rejected: int
    replies_429: int  # replies' sendMessage calls the fake answered 429
    askers_429: int  # people whose reply met at least one 429
    stop_seconds: float
    exit: int | None
    log_problems: Counter[str]

    @property
    def rate(self) -> float:
        return self.broadcast_sent / self.window if self.window else 0.0

    @property
    def ok(self) -> bool:
        return self.exit in (0, -signal.SIGTERM)


@dataclass
class Kills:
    recipients: int
    unrecorded: list[int]  # at each kill: people the fake had sent to, the outbox not yet
    repeats: int  # messages beyond the first, over the whole broadcast
    missed: int
    requests: int
    rejected: int
    exit: int | None

    @property
    def ok(self) -> bool:
        # What repeats is at most what had been sent without its outcome written at the kills.
        return self.missed == 0 and self.repeats <= sum(self.unrecorded) and self.exit == 0


@dataclass
class Outcome:
    """Everything measured in one run, and the problems worth a non-zero exit."""

    # The baseline runs before, between and after the throughput broadcasts: this machine's
    # speed drifts by half within minutes (a shared VM), so each broadcast is compared with
    # the mean of the runs just before and just after it.
    baselines: list[Baseline] = field(default_factory=list)
    throughput: dict[str, Broadcast] = field(default_factory=dict)
    limit: Broadcast | None = None
    latency: dict[str, Latency] = field(default_factory=dict)
    rights: Rights | None = None
    workers: Broadcast | None = None
    kills: Kills | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def reference(self, channel: str) -> tuple[float, list[float]] | None:
        """The baseline rate a throughput broadcast is compared with, and the runs behind it."""
        k = list(self.throughput).index(channel)
        around = [b.rate for b in self.baselines[k : k + 2]]
        return (statistics.mean(around), around) if around else None


# ---------------------------------------------------------------------------- the fakes


@dataclass
class Providers:
    """A fresh fake Telegram and Twilio for one scenario, served from this event loop."""

    telegram: FakeTelegram
    twilio: FakeTwilio
    telegram_server: RunningServer
    twilio_server: RunningServer


@contextlib.asynccontextmanager
async def providers(chats: Iterable[int]) -> AsyncIterator[Providers]:
    telegram = FakeTelegram(TELEGRAM_TOKEN)
    # Status callbacks are Twilio's servers' work, not the bot's: off, so that the fake's one
    # core serves the API alone.
    twilio = FakeTwilio(TWILIO_SID, TWILIO_TOKEN, phone_number=BOT_NUMBER, auto_status=False)
    for chat in chats:
        telegram.add_user(chat)
    telegram_server = await serve(telegram.app)
    twilio_server = await serve(twilio.app)
    # A provider's clock does not stop: this process's garbage collector would (tens of ms
    # over the fakes' stored messages), and the limiting fake would then count the sends that
    # waited in its socket as arriving together, answering 429s no provider would. So no
    # collection while the fakes serve; what they keep is freed when the scenario ends.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield Providers(telegram, twilio, telegram_server, twilio_server)
    finally:
        gc.enable()
        gc.unfreeze()
        await telegram.aclose()
        await twilio.aclose()
        await telegram_server.stop()
        await twilio_server.stop()


# ---------------------------------------------------------------------------- the bench


@dataclass
class BotProcess:
    name: str
    process: asyncio.subprocess.Process
    log: Path


class Bench:
    """The database, the subscribers, the approving services and the bot processes of a run."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.n: int = args.recipients
        self.capped = min(self.n, LIMITED)
        self.workdir = workdir
        self.data_key = generate_key()
        self.vault = Vault.from_setting(self.data_key)
        if args.database == "sqlite":
            self.url = f"sqlite:///{workdir / 'bot.sqlite3'}"
        else:
            self.url = args.postgres_url
        self.settings = load_settings(self.base_env())
        self.services: Services = build_services(self.settings)
        self.started: list[BotProcess] = []
        self.markers = 0
        self.telegram_chats = [FIRST_CHAT + i for i in range(self.n)]
        self.sms_numbers: list[str] = []
        self.kill_chats = [KILL_CHAT + i for i in range(KILL_RECIPIENTS)]
        zones = sorted(self.services.content.zones.names)
        taken = {BROADCAST_ZONE, OVERFLOW_ZONE, SMS_ZONE, KILL_ZONE}
        self.latency_zones = [z for z in zones if z not in taken][:LATENCY_ALERTS]
        if len(self.latency_zones) < LATENCY_ALERTS:
            raise RuntimeError("config/zones.yaml has too few zones for the latency scenario")
        self.latency_chats = {
            zone: [LATENCY_CHAT + k * LATENCY_RECIPIENTS + i for i in range(LATENCY_RECIPIENTS)]
            for k, zone in enumerate(self.latency_zones)
        }

    # ------------------------------------------------------------------ set-up

    def base_env(self, **overrides: str) -> dict[str, str]:
        """The settings every bot part of this run shares; the caller's own are left out."""
        env = {
            "DATABASE_URL": self.url,
            "DATA_KEY": self.data_key,
            "VAR_DIR": str(self.workdir / "var"),
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_FROM_NUMBER": BOT_NUMBER,
            "PUBLIC_URL": "http://127.0.0.1:9",
            "LOG_LEVEL": "INFO",
        }
        env.update(overrides)
        return env

    def bot_env(self, fakes: Providers, port: int, **overrides: str) -> dict[str, str]:
        inherited = {
            key: value for key, value in os.environ.items() if key.upper() not in SETTINGS_VARIABLES
        }
        return {
            **inherited,
            **self.base_env(
                TELEGRAM_API_URL=fakes.telegram_server.url,
                TWILIO_API_URL=fakes.twilio_server.url,
                HOST="127.0.0.1",
                PORT=str(port),
                PUBLIC_URL=f"http://127.0.0.1:{port}",
                DELIVERY_LEASE="60",
            ),
            **overrides,
        }

    async def prepare(self, scenarios: set[str]) -> float:
        """A fresh, migrated database with the subscribers the scenarios need; seconds taken."""
        started = time.monotonic()
        if self.args.database == "postgres":
            await reset_postgres(self.url)
        await asyncio.to_thread(upgrade, async_url(self.url))
        rows: list[tuple[str, str, str]] = []  # (channel, address, zone)
        if scenarios & {"throughput", "limit", "rights", "memory", "workers"}:
            for i, chat in enumerate(self.telegram_chats):
                zone = BROADCAST_ZONE if i < LIMITED else OVERFLOW_ZONE
                rows.append((Channel.TELEGRAM, str(chat), zone))
        if scenarios & {"throughput", "memory"}:
            self.sms_numbers = phone_numbers(self.n)
            rows += [(Channel.SMS, number, SMS_ZONE) for number in self.sms_numbers]
        if "latency" in scenarios:
            for zone, chats in self.latency_chats.items():
                rows += [(Channel.TELEGRAM, str(chat), zone) for chat in chats]
        if "kills" in scenarios:
            rows += [(Channel.TELEGRAM, str(chat), KILL_ZONE) for chat in self.kill_chats]
        await self.insert_subscribers(rows)
        if self.args.database == "postgres":
            await vacuum(self.url)
        return time.monotonic() - started

    async def insert_subscribers(self, rows: list[tuple[str, str, str]]) -> None:
        """Active subscribers, the address sealed to its row and blind-indexed as
        Subscribers.add does (the ids are given, since the seal names the row)."""
        now = datetime.now(UTC)
        table = SubscriberRow.metadata.tables[SubscriberRow.__tablename__]
        async with self.services.db.transaction() as session:
            first = int(await session.scalar(select(func.max(SubscriberRow.id))) or 0) + 1
        for start in range(0, len(rows), BATCH):
            values = [
                {
                    "id": first + start + i,
                    "channel": str(channel),
                    "address_index": self.vault.index(address, Purpose.SUBSCRIBER),
                    "address_cipher": self.vault.seal(
                        address, place(SubscriberRow.address_cipher, first + start + i)
                    ),
                    "language": "es" if (start + i) % 4 == 0 else "en",
                    "zone": zone,
                    "topics": ["alerts", "workshops"],
                    "status": SubscriberStatus.ACTIVE.value,
                    "consent_at": now,
                    "consent_via": "bench",
                    "status_changed_at": now,
                    "created_at": now,
                }
                for i, (channel, address, zone) in enumerate(rows[start : start + BATCH])
            ]
            async with self.services.db.transaction() as session:
                await session.execute(insert(table), values)
        if self.args.database == "postgres":  # ids were given: the sequence moves past them
            async with self.services.db.transaction() as session:
                await session.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('subscribers', 'id'), "
                        "(SELECT max(id) FROM subscribers))"
                    )
                )

    def marker(self) -> str:
        self.markers += 1
        return f"bench {self.markers}"

    # ------------------------------------------------------------------ processes

    async def spawn_worker(self, env: dict[str, str], name: str) -> BotProcess:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as stderr:
            process = await spawn(["worker"], env, stderr)
        bot = BotProcess(name, process, log)
        self.started.append(bot)
        await self.wait_started(bot)
        return bot

    async def spawn_run(self, env: dict[str, str], fakes: Providers, name: str) -> BotProcess:
        log = self.workdir / f"{name}.log"
        process = await start_bot(env, env["PUBLIC_URL"], log)
        bot = BotProcess(name, process, log)
        self.started.append(bot)
        await self.wait_started(bot)
        deadline = time.monotonic() + READY_WITHIN
        while fakes.telegram.requests_by_method["getUpdates"] == 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} never polled Telegram")
            await asyncio.sleep(0.05)
        return bot

    async def wait_started(self, bot: BotProcess) -> None:
        """Until the worker logs that it started (its lanes are polling)."""
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if bot.process.returncode is not None:
                self.show_log(bot)
                raise RuntimeError(f"{bot.name} exited during start-up ({bot.process.returncode})")
            if any("delivery worker started" in line for line in read_log(bot.log)):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{bot.name} did not start within {READY_WITHIN:g} s")

    async def stop(self, bot: BotProcess) -> int | None:
        code = await stop_bot(bot.process, STOP_WITHIN)
        if code not in (0, -signal.SIGTERM):
            self.show_log(bot)
        return 0 if code == -signal.SIGTERM else code

    def show_log(self, bot: BotProcess) -> None:
        lines = read_log(bot.log)[-LOG_TAIL:]
        console.print(f"[bold red]{bot.name}[/]: last {len(lines)} lines of its log:")
        for line in lines:
            console.print(line, markup=False)

    def log_problems(self, bot: BotProcess) -> Counter[str]:
        problems: Counter[str] = Counter()
        for line in read_log(bot.log):
            level = level_of(line)
            if level in SERIOUS:
                entry = json.loads(line)
                # The exception's type ends the redacted traceback: it says what went wrong.
                error = str(entry.get("error", "")).strip().splitlines()
                cause = f" ({error[-1]})" if error else ""
                problems[f"{level}: {entry.get('event', '')}{cause}"] += 1
        return problems

    async def kill_all(self) -> None:
        for bot in self.started:
            if bot.process.returncode is None:
                bot.process.kill()
                await bot.process.wait()

    # ------------------------------------------------------------------ database

    async def queued_in_full(self, alert_id: int, since: float) -> float:
        """Seconds from `since` until every recipient of the alert is queued (its cursor done),
        to within the 20 ms this looks."""
        while True:
            async with self.services.db.transaction() as session:
                phase = await session.scalar(
                    select(AlertRow.enqueue_phase).where(AlertRow.id == alert_id)
                )
            if phase is None:
                return time.monotonic() - since
            await asyncio.sleep(0.02)

    async def wait_done(self, alert_id: int, within: float) -> Progress:
        progress = await self.services.alerts.progress(alert_id)
        deadline = time.monotonic() + within
        while progress.alert.status is not AlertStatus.DONE and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            progress = await self.services.alerts.progress(alert_id)
        return progress

    async def clear_outbox(self) -> None:
        """Nothing left queued or in flight: a stopped scenario's rest must not feed the next."""
        now = datetime.now(UTC)
        async with self.services.db.transaction() as session:
            await session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING]))
                .values(status=DeliveryStatus.SKIPPED, error="bench:stopped", updated_at=now)
            )
            await session.execute(
                update(AlertRow)
                .where(AlertRow.status == AlertStatus.QUEUED)
                .values(status=AlertStatus.DONE)
            )
        if self.args.database == "postgres":
            await vacuum(self.url)

    async def sent_per_worker(self, alert_id: int) -> list[int]:
        async with self.services.db.transaction() as session:
            rows = await session.execute(
                select(DeliveryRow.worker, func.count())
                .where(DeliveryRow.alert_id == alert_id, DeliveryRow.status == DeliveryStatus.SENT)
                .group_by(DeliveryRow.worker)
            )
            # Worker names hold the host name: only the counts leave this function.
            return sorted((n for _, n in rows.all()), reverse=True)

    # ------------------------------------------------------------------ one broadcast

    async def broadcast(
        self,
        label: str,
        fakes: Providers,
        channel: str,
        zones: tuple[str, ...],
        expected: set[Any],
        workers: list[BotProcess],
        within: float,
        limit: float | None = None,
    ) -> Broadcast:
        """Approve an alert, wait until every recipient has it and the outbox says done."""
        tracker = Tracker(self.marker(), expected)
        if channel == Channel.TELEGRAM:
            unsubscribe = fakes.telegram.add_listener(tracker.on_telegram)
        else:
            unsubscribe = fakes.twilio.add_listener(tracker.on_sms)
        pids = {bot.name: bot.process.pid for bot in workers}
        meter = CpuMeter({**pids, "fakes": os.getpid()})
        try:
            approved = time.monotonic()
            alert = await self.services.alerts.send_now(
                draft(tracker.marker, zones), Actor.operator()
            )
            enqueue = time.monotonic() - approved
            queuing = asyncio.create_task(self.queued_in_full(alert.id, approved))
            if alert.recipients != len(expected):
                raise RuntimeError(f"{label}: {alert.recipients} recipients, {len(expected)} meant")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await tracker.complete.wait()
            cpu = meter.stop()
            queued = await queuing if queuing.done() else None
            if not queuing.done():
                queuing.cancel()
            progress = await self.wait_done(alert.id, within=30.0)
            await asyncio.sleep(SETTLE)
        finally:
            unsubscribe()
        fake = fakes.telegram if channel == Channel.TELEGRAM else fakes.twilio
        method = "sendMessage" if channel == Channel.TELEGRAM else "messages.create"
        statuses: Counter[str] = Counter()
        for (_, status), n in progress.counts.items():
            statuses[status] += n
        split = await self.sent_per_worker(alert.id) if len(workers) > 1 else []
        first = tracker.first_at - approved if tracker.first_at is not None else None
        last = tracker.last_at - approved if tracker.last_at is not None else None
        spread = (
            tracker.last_at - tracker.first_at
            if tracker.first_at is not None and tracker.last_at is not None
            else None
        )
        return Broadcast(
            label=label,
            channel=channel,
            recipients=len(expected),
            enqueue=enqueue,
            queued=queued,
            first=first,
            duration=last,
            spread=spread,
            received=len(tracker.counts),
            missed=tracker.missed,
            doubled=tracker.doubled,
            requests=fake.requests_by_method[method],
            rejected=fake.count_429,
            statuses=dict(statuses),
            cpu=cpu,
            peak_mb=[peak_rss_mb(bot.process.pid) for bot in workers],
            exits=[],
            workers=[bot.name for bot in workers],
            stalls=tracker.stalls(STALL),
            split=split,
            limit=limit,
        )

    # ------------------------------------------------------------------ scenarios

    async def baseline(self) -> Baseline:
        """PTB's Bot.send_message awaited in a loop, one at a time, from a process of its own."""
        count = min(self.n, BASELINE_MAX)
        chats = self.telegram_chats[:count]
        text = self.services.alerts.render(AlertKind.ALERT, "en", draft("baseline", ()).texts["en"])
        async with providers(chats) as fakes:
            env = {k: v for k, v in os.environ.items() if k.upper() not in SETTINGS_VARIABLES}
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.bench.delivery",
                "--baseline-child",
                fakes.telegram_server.url,
                str(chats[0]),
                str(count),
                text,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
            )
            meter = CpuMeter({"baseline": process.pid, "fakes": os.getpid()})
            try:
                output, _ = await asyncio.wait_for(process.communicate(), count / 50 + 60)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            cpu = meter.stop()
            if process.returncode != 0:
                raise RuntimeError(f"the baseline process failed ({process.returncode})")
            result = json.loads(output)
            received = sum(1 for m in fakes.telegram.sent if m.method == "sendMessage")
            if received != count:
                raise RuntimeError(f"baseline: the fake received {received} of {count}")
            # The child is gone by now: it reports its own CPU time.
            cpu["baseline"] = 100 * float(result["cpu"]) / float(result["seconds"])
            return Baseline(int(result["sent"]), float(result["seconds"]), cpu)

    async def throughput(self, channel: str) -> Broadcast:
        """One worker, no pacing at all: as fast as the bot can send."""
        telegram = channel == Channel.TELEGRAM
        async with providers(self.telegram_chats if telegram else ()) as fakes:
            env = self.bot_env(
                fakes, free_port(), TELEGRAM_RATE="0", TELEGRAM_CHAT_RATE="0", TWILIO_RATE="0"
            )
            worker = await self.spawn_worker(env, f"worker-{channel}")
            try:
                zones: tuple[str, ...]
                expected: set[Any]
                if telegram:
                    zones, expected = (BROADCAST_ZONE, OVERFLOW_ZONE), set(self.telegram_chats)
                else:
                    zones, expected = (SMS_ZONE,), set(self.sms_numbers)
                result = await self.broadcast(
                    f"throughput-{channel}",
                    fakes,
                    channel,
                    zones,
                    expected,
                    [worker],
                    within=self.n / 100 + 60,
                )
            finally:
                code = await self.stop(worker)
            result.exits = [code]
        await self.clear_outbox()
        return result

    async def limited(self, workers: int) -> Broadcast:
        """The fake limits at 200/s overall and 1/s a chat; the bot's workers share 200/s."""
        chats = self.telegram_chats[: self.capped]
        async with providers(chats) as fakes:
            fakes.telegram.rate_limit(LIMIT_RATE, 1)
            env = self.bot_env(
                fakes, free_port(), TELEGRAM_RATE=f"{LIMIT_RATE:g}", TELEGRAM_CHAT_RATE="1"
            )
            started: list[BotProcess] = []
            try:
                for k in range(workers):
                    started.append(await self.spawn_worker(env, f"worker-limit-{k + 1}"))
                result = await self.broadcast(
                    f"limit-{workers}",
                    fakes,
                    Channel.TELEGRAM,
                    (BROADCAST_ZONE,),
                    set(chats),
                    started,
                    within=self.capped / LIMIT_RATE * 1.5 + 60,
                    limit=LIMIT_RATE,
                )
            finally:
                codes = [await self.stop(bot) for bot in started]
            result.exits = codes
        await self.clear_outbox()
        return result

    async def kills(self) -> Kills:
        """A worker SIGKILLed at random moments of one broadcast, started again each time."""
        rng = random.Random(KILL_SEED)
        chats = self.kill_chats
        tracker = Tracker(self.marker(), set(chats))
        async with providers(chats) as fakes:
            fakes.telegram.rate_limit(LIMIT_RATE, 1)
            env = self.bot_env(
                fakes,
                free_port(),
                TELEGRAM_RATE=f"{LIMIT_RATE:g}",
                TELEGRAM_CHAT_RATE="1",
                DELIVERY_LEASE="2",  # a killed worker's claims come back within 2 s
            )
            unsubscribe = fakes.telegram.add_listener(tracker.on_telegram)
            try:
                alert = await self.services.alerts.send_now(
                    draft(tracker.marker, (KILL_ZONE,)), Actor.operator()
                )
                unrecorded: list[int] = []
                for k in range(KILLS):
                    goal = len(tracker.counts) + 3
                    if goal > len(chats):
                        break
                    sending = asyncio.Event()
                    stop_listening = fakes.telegram.add_listener(
                        lambda _, sending=sending, goal=goal: (
                            sending.set() if len(tracker.counts) >= goal else None
                        )
                    )
                    worker = await self.spawn_worker(env, f"worker-kill-{k + 1}")
                    try:
                        async with asyncio.timeout(READY_WITHIN):
                            await sending.wait()
                    finally:
                        stop_listening()
                    await asyncio.sleep(rng.uniform(0.0, KILL_AFTER))
                    worker.process.kill()
                    await worker.process.wait()
                    await asyncio.sleep(0.05)  # responses the kill cut off reach the fake
                    unrecorded.append(len(tracker.counts) - await self.recorded(alert.id))
                last = await self.spawn_worker(env, "worker-kill-last")
                try:
                    await self.wait_done(alert.id, within=len(chats) / LIMIT_RATE * 2 + 60)
                    await asyncio.sleep(SETTLE)
                finally:
                    code = await self.stop(last)
            finally:
                unsubscribe()
            requests = fakes.telegram.requests_by_method["sendMessage"]
            rejected = fakes.telegram.count_429
        await self.clear_outbox()
        repeats = sum(n - 1 for n in tracker.counts.values())
        return Kills(len(chats), unrecorded, repeats, tracker.missed, requests, rejected, code)

    async def recorded(self, alert_id: int) -> int:
        """The alert's deliveries the outbox has written as sent."""
        progress = await self.services.alerts.progress(alert_id)
        return sum(n for (_, status), n in progress.counts.items() if status == "sent")

    async def latency(self, mode: str) -> Latency:
        """20 small alerts, each approved at a random moment of the worker's idle polling."""
        chats = [chat for zone_chats in self.latency_chats.values() for chat in zone_chats]
        random.seed(20)
        async with providers(chats) as fakes:
            fakes.telegram.rate_limit(TELEGRAM_DEFAULT_RATE, 1)
            env = self.bot_env(fakes, free_port())  # the default rates, as deployed
            stop: Callable[[], Any]
            exits: list[int | None] = []
            if mode == "in-process":
                # `rrbot run`: the approval and the worker share a process and its event loop.
                services = build_services(load_settings(env))
                worker = build_worker(services)
                await worker.start()
                alerts = services.alerts

                async def stop() -> None:
                    await worker.stop()
                    await services.db.close()
            else:
                bot = await self.spawn_worker(env, "worker-latency")
                alerts = self.services.alerts  # its on_queued reaches no other process

                async def stop() -> None:
                    exits.append(await self.stop(bot))

            result = Latency(mode, [], [], [], 0, 0, exits)
            try:
                for zone, zone_chats in self.latency_chats.items():
                    await asyncio.sleep(random.uniform(0.3, 0.8))
                    tracker = Tracker(self.marker(), set(zone_chats))
                    unsubscribe = fakes.telegram.add_listener(tracker.on_telegram)
                    try:
                        asked = time.monotonic()
                        alert: Alert = await alerts.send_now(
                            draft(tracker.marker, (zone,)), Actor.operator()
                        )
                        returned = time.monotonic()
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(10):
                                await tracker.complete.wait()
                        await self.wait_done(alert.id, within=10)
                    finally:
                        unsubscribe()
                    result.approve.append(returned - asked)
                    if tracker.first_at is not None and tracker.last_at is not None:
                        result.first.append(tracker.first_at - returned)
                        result.last.append(tracker.last_at - returned)
                    result.missed += tracker.missed
                    result.doubled += tracker.doubled
            finally:
                await stop()
        await self.clear_outbox()
        return result

    async def rights(self) -> Rights:
        """`rrbot run` broadcasting at Telegram's 30/s while people ask /rights."""
        chats = self.telegram_chats[: self.capped]
        askers = [RIGHTS_USER + i for i in range(RIGHTS_ASKS)]
        async with providers([*chats, *askers]) as fakes:
            fakes.telegram.rate_limit(TELEGRAM_DEFAULT_RATE, 1)
            # Which 429s hit a reply rather than the broadcast: the fake counts them together.
            rejected_replies: Counter[int] = Counter()
            limiter = fakes.telegram.faults.retry_after
            asking = set(askers)

            def retry_after(key: object) -> int | None:
                wait = limiter(key)
                if wait is not None and key in asking:
                    rejected_replies[int(str(key))] += 1
                return wait

            fakes.telegram.faults.retry_after = retry_after  # type: ignore[method-assign]
            env = self.bot_env(fakes, free_port())  # TELEGRAM_RATE=30, TELEGRAM_CHAT_RATE=1
            bot = await self.spawn_run(env, fakes, "bot-run")
            tracker = Tracker(self.marker(), set(chats))
            unsubscribe = fakes.telegram.add_listener(tracker.on_telegram)
            replies: list[float] = []
            lost = 0
            try:
                alert = await self.services.alerts.send_now(
                    draft(tracker.marker, (BROADCAST_ZONE,)), Actor.operator()
                )
                async with asyncio.timeout(30):
                    await tracker.started.wait()
                await asyncio.sleep(RIGHTS_WARMUP)
                requests_before = fakes.telegram.requests_by_method["sendMessage"]
                rejected_before = fakes.telegram.count_429
                window_start = time.monotonic()

                async def ask(i: int, user: int) -> float | None:
                    await asyncio.sleep(i * RIGHTS_EVERY)
                    asked = time.monotonic()
                    await fakes.telegram.send_text(user, "/rights")
                    try:
                        first, *_ = await fakes.telegram.wait_for(user, 1, ANSWER_TIMEOUT)
                    except TimeoutError:
                        return None
                    return first.at - asked

                answers = await asyncio.gather(*(ask(i, u) for i, u in enumerate(askers)))
                window_end = time.monotonic()
                replies = [a for a in answers if a is not None]
                lost = sum(1 for a in answers if a is None)
                requests = fakes.telegram.requests_by_method["sendMessage"] - requests_before
                rejected = fakes.telegram.count_429 - rejected_before
                broadcast_sent = tracker.between(window_start, window_end)
                async with self.services.db.transaction() as session:
                    await Outbox(session).cancel_pending(alert.id, datetime.now(UTC), "bench")
            finally:
                unsubscribe()
                stopping = time.monotonic()
                code = await self.stop(bot)
                stop_seconds = time.monotonic() - stopping
        await self.clear_outbox()
        return Rights(
            recipients=len(chats),
            asked=len(askers),
            replies=replies,
            lost=lost,
            window=window_end - window_start,
            broadcast_sent=broadcast_sent,
            requests=requests,
            rejected=rejected,
            replies_429=sum(rejected_replies.values()),
            askers_429=len(rejected_replies),
            stop_seconds=stop_seconds,
            exit=code,
            log_problems=self.log_problems(bot),
        )


# ---------------------------------------------------------------------------- report


def table(title: str, columns: list[str]) -> Table:
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    for i, name in enumerate(columns):
        t.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    return t


def fmt(value: float | None, pattern: str = "{:.0f}") -> str:
    return "-" if value is None else pattern.format(value)


def cpu_text(cpu: dict[str, float], names: Iterable[str]) -> str:
    parts = [f"{name} {cpu.get(name, 0):.0f}%" for name in names]
    rest = cpu.get("machine", 0) - sum(cpu.get(name, 0) for name in names)
    parts.append(f"rest (database, system) {max(0.0, rest):.0f}%")
    return ", ".join(parts) + f" of {cpu.get('cores', 0) * 100:.0f}%"


def report_baselines(results: list[Baseline]) -> None:
    t = table(
        "Baseline: PTB Bot.send_message awaited one at a time, own process "
        "(before, between and after the broadcasts)",
        ["run", "messages", "seconds", "messages/s", "CPU"],
    )
    for k, result in enumerate(results, 1):
        t.add_row(
            f"Telegram #{k}",
            str(result.sent),
            f"{result.seconds:.1f}",
            f"{result.rate:.0f}",
            cpu_text(result.cpu, ["baseline", "fakes"]),
        )
    console.print(t)
    console.print()


def report_broadcasts(title: str, results: list[Broadcast], compared: Outcome | None) -> None:
    """The broadcasts' figures; with `compared`, each against its baselines."""
    columns = ["run", "recipients", "enqueue s", "first ms", "last s", "msg/s", "steady/s"]
    columns += ["× baseline", "% of limit", "429 %", "missed", "twice", "peak MB"]
    t = table(title, columns)
    for r in results:
        t.add_row(
            r.label,
            str(r.recipients),
            f"{r.enqueue:.2f}",
            fmt(r.first and r.first * 1000),
            fmt(r.duration, "{:.1f}"),
            fmt(r.rate),
            fmt(r.steady),
            fmt(speedup(r, compared), "{:.2f}"),
            fmt(100 * r.rate / r.limit if r.limit and r.rate else None, "{:.1f}"),
            f"{100 * r.share_429:.2f}",
            str(r.missed),
            str(r.doubled),
            " / ".join(fmt(mb) for mb in r.peak_mb),
            style=None if r.ok else "bold red",
        )
    console.print(t)
    for r in results:
        statuses = ", ".join(f"{s} {n}" for s, n in sorted(r.statuses.items()))
        console.print(f"{r.label}: outbox {statuses}; CPU {cpu_text(r.cpu, [*r.workers, 'fakes'])}")
        count, total, after = r.stalls
        if count and r.duration:
            where = ", ".join(f"{k:,}" for k in after[:8]) + (", …" if count > 8 else "")
            console.print(
                f"{r.label}: {count} pauses of over {ms(STALL)} ms between two messages, "
                f"{total:.1f} s in all ({100 * total / r.duration:.0f}% of the run), "
                f"after message {where}"
            )
        if r.split:
            console.print(f"{r.label}: sent per worker {' / '.join(str(n) for n in r.split)}")
        if any(e != 0 for e in r.exits):
            console.print(f"[bold red]{r.label}: a worker did not stop cleanly: {r.exits}[/]")
    console.print()


def speedup(r: Broadcast, compared: Outcome | None) -> float | None:
    reference = compared.reference(r.channel) if compared else None
    return r.rate / reference[0] if reference and r.rate else None


def report_latency(results: list[Latency]) -> None:
    t = table(
        f"Approval to first send, {LATENCY_ALERTS} alerts of {LATENCY_RECIPIENTS} (ms)",
        ["worker", "median", "p95", "max", "min", "all 10: median", "send_now median"],
    )
    for r in results:
        t.add_row(
            r.mode,
            ms(statistics.median(r.first)) if r.first else "-",
            ms(percentile(r.first, 0.95)) if r.first else "-",
            ms(max(r.first)) if r.first else "-",
            ms(min(r.first)) if r.first else "-",
            ms(statistics.median(r.last)) if r.last else "-",
            ms(statistics.median(r.approve)) if r.approve else "-",
            style=None if r.ok else "bold red",
        )
    console.print(t)
    console.print(
        "in-process: the worker is woken by Alerts.on_queued; standalone: by PostgreSQL's "
        "NOTIFY when the approval commits (on SQLite, its next poll: every 0.25 s when idle).\n"
    )


def report_kills(k: Kills) -> None:
    t = table(
        f"7: a worker SIGKILLed {len(k.unrecorded)} times in one broadcast to {k.recipients:,} "
        f"at TELEGRAM_RATE={LIMIT_RATE:g} (DELIVERY_LEASE=2)",
        ["kills", "repeats", "per kill", "unrecorded at a kill: max", "mean", "missed", "429 %"],
    )
    kills = len(k.unrecorded)
    t.add_row(
        str(kills),
        str(k.repeats),
        f"{k.repeats / kills:.1f}" if kills else "-",
        str(max(k.unrecorded, default=0)),
        f"{statistics.mean(k.unrecorded):.1f}" if k.unrecorded else "-",
        str(k.missed),
        f"{100 * k.rejected / k.requests:.2f}" if k.requests else "-",
        style=None if k.ok else "bold red",
    )
    console.print(t)
    console.print(
        "unrecorded: people the fake had sent the alert to while the outbox had not written it"
        " as sent, read 50 ms after each kill; a restart resends at most those.\n"
    )


def report_rights(r: Rights) -> None:
    t = table(
        f"/rights during a {r.recipients:,}-recipient broadcast at {TELEGRAM_DEFAULT_RATE:g}/s "
        "(rrbot run, fake limiting at 30/s and 1/s a chat)",
        ["asked", "answered", "lost", "median ms", "p95 ms", "max ms", "broadcast/s", "429 %"],
    )
    t.add_row(
        str(r.asked),
        str(len(r.replies)),
        str(r.lost),
        ms(statistics.median(r.replies)) if r.replies else "-",
        ms(percentile(r.replies, 0.95)) if r.replies else "-",
        ms(max(r.replies)) if r.replies else "-",
        f"{r.rate:.1f}",
        f"{100 * r.rejected / r.requests:.2f}" if r.requests else "-",
    )
    console.print(t)
    console.print(
        f"over {r.window:.1f} s: {r.requests} sendMessage requests, {r.rejected} answered 429, "
        f"{r.replies_429} of them replies ({r.askers_429} of {r.asked} people's replies met a "
        f"429); SIGTERM to exit: {r.stop_seconds:.1f} s (exit {r.exit})"
    )
    for problem, count in r.log_problems.most_common(5):
        console.print(f"bot log: {problem} x{count}", markup=False)
    console.print()


def met(ok: bool | None) -> str:
    return {True: "yes", False: "[bold red]NO[/]", None: "-"}[ok]


def summary(out: Outcome, n: int, database: str) -> None:
    t = table("Summary", ["scenario", "target", "measured", "met?"])
    for channel, r in out.throughput.items():
        reference = out.reference(channel)
        if reference is None or r.rate is None:
            continue
        base, around = reference
        ratio = r.rate / base
        t.add_row(
            f"1 throughput, {channel}",
            f"≥ {TARGET_SPEEDUP:g}× baseline (≥ {TARGET_SPEEDUP * base:.0f}/s)",
            f"{r.rate:.0f}/s = {ratio:.2f}× {base:.0f}/s"
            f" ({' and '.join(f'{rate:.0f}' for rate in around)} around it)",
            met(ratio >= TARGET_SPEEDUP),
        )
    for channel, r in out.throughput.items():
        # Queuing is chunked (an approval commits the first 1,000): the first send does not
        # wait for the size of the alert. `--large` and `--recipients` measure it larger.
        t.add_row(
            f"1 approval → first send, {channel}",
            f"< {TARGET_LATENCY * 1000:.0f} ms at any size",
            "-"
            if r.first is None
            else f"{r.first * 1000:.0f} ms for {r.recipients:,}"
            f" (approval itself {r.enqueue * 1000:.0f} ms)",
            met(None if r.first is None else r.first < TARGET_LATENCY),
        )
    if out.limit is not None and out.limit.rate is not None:
        share = out.limit.rate / LIMIT_RATE
        t.add_row(
            "2 at the limit: rate",
            f"≥ {TARGET_LIMIT_SHARE:.0%} of {LIMIT_RATE:g}/s",
            f"{share:.1%} ({out.limit.rate:.1f}/s, approval to last)",
            met(share >= TARGET_LIMIT_SHARE),
        )
        t.add_row(
            "2 at the limit: 429s",
            f"≤ {TARGET_429:.0%} of requests",
            f"{out.limit.share_429:.2%} ({out.limit.rejected} of {out.limit.requests})",
            met(out.limit.share_429 <= TARGET_429),
        )
    for mode, lat in out.latency.items():
        if lat.first:
            median = statistics.median(lat.first)
            t.add_row(
                f"3 approval → first send, {mode}",
                f"median < {ms(TARGET_LATENCY)} ms",
                f"{ms(median)} ms (max {ms(max(lat.first))})",
                met(median < TARGET_LATENCY),
            )
    if out.rights is not None:
        worst = max(out.rights.replies) if out.rights.replies else None
        t.add_row(
            "4 /rights reply during a broadcast",
            f"< {TARGET_REPLY:g} s, none lost",
            f"max {fmt(worst, '{:.2f}')} s, {out.rights.lost} lost of {out.rights.asked}",
            met(out.rights.lost == 0 and worst is not None and worst < TARGET_REPLY),
        )
    large = n >= LARGE_N
    note = "" if large else f" (the target is for {LARGE_N:,}; N = {n:,})"
    memory = list(out.throughput.values())
    for r in memory:
        peak = max((mb for mb in r.peak_mb if mb is not None), default=None)
        t.add_row(
            f"5 worker peak RSS, {r.channel}",
            f"< {TARGET_HWM_MB:g} MB at {LARGE_N:,}",
            f"{fmt(peak)} MB for {r.recipients:,}{note}",
            met(peak < TARGET_HWM_MB if peak is not None and large else None),
        )
    size = MILLION if n >= MILLION else LARGE_N
    for r in memory:
        postgres = database == "postgres"
        t.add_row(
            f"5 enqueue, {r.channel}",
            f"< {TARGET_ENQUEUE[size]:g} s at {size:,} on PostgreSQL",
            f"{fmt(r.queued, '{:.2f}')} s for {r.recipients:,} on {database}{note}"
            f" (approval {r.enqueue:.2f} s)",
            met(
                r.queued < TARGET_ENQUEUE[size]
                if r.queued is not None and large and postgres
                else None
            ),
        )
    if out.workers is not None and out.workers.rate is not None:
        w, rate = out.workers, out.workers.rate
        t.add_row(
            "6 two workers: correctness",
            "nobody twice, nobody missed",
            f"{w.doubled} twice, {w.missed} missed of {w.recipients:,}",
            met(w.doubled == 0 and w.missed == 0),
        )
        t.add_row(
            "6 two workers: rate",
            f"within {LIMIT_RATE:g}/s, 429s ≤ {TARGET_429:.0%}",
            f"{rate:.1f}/s ({rate / LIMIT_RATE:.1%}), 429s {w.share_429:.2%}",
            met(rate <= LIMIT_RATE and w.share_429 <= TARGET_429),
        )
    if out.kills is not None:
        k, allowed = out.kills, LIMIT_RATE * TARGET_KILL_REPEATS
        worst = max(k.unrecorded, default=0)
        t.add_row(
            "7 repeats per SIGKILL",
            f"≤ {allowed:g} (the sends of {ms(TARGET_KILL_REPEATS)} ms at {LIMIT_RATE:g}/s)",
            f"{k.repeats} repeats in {len(k.unrecorded)} kills; at most {worst} unrecorded at one",
            met(k.ok and worst <= allowed),
        )
    broadcasts = [*out.throughput.values(), out.limit, out.workers]
    done = [b for b in broadcasts if b is not None]
    missed = sum(b.missed for b in done) + sum(r.missed for r in out.latency.values())
    doubled = sum(b.doubled for b in done) + sum(r.doubled for r in out.latency.values())
    t.add_row(
        "all but 7: every recipient exactly once",
        "0 missed, 0 twice",
        f"{missed} missed, {doubled} twice",
        met(missed == 0 and doubled == 0),
    )
    console.print(t)
    for name, why in out.skipped.items():
        console.print(f"skipped {name}: {why}")


# ---------------------------------------------------------------------------- main


def command_line(argv: list[str]) -> str:
    """The command as run, with any password in a database URL masked."""
    shown = []
    for arg in argv:
        parts = urlsplit(arg) if "://" in arg else None
        if parts is not None and parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            arg = urlunsplit(parts._replace(netloc=netloc))
        shown.append(arg)
    return shlex.join(["python", "-m", "tests.bench.delivery", *shown])


async def run(args: argparse.Namespace, scenarios: set[str]) -> Outcome:
    out = Outcome()
    if args.database == "sqlite" and "workers" in scenarios:
        scenarios.discard("workers")
        out.skipped["6 workers"] = "several workers need PostgreSQL (SQLite has one writer)"
    if args.database == "sqlite" and "kills" in scenarios:
        scenarios.discard("kills")
        out.skipped["7 kills"] = "a worker of its own process needs PostgreSQL"
    with tempfile.TemporaryDirectory(prefix="rrbot-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            seconds = await bench.prepare(scenarios)
            console.print(
                f"database {args.database}: schema and subscribers ready in {seconds:.1f} s "
                f"(N = {bench.n:,}; broadcasts at a limit: {bench.capped:,})\n"
            )
            baseline = "throughput" in scenarios
            if baseline:
                out.baselines.append(await bench.baseline())
            if scenarios & {"throughput", "memory"}:
                for channel in (Channel.TELEGRAM, Channel.SMS):
                    out.throughput[str(channel)] = await bench.throughput(channel)
                    if baseline:
                        out.baselines.append(await bench.baseline())
                if baseline:
                    report_baselines(out.baselines)
                report_broadcasts(
                    "1, 5: one worker, unthrottled (TELEGRAM_RATE=TWILIO_RATE=TELEGRAM_CHAT_RATE=0)",
                    list(out.throughput.values()),
                    out if baseline else None,
                )
            if "limit" in scenarios:
                out.limit = await bench.limited(workers=1)
                report_broadcasts(
                    f"2: one worker, TELEGRAM_RATE={LIMIT_RATE:g}, fake limiting at "
                    f"{LIMIT_RATE:g}/s and 1/s a chat",
                    [out.limit],
                    None,
                )
            if "latency" in scenarios:
                for mode in ("in-process", "standalone"):
                    out.latency[mode] = await bench.latency(mode)
                report_latency(list(out.latency.values()))
            if "rights" in scenarios:
                out.rights = await bench.rights()
                report_rights(out.rights)
            if "workers" in scenarios:
                out.workers = await bench.limited(workers=2)
                report_broadcasts(
                    f"6: two workers, TELEGRAM_RATE={LIMIT_RATE:g} shared through PostgreSQL, "
                    f"fake limiting at {LIMIT_RATE:g}/s",
                    [out.workers],
                    None,
                )
            if "kills" in scenarios:
                out.kills = await bench.kills()
                report_kills(out.kills)
        finally:
            await bench.kill_all()
            await bench.services.db.close()
        summary(out, bench.n, args.database)
    broadcasts = [*out.throughput.values(), out.limit, out.workers]
    for b in broadcasts:
        if b is not None and not b.ok:
            out.failures.append(f"{b.label}: {b.missed} missed, {b.doubled} twice, exits {b.exits}")
    for r in out.latency.values():
        if not r.ok:
            out.failures.append(f"latency {r.mode}: {r.missed} missed, {r.doubled} twice")
    if out.rights is not None and not out.rights.ok:
        out.failures.append(f"rights: the bot exited with {out.rights.exit}")
    if out.kills is not None and not out.kills.ok:
        k = out.kills
        out.failures.append(
            f"kills: {k.missed} missed, {k.repeats} repeats for {sum(k.unrecorded)} unrecorded"
            f" at the kills, exit {k.exit}"
        )
    return out


async def main_async(args: argparse.Namespace, argv: list[str]) -> int:
    console.print(f"command: {command_line(argv)}")
    console.print(f"cores: {os.cpu_count()}; Python {sys.version.split()[0]}\n")
    scenarios = set(args.only)
    if args.database == "postgres":
        try:
            await reset_postgres(args.postgres_url)  # fail fast
        except PostgresUnreachableError as exc:
            console.print(
                f"[bold red]PostgreSQL at --postgres-url is unreachable ({exc}).[/] Start it, "
                "or run with --database sqlite."
            )
            return 2
    try:
        out = await run(args, scenarios)
    except PostgresUnreachableError as exc:
        console.print(f"[bold red]PostgreSQL became unreachable ({exc}).[/]")
        return 2
    except RuntimeError as exc:
        console.print(f"[bold red]{exc}[/]")
        return 1
    console.print(f"\ncommand: {command_line(argv)}")
    for failure in out.failures:
        console.print(f"[bold red]FAILED[/] {failure}")
    return 1 if out.failures else 0


async def baseline_child(url: str, first_chat: int, count: int, text: str) -> None:
    """What a typical bot does: await each send_message before the next."""
    from telegram import Bot

    async with Bot(TELEGRAM_TOKEN, base_url=f"{url}/bot") as bot:
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(count):
            await bot.send_message(chat_id=first_chat + i, text=text)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"sent": count, "seconds": seconds, "cpu": cpu}))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.delivery",
        description="How fast, how politely and how correctly the outbox gets an alert out.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--large", action="store_true", help=f"N = {LARGE_N:,} subscribers per channel"
    )
    size.add_argument(
        "--recipients",
        type=int,
        default=DEFAULT_N,
        help=f"N, subscribers per channel (default {DEFAULT_N:,})",
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios (default all): {','.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--database", choices=("postgres", "sqlite"), default="postgres", help="default postgres"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help=f"its public schema is dropped and recreated (default {DEFAULT_POSTGRES_URL})",
    )
    args = parser.parse_args(argv)
    if args.large:
        args.recipients = LARGE_N
    if not LATENCY_RECIPIENTS <= args.recipients <= 800 * 10_000:
        parser.error(f"--recipients must be between {LATENCY_RECIPIENTS} and 8000000")
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in SCENARIOS]
    if unknown or not args.only:
        parser.error(f"--only takes some of {','.join(SCENARIOS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--baseline-child"]:
        url, first, count, text = argv[1:5]
        asyncio.run(baseline_child(url, int(first), int(count), text))
        return 0
    return asyncio.run(main_async(parse_args(argv), argv))


if __name__ == "__main__":
    sys.exit(main())
