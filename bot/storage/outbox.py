"""Outbox queries: enqueue deliveries in bulk, claim due ones, record outcomes. Never commits.

Why one module over 500 lines: these are the statements of one table's protocol (queue,
claim, fence, record, receipts, finish), and each relies on the states and columns the others
write; read together, the invariants that keep a row from being lost or sent twice are in
one place.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.vocabulary import (
    AlertKind,
    AlertStatus,
    Channel,
    ConsentAction,
    DeliveryStatus,
    SubscriberStatus,
)
from bot.storage.crypto import Vault
from bot.storage.models import (
    AlertRow,
    ConsentRow,
    CoordinatorRow,
    DeliveryRow,
    ReceiptRow,
    SubscriberRow,
    place,
)

ALL_ZONES = "all"
REACHED = (
    DeliveryStatus.QUEUED,
    DeliveryStatus.SENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
)
"""Deliveries that reached, or are about to reach, their subscriber."""
PENDING = (DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value)
ENQUEUE_CHUNK = 1000
"""Deliveries the approval of a large alert queues in its own transaction (the first sends
wait for it); workers queue the rest (`continue_enqueue`)."""
CONTINUE_CHUNK = 10_000
"""Deliveries a worker queues per transaction after the approval: a crash repeats at most one
(its inserts skip rows already there), and a million are queued in 100 transactions, not
1,000 (at 1,000 a chunk, 86-103 s while the worker sent)."""
QUEUED_CHANNEL = "rrbot_outbox"
"""PostgreSQL NOTIFY channel: told when a transaction that queued deliveries commits, so that
workers in other processes claim at once instead of at their next poll."""
"""Deliveries still to send (the partial index ix_deliveries_pending holds only these)."""


CLAIMED = (
    DeliveryRow.priority,
    DeliveryRow.id,
    DeliveryRow.alert_id,
    DeliveryRow.subscriber_id,
    DeliveryRow.channel,
    DeliveryRow.language,
    DeliveryRow.attempts,
    DeliveryRow.address_cipher,
    DeliveryRow.body_cipher,
    DeliveryRow.expires_at,
    DeliveryRow.coordinator_id,
)
"""What a claim reads of each delivery (sorted by the first two)."""

ACTIVE = SubscriberStatus.ACTIVE.value


@dataclass(frozen=True)
class Job:
    """A claimed delivery with what is needed to send it."""

    delivery_id: int
    subscriber_id: int | None  # None for a notice to someone who is not a subscriber
    channel: str
    language: str
    attempts: int
    address_cipher: bytes | None  # None: a subscriber opted out long ago (never sent)
    subscriber_status: str  # "active" for a notice to a non-subscriber
    texts: dict[str, str]  # an alert's texts by language; empty for a notice
    expires_at: datetime
    body_cipher: bytes | None = None  # a notice's sealed {"text", "buttons"}
    alert_id: int | None = None  # the alert it delivers; None for a notice
    address_where: str = ""  # where the address was sealed (its row: crypto.Vault.open)
    sms_texts: dict[str, str] = field(default_factory=dict)  # an alert's SMS, where different

    def text(self) -> str:
        """An alert's text for this person: their language (English if none), by SMS the
        SMS rendering where the alert has one."""
        own = self.sms_texts.get(self.language) if self.channel == "sms" else None
        fallback = self.sms_texts.get("en") if self.channel == "sms" else None
        return own or self.texts.get(self.language) or fallback or self.texts["en"]

    @property
    def body_where(self) -> str:
        return place(DeliveryRow.body_cipher, self.delivery_id)


ButtonRows = Sequence[Sequence[tuple[str, str]]]
"""Rows of (label, callback data): a notice's inline buttons (Telegram)."""


def seal_notice(
    vault: Vault,
    delivery_id: int,
    text: str,
    buttons: ButtonRows = (),
    photo: bytes | None = None,
    edits: str | None = None,
) -> bytes:
    """A notice's body as the outbox keeps it: JSON {"text", "buttons"} (and "photo", an
    image in base64, whose caption the text is; or "edits", the id of a message it replaces
    the text and buttons of), sealed to its row."""
    body: dict[str, object] = {
        "text": text,
        "buttons": [[[label, data] for label, data in row] for row in buttons],
    }
    if photo is not None:
        body["photo"] = base64.b64encode(photo).decode()
    if edits is not None:
        body["edits"] = edits
    return vault.seal(
        json.dumps(body, ensure_ascii=False), place(DeliveryRow.body_cipher, delivery_id)
    )


class NoticeBody(NamedTuple):
    text: str
    buttons: tuple[tuple[tuple[str, str], ...], ...]
    photo: bytes | None = None
    edits: str | None = None


def open_notice(vault: Vault, delivery_id: int, cipher: bytes) -> NoticeBody:
    """What `seal_notice` sealed: the text, the button rows and the photo."""
    body = json.loads(vault.open(cipher, place(DeliveryRow.body_cipher, delivery_id)))
    rows = tuple(
        tuple((str(label), str(data)) for label, data in row) for row in body.get("buttons", [])
    )
    photo = base64.b64decode(body["photo"]) if body.get("photo") else None
    edits = str(body["edits"]) if body.get("edits") else None
    return NoticeBody(str(body["text"]), rows, photo, edits)


@dataclass(frozen=True)
class Notice:
    """A message to one person that is not a broadcast: a report card, an outcome, a reminder."""

    channel: str
    language: str
    text: str
    expires_at: datetime
    buttons: ButtonRows = ()
    ref: str | None = None  # what it is about ("report:12")
    subscriber_id: int | None = None  # a subscriber: their address and status apply
    coordinator_id: int | None = None  # a coordinator: theirs (and none once removed)
    address: str | None = None  # anyone else: their address (sealed to the delivery)
    priority: int = 5  # ahead of bulk alerts
    due_at: datetime | None = None  # later than now: a scheduled notice
    photo: bytes | None = None  # an image (PNG) sent with the text as its caption (Telegram)
    edits: str | None = None  # a message already sent (Telegram): its text and buttons change


@dataclass(frozen=True)
class SentNotice:
    """A Telegram notice the provider accepted: where it went (sealed at `address_where`),
    its message id, and its body (sealed to the delivery), so it can be edited later."""

    delivery_id: int
    address_cipher: bytes
    address_where: str
    provider_id: str
    body_cipher: bytes
    coordinator_id: int | None = None  # the coordinator it reached, if it went to one


@dataclass(frozen=True)
class Update:
    """The outcome of one delivery, to be written back."""

    delivery_id: int
    status: DeliveryStatus
    provider_id: str | None = None
    error: str | None = None
    due_at: datetime | None = None  # for a retry
    attempts: int | None = None  # the claim it answers (None: whatever claim holds it)


class Outbox:
    """The deliveries table, within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.bind.dialect.name if session.bind else "sqlite"

    def _insert(self) -> Any:
        module: Any = postgresql if self.dialect == "postgresql" else sqlite
        return module.insert(DeliveryRow)

    async def enqueue_zones(
        self, alert_id: int, zones: Sequence[str], now: datetime, priority: int = 10
    ) -> int:
        """A delivery for every active subscriber in `zones` (or everyone), streamed in the database."""
        source = _rows(alert_id, priority, now).where(
            SubscriberRow.status == SubscriberStatus.ACTIVE
        )
        if ALL_ZONES not in zones:
            source = source.where(SubscriberRow.zone.in_(list(zones)))
        return await self._insert_from(source)

    async def enqueue_chunk(
        self, alert: AlertRow, now: datetime, priority: int, limit: int | None = None
    ) -> int:
        """Queue up to `limit` more of `alert`'s recipients from its cursor: zone by zone in
        the alert's order (its own zone before the neighbours a report added), by subscriber
        id; move the cursor, NULL once everyone is queued. A chunk run twice (a crash between
        its insert and the commit) queues nobody twice: the insert skips existing rows."""
        limit = limit or ENQUEUE_CHUNK
        queued = 0
        everyone = ALL_ZONES in alert.zones
        while alert.enqueue_phase is not None and queued < limit:
            phase = alert.enqueue_phase
            wanted = [SubscriberRow.status == SubscriberStatus.ACTIVE]
            if alert.drill:
                wanted.append(SubscriberRow.no_drills.is_(False))  # DRILLS OFF
            if not everyone:
                wanted.append(SubscriberRow.zone == alert.zones[phase])
            after = alert.enqueue_after
            chunk = (
                select(SubscriberRow.id)
                .where(*wanted, SubscriberRow.id > after)
                .order_by(SubscriberRow.id)
                .limit(limit - queued)
                .subquery()
            )
            last = await self.session.scalar(select(func.max(chunk.c.id)))
            if last is None:  # this zone is done: the next one, or the end
                following = phase + 1
                done = everyone or following >= len(alert.zones)
                alert.enqueue_phase, alert.enqueue_after = (None, 0) if done else (following, 0)
                continue
            # The chunk's own ids, not the range (after, last]: PostgreSQL walked that range
            # by primary key through every other zone's subscribers (0.28 s at a million).
            source = _rows(alert.id, priority, now).where(SubscriberRow.id.in_(select(chunk.c.id)))
            queued += await self._insert_from(source)
            alert.enqueue_after = last
        return queued

    async def continue_enqueue(self, now: datetime, limit: int | None = None) -> int:
        """One more chunk of an alert still being queued (the oldest; a row lock keeps two
        workers off the same alert). How many were queued; 0 when none is left."""
        alert = await self.session.scalar(
            select(AlertRow)
            .where(AlertRow.enqueue_phase.is_not(None), AlertRow.status == AlertStatus.QUEUED)
            .order_by(AlertRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if alert is None:
            return 0
        priority = await self.session.scalar(
            select(DeliveryRow.priority).where(DeliveryRow.alert_id == alert.id).limit(1)
        )
        priority = 10 if priority is None else priority
        queued = await self.enqueue_chunk(alert, now, priority, limit or CONTINUE_CHUNK)
        return max(queued, 1 if alert.enqueue_phase is not None else 0)

    async def enqueue_followers(
        self, alert_id: int, original_id: int, now: datetime, priority: int = 10
    ) -> int:
        """A delivery for everyone the original alert reached (or is reaching), still active."""
        source = (
            _rows(alert_id, priority, now)
            .join(DeliveryRow, SubscriberRow.id == DeliveryRow.subscriber_id)
            .where(
                DeliveryRow.alert_id == original_id,
                DeliveryRow.status.in_([s.value for s in REACHED]),
                SubscriberRow.status == SubscriberStatus.ACTIVE,
            )
        )
        return await self._insert_from(source)

    async def follow_late(self, delivery_ids: Sequence[int], now: datetime) -> int:
        """Sends that landed after a correction of their alert was queued (it stopped the
        rest of the original; these were already on their way, so they were not among its
        followers): the correction goes to them too. How many were queued."""
        if not delivery_ids:
            return 0
        original = aliased(DeliveryRow)
        followup = aliased(AlertRow)
        source = (
            select(
                followup.id,
                original.subscriber_id,
                original.channel,
                original.language,
                original.priority,
                literal(DeliveryStatus.QUEUED.value),
                literal(0),
                literal(now, DeliveryRow.due_at.type),
                literal(now, DeliveryRow.updated_at.type),
            )
            .select_from(original)
            .join(followup, followup.refers_to == original.alert_id)
            .where(
                original.id.in_(list(delivery_ids)),
                original.status == DeliveryStatus.SENT,
                original.subscriber_id.is_not(None),
                followup.kind == AlertKind.CORRECTION,
                followup.status.in_([AlertStatus.QUEUED.value, AlertStatus.DONE.value]),
            )
        )
        columns = [
            "alert_id", "subscriber_id", "channel", "language", "priority",
            "status", "attempts", "due_at", "updated_at",
        ]  # fmt: skip
        statement = (
            self._insert()
            .from_select(columns, source)
            .on_conflict_do_nothing()
            .returning(DeliveryRow.alert_id)
        )
        queued = Counter((await self.session.execute(statement)).scalars().all())
        for alert_id, n in queued.items():
            await self.session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(status=AlertStatus.QUEUED, recipients=AlertRow.recipients + n)
            )
        if queued:
            await self._announce()
        return sum(queued.values())

    async def _insert_from(self, source: Any) -> int:
        columns = [
            "alert_id", "subscriber_id", "channel", "language", "priority",
            "status", "attempts", "due_at", "updated_at",
        ]  # fmt: skip
        statement = self._insert().from_select(columns, source).on_conflict_do_nothing()
        result = await self.session.execute(statement)
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            await self._announce()
        return count

    async def _announce(self) -> None:
        # Delivered when (and only if) the caller's transaction commits. Once per transaction
        # (a session is one transaction here): a workshop announcement queues a notice per
        # subscriber, and PostgreSQL would fold the repeats into one anyway.
        if self.dialect == "postgresql" and not self.session.info.get(QUEUED_CHANNEL):
            self.session.info[QUEUED_CHANNEL] = True
            await self.session.execute(text(f"NOTIFY {QUEUED_CHANNEL}"))

    async def cancel_pending(self, alert_id: int, now: datetime, reason: str) -> int:
        """Deliveries of `alert_id` not yet handed to a provider are skipped (a correction):
        queued ones, and claimed ones too, since a worker confirms its claim (`confirm`) just
        before each send and a skipped row no longer confirms."""
        result = await self.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.alert_id == alert_id, DeliveryRow.status.in_(PENDING))
            .values(status=DeliveryStatus.SKIPPED, error=reason, lease_until=None, updated_at=now)
        )
        # An original still being queued is queued no further.
        await self.session.execute(
            update(AlertRow).where(AlertRow.id == alert_id).values(enqueue_phase=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def queued_notices(self, ref: str) -> list[DeliveryRow]:
        """Notices of `ref` still waiting for a worker (not claimed): their body may still
        change (`reseal`) before anything reads it."""
        found = await self.session.scalars(
            select(DeliveryRow).where(
                DeliveryRow.ref == ref, DeliveryRow.status == DeliveryStatus.QUEUED
            )
        )
        return list(found.all())

    @staticmethod
    def reseal(
        row: DeliveryRow, vault: Vault, text: str, buttons: ButtonRows, now: datetime
    ) -> None:
        row.body_cipher = seal_notice(vault, row.id, text, buttons)
        row.updated_at = now

    async def supersede(self, ref: str, now: datetime) -> int:
        """Notices of `ref` not yet handed to a provider are skipped: newer ones replace them
        (a card's edits: only the latest state should land, and two in flight at once could
        land in either order). How many."""
        result = await self.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.ref == ref, DeliveryRow.status.in_(PENDING))
            .values(
                status=DeliveryStatus.SKIPPED, error="superseded", lease_until=None, updated_at=now
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def drop_coordinator_notices(self, coordinator_id: int, now: datetime) -> int:
        """A removed coordinator's notices not yet handed to Telegram are skipped (claimed
        ones too: the claim's confirmation fails once the row is skipped). How many."""
        result = await self.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.coordinator_id == coordinator_id, DeliveryRow.status.in_(PENDING))
            .values(
                status=DeliveryStatus.SKIPPED, error="removed", lease_until=None, updated_at=now
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def confirm(
        self, worker: str, claims: Sequence[tuple[int, int]], now: datetime, lease: timedelta
    ) -> set[int]:
        """Of these (delivery id, attempts) claims, the ones `worker` still holds, their lease
        renewed: the fence before a send. A row another worker reclaimed (its attempts moved
        on), or a correction skipped, is not returned and must not be sent."""
        if not claims:
            return set()
        wanted = dict(claims)
        held = await self.session.execute(
            update(DeliveryRow)
            .where(
                DeliveryRow.id.in_(list(wanted)),
                DeliveryRow.worker == worker,
                DeliveryRow.status == DeliveryStatus.SENDING,
            )
            .values(lease_until=now + lease)
            .returning(DeliveryRow.id, DeliveryRow.attempts)
            .execution_options(synchronize_session=False)
        )
        return {id_ for id_, attempts in held.all() if wanted.get(id_) == attempts}

    async def renew(self, worker: str, ids: Sequence[int], now: datetime, lease: timedelta) -> int:
        """These rows, where `worker` still holds them, get their lease again (a heartbeat): a
        row waiting for its turn behind the pacing is not taken by a sibling while this
        worker lives and works on it."""
        if not ids:
            return 0
        result = await self.session.execute(
            update(DeliveryRow)
            .where(
                DeliveryRow.id.in_(list(ids)),
                DeliveryRow.worker == worker,
                DeliveryRow.status == DeliveryStatus.SENDING,
            )
            .values(lease_until=now + lease)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def give_up(self, max_attempts: int, now: datetime, *, channel: str) -> int:
        """Rows claimed `max_attempts` times and never recorded (each claim's worker died,
        perhaps on this very row) fail instead of being claimed for ever."""
        result = await self.session.execute(
            update(DeliveryRow)
            .where(
                DeliveryRow.channel == channel,
                DeliveryRow.status.in_(PENDING),
                DeliveryRow.attempts >= max_attempts,
                or_(
                    DeliveryRow.status == DeliveryStatus.QUEUED,
                    DeliveryRow.lease_until < now,
                ),
            )
            .values(
                status=DeliveryStatus.FAILED, error="attempts", lease_until=None, updated_at=now
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def claim(
        self,
        worker: str,
        limit: int,
        now: datetime,
        lease: timedelta,
        *,
        channel: str,
        max_attempts: int | None = None,
    ) -> list[Job]:
        """Take up to `limit` due deliveries (and ones whose worker's lease ran out); with
        `max_attempts`, never one claimed that often already (`give_up` fails those)."""
        due = or_(
            and_(DeliveryRow.status == DeliveryStatus.QUEUED, DeliveryRow.due_at <= now),
            and_(DeliveryRow.status == DeliveryStatus.SENDING, DeliveryRow.lease_until < now),
        )
        candidates = (
            select(DeliveryRow.id)
            # The status list repeats the partial index's predicate so the planner uses it.
            .where(
                DeliveryRow.channel == channel,
                DeliveryRow.status.in_(PENDING),
                due,
                *([DeliveryRow.attempts < max_attempts] if max_attempts is not None else []),
            )
            .order_by(DeliveryRow.priority, DeliveryRow.id)
            .limit(limit)
            # PostgreSQL: several workers claim disjoint rows. SQLite renders nothing here:
            # its one writer (and our in-process lock) makes claims exclusive anyway.
            .with_for_update(skip_locked=True)
        )
        # One statement takes the rows and returns them (UPDATE ... RETURNING); then the
        # subscribers' addresses, and each alert's texts once rather than per row.
        claimed = await self.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(candidates.scalar_subquery()))
            .values(
                status=DeliveryStatus.SENDING,
                worker=worker,
                lease_until=now + lease,
                attempts=DeliveryRow.attempts + 1,
                updated_at=now,
            )
            .returning(*CLAIMED)
            .execution_options(synchronize_session=False)
        )
        rows = sorted(claimed.all())  # RETURNING keeps no order: priority, then id
        if not rows:
            return []
        subscriber_ids = {row.subscriber_id for row in rows if row.subscriber_id is not None}
        subscribers: dict[int, tuple[bytes | None, str]] = {}
        if subscriber_ids:
            found = await self.session.execute(
                select(SubscriberRow.id, SubscriberRow.address_cipher, SubscriberRow.status).where(
                    SubscriberRow.id.in_(subscriber_ids)
                )
            )
            subscribers = {sid: (cipher, status) for sid, cipher, status in found}
        coordinator_ids = {row.coordinator_id for row in rows if row.coordinator_id is not None}
        coordinators: dict[int, tuple[bytes | None, str]] = {}
        if coordinator_ids:
            staff = await self.session.execute(
                select(
                    CoordinatorRow.id, CoordinatorRow.telegram_cipher, CoordinatorRow.active
                ).where(CoordinatorRow.id.in_(coordinator_ids))
            )
            coordinators = {
                cid: (cipher, ACTIVE if active else "removed") for cid, cipher, active in staff
            }
        alert_ids = {row.alert_id for row in rows if row.alert_id is not None}
        alerts: dict[int, tuple[dict[str, str], datetime, dict[str, str]]] = {}
        if alert_ids:
            texts_of = await self.session.execute(
                select(AlertRow.id, AlertRow.texts, AlertRow.expires_at, AlertRow.sms_texts).where(
                    AlertRow.id.in_(alert_ids)
                )
            )
            alerts = {
                aid: (texts, expires_at, sms or {}) for aid, texts, expires_at, sms in texts_of
            }
        jobs = []
        for row in rows:
            if row.subscriber_id is not None:
                address, status = subscribers[row.subscriber_id]
                where = place(SubscriberRow.address_cipher, row.subscriber_id)
            elif row.coordinator_id is not None:
                address, status = coordinators[row.coordinator_id]
                where = place(CoordinatorRow.telegram_cipher, row.coordinator_id)
            else:
                address, status = row.address_cipher, ACTIVE
                where = place(DeliveryRow.address_cipher, row.id)
            texts, expires_at, sms_texts = (
                alerts[row.alert_id] if row.alert_id is not None else ({}, row.expires_at, {})
            )
            jobs.append(
                Job(
                    row.id,
                    row.subscriber_id,
                    row.channel,
                    row.language,
                    row.attempts,
                    address,
                    status,
                    texts,
                    expires_at,
                    row.body_cipher,
                    row.alert_id,
                    where,
                    sms_texts,
                )
            )
        return jobs

    async def corrected(self, alert_ids: Sequence[int]) -> set[int]:
        """Which of these alerts a correction has stopped (one queued or sent since)."""
        if not alert_ids:
            return set()
        found = await self.session.scalars(
            select(AlertRow.refers_to).where(
                AlertRow.kind == AlertKind.CORRECTION,
                AlertRow.refers_to.in_(list(alert_ids)),
                AlertRow.status.in_([AlertStatus.QUEUED.value, AlertStatus.DONE.value]),
            )
        )
        return {alert_id for alert_id in found.all() if alert_id is not None}

    async def sent_notices(self, ref: str) -> list[SentNotice]:
        """The Telegram notices of this ref the provider accepted and a purge has not emptied."""
        found = await self.session.execute(
            select(
                DeliveryRow.id,
                DeliveryRow.address_cipher,
                DeliveryRow.coordinator_id,
                CoordinatorRow.telegram_cipher,
                DeliveryRow.provider_id,
                DeliveryRow.body_cipher,
            )
            .outerjoin(CoordinatorRow, CoordinatorRow.id == DeliveryRow.coordinator_id)
            .where(
                DeliveryRow.ref == ref,
                DeliveryRow.channel == Channel.TELEGRAM,
                DeliveryRow.provider_id.is_not(None),
                DeliveryRow.body_cipher.is_not(None),
            )
            .order_by(DeliveryRow.id)
        )
        sent = []
        for delivery_id, own, coordinator_id, staff, provider_id, body in found.all():
            address: bytes | None = own
            where = place(DeliveryRow.address_cipher, delivery_id)
            if coordinator_id is not None:
                address, where = staff, place(CoordinatorRow.telegram_cipher, coordinator_id)
            if address and provider_id and body is not None:
                sent.append(
                    SentNotice(delivery_id, address, where, provider_id, body, coordinator_id)
                )
        return sent

    async def enqueue_notice(self, notice: Notice, now: datetime, vault: Vault) -> int:
        """One notice in the outbox, in the caller's transaction (it goes if that commits);
        its text (and address) sealed to its row."""
        row = DeliveryRow(
            subscriber_id=notice.subscriber_id,
            coordinator_id=notice.coordinator_id,
            ref=notice.ref,
            expires_at=notice.expires_at,
            channel=notice.channel,
            language=notice.language,
            priority=notice.priority,
            status=DeliveryStatus.QUEUED,
            attempts=0,
            due_at=notice.due_at or now,
            updated_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        row.body_cipher = seal_notice(
            vault, row.id, notice.text, notice.buttons, notice.photo, notice.edits
        )
        if notice.address is not None:
            row.address_cipher = vault.seal(
                notice.address, place(DeliveryRow.address_cipher, row.id)
            )
        await self._announce()
        return row.id

    async def record(
        self, updates: Iterable[Update], now: datetime, worker: str | None = None
    ) -> None:
        """Write outcomes back, one executemany per kind. With `worker`, fenced: an outcome
        lands only where that worker's claim (its attempts) still holds. A send's outcome
        (sent, failed) also lands on a row a correction skipped while it was in flight (it
        did go out); a row handed back (queued again) only while still claimed."""
        final: list[dict[str, Any]] = []
        again: list[dict[str, Any]] = []
        for u in updates:
            row = {
                "b_id": u.delivery_id,
                "b_status": u.status.value,
                "b_provider_id": u.provider_id,
                "b_error": u.error,
                "b_due_at": u.due_at or now,
                "b_sent_at": now if u.status is DeliveryStatus.SENT else None,
                "b_attempts": u.attempts,
            }
            (again if u.status is DeliveryStatus.QUEUED else final).append(row)
        for rows, holding in (
            (final, (DeliveryStatus.SENDING.value, DeliveryStatus.SKIPPED.value)),
            (again, (DeliveryStatus.SENDING.value,)),
        ):
            if rows:
                await self._record(rows, now, worker, holding)

    async def _record(
        self,
        params: list[dict[str, Any]],
        now: datetime,
        worker: str | None,
        holding: tuple[str, ...],
    ) -> None:
        fence = []
        if worker is not None:
            # Every value per row or spelled out: executemany takes no expanding IN (...).
            for row in params:
                row["b_worker"] = worker
            fence = [
                DeliveryRow.worker == bindparam("b_worker"),
                or_(*(DeliveryRow.status == literal_column(f"'{status}'") for status in holding)),
                DeliveryRow.attempts == bindparam("b_attempts"),
            ]
        statement = (
            update(DeliveryRow)
            .where(DeliveryRow.id == bindparam("b_id"), *fence)
            .values(
                status=bindparam("b_status"),
                provider_id=func.coalesce(bindparam("b_provider_id"), DeliveryRow.provider_id),
                error=bindparam("b_error"),
                due_at=bindparam("b_due_at"),
                sent_at=func.coalesce(bindparam("b_sent_at"), DeliveryRow.sent_at),
                lease_until=None,
                updated_at=now,
            )
        )
        # Core executemany through the session's connection: one round trip per batch.
        connection = await self.session.connection()
        await connection.execute(statement, params)

    async def keep_receipt(
        self, provider_id: str, status: DeliveryStatus, error: str | None, now: datetime
    ) -> None:
        """A status report for a message no delivery names yet: kept for `apply_receipts`."""
        self.session.add(
            ReceiptRow(provider_id=provider_id, status=status.value, error=error, received_at=now)
        )
        await self.session.flush()

    async def apply_receipts(
        self, provider_ids: Sequence[str] | None, now: datetime
    ) -> list[tuple[int | None, str | None]]:
        """Kept receipts (of these messages, or all) whose delivery is now known are applied
        and removed; (subscriber id, error) of each, for the caller's opt-out handling."""
        if await self.session.scalar(select(ReceiptRow.id).limit(1)) is None:
            return []  # the usual case, answered without a list of ids to match
        query = select(ReceiptRow).order_by(ReceiptRow.id)
        if provider_ids is not None:
            wanted = [p for p in provider_ids if p]
            if not wanted:
                return []
            query = query.where(ReceiptRow.provider_id.in_(wanted))
        applied = []
        for receipt in (await self.session.scalars(query)).all():
            found = await self.set_status_by_provider_id(
                receipt.provider_id, DeliveryStatus(receipt.status), receipt.error, now
            )
            if found is not None:
                applied.append((found[1], receipt.error))
                await self.session.delete(receipt)
        return applied

    async def drop_receipts(self, before: datetime) -> int:
        """Receipts kept since before `before` that never found their delivery (not ours)."""
        result = await self.session.execute(
            delete(ReceiptRow).where(ReceiptRow.received_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def mark_unreachable(
        self, subscriber_ids: dict[int, str], now: datetime, via: str
    ) -> None:
        """Subscribers a provider said are gone (blocked, opted out): status and consent record."""
        for subscriber_id, status in subscriber_ids.items():
            await self.session.execute(
                update(SubscriberRow)
                .where(
                    SubscriberRow.id == subscriber_id,
                    SubscriberRow.status == SubscriberStatus.ACTIVE,
                )
                .values(status=status, status_changed_at=now)
            )
            action = (
                ConsentAction.OPT_OUT
                if status == SubscriberStatus.OPTED_OUT
                else ConsentAction.BLOCKED
            )
            self.session.add(
                ConsentRow(subscriber_id=subscriber_id, action=action, via=via, at=now)
            )

    async def stale_statistics(self, changed: int) -> bool:
        """PostgreSQL: whether more than `changed` rows of the outbox were written since the
        planner last sampled it (always False on SQLite, whose plans need no statistics)."""
        if self.dialect != "postgresql":
            return False
        mods = await self.session.scalar(
            text(
                "SELECT n_mod_since_analyze FROM pg_stat_user_tables"
                " WHERE relid = to_regclass(:name)"
            ),
            {"name": DeliveryRow.__tablename__},
        )
        return int(mods or 0) > changed

    async def gather_statistics(self) -> None:
        """PostgreSQL's ANALYZE of the outbox: a sample of rows, without blocking writers."""
        if self.dialect == "postgresql":
            await self.session.execute(text(f"ANALYZE {DeliveryRow.__tablename__}"))

    async def finish_alerts(self, now: datetime) -> list[int]:
        """Alerts with nothing left to send become done; their ids, for the composer's summary."""
        waiting = exists().where(
            DeliveryRow.alert_id == AlertRow.id,
            DeliveryRow.status.in_([DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value]),
        )
        done = list(
            (
                await self.session.scalars(
                    select(AlertRow.id).where(
                        AlertRow.status == AlertStatus.QUEUED,
                        AlertRow.enqueue_phase.is_(None),  # still being queued: not done
                        ~waiting,
                    )
                )
            ).all()
        )
        if done:
            await self.session.execute(
                update(AlertRow).where(AlertRow.id.in_(done)).values(status=AlertStatus.DONE)
            )
        return done

    async def counts(self, alert_id: int) -> dict[tuple[str, str], int]:
        """(channel, status) -> deliveries of one alert."""
        rows = await self.session.execute(
            select(DeliveryRow.channel, DeliveryRow.status, func.count())
            .where(DeliveryRow.alert_id == alert_id)
            .group_by(DeliveryRow.channel, DeliveryRow.status)
        )
        return {(channel, status): n for channel, status, n in rows.all()}

    async def set_status_by_provider_id(
        self, provider_id: str, status: DeliveryStatus, error: str | None, now: datetime
    ) -> tuple[int, int | None] | None:
        """A status callback: (delivery id, subscriber id if any), or None if no such message."""
        row = (
            await self.session.execute(
                select(DeliveryRow.id, DeliveryRow.subscriber_id, DeliveryRow.status).where(
                    DeliveryRow.provider_id == provider_id
                )
            )
        ).first()
        if row is None:
            return None
        delivery_id, subscriber_id, current = row
        if _rank(status) > _rank(DeliveryStatus(current)):
            await self.session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == delivery_id)
                .values(status=status, error=error, updated_at=now)
            )
        return delivery_id, subscriber_id


def _rows(alert_id: int, priority: int, now: datetime) -> Select[*tuple[Any, ...]]:
    """New deliveries of `alert_id` to subscribers, as a SELECT for INSERT ... SELECT."""
    return select(
        literal(alert_id),
        SubscriberRow.id,
        SubscriberRow.channel,
        SubscriberRow.language,
        literal(priority),
        literal(DeliveryStatus.QUEUED.value),
        literal(0),
        literal(now, DeliveryRow.due_at.type),
        literal(now, DeliveryRow.updated_at.type),
    )


def _rank(status: DeliveryStatus) -> int:
    """Callbacks arrive late, twice, or out of order: a status never moves backwards."""
    return {
        DeliveryStatus.QUEUED: 0,
        DeliveryStatus.SENDING: 1,
        DeliveryStatus.SENT: 2,
        DeliveryStatus.SKIPPED: 3,
        DeliveryStatus.FAILED: 3,
        DeliveryStatus.DELIVERED: 3,
    }[status]
