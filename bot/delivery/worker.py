"""The delivery worker: claim due deliveries per channel, pace, send, record, repeat.

Crash safety comes from the lease: a claimed row is `sending` until `lease_until`; a worker
that dies leaves it there, and any worker reclaims it once the lease runs out. So a crash
loses nothing. What can repeat is bounded by bot/delivery/recorder.py: outcomes are written
within `Recorder.window` of happening, a heartbeat keeps the leases of rows waiting their
turn, a row that waited past half its lease has its claim confirmed before it is sent (one a
sibling reclaimed is not), and each alert send checks first whether a correction stopped it.
So a kill repeats only the sends of the last window and those in flight, and workers that
live never send one row twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.vocabulary import DeliveryStatus, SubscriberStatus
from bot.delivery.pacing import ChatBuckets, Pacer, Unlimited
from bot.delivery.receipts import KEPT as RECEIPTS_KEPT
from bot.delivery.receipts import opted_out
from bot.delivery.recorder import Fence, Recorder
from bot.delivery.sender import Message, Outcome, Result, Sender
from bot.storage.crypto import Vault
from bot.storage.db import Database, Unlisten
from bot.storage.outbox import QUEUED_CHANNEL, Job, NoticeBody, Outbox, Update, open_notice

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Claim loops per lane: while some record outcomes and claim (database round trips that
# wait behind every send's callbacks on a busy loop), the others keep the provider busy.
# With 3, all were sometimes waiting at once: ~10% of an unthrottled SMS broadcast had no
# send in flight (pauses of 50-200 ms at each third batch); with 5, none over 50 ms.
LOOPS_PER_LANE = 5
# Coming back from idle, a lane's claims take a tenth of a batch, twice that, four times ...
# in the order they are made, whichever loop makes them: the first sends of a broadcast go
# out while the rest is claimed (five loops claiming 500 rows each at once took 150-185 ms
# before anything was sent, 50 rows take 40), and the loops fall out of step, so one claims
# while the others send.
FIRST_CLAIM_SHARE = 10
# A paced lane claims what it can send in this long at the rate it actually gets (the shared
# bucket's share, slowed by 429s), not at the configured rate: a worker sharing a slow rate
# with siblings holds a few seconds of sends, not minutes of them.
CLAIM_HORIZON = 10.0
RATE_WINDOW = 10.0  # seconds of sends the achieved rate is measured over
# A row is claimed at most this many times more than the retry policy sends it: a worker
# that dies on it each time (a poison row) makes it fail instead of being claimed for ever.
EXTRA_CLAIMS = 4
TIDY_EVERY = 60.0  # seconds between an idle lane's housekeeping (`Worker._tidy`)
# PostgreSQL plans a claim from statistics sampled when the outbox last changed a lot. Queued
# after them, a million deliveries looked like a dozen: each claim sorted every pending row
# (0.1-0.5 s, 1,200 sends a second instead of 3,600). Autovacuum samples again only after a
# tenth of the table changed, and only where it is on; the workers do it sooner.
STATISTICS_EVERY = 2.0  # seconds between two looks at how much the outbox changed
STATISTICS_AFTER = 20_000  # rows written since the last sample that call for a new one


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
    sends: deque[float] = field(default_factory=deque)  # monotonic times of recent sends
    ramped: int = 0  # claims made since the lane was last found idle

    def next_claim(self, loops: int) -> int:
        """How much the next claim takes (made under `claiming`): since idle, a tenth of a
        batch, then twice that ... until it reaches `claim_size`."""
        size = self.claim_size(loops)
        ramp = max(1, self.batch // FIRST_CLAIM_SHARE) << self.ramped
        if ramp >= size:
            return size
        self.ramped += 1
        return ramp

    def sent(self) -> None:
        now = time.monotonic()
        self.sends.append(now)
        while self.sends and self.sends[0] < now - RATE_WINDOW:
            self.sends.popleft()

    def claim_size(self, loops: int) -> int:
        """How much one loop claims: the batch, or on a paced lane that has been sending, a
        share of what the rate it achieved sends within `CLAIM_HORIZON`."""
        if isinstance(self.pacer, Unlimited) or len(self.sends) < 5:
            return self.batch
        span = max(1.0, time.monotonic() - self.sends[0])
        achieved = len(self.sends) / span
        return max(1, min(self.batch, math.ceil(achieved * CLAIM_HORIZON / loops)))


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
        # Its claims carry it (deliveries.worker: 64 characters); a host name can be 253.
        self.name = (name or f"{socket.gethostname()[:40]}:{os.getpid()}:{id(self):x}")[:64]
        self.concurrency = asyncio.Semaphore(concurrency)
        self.lease = lease
        self.poll_interval = poll_interval
        self.policy = policy or RetryPolicy()
        self.clock = clock
        # One event per lane, cleared before its round: a wake-up that arrives during a
        # round is kept for the next one instead of being erased by the idle wait.
        self._wake = {channel: asyncio.Event() for channel in self.lanes}
        self._wake_enqueue = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._pacing: set[asyncio.Task[Any]] = set()  # deliveries waiting for their turn
        self._unlisten: Unlisten | None = None
        self.recorder = Recorder(db, self.name, clock)
        self.fence = Fence(db, self.name, clock, lease)
        self._beating = asyncio.Event()
        self._held: set[int] = set()  # claimed rows whose outcome is not written yet
        self._tidied: dict[str, float] = {}

    def wake(self) -> None:
        """New deliveries were queued in this process: don't wait for the next poll."""
        for event in self._wake.values():
            event.set()
        self._wake_enqueue.set()

    async def start(self) -> None:
        self._stopping = False
        # PostgreSQL: deliveries queued by another process (the web app approving an alert,
        # a CLI command) wake this worker at once; polling remains the fallback.
        try:
            self._unlisten = await self.db.listen(QUEUED_CHANNEL, self.wake)
        except Exception as exc:
            log.warning("not listening for queued deliveries", extra={"error": type(exc).__name__})
        self._beating = asyncio.Event()
        self._tasks.append(
            asyncio.create_task(
                self.fence.heartbeat(self._beating, lambda: list(self._held)),
                name="worker-heartbeat",
            )
        )
        self._tasks.append(asyncio.create_task(self._enqueue_loop(), name="worker-enqueue"))
        if not self.db.is_sqlite:
            self._tasks.append(
                asyncio.create_task(self._statistics_loop(), name="worker-statistics")
            )
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
        self._beating.set()
        for waiting in list(self._pacing):
            waiting.cancel()
        self.wake()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.recorder.drain()
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
        polls = index == 0
        while not self._stopping:
            wake.clear()
            try:
                sent, limit = await self._round(channel, None)
            except Exception:
                log.exception("delivery round failed", extra={"channel": channel})
                sent = limit = 0
            if sent and sent >= limit:
                wake.set()  # more is waiting: the lane's idle loops join in
            if sent == 0 and not self._stopping:
                try:
                    async with asyncio.timeout(self.poll_interval if polls else None):
                        await wake.wait()
                except TimeoutError:
                    pass

    async def run_once(self, channel: str, limit: int | None = None) -> int:
        """Claim one batch for `channel` (at most `limit`, else the lane's batch), send it,
        record the outcomes; how many were claimed."""
        sent, _ = await self._round(channel, limit or self.lanes[channel].batch)
        return sent

    async def _round(self, channel: str, limit: int | None) -> tuple[int, int]:
        """One claim, its sends and outcomes: (how many were claimed, the claim's limit).
        With no `limit`, the lane's ramp decides it (`Lane.next_claim`)."""
        lane = self.lanes[channel]
        async with lane.claiming:
            if limit is None:
                limit = lane.next_claim(LOOPS_PER_LANE)
            async with self.db.transaction() as session:
                jobs = await Outbox(session).claim(
                    self.name,
                    limit,
                    self.clock(),
                    self.lease,
                    channel=channel,
                    max_attempts=self.policy.max_attempts + EXTRA_CLAIMS,
                )
            if not jobs:
                lane.ramped = 0
        if not jobs:
            # Idle: an alert may have been finished by another lane or worker, or cancelled.
            await self._finish_alerts()
            await self._tidy(channel)
            return 0, limit
        # Each outcome is queued for writing as its send ends (the recorder writes them in
        # small groups as they come); the round ends once all of them are written.
        self._held.update(job.delivery_id for job in jobs)
        claimed_at = time.monotonic()
        try:
            written = await asyncio.gather(*(self._deliver(lane, job, claimed_at) for job in jobs))
            await asyncio.gather(*written)
        finally:
            self._held.difference_update(job.delivery_id for job in jobs)
        # In a transaction of its own, after ours committed: under READ COMMITTED the last
        # lane to finish an alert's deliveries then sees every other lane's outcomes. Not
        # after a full batch: more may be queued, and the next claim that finds none (or the
        # next poll) does it. Checking after each batch scanned the alert's rows every time.
        if len(jobs) < limit:
            await self._finish_alerts()
        return len(jobs), limit

    async def _enqueue_loop(self) -> None:
        """Queue large alerts' remaining recipients, a committed chunk at a time, waking the
        lanes after each: their sends go out while the rest is queued, and a crash leaves a
        cursor the next worker resumes from."""
        while not self._stopping:
            self._wake_enqueue.clear()
            try:
                async with self.db.transaction() as session:
                    queued = await Outbox(session).continue_enqueue(self.clock())
            except Exception as exc:
                # Typed only: a failed statement's parameters name subscribers and zones.
                log.warning("alert recipients not queued yet", extra={"error": type(exc).__name__})
                queued = 0
            if queued:
                for event in self._wake.values():
                    event.set()
                continue
            try:
                async with asyncio.timeout(self.poll_interval * 4):
                    await self._wake_enqueue.wait()
            except TimeoutError:
                pass

    async def _statistics_loop(self) -> None:
        """Keep PostgreSQL's planner statistics of the outbox current while alerts are queued
        and sent (`STATISTICS_AFTER`)."""
        stopping = self._beating
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STATISTICS_EVERY):
                    await stopping.wait()
            if stopping.is_set():
                return
            try:
                async with self.db.transaction() as session:
                    outbox = Outbox(session)
                    if await outbox.stale_statistics(STATISTICS_AFTER):
                        await outbox.gather_statistics()
            except Exception as exc:
                log.warning("outbox statistics not refreshed", extra={"error": type(exc).__name__})

    async def _tidy(self, channel: str) -> None:
        """Now and then, when idle: rows claimed too often fail (`give_up`), and status
        reports kept for a send whose outcome has landed since are applied."""
        now = time.monotonic()
        if now - self._tidied.get(channel, -math.inf) < TIDY_EVERY:
            return
        self._tidied[channel] = now
        at = self.clock()
        async with self.db.transaction() as session:
            outbox = Outbox(session)
            await outbox.give_up(self.policy.max_attempts + EXTRA_CLAIMS, at, channel=channel)
            if channel == "sms":
                await opted_out(outbox, await outbox.apply_receipts(None, at), at)
                await outbox.drop_receipts(at - RECEIPTS_KEPT)

    async def _finish_alerts(self) -> None:
        # The composers hear of it from Summaries, which polls (in whichever process has Telegram).
        async with self.db.transaction() as session:
            await Outbox(session).finish_alerts(self.clock())

    async def _deliver(self, lane: Lane, job: Job, claimed_at: float) -> asyncio.Future[None]:
        """Send one claimed delivery; the future is done once its outcome is written."""
        try:
            attempted = await self._attempt(lane, job, claimed_at)
        except Exception as exc:
            # A row that will not open or send (a ciphertext under a lost key, a body that does
            # not parse) fails alone, with the error's type; the rest of the batch goes on.
            log.warning(
                "delivery failed",
                extra={"channel": lane.sender.channel, "error": type(exc).__name__},
            )
            attempted = (
                Update(job.delivery_id, DeliveryStatus.FAILED, error=f"error:{type(exc).__name__}"),
                None,
            )
        if attempted is None:  # no longer ours: a sibling reclaimed it, or it was corrected
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        update, gone = attempted
        return self.recorder.add(
            replace(update, attempts=job.attempts),
            lane.sender.channel,
            subscriber_id=job.subscriber_id,
            unreachable=gone,
        )

    async def _attempt(
        self, lane: Lane, job: Job, claimed_at: float
    ) -> tuple[Update, str | None] | None:
        now = self.clock()
        if job.subscriber_status != SubscriberStatus.ACTIVE:
            return Update(
                job.delivery_id, DeliveryStatus.SKIPPED, error=job.subscriber_status
            ), None
        if job.expires_at <= now:
            # An expired alert is never delivered late.
            return Update(job.delivery_id, DeliveryStatus.SKIPPED, error="expired"), None
        if job.address_cipher is None:  # a notice whose address a purge removed
            return Update(job.delivery_id, DeliveryStatus.SKIPPED, error="forgotten"), None
        async with self.concurrency:
            # Decrypted here, not before: a claimed batch then costs its CPU send by send,
            # between other sends' I/O, rather than in one burst that stalls them all.
            text, buttons, photo, edits = self._content(job)
            address = self.vault.open(job.address_cipher, job.address_where)
            if not await self._turn(lane, address):
                return Update(job.delivery_id, DeliveryStatus.QUEUED, error="released"), None
            # The fence: only the worker that holds the claim now sends, and not a row a
            # correction stopped while it waited for its turn.
            if job.alert_id is not None and await self.fence.corrected(job.alert_id):
                return None  # the correction skipped this row in the database already
            # A row that waited past half its lease (behind a slow shared rate, a 429's hold)
            # could have lost its claim if a heartbeat failed: confirmed before it is sent.
            half = self.lease.total_seconds() / 2
            held_at = claimed_at
            if time.monotonic() - held_at > half:
                if not await self.fence.holds(job.delivery_id, job.attempts):
                    return None
                held_at = time.monotonic()
            await lane.pacer.dispatch()  # after the checks, whatever they took
            # The provider's spacing can hold a send a while longer: a correction another
            # send's check found meanwhile still stops it. Only what is known (no query
            # here: time between the slot and the request bunches sends at the provider).
            if job.alert_id is not None and self.fence.known_corrected(job.alert_id):
                return None
            # Unless that hold ran past half a lease: then the claim is confirmed once more
            # (a sibling may have taken the row once the lease ran out, and sent it: a
            # duplicate under load, seen with a 0.6 s lease), a late request rather than two.
            if time.monotonic() - held_at > half and not await self.fence.holds(
                job.delivery_id, job.attempts
            ):
                return None
            message = Message(job.delivery_id, address, text, 0, buttons, photo, edits)
            sent = await self._send(lane, job, message)
            lane.sent()
            return sent

    def _content(self, job: Job) -> NoticeBody:
        """An alert's text in the person's language (English if none), or a notice's body."""
        if job.body_cipher is None:
            return NoticeBody(job.text(), ())
        return open_notice(self.vault, job.delivery_id, job.body_cipher)

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
