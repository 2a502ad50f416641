"""The inbox: every update Telegram sends is stored here before Telegram is told it arrived, and
handled from here, so a crash or a restart between the two loses nothing.

An entry is pending from its arrival until its handling has finished (done), and is deleted an
hour after that: the inbox holds message text no longer than it needs to. One that cannot be
read, or whose handling failed three times, is set aside instead (encrypted, as every entry),
for an operator to list and hand back (`rrbot inbox list`, `rrbot inbox retry ID`), and the
ones after it go on. The process that stores an entry holds it under a lease while it handles
it; once a lease runs out (its process died, or an operator retried it) any process takes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.core.audit import Actor, record
from bot.core.vocabulary import InboxStatus
from bot.storage.crypto import Vault
from bot.storage.db import Database
from bot.storage.inbox import InboxRows, Taken

LEASE = timedelta(minutes=10)
"""How long a process holds an entry it took: far longer than a handling lasts (a reply that
meets 429s waits a few seconds), so a live process's entries are never taken from it."""
KEEP_DONE = timedelta(hours=1)
MAX_ATTEMPTS = 3
RETRY_DELAY = timedelta(seconds=1)
"""Before the second attempt; twice that before the third."""


@dataclass(frozen=True)
class Entry:
    """An update taken for handling: its entry id, Telegram's update_id, its content (None when
    no key of DATA_KEY opens it any more) and how many handlings of it failed so far."""

    id: int
    update_id: int
    data: dict[str, Any] | None
    attempts: int = 0

    @classmethod
    def of(cls, taken: Taken) -> Entry:
        return cls(taken.id, taken.update_id, taken.data, taken.attempts)


@dataclass(frozen=True)
class InboxItem:
    """An entry as an operator sees it: never its content."""

    id: int
    update_id: int
    status: InboxStatus
    attempts: int
    error: str | None
    received_at: datetime


class Inbox:
    """Store updates, hand them out for handling and record how it went, each call in its own
    transaction."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        clock: Callable[[], datetime],
        *,
        lease: timedelta = LEASE,
        keep_done: timedelta = KEEP_DONE,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.db = db
        self.vault = vault
        self.clock = clock
        self.lease = lease
        self.keep_done = keep_done
        self.max_attempts = max_attempts

    async def store(self, updates: Sequence[Mapping[str, Any]]) -> list[Entry]:
        """Keep these updates (JSON objects with an integer `update_id`) in one transaction.
        Returns the ones not stored before, now held by the caller, who handles them; a repeat
        of a stored update_id (handled, or being handled) returns nothing."""
        now = self.clock()
        unique = {int(update["update_id"]): dict(update) for update in updates}
        async with self.db.transaction() as session:
            added = await InboxRows(session, self.vault).add(
                list(unique.items()), now, now + self.lease
            )
        return [Entry.of(taken) for taken in added]

    async def take_all(self) -> list[Entry]:
        """Every pending entry, oldest first, now held by the caller: at start-up, what a crash
        or a stop left. Held by a live process too (the inbox cannot tell a dead one): where
        several processes receive updates, one starting may handle again what another has
        in flight at that moment."""
        return await self._take(leased_too=True)

    async def take_released(self) -> list[Entry]:
        """Pending entries no process holds any more (an operator's retry, a lease run out)."""
        return await self._take(leased_too=False)

    async def _take(self, *, leased_too: bool) -> list[Entry]:
        now = self.clock()
        async with self.db.transaction() as session:
            taken = await InboxRows(session, self.vault).take(
                now, now + self.lease, leased_too=leased_too
            )
        return [Entry.of(row) for row in taken]

    async def done(self, entry_id: int) -> None:
        """Its handling finished: the entry is deleted once KEEP_DONE has passed. Ahead of
        other writes: until it lands, a crash would have the update handled again."""
        async with self.db.transaction(urgent=True) as session:
            await InboxRows(session, self.vault).finish(entry_id, self.clock())

    async def failed(self, entry_id: int, error: str) -> timedelta | None:
        """Count a failed handling (`error` is an exception's type name, never its message).
        Returns how long the caller waits before trying again, or None: it failed for the last
        time and is set aside."""
        now = self.clock()
        async with self.db.transaction() as session:
            row = await InboxRows(session, self.vault).fail(
                entry_id,
                error,
                now,
                max_attempts=self.max_attempts,
                retry_at=now + RETRY_DELAY * self.max_attempts + self.lease,
            )
        if row is None or row.status != InboxStatus.PENDING:
            return None
        return RETRY_DELAY * row.attempts

    async def set_aside(self, entry_id: int, error: str) -> None:
        """It cannot be handled at all (unreadable): kept for an operator, never retried alone."""
        async with self.db.transaction() as session:
            await InboxRows(session, self.vault).set_aside(entry_id, error, self.clock())

    async def retry(self, entry_id: int, actor: Actor) -> bool:
        """Hand a set-aside entry back (a running bot takes it within seconds), with three
        attempts again. Audited. False when it is not set aside."""
        now = self.clock()
        async with self.db.transaction() as session:
            released = await InboxRows(session, self.vault).release(entry_id, now)
            if released:
                record(session, actor, "inbox.retry", f"inbox:{entry_id}", now)
        return released

    async def items(
        self,
        statuses: Sequence[InboxStatus] = (InboxStatus.PENDING, InboxStatus.SET_ASIDE),
        limit: int = 200,
    ) -> list[InboxItem]:
        async with self.db.transaction() as session:
            rows = await InboxRows(session, self.vault).listing(statuses, limit)
        return [
            InboxItem(r.id, r.update_id, InboxStatus(r.status), r.attempts, r.error, r.received_at)
            for r in rows
        ]

    async def counts(self) -> dict[InboxStatus, int]:
        async with self.db.transaction() as session:
            found = await InboxRows(session, self.vault).counts()
        return {status: found.get(status.value, 0) for status in InboxStatus}

    async def purge(self) -> int:
        """Delete entries done longer than KEEP_DONE ago (upkeep); how many."""
        async with self.db.transaction() as session:
            now = self.clock()
            return await InboxRows(session, self.vault).remove_done(now - self.keep_done, now)
