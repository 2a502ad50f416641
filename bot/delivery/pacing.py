"""Pacing: token buckets per provider and per chat, never `sleep` in a send loop.

A bucket here is a GCRA-style reservation: `acquire(n)` books n sends and waits until the
moment they are allowed, so concurrent senders queue fairly and the long-run rate never
exceeds the configured one. `burst` is how many sends may go at once after an idle spell.

Bulk senders book just in time: they queue on a lock and only the one at its head holds a
booked slot. So a direct reply (`jump_queue`) books the next free slot, a moment away, and
the broadcast moves back by one: replies are fast and the provider never sees more than the
rate, which lets a broadcast use all of it.

A busy event loop wakes the head late. A slot missed by up to `CATCH_UP` is still used (the
send goes at once) instead of being lost, and a `SendLog` of the last sends keeps what went
out within the provider's own rule (at most the rate in any one second) whatever the
lateness: a late send pushes back the one a second after it, not every later one.

A slot (`acquire`) and the request leaving (`dispatch`) are two steps: between them the
worker checks its claim and the alert's corrections, database round trips of 0-150 ms on a
loaded machine. The send log notes the moment of `dispatch`, so sends whose checks took
different times still reach the provider at most at the rate (noting it at the slot had let
sends delayed by those checks arrive bunched, and met 429s at 10/s).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import math
import secrets
import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import text

from bot.storage.db import Database

Clock = Callable[[], float]

MARGIN = 0.97
"""Pace 3% under the configured rate. A provider counting sends in a sliding one-second window
sees them as they reach it, not as they left: on a loaded machine its arrivals bunch up by
tens of milliseconds, and each 429 costs a second's hold (the provider's retry-after). With
late slots caught up (below), sends sit at this margin rather than under it: at 2% a loaded
2-core machine met 429s, at 3% none, and achieved 95.6-96.3% of a 200/s limit."""

CATCH_UP = 0.1
"""Seconds by which a booked slot may be missed and still be used. Without it every wake-up
later than one interval lost its slot: on a loaded 2-core machine 4-6% of a broadcast at a
200/s limit. At most this much of the rate goes out at once after a stall (20 sends at
200/s, 3 at 30/s), and never more than the `SendLog` allows."""

SHARED_FOR = 2.0
"""Seconds a shared bucket counts as shared after another process booked from it."""


class Pacer(Protocol):
    """Something that makes a caller wait its turn to send."""

    async def acquire(self, n: int = 1) -> None:
        """Wait for a turn to send n (a booked slot)."""

    async def dispatch(self, n: int = 1) -> None:
        """Right before the n requests leave: wait while the provider's own rule would be
        broken by them, and note them."""

    def slow_down(self, seconds: float) -> None:
        """The provider said 429: hold every send for `seconds`."""

    async def jump_queue(self, *, wait: bool = True) -> None:
        """Take the next free slot ahead of bulk sends (a direct reply), and wait for it unless
        `wait` is false (an SMS reply, which Twilio sends and queues itself)."""


class Unlimited:
    """No pacing (a rate of 0: benchmarks against local fakes)."""

    async def acquire(self, n: int = 1) -> None:
        return None

    async def dispatch(self, n: int = 1) -> None:
        return None

    def slow_down(self, seconds: float) -> None:
        return None

    async def jump_queue(self, *, wait: bool = True) -> None:
        return None


class SendLog:
    """When the last sends went: the provider's own rule (at most `rate` sends in any one
    second, one per 1/rate seconds below 1/s) with the bucket's `MARGIN`, so that sends that
    catch up keep the same distance from the provider's limit as evenly paced ones."""

    def __init__(self, rate: float, clock: Clock) -> None:
        self.allowed = max(1, math.floor(rate))
        self.window = self.allowed / (rate * MARGIN)
        self.clock = clock
        self._times: collections.deque[float] = collections.deque(maxlen=self.allowed)

    def free_at(self) -> float:
        """The earliest moment (on `clock`) at which one more send keeps to the rule."""
        if len(self._times) < self.allowed:
            return 0.0
        return self._times[0] + self.window

    def note(self, n: int = 1) -> None:
        now = self.clock()
        self._times.extend(itertools.repeat(now, min(n, self.allowed)))

    async def admit(self, n: int = 1) -> None:
        """Wait until n more sends keep to the rule, then note them. Nothing is awaited
        between the last look and the note, so two senders never both take the last place."""
        # ASYNC110: the wait is the exact time the log names, not a poll for a flag.
        while (wait := self.free_at() - self.clock()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)
        self.note(n)


class TokenBucket:
    """An in-process bucket: `rate` sends per second with at most `burst` at once.

    `catch_up` is how late a booked slot may be and still be used (`CATCH_UP`; 0 for the
    chat buckets, which hold one send a second and gain nothing from it)."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        clock: Clock = time.monotonic,
        catch_up: float = CATCH_UP,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive; use Unlimited for no limit")
        self.interval = 1.0 / (rate * MARGIN)
        self.tolerance = max(0.0, burst - 1.0) * self.interval
        self.clock = clock
        self.catch_up = catch_up
        self.log = SendLog(rate, clock) if catch_up > 0 else None
        self._next = 0.0  # theoretical arrival time of the next send (GCRA's TAT)
        self._turn = asyncio.Lock()  # bulk senders book one at a time, just in time

    def reserve(self, n: int = 1) -> float:
        """Book n sends; the seconds to wait before they may go."""
        now = self.clock()
        # A slot missed by a late wake-up (up to catch_up ago) is still used; after an idle
        # spell or a longer stall the bucket starts again from now.
        arrival = self._next if now - self._next <= self.catch_up else now
        self._next = arrival + n * self.interval
        wait = max(0.0, arrival - self.tolerance - now)
        if self.log is not None:
            wait = max(wait, self.log.free_at() - now)
        return wait

    async def acquire(self, n: int = 1) -> None:
        async with self._turn:
            wait = self.reserve(n)
            if wait > 0:
                await asyncio.sleep(wait)

    async def dispatch(self, n: int = 1) -> None:
        if self.log is not None:
            await self.log.admit(n)

    def slow_down(self, seconds: float) -> None:
        self._next = max(self._next, self.clock() + seconds)

    async def jump_queue(self, *, wait: bool = True) -> None:
        # Not behind the lock: the slot after the one the head of the queue holds.
        delay = self.reserve()
        if not wait:
            if self.log is not None:
                self.log.note()
            return
        if delay > 0:
            await asyncio.sleep(delay)
        await self.dispatch()


class ChatBuckets:
    """One bucket per chat (Telegram's 1 message a second to the same chat), forgotten when idle."""

    def __init__(self, rate: float, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    async def acquire(self, key: str) -> None:
        if self.rate <= 0:
            return
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 10_000:
                self._forget_idle()
            bucket = self._buckets[key] = TokenBucket(self.rate, 1.0, self.clock, catch_up=0.0)
        await bucket.acquire()

    def _forget_idle(self) -> None:
        now = self.clock()
        self._buckets = {k: b for k, b in self._buckets.items() if b._next > now}


class SharedBucket:
    """A bucket every worker process books from, kept in a PostgreSQL row.

    Each worker books a small block of sends in one UPDATE (about 50 ms of them, at least 5)
    and hands them out just in time, so several workers together stay within the provider's
    rate and a reply waits for at most a block's worth of slots.

    A worker that has had the bucket to itself for `SHARED_FOR` seconds uses slots missed by
    up to `CATCH_UP`, its `SendLog` seeing every send the provider gets. While another
    process books too, a slot missed by more than one interval is dropped: this worker's log
    does not see the other's sends, and a late send could meet theirs a second later.
    """

    def __init__(self, db: Database, name: str, rate: float, burst: float = 1.0) -> None:
        self.db = db
        self.name = name
        self.interval = 1.0 / (rate * MARGIN)
        self.tolerance = max(0.0, burst - 1.0) * self.interval
        self.block = max(5, math.ceil(rate * 0.05))  # sends booked per round trip
        self.log = SendLog(rate, time.time)
        self.booker = secrets.token_hex(8)  # this process, in the shared row
        self._shared_until = math.inf  # until we know better: as if another worker booked
        self._booked: list[float] = []  # epoch seconds at which booked sends may go
        self._lock = asyncio.Lock()

    @property
    def catch_up(self) -> float:
        """How late a booked slot may be used: alone, `CATCH_UP`; sharing, one interval."""
        return self.interval if time.time() < self._shared_until else CATCH_UP

    async def acquire(self, n: int = 1) -> None:
        for _ in range(n):
            async with self._lock:
                at = -math.inf
                while at < time.time() - self.catch_up:  # a slot missed during a stall
                    if not self._booked:
                        self._booked = await self._book(self.block)
                    at = self._booked.pop(0)
                await _sleep_until(at)

    async def dispatch(self, n: int = 1) -> None:
        await self.log.admit(n)

    def slow_down(self, seconds: float) -> None:
        # Local hold; the other workers get their own 429 and hold too.
        self._booked = [max(at, time.time() + seconds) for at in self._booked]

    async def jump_queue(self, *, wait: bool = True) -> None:
        # The next slot this worker booked, else a new one in the shared row (every worker's
        # later sends move back by one).
        at = self._booked.pop(0) if self._booked else (await self._book(1))[0]
        if not wait:  # at once, whatever the log: an SMS reply, which Twilio queues itself
            self.log.note()
            return
        await _sleep_until(at)
        await self.dispatch()

    async def _book(self, n: int) -> list[float]:
        # `tokens` holds the bucket's theoretical arrival time (GCRA), in epoch seconds.
        # Workers on several machines need synchronised clocks (NTP), as any rate limit does.
        # `shared_until` moves on whenever the booker changes: each worker learns at its next
        # booking (within a block's 50 ms) that another one has started.
        statement = text(
            """
            INSERT INTO rate_buckets (name, tokens, updated_at, booker, shared_until)
            VALUES (:name, CAST(:now AS float8) + CAST(:span AS float8), CURRENT_TIMESTAMP,
                    :booker, 0)
            ON CONFLICT (name) DO UPDATE SET
              tokens = GREATEST(rate_buckets.tokens, CAST(:now AS float8)) + CAST(:span AS float8),
              shared_until = CASE WHEN rate_buckets.booker = :booker
                THEN rate_buckets.shared_until
                ELSE CAST(:now AS float8) + CAST(:shared_for AS float8) END,
              booker = :booker,
              updated_at = CURRENT_TIMESTAMP
            RETURNING tokens - CAST(:span AS float8) AS arrival, shared_until
            """
        )
        values = {
            "name": self.name,
            "now": time.time(),
            "span": n * self.interval,
            "booker": self.booker,
            "shared_for": SHARED_FOR,
        }
        async with self.db.transaction() as session:
            arrival, shared_until = (await session.execute(statement, values)).one()
        self._shared_until = float(shared_until or 0.0)
        return [float(arrival) + i * self.interval - self.tolerance for i in range(n)]


async def _sleep_until(at: float) -> None:
    wait = at - time.time()
    if wait > 0:
        await asyncio.sleep(wait)


def make_pacer(db: Database, name: str, rate: float, burst: float = 1.0) -> Pacer:
    """The right bucket for the deployment: none, in-process (SQLite), or shared (PostgreSQL)."""
    if rate <= 0:
        return Unlimited()
    if db.is_sqlite:
        return TokenBucket(rate, burst)
    return SharedBucket(db, name, rate, burst)
