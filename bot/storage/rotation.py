"""`rrbot keys rotate`: every stored value sealed anew under the newest key of DATA_KEY, and
every blind index that can be made again made under it, so the older keys can be removed.

The index roots of the older keys are stored first (sealed under the newest): indexes that
cannot be made again, because their plaintext is not kept (a blocked sender, an opted-out
number whose cipher the retention dropped, an invite), are still recognised after those keys
have left DATA_KEY. Then each column is walked in batches of its row's key, a transaction per
batch; a value already under the newest key is left alone, so a rotation stopped anywhere (even
by SIGKILL) goes on where it was when run again. Processes keep running meanwhile with
`DATA_KEY=new,old`: what they write is already under the new key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute

from bot.storage.crypto import Purpose, Vault
from bot.storage.db import Database
from bot.storage.models import (
    CoordinatorRow,
    DeliveryRow,
    FlowRow,
    HotlineVolunteerRow,
    InboxRow,
    KeyCheckRow,
    ReportRow,
    RetiredIndexKeyRow,
    SubscriberRow,
    place,
)
from bot.storage.reports import reporter_key

BATCH = 500

Progress = Callable[[str, int, int], None]
"""(column, done, total): told after each batch."""


@dataclass(frozen=True)
class Column:
    """A sealed column, the column that keys its rows (the seal names it), and the blind index
    made from the same value, if any."""

    cipher: InstrumentedAttribute[Any]
    key: InstrumentedAttribute[Any]
    index: InstrumentedAttribute[Any] | None = None
    purpose: Purpose | None = None
    indexed: Callable[[Any, str], str] = lambda row, value: value

    @property
    def name(self) -> str:
        return f"{self.cipher.class_.__tablename__}.{self.cipher.key}"


COLUMNS = (
    Column(
        SubscriberRow.address_cipher,
        SubscriberRow.id,
        SubscriberRow.address_index,
        Purpose.SUBSCRIBER,
    ),
    Column(
        CoordinatorRow.telegram_cipher,
        CoordinatorRow.id,
        CoordinatorRow.telegram_index,
        Purpose.COORDINATOR,
    ),
    Column(
        ReportRow.reporter_cipher,
        ReportRow.id,
        ReportRow.reporter_index,
        Purpose.REPORTER,
        lambda row, value: reporter_key(row.channel, value),
    ),
    Column(ReportRow.details_cipher, ReportRow.id),
    Column(ReportRow.photo_cipher, ReportRow.id),
    Column(FlowRow.data_cipher, FlowRow.coordinator_id),
    Column(HotlineVolunteerRow.phone_cipher, HotlineVolunteerRow.id),
    Column(DeliveryRow.address_cipher, DeliveryRow.id),
    Column(DeliveryRow.body_cipher, DeliveryRow.id),
    Column(InboxRow.body_cipher, InboxRow.update_id),
    Column(KeyCheckRow.cipher, KeyCheckRow.id),
    Column(RetiredIndexKeyRow.root_cipher, RetiredIndexKeyRow.id),
)


def _fingerprint(root: bytes) -> str:
    return hmac.new(root, b"rrbot retired index key", hashlib.sha256).hexdigest()


async def load_retired(db: Database, vault: Vault) -> None:
    """Give `vault` the index roots earlier rotations retired (at every process's start)."""
    async with db.transaction() as session:
        rows = (await session.scalars(select(RetiredIndexKeyRow))).all()
        vault.retire(
            [
                bytes.fromhex(
                    vault.open(row.root_cipher, place(RetiredIndexKeyRow.root_cipher, row.id))
                )
                for row in rows
            ]
        )


async def retire_older_keys(db: Database, vault: Vault) -> int:
    """Store the index roots of every key but the newest (once each). How many were new."""
    stored = 0
    for root in vault.roots_to_retire():
        fingerprint = _fingerprint(root)
        async with db.transaction() as session:
            exists = await session.scalar(
                select(RetiredIndexKeyRow.id).where(RetiredIndexKeyRow.fingerprint == fingerprint)
            )
            if exists is not None:
                continue
            row = RetiredIndexKeyRow(
                fingerprint=fingerprint, root_cipher=b"", retired_at=datetime.now(UTC)
            )
            session.add(row)
            await session.flush()
            row.root_cipher = vault.seal(root.hex(), place(RetiredIndexKeyRow.root_cipher, row.id))
            stored += 1
    await load_retired(db, vault)
    return stored


async def rotate(db: Database, vault: Vault, progress: Progress | None = None) -> dict[str, int]:
    """Seal every value anew under the newest key and remake its index. How many per column."""
    await retire_older_keys(db, vault)
    done: dict[str, int] = {}
    for column in COLUMNS:
        done[column.name] = await _rotate_column(db, vault, column, progress)
    return done


async def remaining(db: Database, vault: Vault) -> int:
    """How many stored values are not yet under the newest key."""
    left = 0
    for column in COLUMNS:
        async with db.transaction() as session:
            values = await session.scalars(select(column.cipher).where(column.cipher.is_not(None)))
            left += sum(1 for value in values if value and not vault.current(value))
    return left


async def _rotate_column(
    db: Database, vault: Vault, column: Column, progress: Progress | None
) -> int:
    model = column.cipher.class_
    async with db.transaction() as session:
        total = int(
            await session.scalar(
                select(func.count()).select_from(model).where(column.cipher.is_not(None))
            )
            or 0
        )
    after: Any = None
    seen = changed = 0
    while True:
        async with db.transaction() as session:
            query = select(model).where(column.cipher.is_not(None)).order_by(column.key)
            if after is not None:
                query = query.where(column.key > after)
            rows = (await session.scalars(query.limit(BATCH).with_for_update())).all()
            if not rows:
                break
            for row in rows:
                key = getattr(row, column.key.key)
                value = getattr(row, column.cipher.key)
                if not value or vault.current(value):
                    continue
                where = place(column.cipher, key)
                plain = vault.open(value, where)
                setattr(row, column.cipher.key, vault.seal(plain, where))
                if column.index is not None and column.purpose is not None:
                    made = vault.index(column.indexed(row, plain), column.purpose)
                    setattr(row, column.index.key, made)
                changed += 1
            after = getattr(rows[-1], column.key.key)
            seen += len(rows)
        if progress is not None:
            progress(column.name, seen, total)
    return changed
