"""Pacing: token buckets per provider and per chat, never `sleep` in a send loop.

A bucket here is a GCRA-style reservation: `acquire(n)` books n sends and waits until the
moment they are allowed, so concurrent senders queue fairly and the long-run rate never
exceeds the configured one. `burst` is how many sends may go at once after an idle spell.

Bulk senders book just in time: they queue on a lock and only the one at its head holds a
booked slot. So a direct reply (`jump_queue`) books the next free slot, a moment away, and
the broadcast moves back by one: replies are fast and the provider never sees more than the
rate, which lets a broadcast use all of it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import text

from bot.storage.db import Database

Clock = Callable[[], float]

MARGIN = 0.98
"""Pace 2% under the configured rate. A provider counting sends in a sliding one-second window
sees more than we sent when its window opens on a stall (sends delayed by a pause, at either
end, are counted late); 2% of headroom absorbs 20 ms of such jitter at any rate, and each 429
it saves costs a second's hold (the provider's retry-after)."""


class Pacer(Protocol):
    """Something that makes a caller wait its turn to send."""

    async def acquire(self, n: int = 1) -> None: ...

    def slow_down(self, seconds: float) -> None:
        """The provider said 429: hold every send for `seconds`."""

    async def jump_queue(self, *, wait: bool = True) -> None:
        """Take the next free slot ahead of bulk sends (a direct reply), and wait for it unless
        `wait` is false (an SMS reply, which Twilio sends and queues itself)."""


class Unlimited:
    """No pacing (a rate of 0: benchmarks against local fakes)."""

    async def acquire(self, n: int = 1) -> None:
        return None

    def slow_down(self, seconds: float) -> None:
        return None

    async def jump_queue(self, *, wait: bool = True) -> None:
        return None


class TokenBucket:
    """An in-process bucket: `rate` sends per second with at most `burst` at once."""

    def __init__(self, rate: float, burst: float = 1.0, clock: Clock = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive; use Unlimited for no limit")
        self.interval = 1.0 / (rate * MARGIN)
        self.tolerance = max(0.0, burst - 1.0) * self.interval
        self.clock = clock
        self._next = 0.0  # theoretical arrival time of the next send (GCRA's TAT)
        self._turn = asyncio.Lock()  # bulk senders book one at a time, just in time

    def reserve(self, n: int = 1) -> float:
        """Book n sends; the seconds to wait before they may go."""
        now = self.clock()
        arrival = max(self._next, now)
        self._next = arrival + n * self.interval
        return max(0.0, arrival - self.tolerance - now)

    async def acquire(self, n: int = 1) -> None:
        async with self._turn:
            wait = self.reserve(n)
            if wait > 0:
                await asyncio.sleep(wait)

    def slow_down(self, seconds: float) -> None:
        self._next = max(self._next, self.clock() + seconds)

    async def jump_queue(self, *, wait: bool = True) -> None:
        # Not behind the lock: the slot after the one the head of the queue holds.
        delay = self.reserve()
        if wait and delay > 0:
            await asyncio.sleep(delay)


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
            bucket = self._buckets[key] = TokenBucket(self.rate, 1.0, self.clock)
        await bucket.acquire()

    def _forget_idle(self) -> None:
        now = self.clock()
        self._buckets = {k: b for k, b in self._buckets.items() if b._next > now}


class SharedBucket:
    """A bucket every worker process books from, kept in a PostgreSQL row.

    Each worker books a small block of sends in one UPDATE (about 50 ms of them, at least 5)
    and hands them out just in time, so several workers together stay within the provider's
    rate and a reply waits for at most a block's worth of slots.
    """

    def __init__(self, db: Database, name: str, rate: float, burst: float = 1.0) -> None:
        self.db = db
        self.name = name
        self.interval = 1.0 / (rate * MARGIN)
        self.tolerance = max(0.0, burst - 1.0) * self.interval
        self.block = max(5, math.ceil(rate * 0.05))  # sends booked per round trip
        self._booked: list[float] = []  # epoch seconds at which booked sends may go
        self._lock = asyncio.Lock()

    async def acquire(self, n: int = 1) -> None:
        for _ in range(n):
            async with self._lock:
                at = 0.0
                while at < time.time() - self.interval:  # a slot missed during a stall
                    if not self._booked:
                        self._booked = await self._book(self.block)
                    at = self._booked.pop(0)
                await _sleep_until(at)

    def slow_down(self, seconds: float) -> None:
        # Local hold; the other workers get their own 429 and hold too.
        self._booked = [max(at, time.time() + seconds) for at in self._booked]

    async def jump_queue(self, *, wait: bool = True) -> None:
        # The next slot this worker booked, else a new one in the shared row (every worker's
        # later sends move back by one).
        at = self._booked.pop(0) if self._booked else (await self._book(1))[0]
        if wait:
            await _sleep_until(at)

    async def _book(self, n: int) -> list[float]:
        # `tokens` holds the bucket's theoretical arrival time (GCRA), in epoch seconds.
        # Workers on several machines need synchronised clocks (NTP), as any rate limit does.
        statement = text(
            """
            INSERT INTO rate_buckets (name, tokens, updated_at)
            VALUES (:name, CAST(:now AS float8) + CAST(:span AS float8), CURRENT_TIMESTAMP)
            ON CONFLICT (name) DO UPDATE SET
              tokens = GREATEST(rate_buckets.tokens, CAST(:now AS float8)) + CAST(:span AS float8),
              updated_at = CURRENT_TIMESTAMP
            RETURNING tokens - CAST(:span AS float8) AS arrival
            """
        )
        values = {"name": self.name, "now": time.time(), "span": n * self.interval}
        async with self.db.transaction() as session:
            arrival = float((await session.execute(statement, values)).scalar_one())
        return [arrival + i * self.interval - self.tolerance for i in range(n)]


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
