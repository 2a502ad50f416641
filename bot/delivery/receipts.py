"""Delivery receipts: a provider telling us later what became of a message (SMS status callbacks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.core.vocabulary import DeliveryStatus, SubscriberStatus
from bot.storage.db import Database
from bot.storage.deletions import DeletionRows
from bot.storage.outbox import Outbox

# Twilio's MessageStatus values, as our delivery states.
TWILIO_STATUS = {
    "accepted": DeliveryStatus.SENT,
    "scheduled": DeliveryStatus.SENT,
    "queued": DeliveryStatus.SENT,
    "sending": DeliveryStatus.SENT,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}
OPTED_OUT_CODES = {"21610"}
FINAL = {"delivered", "undelivered", "failed", "canceled"}  # no status comes after these
KEPT = timedelta(days=1)  # a receipt that finds no delivery in a day was never ours
RECHECKS = (0.0, 0.05, 0.1, 0.2, 0.4)  # seconds before each look for an early receipt's send


class Receipts:
    """Records late, duplicate or out-of-order status reports; a status never moves backwards.
    One that comes before the send's outcome is written (the provider can be quicker than the
    worker's group write) is kept and applied when the outcome lands (`Recorder`), or by
    `reconcile` in the upkeep."""

    def __init__(
        self, db: Database, clock: Callable[[], datetime], *, delete_after: timedelta | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        # With TWILIO_DELETE_MESSAGES: a message with its final status is deleted at Twilio
        # this long after (bot/delivery/deletions.py), in the receipt's own transaction.
        self.delete_after = delete_after

    async def twilio(self, message_sid: str, status: str, error_code: str | None) -> bool:
        """Whether the message was ours; unknown statuses are ignored."""
        mapped = TWILIO_STATUS.get(status.lower())
        if mapped is None or not message_sid:
            return False
        now = self.clock()
        error = f"twilio:{error_code}" if error_code else None
        async with self.db.transaction() as session:
            if self.delete_after is not None and status.lower() in FINAL:
                await DeletionRows(session).schedule([message_sid], now + self.delete_after)
            outbox = Outbox(session)
            found = await outbox.set_status_by_provider_id(message_sid, mapped, error, now)
            if found is None:
                await outbox.keep_receipt(message_sid, mapped, error, now)
            else:
                await opted_out(outbox, [(found[1], error)], now)
                return True
        # Kept. The send's outcome is written within the worker's group window (50 ms), and
        # its writer applies receipts it finds; one committed just after that writer looked
        # is applied here, looking again for a moment (the idle worker's tidy-up is the
        # backstop). Twilio waits up to 15 s for this answer.
        for pause in RECHECKS:
            await asyncio.sleep(pause)
            if await self.reconcile([message_sid]):
                break
        return True

    async def reply(self, message_sid: str, status: str) -> None:
        """A TwiML reply's status: once final, the reply is deleted at Twilio (a reply is no
        delivery: nothing else is recorded)."""
        if self.delete_after is None or not message_sid or status.lower() not in FINAL:
            return
        async with self.db.transaction() as session:
            await DeletionRows(session).schedule([message_sid], self.clock() + self.delete_after)

    async def reconcile(self, provider_ids: list[str] | None = None) -> int:
        """Apply kept receipts whose delivery is now known (of these messages, or all);
        drop those kept for a day (they were never ours). How many were applied."""
        now = self.clock()
        async with self.db.transaction() as session:
            outbox = Outbox(session)
            applied = await outbox.apply_receipts(provider_ids, now)
            await opted_out(outbox, applied, now)
            if provider_ids is None:
                await outbox.drop_receipts(now - KEPT)
        return len(applied)


async def opted_out(
    outbox: Outbox, applied: list[tuple[int | None, str | None]], now: datetime
) -> None:
    """Twilio's 21610 on a receipt: the number opted out at Twilio, so the subscriber did too."""
    gone = {
        subscriber_id: SubscriberStatus.OPTED_OUT.value
        for subscriber_id, error in applied
        if subscriber_id is not None
        and error is not None
        and error.removeprefix("twilio:") in OPTED_OUT_CODES
    }
    if gone:
        await outbox.mark_unreachable(gone, now, via="sms:twilio-21610")
