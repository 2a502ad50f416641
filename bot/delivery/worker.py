"""The delivery worker: claim due deliveries per channel, pace, send, record, repeat.

Crash safety comes from the lease: a claimed row is `sending` until `lease_until`; a worker
that dies leaves it there, and any worker reclaims it once the lease runs out. So a crash
loses nothing, and only sends that were in flight can repeat.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.vocabulary import DeliveryStatus, SubscriberStatus
from bot.delivery.pacing import ChatBuckets, Pacer
from bot.delivery.sender import Buttons, Message, Outcome, Result, Sender
from bot.storage.crypto import Vault
from bot.storage.db import Database, Unlisten
from bot.storage.outbox import QUEUED_CHANNEL, Job, Outbox, Update, open_notice

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Claim loops per lane: while some record outcomes and claim (database round trips that
# wait behind every send's callbacks on a busy loop), the others keep the provider busy.
# With 3, all were sometimes waiting at once: ~10% of an unthrottled SMS broadcast had no
# send in flight (pauses of 50-200 ms at each third batch); with 5, none over 50 ms.
LOOPS_PER_LANE = 5
# Coming back from idle, a lane's loops first claim a tenth of a batch, twice that, four
# times ...: the first sends of a broadcast go out while the rest is claimed (five loops
# claiming 500 rows each at once took 150-185 ms before anything was sent, 50 rows take
# 40), and the loops fall out of step, so one claims while the others send.
FIRST_CLAIM_SHARE = 10


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for transient errors; 429s wait as the provider says."""

    base: float = 2.0
    cap: float = 300.0
    max_attempts: int = 8

    def delay(self, attempts: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not secrecy)


@dataclass
class Lane:
    """One channel's sender and pacing, and how much to claim at a time."""

    sender: Sender
    pacer: Pacer
    batch: int
    chats: ChatBuckets | None = None
    # One claim at a time per lane: claims running side by side each took as long as all of
    # them (their rows are handled on the same event loop), so the first sends waited for
    # the biggest claim.
    claiming: asyncio.Lock = field(default_factory=asyncio.Lock)


class Worker:
    """Sends what the outbox holds until stopped; `run_once` does one round (tests use it)."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        lanes: list[Lane],
        *,
        name: str | None = None,
        concurrency: int = 128,
        lease: timedelta = timedelta(seconds=60),
        poll_interval: float = 0.25,
        policy: RetryPolicy | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.vault = vault
        self.lanes = {lane.sender.channel: lane for lane in lanes}
        self.name = name or f"{socket.gethostname()}:{id(self):x}"
        self.concurrency = asyncio.Semaphore(concurrency)
        self.lease = lease
        self.poll_interval = poll_interval
        self.policy = policy or RetryPolicy()
        self.clock = clock
        # One event per lane, cleared before its round: a wake-up that arrives during a
        # round is kept for the next one instead of being erased by the idle wait.
        self._wake = {channel: asyncio.Event() for channel in self.lanes}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._pacing: set[asyncio.Task[Any]] = set()  # deliveries waiting for their turn
        self._unlisten: Unlisten | None = None

    def wake(self) -> None:
        """New deliveries were queued in this process: don't wait for the next poll."""
        for event in self._wake.values():
            event.set()

    async def start(self) -> None:
        self._stopping = False
        # PostgreSQL: deliveries queued by another process (the web app approving an alert,
        # a CLI command) wake this worker at once; polling remains the fallback.
        try:
            self._unlisten = await self.db.listen(QUEUED_CHANNEL, self.wake)
        except Exception as exc:
            log.warning("not listening for queued deliveries", extra={"error": type(exc).__name__})
        for channel in self.lanes:
            # Several loops per lane: while one records its outcomes and claims the next batch,
            # another keeps the provider busy, so the pacing never idles between batches.
            for loop in range(LOOPS_PER_LANE):
                self._tasks.append(
                    asyncio.create_task(self._loop(channel, loop), name=f"worker-{channel}-{loop}")
                )
        log.info("delivery worker started", extra={"channels": sorted(self.lanes)})

    async def stop(self) -> None:
        """Stop within moments: sends in flight finish and are recorded; deliveries still
        waiting for their turn go back to the queue at once (not after the lease)."""
        self._stopping = True
        for waiting in list(self._pacing):
            waiting.cancel()
        self.wake()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._unlisten is not None:
            unlisten, self._unlisten = self._unlisten, None
            try:
                await unlisten()
            except Exception as exc:
                log.warning("stop listening failed", extra={"error": type(exc).__name__})
        for lane in self.lanes.values():
            await lane.sender.close()
        log.info("delivery worker stopped")

    async def _loop(self, channel: str, index: int) -> None:
        """One claim loop. Idle, only the lane's first loop polls; the others wait to be woken
        (by this process queuing, PostgreSQL's NOTIFY, or a sibling that found a full batch):
        every idle poll is a write transaction, and on SQLite's one writer ten loops polling
        four times a second had held up sign-up answers by two seconds in a burst."""
        wake = self._wake[channel]
        lane = self.lanes[channel]
        polls = index == 0
        first = min(lane.batch, max(1, lane.batch // FIRST_CLAIM_SHARE) << index)
        limit = first
        while not self._stopping:
            wake.clear()
            try:
                sent = await self.run_once(channel, limit)
            except Exception:
                log.exception("delivery round failed", extra={"channel": channel})
                sent = 0
            if sent >= limit:
                wake.set()  # more is waiting: the lane's idle loops join in
            limit = lane.batch if sent else first
            if sent == 0 and not self._stopping:
                try:
                    async with asyncio.timeout(self.poll_interval if polls else None):
                        await wake.wait()
                except TimeoutError:
                    pass

    async def run_once(self, channel: str, limit: int | None = None) -> int:
        """Claim one batch for `channel` (at most `limit`, else the lane's batch), send it,
        record the outcomes; how many were claimed."""
        lane = self.lanes[channel]
        limit = limit or lane.batch
        async with lane.claiming, self.db.transaction() as session:
            jobs = await Outbox(session).claim(
                self.name, limit, self.clock(), self.lease, channel=channel
            )
        if not jobs:
            # Idle: an alert may have been finished by another lane or worker, or cancelled.
            await self._finish_alerts()
            return 0
        results = await asyncio.gather(*(self._deliver(lane, job) for job in jobs))
        updates = [update for update, _ in results]
        unreachable = {
            job.subscriber_id: status
            for job, (_, status) in zip(jobs, results, strict=True)
            if status is not None and job.subscriber_id is not None
        }
        now = self.clock()
        async with self.db.transaction() as session:
            outbox = Outbox(session)
            await outbox.record(updates, now)
            if unreachable:
                await outbox.mark_unreachable(unreachable, now, via=f"{channel}:provider")
        # In a transaction of its own, after ours committed: under READ COMMITTED the last
        # lane to finish an alert's deliveries then sees every other lane's outcomes. Not
        # after a full batch: more may be queued, and the next claim that finds none (or the
        # next poll) does it. Checking after each batch scanned the alert's rows every time.
        if len(jobs) < limit:
            await self._finish_alerts()
        return len(jobs)

    async def _finish_alerts(self) -> None:
        # The composers hear of it from Summaries, which polls (in whichever process has Telegram).
        async with self.db.transaction() as session:
            await Outbox(session).finish_alerts(self.clock())

    async def _deliver(self, lane: Lane, job: Job) -> tuple[Update, str | None]:
        now = self.clock()
        if job.subscriber_status != SubscriberStatus.ACTIVE:
            return Update(
                job.delivery_id, DeliveryStatus.SKIPPED, error=job.subscriber_status
            ), None
        if job.expires_at <= now:
            # An expired alert is never delivered late.
            return Update(job.delivery_id, DeliveryStatus.SKIPPED, error="expired"), None
        async with self.concurrency:
            # Decrypted here, not before: a claimed batch then costs its CPU send by send,
            # between other sends' I/O, rather than in one burst that stalls them all.
            text, buttons = self._content(job)
            address = self.vault.decrypt(job.address_cipher)
            if not await self._turn(lane, address):
                return Update(job.delivery_id, DeliveryStatus.QUEUED, error="released"), None
            return await self._send(lane, job, Message(job.delivery_id, address, text, 0, buttons))

    def _content(self, job: Job) -> tuple[str, Buttons]:
        """An alert's text in the person's language (English if none), or a notice's body."""
        if job.body_cipher is None:
            return job.texts.get(job.language) or job.texts["en"], ()
        return open_notice(self.vault, job.body_cipher)

    async def _turn(self, lane: Lane, address: str) -> bool:
        """Wait for a turn to send; False if the worker is stopping first (stop() cancels the
        waits, so waiting costs nothing per send)."""
        if self._stopping:
            return False
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 (gather runs each delivery as a task)
        self._pacing.add(task)
        try:
            await lane.pacer.acquire()
            if lane.chats is not None:
                await lane.chats.acquire(address)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            task.uncancel()
            return False
        finally:
            self._pacing.discard(task)
        return True

    async def _send(self, lane: Lane, job: Job, message: Message) -> tuple[Update, str | None]:
        # Pacing may have taken a while: the validity is what is left now.
        valid_for = (job.expires_at - self.clock()).total_seconds()
        outcome = await lane.sender.send(replace(message, valid_for=valid_for))
        return self._update(lane, job, outcome), outcome.subscriber_status

    def _update(self, lane: Lane, job: Job, outcome: Outcome) -> Update:
        now = self.clock()
        match outcome.result:
            case Result.SENT:
                return Update(job.delivery_id, DeliveryStatus.SENT, provider_id=outcome.provider_id)
            case Result.RATE_LIMITED:
                wait = outcome.retry_after or 1.0
                lane.pacer.slow_down(wait)
                due = now + timedelta(seconds=wait)
                return Update(
                    job.delivery_id, DeliveryStatus.QUEUED, error=outcome.error, due_at=due
                )
            case Result.RETRY if job.attempts < self.policy.max_attempts:
                due = now + timedelta(seconds=self.policy.delay(job.attempts))
                return Update(
                    job.delivery_id, DeliveryStatus.QUEUED, error=outcome.error, due_at=due
                )
            case Result.RETRY:
                return Update(
                    job.delivery_id, DeliveryStatus.FAILED, error=f"retries:{outcome.error}"
                )
            case Result.FAILED | Result.UNREACHABLE:
                return Update(job.delivery_id, DeliveryStatus.FAILED, error=outcome.error)
        raise AssertionError(outcome.result)  # pragma: no cover
