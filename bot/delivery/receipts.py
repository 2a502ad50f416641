"""Delivery receipts: a provider telling us later what became of a message (SMS status callbacks)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.core.vocabulary import DeliveryStatus, SubscriberStatus
from bot.storage.db import Database
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


class Receipts:
    """Records late, duplicate or out-of-order status reports; a status never moves backwards."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    async def twilio(self, message_sid: str, status: str, error_code: str | None) -> bool:
        """Whether the message was ours; unknown statuses are ignored."""
        mapped = TWILIO_STATUS.get(status.lower())
        if mapped is None or not message_sid:
            return False
        now = self.clock()
        error = f"twilio:{error_code}" if error_code else None
        async with self.db.transaction() as session:
            outbox = Outbox(session)
            found = await outbox.set_status_by_provider_id(message_sid, mapped, error, now)
            if found is None:
                return False
            _, subscriber_id = found
            if error_code in OPTED_OUT_CODES and subscriber_id is not None:
                await outbox.mark_unreachable(
                    {subscriber_id: SubscriberStatus.OPTED_OUT.value}, now, via="sms:twilio-21610"
                )
        return True
