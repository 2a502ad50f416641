"""Retention for everything, and forgetting one person on request.

The upkeep's `purge` keeps each kind of record only as long as the network needs it:

- a number (or chat id) that opted out or blocked the bot: its cipher goes after
  OPTOUT_RETENTION_DAYS; the blind index stays, so the opt-out is still honoured and a later
  START finds the row (and writes the cipher again);
- deliveries of an alert, and notices (cards, reminders, outcomes), after
  DELIVERY_RETENTION_DAYS: whom they went to, the provider's id, the text and address go;
  status, channel, language and times stay for the counts;
- RSVPs, RSVP_RETENTION_DAYS after their workshop started;
- consent records after CONSENT_RETENTION_DAYS, except each subscriber's latest.

Report text and reporters have their own (REPORT_RETENTION_DAYS, bot/core/reports.py).

`forget` removes everything linked to one phone number or Telegram id (`rrbot forget`): the
subscription and its history, their deliveries (and the messages at Twilio), RSVPs, the
reporter link of their reports, a block on them, and Telegram updates still held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.audit import Actor, record
from bot.core.cards import card_ref
from bot.core.reporting import reporter_key
from bot.core.vocabulary import Channel
from bot.storage.crypto import Purpose, Vault
from bot.storage.db import Database
from bot.storage.deletions import REPLAY_WINDOW, DeletionRows
from bot.storage.reports import ReportRows
from bot.storage.retention import RetentionRows
from bot.storage.subscribers import Subscribers

ALERTS_PER_ROUND = 20  # a round's work stays short; the next round goes on
EVERY = timedelta(hours=1)  # a round scans subscribers and consents: hourly is plenty


@dataclass(frozen=True)
class Periods:
    optouts: timedelta = timedelta(days=30)
    deliveries: timedelta = timedelta(days=30)
    rsvps: timedelta = timedelta(days=30)
    consents: timedelta = timedelta(days=1461)


class Retention:
    def __init__(
        self,
        db: Database,
        vault: Vault,
        clock: Callable[[], datetime],
        periods: Periods = Periods(),
        *,
        delete_at_twilio: timedelta | None = None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.clock = clock
        self.periods = periods
        # With TWILIO_DELETE_MESSAGES: a forgotten person's messages are deleted at Twilio.
        self.delete_at_twilio = delete_at_twilio
        self._last: datetime | None = None

    async def due_purge(self) -> dict[str, int]:
        """`purge`, at most once an EVERY in this process (the upkeep ticks every minute)."""
        now = self.clock()
        if self._last is not None and now - self._last < EVERY:
            return {}
        self._last = now
        return await self.purge()

    async def purge(self) -> dict[str, int]:
        """One round (idempotent: several workers may run it at once). How many of each."""
        now = self.clock()
        p = self.periods
        done: dict[str, int] = {}
        async with self.db.transaction() as session:
            rows = RetentionRows(session)
            done["optout_numbers"] = await rows.drop_optout_ciphers(now - p.optouts)
            done["rsvps"] = await rows.drop_rsvps(now - p.rsvps)
            done["consents"] = await rows.drop_consents(now - p.consents)
            done["seen_ids"] = await DeletionRows(session).forget_seen(now - REPLAY_WINDOW)
        async with self.db.transaction() as session:
            done["notices"] = await RetentionRows(session).forget_notices(now - p.deliveries)
        async with self.db.transaction() as session:
            alerts = await RetentionRows(session).alerts_to_purge(
                now - p.deliveries, ALERTS_PER_ROUND
            )
        done["deliveries"] = 0
        for alert_id in alerts:
            while True:  # a chunk per transaction: a million rows never hold one lock
                async with self.db.transaction() as session:
                    rows = RetentionRows(session)
                    forgotten = await rows.forget_alert_deliveries(alert_id)
                    done["deliveries"] += forgotten
                    if forgotten == 0:
                        await rows.mark_purged(alert_id, now)
                        break
        if any(done.values()):
            async with self.db.transaction() as session:
                record(session, Actor.system(), "retention.purge", "everything", now, **done)
        return done

    async def forget(self, channel: Channel, address: str, by: Actor) -> dict[str, int]:
        """Everything linked to this address (an E.164 number, or a Telegram id as text)."""
        now = self.clock()
        async with self.db.transaction() as session:
            rows = RetentionRows(session)
            reports = ReportRows(session)
            subscriber = await Subscribers(session, self.vault).find(channel, address)
            reporter_indexes = self.vault.indexes(reporter_key(channel, address), Purpose.REPORTER)
            report_ids = await reports.by_reporter(reporter_indexes)
            refs = [r for i in report_ids for r in (f"report:{i}", card_ref(i))]
            sids = await rows.provider_ids(subscriber.id if subscriber else None, refs)
            if sids and self.delete_at_twilio is not None and channel is Channel.SMS:
                await DeletionRows(session).schedule(sids, now + self.delete_at_twilio)
            done = {"subscriptions": 0, "deliveries": 0, "rsvps": 0, "consents": 0}
            if subscriber is not None:
                done.update(await rows.remove_subscriber(subscriber.id))
                done["subscriptions"] = 1
            if report_ids:
                await reports.purge(report_ids, now)
                await reports.forget_notices(refs)
            done["reports"] = len(report_ids)
            done["blocks"] = await rows.remove_blocks(reporter_indexes)
            done["telegram_updates"] = (
                await rows.remove_inbox_of(self.vault, int(address))
                if channel is Channel.TELEGRAM
                else 0
            )
            done["twilio_messages"] = len(sids) if self.delete_at_twilio is not None else 0
            # The entry says what was removed, never whose it was.
            record(session, by, "person.forget", str(channel), now, **done)
            return done
