"""What a worker writes as it sends: claims confirmed just before each send, outcomes written
as they happen, and a heartbeat for the rows it holds. Each is a small group commit.

- `Fence.corrected` says, right before each send of an alert, whether a correction has
  stopped it (what the database said at most `FRESH` seconds ago: one query per alert and
  fifth of a second, not one per send).
- `Fence.holds` confirms a claim right before its send when the row has waited long enough
  that its lease could have run out (one UPDATE for every send that asks within a few
  milliseconds): a row another worker reclaimed, or a correction skipped, is not sent.
- `Recorder.add` queues an outcome; outcomes are written every `window` seconds or every
  `most` outcomes, whichever comes first, so a kill repeats only the sends of the last
  window and those in flight, not a whole batch.
- `Fence.heartbeat` renews the lease of every row the worker works on, so a row waiting behind
  the pacing (a slow shared rate, a 429's hold) is not taken by a sibling while it lives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from bot.core.vocabulary import DeliveryStatus
from bot.delivery.receipts import opted_out
from bot.storage.db import Database
from bot.storage.outbox import Outbox, Update

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
WRITE_ATTEMPTS = 3  # a failed group write is tried again before its senders hear of it
EXTRAS_EVERY = 0.25  # seconds between the writes that also follow up corrections and receipts
FRESH = 0.2  # seconds a check for an alert's correction holds


T = TypeVar("T")
R = TypeVar("R")


class _Group(Generic[T, R]):
    """Items gathered for one write: flushed after `window` seconds, or at once at `most`."""

    def __init__(self, window: float, most: int) -> None:
        self.window = window
        self.most = most
        self.items: list[tuple[T, asyncio.Future[R]]] = []
        self.lock = asyncio.Lock()  # one write at a time, in order
        self.timer: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def add(self, item: T, write: Callable[[], Awaitable[None]]) -> asyncio.Future[R]:
        """Gather `item`; `write` runs (as a task) once the group is due."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self.items.append((item, future))
        if len(self.items) >= self.most:
            self._cancel_timer()
            self.spawn(write)
        elif self.timer is None:

            def due() -> None:
                self.timer = None
                self.spawn(write)

            self.timer = asyncio.get_running_loop().call_later(self.window, due)
        return future

    def take(self) -> list[tuple[T, asyncio.Future[R]]]:
        self._cancel_timer()
        taken, self.items = self.items, []
        return taken

    def spawn(self, write: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.ensure_future(write())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Recorder:
    """Outcomes written as they happen, fenced by the claim they answer."""

    def __init__(
        self,
        db: Database,
        worker: str,
        clock: Clock,
        *,
        window: float = 0.05,
        most: int = 500,
        via: Callable[[str], str] = lambda channel: f"{channel}:provider",
    ) -> None:
        self.db = db
        self.worker = worker
        self.clock = clock
        self.via = via
        # What follows the outcomes, gathered over `EXTRAS_EVERY` (a statement each per write
        # cost a sixth of an unthrottled worker's rate): sends a correction must follow, and
        # SMS message ids whose early receipts to apply.
        self._sent: list[int] = []
        self._reported: list[str] = []
        self._extras_at = 0.0
        self._extras_timer: asyncio.TimerHandle | None = None
        self._group: _Group[tuple[Update, str, int | None, str | None], None] = _Group(window, most)

    def add(
        self,
        update: Update,
        channel: str,
        *,
        subscriber_id: int | None = None,
        unreachable: str | None = None,
    ) -> asyncio.Future[None]:
        """Queue one outcome (and a subscriber the provider says is gone); the future is
        done once it is written."""
        return self._group.add((update, channel, subscriber_id, unreachable), self._write)

    async def drain(self) -> None:
        """Write what is queued now, and wait for writes already under way."""
        await self._write()
        if self._group.tasks:
            await asyncio.gather(*self._group.tasks, return_exceptions=True)

    async def _write(self) -> None:
        async with self._group.lock:
            taken = self._group.take()
            if not taken:
                if self._sent or self._reported:
                    await self._commit([])
                return
            error: BaseException | None = None
            for attempt in range(WRITE_ATTEMPTS):
                try:
                    await self._commit([item for item, _ in taken])
                    error = None
                    break
                except Exception as exc:  # the database is busy or away: try again
                    error = exc
                    log.warning(
                        "outcomes not written yet",
                        extra={"error": type(exc).__name__, "attempt": attempt + 1},
                    )
                    await asyncio.sleep(0.2 * (attempt + 1))
            for _, future in taken:
                if future.done():
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    # The rows stay claimed: their lease runs out and they are sent again.
                    future.set_exception(error)

    async def _commit(self, items: list[tuple[Update, str, int | None, str | None]]) -> None:
        now = self.clock()
        gone: dict[str, dict[int, str]] = {}
        for _, channel, subscriber_id, status in items:
            if subscriber_id is not None and status is not None:
                gone.setdefault(channel, {})[subscriber_id] = status
        updates = [update for update, *_ in items]
        self._sent += [u.delivery_id for u in updates if u.status is DeliveryStatus.SENT]
        self._reported += [u.provider_id for u, ch, *_ in items if ch == "sms" and u.provider_id]
        extras = time.monotonic() - self._extras_at >= EXTRAS_EVERY or not items
        async with self.db.transaction() as session:
            outbox = Outbox(session)
            if updates:
                await outbox.record(updates, now, worker=self.worker)
            for channel, subscribers in gone.items():
                await outbox.mark_unreachable(subscribers, now, via=self.via(channel))
            if extras:
                sent, self._sent = self._sent, []
                reported, self._reported = self._reported, []
                # A send that was on its way when a correction stopped its alert did go out:
                # the correction follows it.
                await outbox.follow_late(sent, now)
                # Status reports the provider sent before these outcomes were written.
                if reported:
                    await opted_out(outbox, await outbox.apply_receipts(reported, now), now)
                self._extras_at = time.monotonic()
        if self._sent or self._reported:
            self._later()

    def _later(self) -> None:
        """The gathered extras get a write of their own if no outcome comes to carry them."""
        if self._extras_timer is None:

            def due() -> None:
                self._extras_timer = None
                self._group.spawn(self._write)

            self._extras_timer = asyncio.get_running_loop().call_later(EXTRAS_EVERY, due)


class Fence:
    """Claims confirmed just before their sends, a few at a time, and kept by a heartbeat."""

    def __init__(
        self,
        db: Database,
        worker: str,
        clock: Clock,
        lease: timedelta,
        *,
        window: float = 0.02,
        most: int = 200,
    ) -> None:
        self.db = db
        self.worker = worker
        self.clock = clock
        self.lease = lease
        self._group: _Group[tuple[int, int], bool] = _Group(window, most)
        self._corrected: set[int] = set()
        self._checked: dict[int, float] = {}  # alert id -> when its correction was looked for
        self._checking = asyncio.Lock()

    async def corrected(self, alert_id: int) -> bool:
        """Whether a correction has stopped this alert, as the database said at most
        `FRESH` seconds ago (one query for every alert being sent, not one per send)."""
        if alert_id in self._corrected:
            return True
        if time.monotonic() - self._checked.get(alert_id, -FRESH) < FRESH:
            return False
        async with self._checking:
            now = time.monotonic()
            stale = [a for a in self._checked if now - self._checked[a] >= FRESH]
            wanted = {alert_id, *stale} - self._corrected
            if now - self._checked.get(alert_id, -FRESH) >= FRESH:
                try:
                    async with self.db.transaction() as session:
                        self._corrected |= await Outbox(session).corrected(sorted(wanted))
                except Exception as exc:
                    log.warning("corrections not checked", extra={"error": type(exc).__name__})
                    return False  # the claim fence still stops a row a correction skipped
                for checked in wanted:
                    self._checked[checked] = now
        return alert_id in self._corrected

    def known_corrected(self, alert_id: int) -> bool:
        """Whether a check so far found this alert corrected (no query)."""
        return alert_id in self._corrected

    async def holds(self, delivery_id: int, attempts: int) -> bool:
        """Whether this worker still holds the claim (renewed): send only if so."""
        return await self._group.add((delivery_id, attempts), self._write)

    async def _write(self) -> None:
        async with self._group.lock:
            taken = self._group.take()
            if not taken:
                return
            try:
                async with self.db.transaction() as session:
                    held = await Outbox(session).confirm(
                        self.worker, [claim for claim, _ in taken], self.clock(), self.lease
                    )
            except Exception as exc:
                # Unconfirmed is unsent: the rows go back when their lease runs out.
                log.warning("claims not confirmed", extra={"error": type(exc).__name__})
                held = set()
            for (delivery_id, _), future in taken:
                if not future.done():
                    future.set_result(delivery_id in held)

    async def heartbeat(self, stopping: asyncio.Event, held: Callable[[], list[int]]) -> None:
        """Renew the lease of the rows being worked on (`held`) a few times per lease, until
        `stopping` is set. Only those: a row this worker let go of (its outcome unwritten
        when the database was away) runs out and goes to whoever claims it next."""
        period = max(0.05, self.lease.total_seconds() / 3)
        while not stopping.is_set():
            try:
                async with asyncio.timeout(period):
                    await stopping.wait()
                return
            except TimeoutError:
                pass
            try:
                ids = held()
                if ids:
                    async with self.db.transaction() as session:
                        await Outbox(session).renew(self.worker, ids, self.clock(), self.lease)
            except Exception as exc:
                log.warning("leases not renewed", extra={"error": type(exc).__name__})
