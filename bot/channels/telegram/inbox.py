"""Telegram updates through the inbox (`bot.core.inbox`): stored before Telegram is told they
arrived, and handed to the PTB Application from there.

Polling: `Poller` asks getUpdates for the raw JSON (so an update this version of PTB cannot
parse is stored and set aside, not fetched again and again) and moves the offset past a batch
only once the batch is stored. Webhook: the channel stores the update, then answers 200.
`Feed` hands stored updates to `Application.process_update`, up to CONCURRENT_UPDATES at once,
and marks each done once its handlers have returned.

What can repeat after a crash: a handler's effects (its reply above all) and the done mark are
not one transaction. An update whose reply had gone out but whose done mark was not yet
written when the process died is handled again at the next start, so at most the updates in
flight at that moment are answered twice. The mark is written as soon as the handlers return,
which keeps that window to one small write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from telegram import Bot, Update
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from bot.core.errors import is_failure
from bot.core.inbox import Entry, Inbox
from bot.core.vocabulary import Channel
from bot.metrics import Metrics

log = logging.getLogger(__name__)
# Bot.get_updates parses the batch and, when one update does not parse, raises and logs the
# whole batch (texts, names, chat ids) as CRITICAL, and polling fetches it again forever. The
# raw call is the choice made here; PTB warns that get_updates exists.
warnings.filterwarnings("ignore", "Please use 'Bot.getUpdates'", PTBUserWarning, __name__)

CONCURRENT_UPDATES = 64
"""Updates handled at once: a viral sign-up burst waits on the database, not on Telegram."""
POLL_TIMEOUT = 10
"""Seconds a getUpdates call waits for an update (long polling)."""
READ_MARGIN = 5.0
"""Seconds, beyond the long poll, that an answer to getUpdates may take to arrive."""
UNREADABLE = "unreadable"
FAILED = "failed"


@dataclass
class _Handling:
    """What the error handler found while one update was being handled."""

    error: str | None = None


_current: ContextVar[_Handling | None] = ContextVar("telegram_update_handling", default=None)


def handling_failed(error: BaseException | None) -> None:
    """Called by the error handler: the update this task is handling failed, and is tried
    again (or set aside). PTB calls error handlers in the handling's own task."""
    current = _current.get()
    if current is not None and current.error is None:
        current.error = type(error).__name__ if error is not None else "Exception"


class Feed:
    """Stored updates to the PTB Application: those a crash left first, then each as it is
    stored; done, tried again, or set aside by how their handling went."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        inbox: Inbox,
        metrics: Metrics,
        *,
        concurrency: int = CONCURRENT_UPDATES,
        sweep_every: float = 5.0,
        grace: float = 5.0,
    ) -> None:
        self.application = application
        self.inbox = inbox
        self.metrics = metrics
        self.sweep_every = sweep_every
        self.grace = grace
        self._queue: asyncio.Queue[Entry] = asyncio.Queue()
        self._slots = asyncio.Semaphore(concurrency)
        self._handling: set[asyncio.Task[None]] = set()
        self._retries: set[asyncio.TimerHandle] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._held: set[int] = set()  # queued, being handled or waiting to be tried again

    async def start(self) -> None:
        """Take what a crash or a stop left, ahead of anything received from now on."""
        self._queue = asyncio.Queue()
        self._held.clear()
        left = await self.inbox.take_all()
        if left:
            log.info("telegram: handling updates left from before", extra={"updates": len(left)})
        self._hold(left)
        await self._count()
        self._loops = [
            asyncio.create_task(self._dispatch(), name="telegram-inbox-dispatch"),
            asyncio.create_task(self._sweep(), name="telegram-inbox-sweep"),
        ]

    async def stop(self) -> None:
        """Stop taking updates; let those being handled finish (for `grace` seconds). What is
        left stays pending and is handled at the next start."""
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        for timer in self._retries:
            timer.cancel()
        self._retries.clear()
        if self._handling:
            _, late = await asyncio.wait(set(self._handling), timeout=self.grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def receive(self, updates: Sequence[Mapping[str, Any]]) -> None:
        """Store the updates, then queue the new ones for handling. Raises when they could not
        be stored: then Telegram must not be told they arrived."""
        self._hold(await self.inbox.store(updates))

    def _hold(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            if entry.id not in self._held:
                self._held.add(entry.id)
                self._queue.put_nowait(entry)

    async def _dispatch(self) -> None:
        while True:
            entry = await self._queue.get()
            await self._slots.acquire()
            task = asyncio.create_task(self._handle(entry), name="telegram-update")
            self._handling.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._handling.discard(task)
        self._slots.release()

    async def _sweep(self) -> None:
        """Entries no process holds any more (an operator's retry, a lease run out)."""
        while True:
            await asyncio.sleep(self.sweep_every)
            try:
                self._hold(await self.inbox.take_released())
                await self._count()
            except Exception as exc:
                log.warning("telegram inbox sweep failed", extra={"error": type(exc).__name__})

    async def _count(self) -> None:
        for status, count in (await self.inbox.counts()).items():
            self.metrics.inbox.labels(status=status.value).set(count)

    async def _handle(self, entry: Entry) -> None:
        try:
            await self._handle_once(entry)
        except Exception as exc:
            # The inbox could not record the outcome (the database): the entry stays pending
            # and is taken again once its lease runs out.
            self._held.discard(entry.id)
            log.warning(
                "telegram update: its outcome could not be recorded",
                extra={"entry": entry.id, "error": type(exc).__name__},
            )

    async def _handle_once(self, entry: Entry) -> None:
        if entry.data is None:
            await self._set_aside(entry, "undecryptable", UNREADABLE)
            return
        try:
            update = Update.de_json(entry.data, self.application.bot)
        except Exception as exc:
            # A Bot API newer than this PTB, or a malformed update: never logged, only typed.
            await self._set_aside(entry, type(exc).__name__, UNREADABLE)
            return
        handling = _Handling()
        token = _current.set(handling)
        try:
            await self.application.process_update(update)
        except BaseException as exc:  # a native library's panic too, never a stop
            if not is_failure(exc):
                raise
            # PTB's error handler (which counts) sees Exceptions only: this one is counted here.
            if not isinstance(exc, Exception):
                self.metrics.errors.labels(channel="telegram").inc()
            handling.error = type(exc).__name__
        finally:
            _current.reset(token)
        if handling.error is None:
            await self.inbox.done(entry.id)
            self._held.discard(entry.id)
            return
        wait = await self.inbox.failed(entry.id, handling.error)
        if wait is None:
            self._held.discard(entry.id)
            self.metrics.set_aside.labels(channel=Channel.TELEGRAM.value, reason=FAILED).inc()
            log.warning(
                "telegram update set aside: its handling failed every attempt",
                extra={"entry": entry.id, "error": handling.error},
            )
            return
        again = replace(entry, attempts=entry.attempts + 1)

        def try_again() -> None:
            self._retries.discard(timer)
            self._queue.put_nowait(again)

        timer = asyncio.get_running_loop().call_later(wait.total_seconds(), try_again)
        self._retries.add(timer)

    async def _set_aside(self, entry: Entry, error: str, reason: str) -> None:
        await self.inbox.set_aside(entry.id, error)
        self._held.discard(entry.id)
        self.metrics.set_aside.labels(channel=Channel.TELEGRAM.value, reason=reason).inc()
        log.warning(
            "telegram update set aside: unreadable", extra={"entry": entry.id, "error": error}
        )


class Poller:
    """getUpdates in a loop, in place of PTB's Updater: the offset that confirms a batch to
    Telegram moves past it only once the feed has stored it."""

    def __init__(
        self,
        bot: Bot,
        feed: Feed,
        *,
        timeout: int = POLL_TIMEOUT,
        allowed_updates: Sequence[str] = tuple(Update.ALL_TYPES),
        backoff: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        self.bot = bot
        self.feed = feed
        self.timeout = timeout
        self.allowed_updates = list(allowed_updates)
        self.backoff = backoff
        self.offset: int | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # A webhook left set (TELEGRAM_MODE was webhook) makes getUpdates answer 409.
        await self.bot.delete_webhook()
        self._task = asyncio.create_task(self._run(), name="telegram-polling")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self.offset is None:
            return
        # Confirm the last stored batch now, as PTB's Updater does on stopping: else Telegram
        # sends it again at the next start (a repeat the inbox recognises only while it still
        # holds those updates, an hour after their handling).
        try:
            await self.bot.do_api_request(
                "getUpdates",
                api_kwargs={"offset": self.offset, "timeout": 0, "limit": 1},
                read_timeout=READ_MARGIN,
            )
        except Exception as exc:
            log.info("telegram: last batch not confirmed", extra={"error": type(exc).__name__})

    async def _run(self) -> None:
        delay = self.backoff[0]
        while True:
            try:
                await self.poll_once()
            except Exception as exc:
                log.warning(
                    "telegram polling failed; trying again",
                    extra={"error": type(exc).__name__, "in_seconds": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])
                continue
            delay = self.backoff[0]

    async def poll_once(self) -> int:
        """One getUpdates: store what it brought, then move the offset past it; how many it
        brought. Raises (and the offset stays) when the call or the storing fails."""
        batch = await self.bot.do_api_request(
            "getUpdates",
            api_kwargs={
                "offset": self.offset,
                "timeout": self.timeout,
                "allowed_updates": self.allowed_updates,
            },
            read_timeout=self.timeout + READ_MARGIN,
        )
        updates = [
            update
            for update in (batch if isinstance(batch, list) else [])
            if isinstance(update, dict) and type(update.get("update_id")) is int
        ]
        if updates:
            await self.feed.receive(updates)
            self.offset = max(int(update["update_id"]) for update in updates) + 1
        return len(updates)
