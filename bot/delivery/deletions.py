"""Nothing left at Twilio: it keeps From, To and Body of every message, and a records request
to Twilio would hand them over. With TWILIO_DELETE_MESSAGES (the default), every SMS is
deleted there (`DELETE …/Messages/{Sid}.json`):

- an inbound one once handled (scheduled before it is handled, so a crash loses none);
- a reply or an alert once its final status arrives (delivered, undelivered, failed);
- one Twilio accepted and never reported final, a day after it was accepted.

Each deletion is a row written in the transaction that knew of the message (the webhook's, the
receipt's, the upkeep's), so it survives a crash, and is removed once Twilio has deleted it.
Twilio refuses to delete a message it is still processing (error 20009) and advises waiting a
minute: deletions are due a minute after, and retried with backoff; one given up on after
MAX_ATTEMPTS stays in the table with its error, and the upkeep logs an error with the count
(to delete by hand in Twilio's console).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from bot.storage.db import Database
from bot.storage.deletions import DeletionRows

log = logging.getLogger(__name__)

DELAY = timedelta(minutes=1)  # Twilio: wait at least a minute after sending or receiving
UNFINISHED_AFTER = timedelta(days=1)  # no final status by then: none is coming
LEASE = timedelta(minutes=2)
BATCH = 50
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=6)
MAX_ATTEMPTS = 16  # about three days of retries


class Remover(Protocol):
    """The provider's side (TwilioSender)."""

    async def delete(self, sid: str) -> str | None:
        """Delete one message: None once it is no longer kept there (deleted now, or already
        gone), else the error to retry on."""

    async def close(self) -> None: ...


class Deletions:
    def __init__(
        self, db: Database, clock: Callable[[], datetime], *, enabled: bool = True
    ) -> None:
        self.db = db
        self.clock = clock
        self.enabled = enabled

    async def arrived(self, sid: str) -> bool:
        """An inbound message, before it is handled: False if its id was handled before (a
        signed request sent again: answer nothing, change nothing). The first time, its id is
        kept REPLAY_DAYS and, when deleting, it is scheduled for deletion at Twilio, in one
        transaction (the retention purge forgets ids after REPLAY_WINDOW). A message without
        an id is taken as new."""
        if not sid:
            return True
        now = self.clock()
        async with self.db.transaction() as session:
            rows = DeletionRows(session)
            if not await rows.first_sight(sid, now):
                return False
            if self.enabled:
                await rows.schedule([sid], now + DELAY)
        return True

    async def first_time(self, key: str) -> bool:
        """Whether `key` (a call's step that changes something: "CA…/report") comes for the
        first time; kept like an inbound message's id, nothing scheduled at Twilio."""
        async with self.db.transaction() as session:
            return await DeletionRows(session).first_sight(key, self.clock())

    async def schedule(self, sids: Sequence[str], *, after: timedelta = DELAY) -> None:
        """These messages are deleted at Twilio `after` from now (its own transaction)."""
        if not self.enabled or not any(sids):
            return
        async with self.db.transaction() as session:
            await DeletionRows(session).schedule(sids, self.clock() + after)

    async def run(self, remove: Remover) -> dict[str, int]:
        """One round: messages left unfinished for a day are scheduled, and due deletions are
        done. How many were deleted, retried, given up on and scheduled."""
        done = {"deleted": 0, "retried": 0, "given_up": 0, "unfinished": 0}
        now = self.clock()
        if not self.enabled:
            return done
        async with self.db.transaction() as session:
            rows = DeletionRows(session)
            unfinished = await rows.unfinished_sms(now - UNFINISHED_AFTER, limit=1000)
            if unfinished:
                await rows.schedule([sid for _, sid in unfinished], now)
                await rows.forget_provider_ids([i for i, _ in unfinished])
            done["unfinished"] = len(unfinished)
        async with self.db.transaction() as session:
            claimed = [(r.id, r.sid, r.attempts) for r in await DeletionRows(session).claim(
                now, LEASE, BATCH
            )]  # fmt: skip
        gone: list[int] = []
        failed: list[tuple[int, int, str]] = []
        for deletion_id, sid, attempts in claimed:
            error = await remove.delete(sid)
            if error is None:
                gone.append(deletion_id)
            else:
                failed.append((deletion_id, attempts, error))
        async with self.db.transaction() as session:
            rows = DeletionRows(session)
            await rows.done(gone)
            for deletion_id, attempts, error in failed:
                give_up = attempts + 1 >= MAX_ATTEMPTS
                wait = min(FIRST_RETRY * 2**attempts, LAST_RETRY)
                await rows.again(
                    deletion_id, now + wait, error, give_up_at=now if give_up else None
                )
                done["given_up" if give_up else "retried"] += 1
        done["deleted"] = len(gone)
        if failed:
            # The error codes only: a sid is no secret, but it is Twilio's key to a person.
            extra = {"errors": sorted({e for _, _, e in failed}), "count": len(failed)}
            if done["given_up"]:
                log.error("twilio deletions given up", extra={**extra, **done})
            else:
                log.warning("twilio deletions to retry", extra=extra)
        return done

    async def counts(self) -> tuple[int, int]:
        """(waiting, given up)."""
        async with self.db.transaction() as session:
            return await DeletionRows(session).counts()
