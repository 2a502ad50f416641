"""Coordinator queries: find by Telegram id through the blind index, list, count, invites.
Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.vocabulary import Role
from bot.storage.crypto import Purpose, Vault
from bot.storage.models import CoordinatorRow, InviteRow, place


class CoordinatorRows:
    """Queries on coordinators and their invites within the caller's transaction."""

    def __init__(self, session: AsyncSession, vault: Vault) -> None:
        self.session = session
        self.vault = vault

    async def find(self, telegram_id: int) -> CoordinatorRow | None:
        """The coordinator (active or removed) with this Telegram id, under any DATA_KEY (one
        found under an older key or index is moved to the newest as we pass)."""
        indexes = self.vault.indexes(str(telegram_id), Purpose.COORDINATOR)
        row = await self.session.scalar(
            select(CoordinatorRow).where(CoordinatorRow.telegram_index.in_(indexes))
        )
        if row is not None and row.telegram_index != indexes[0]:
            row.telegram_index = indexes[0]
            row.telegram_cipher = self._seal(telegram_id, row.id)
        return row

    async def get(self, coordinator_id: int) -> CoordinatorRow | None:
        return await self.session.get(CoordinatorRow, coordinator_id)

    async def add(
        self, telegram_id: int, *, role: Role, label: str, now: datetime
    ) -> CoordinatorRow:
        """A new active coordinator, on duty, flushed so it has its id."""
        row = CoordinatorRow(
            telegram_index=self.vault.index(str(telegram_id), Purpose.COORDINATOR),
            telegram_cipher=b"",  # sealed to the row once it has its id
            label=label,
            role=role,
            active=True,
            on_duty=True,
            added_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        row.telegram_cipher = self._seal(telegram_id, row.id)
        return row

    def _seal(self, telegram_id: int, coordinator_id: int) -> bytes:
        return self.vault.seal(
            str(telegram_id), place(CoordinatorRow.telegram_cipher, coordinator_id)
        )

    async def active(
        self, *, ids: Sequence[int] | None = None, on_duty_only: bool = False
    ) -> list[CoordinatorRow]:
        """The active coordinators (only those of `ids`, or on duty, if asked), by id."""
        query = select(CoordinatorRow).where(CoordinatorRow.active)
        if ids is not None:
            query = query.where(CoordinatorRow.id.in_(list(ids)))
        if on_duty_only:
            query = query.where(CoordinatorRow.on_duty)
        return list((await self.session.scalars(query.order_by(CoordinatorRow.id))).all())

    async def count_active(self) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(CoordinatorRow).where(CoordinatorRow.active)
        )
        return int(count or 0)

    def telegram_id_of(self, row: CoordinatorRow) -> int:
        return int(
            self.vault.open(row.telegram_cipher, place(CoordinatorRow.telegram_cipher, row.id))
        )

    def add_invite(
        self, code: str, *, role: Role, created_by: int | None, now: datetime, expires_at: datetime
    ) -> None:
        """An invite; only its code's HMAC is kept."""
        self.session.add(
            InviteRow(
                code_index=self._invite_index(code),
                role=role,
                created_by=created_by,
                created_at=now,
                expires_at=expires_at,
            )
        )

    async def find_invite(self, code: str, *, lock: bool = False) -> InviteRow | None:
        """The invite; with `lock`, held until the transaction ends, so that two people
        redeeming one code at once redeem it one after the other (one wins)."""
        query = select(InviteRow).where(
            InviteRow.code_index.in_(self.vault.indexes(code, Purpose.INVITE))
        )
        return await self.session.scalar(query.with_for_update() if lock else query)

    async def revoke_invites(self, created_by: int, now: datetime) -> int:
        """End the unused invites a coordinator made; how many."""
        result = await self.session.execute(
            update(InviteRow)
            .where(
                InviteRow.created_by == created_by,
                InviteRow.used_at.is_(None),
                InviteRow.expires_at > now,
            )
            .values(expires_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def _invite_index(self, code: str) -> str:
        return self.vault.index(code, Purpose.INVITE)
