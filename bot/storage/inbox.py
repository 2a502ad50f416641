"""Inbox queries: updates stored as they arrive, taken for handling under a lease, marked done
or set aside, purged once done. Never commits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.vocabulary import InboxStatus
from bot.storage.crypto import KeyError_, Vault
from bot.storage.models import InboundMessageRow, InboxRow, place


@dataclass(frozen=True)
class Taken:
    """A row taken for handling: its id, Telegram's update_id, the content (None when no key
    of DATA_KEY opens it any more) and the attempts that failed."""

    id: int
    update_id: int
    data: dict[str, Any] | None
    attempts: int


def seen_id(update_id: int) -> str:
    """How a handled Telegram update is remembered among inbound messages."""
    return f"telegram:{update_id}"


class InboxRows:
    """Queries on the inbox table within the caller's transaction."""

    def __init__(self, session: AsyncSession, vault: Vault) -> None:
        self.session = session
        self.vault = vault
        self.dialect = session.bind.dialect.name if session.bind else "sqlite"

    async def add(
        self, updates: Sequence[tuple[int, dict[str, Any]]], now: datetime, lease_until: datetime
    ) -> list[Taken]:
        """Store each (update_id, content) not stored yet, leased to the caller; the new ones,
        in update_id order. A repeat of a stored update_id changes nothing."""
        if not updates:
            return []
        # Handled and purged from the inbox since: remembered as seen (REPLAY_WINDOW), and a
        # repeat of one changes nothing either.
        seen = set(
            (
                await self.session.scalars(
                    select(InboundMessageRow.sid).where(
                        InboundMessageRow.sid.in_([seen_id(u) for u, _ in updates])
                    )
                )
            ).all()
        )
        updates = [(u, data) for u, data in updates if seen_id(u) not in seen]
        if not updates:
            return []
        module: Any = postgresql if self.dialect == "postgresql" else sqlite
        values = [
            {
                "update_id": update_id,
                # Sealed to Telegram's update_id: the row's own key, known before the insert.
                "body_cipher": self.vault.seal(
                    json.dumps(data, ensure_ascii=False), place(InboxRow.body_cipher, update_id)
                ),
                "status": InboxStatus.PENDING.value,
                "attempts": 0,
                "lease_until": lease_until,
                "received_at": now,
                "updated_at": now,
            }
            for update_id, data in updates
        ]
        statement = (
            module.insert(InboxRow)
            .values(values)
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(InboxRow.id, InboxRow.update_id)
        )
        result = await self.session.execute(statement)
        data_of = dict(updates)
        added = [Taken(row_id, update_id, data_of[update_id], 0) for row_id, update_id in result]
        return sorted(added, key=lambda taken: taken.update_id)

    async def take(self, now: datetime, lease_until: datetime, *, leased_too: bool) -> list[Taken]:
        """Lease pending rows to the caller, in arrival order: those no process holds, or with
        `leased_too` every pending row."""
        where: list[ColumnElement[bool]] = [InboxRow.status == InboxStatus.PENDING]
        if not leased_too:
            where.append(or_(InboxRow.lease_until.is_(None), InboxRow.lease_until <= now))
        result = await self.session.execute(
            update(InboxRow)
            .where(*where)
            .values(lease_until=lease_until)
            .returning(InboxRow.id, InboxRow.update_id, InboxRow.body_cipher, InboxRow.attempts)
            .execution_options(synchronize_session=False)
        )
        taken = [
            Taken(row_id, update_id, self.content(update_id, cipher), attempts)
            for row_id, update_id, cipher, attempts in result.all()
        ]
        return sorted(taken, key=lambda row: row.id)

    async def finish(self, row_id: int, now: datetime) -> None:
        await self.session.execute(
            update(InboxRow)
            .where(InboxRow.id == row_id)
            .values(status=InboxStatus.DONE, lease_until=None, updated_at=now)
        )

    async def fail(
        self, row_id: int, error: str, now: datetime, *, max_attempts: int, retry_at: datetime
    ) -> InboxRow | None:
        """Count a failed handling; at `max_attempts` the row is set aside, else it stays
        pending, leased until `retry_at`. The row as it now is (None: gone)."""
        row = await self.session.get(InboxRow, row_id, with_for_update=True)
        if row is None:
            return None
        row.attempts += 1
        row.error = error[:64]
        row.updated_at = now
        if row.attempts >= max_attempts:
            row.status = InboxStatus.SET_ASIDE
            row.lease_until = None
        else:
            row.lease_until = retry_at
        await self.session.flush()
        return row

    async def set_aside(self, row_id: int, error: str, now: datetime) -> None:
        await self.session.execute(
            update(InboxRow)
            .where(InboxRow.id == row_id)
            .values(
                status=InboxStatus.SET_ASIDE, error=error[:64], lease_until=None, updated_at=now
            )
        )

    async def release(self, row_id: int, now: datetime) -> bool:
        """A set-aside row back to pending, with its attempts counted from zero; False if the
        row is not set aside. The last error stays until the next handling says otherwise."""
        result = await self.session.execute(
            update(InboxRow)
            .where(InboxRow.id == row_id, InboxRow.status == InboxStatus.SET_ASIDE)
            .values(status=InboxStatus.PENDING, attempts=0, lease_until=None, updated_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def listing(self, statuses: Sequence[InboxStatus], limit: int) -> list[InboxRow]:
        """Rows in these statuses, oldest first, without decrypting anything."""
        found = await self.session.scalars(
            select(InboxRow)
            .where(InboxRow.status.in_([s.value for s in statuses]))
            .order_by(InboxRow.id)
            .limit(limit)
        )
        return list(found)

    async def counts(self) -> dict[str, int]:
        result = await self.session.execute(
            select(InboxRow.status, func.count()).group_by(InboxRow.status)
        )
        return {status: count for status, count in result.all()}

    async def remove_done(self, before: datetime, now: datetime) -> int:
        """Entries handled before then go, their content with them; their update_id is kept
        as seen (inbound_messages), so Telegram sending one again changes nothing."""
        done = [InboxRow.status == InboxStatus.DONE, InboxRow.updated_at < before]
        ids = list((await self.session.scalars(select(InboxRow.update_id).where(*done))).all())
        if not ids:
            return 0
        module: Any = postgresql if self.dialect == "postgresql" else sqlite
        await self.session.execute(
            module.insert(InboundMessageRow)
            .values([{"sid": seen_id(u), "received_at": now} for u in ids])
            .on_conflict_do_nothing(index_elements=["sid"])
        )
        result = await self.session.execute(delete(InboxRow).where(*done))
        return int(getattr(result, "rowcount", 0) or 0)

    def content(self, update_id: int, cipher: bytes) -> dict[str, Any] | None:
        """The update a row holds (None if it does not open)."""
        try:
            loaded = json.loads(self.vault.open(cipher, place(InboxRow.body_cipher, update_id)))
        except KeyError_:
            return None
        return loaded if isinstance(loaded, dict) else None
