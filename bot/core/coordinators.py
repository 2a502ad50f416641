"""Coordinators and admins: who may compose, approve and send alerts."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.audit import Actor, record
from bot.core.content import DEFAULT_LANGUAGE
from bot.core.vocabulary import Channel, Role
from bot.storage.crypto import Vault
from bot.storage.db import Database
from bot.storage.models import CoordinatorRow, InviteRow
from bot.storage.outbox import ButtonRows, Notice, Outbox, seal_notice

INVITE_LIFETIME = timedelta(hours=24)
NOTICE_LIFETIME = timedelta(hours=24)  # a notice to coordinators undelivered by then is stale


class CoordinatorError(ValueError):
    """A coordinator operation that cannot be done; the message is safe to show."""


@dataclass(frozen=True)
class Coordinator:
    """A coordinator as the core sees one: no Telegram id."""

    id: int
    label: str
    role: Role
    on_duty: bool
    duty_zones: tuple[str, ...] = ()  # empty: every zone
    language: str | None = None  # chosen with /language; None: their Telegram app's

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def actor(self) -> Actor:
        return Actor(self.id, self.label)


def _of(row: CoordinatorRow) -> Coordinator:
    return Coordinator(
        row.id,
        row.label,
        Role(row.role),
        row.on_duty,
        tuple(row.duty_zones or ()),
        row.language,
    )


Rendering = Callable[[str | None], tuple[str, ButtonRows]]
"""A notice as one coordinator reads it, from their language (None: not chosen)."""


class Coordinators:
    """Adding, finding, listing and removing coordinators; invites that expire and work once."""

    def __init__(self, db: Database, vault: Vault, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.vault = vault
        self.clock = clock

    async def add(self, telegram_id: int, role: Role, label: str, by: Actor) -> Coordinator:
        now = self.clock()
        async with self.db.transaction() as session:
            row = await self._find(session, telegram_id)
            if row is not None and row.active:
                raise CoordinatorError(f"already a coordinator (#{row.id})")
            if row is None:
                row = CoordinatorRow(
                    telegram_index=self.vault.index(str(telegram_id)),
                    telegram_cipher=self.vault.encrypt(str(telegram_id)),
                    label=label,
                    role=role,
                    active=True,
                    on_duty=True,
                    added_at=now,
                )
                session.add(row)
            else:
                row.active, row.role, row.label, row.removed_at = True, role, label, None
            await session.flush()
            record(session, by, "coordinator.add", f"coordinator:{row.id}", now, role=str(role))
            return _of(row)

    async def remove(self, coordinator_id: int, by: Actor) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            row = await session.get(CoordinatorRow, coordinator_id)
            if row is None or not row.active:
                raise CoordinatorError(f"no active coordinator #{coordinator_id}")
            row.active, row.removed_at = False, now
            record(session, by, "coordinator.remove", f"coordinator:{row.id}", now)

    async def set_duty(
        self, coordinator_id: int, on: bool, zones: tuple[str, ...], by: Actor
    ) -> Coordinator:
        """On duty (for `zones`, or every zone when empty) or off: who gets new reports."""
        now = self.clock()
        async with self.db.transaction() as session:
            row = await session.get(CoordinatorRow, coordinator_id)
            if row is None or not row.active:
                raise CoordinatorError(f"no active coordinator #{coordinator_id}")
            row.on_duty, row.duty_zones = on, list(zones) if on else []
            record(
                session,
                by,
                "coordinator.duty",
                f"coordinator:{row.id}",
                now,
                on=on,
                zones=",".join(zones) or "all",
            )
            return _of(row)

    async def notify(
        self,
        message: str | Rendering,
        *,
        to: Sequence[int] | None = None,
        exclude: int | None = None,
        buttons: ButtonRows = (),
        ref: str | None = None,
    ) -> int:
        """A notice to coordinators (`to`, or every active one but `exclude`) through the
        outbox, so a crash cannot lose it. How many were queued."""
        now = self.clock()
        async with self.db.transaction() as session:
            query = select(CoordinatorRow).where(CoordinatorRow.active)
            if to is not None:
                query = query.where(CoordinatorRow.id.in_(list(to)))
            rows = [r for r in (await session.scalars(query)).all() if r.id != exclude]
            outbox = Outbox(session)
            for row in rows:
                text, rows_of_buttons = (
                    (message, buttons) if isinstance(message, str) else message(row.language)
                )
                await outbox.enqueue_notice(
                    Notice(
                        channel=Channel.TELEGRAM,
                        language=row.language or DEFAULT_LANGUAGE,
                        body_cipher=seal_notice(self.vault, text, rows_of_buttons),
                        expires_at=now + NOTICE_LIFETIME,
                        ref=ref,
                        address_cipher=row.telegram_cipher,
                        priority=1,
                    ),
                    now,
                )
            return len(rows)

    async def set_language(self, coordinator_id: int, language: str) -> None:
        """The language of the coordinator's screens and notices from now on."""
        async with self.db.transaction() as session:
            row = await session.get(CoordinatorRow, coordinator_id)
            if row is not None:
                row.language = language

    async def by_telegram(self, telegram_id: int) -> Coordinator | None:
        async with self.db.transaction() as session:
            row = await self._find(session, telegram_id)
            return _of(row) if row is not None and row.active else None

    async def all(self) -> list[Coordinator]:
        async with self.db.transaction() as session:
            rows = await session.scalars(
                select(CoordinatorRow).where(CoordinatorRow.active).order_by(CoordinatorRow.id)
            )
            return [_of(row) for row in rows]

    async def telegram_ids(self, *, on_duty_only: bool = False) -> dict[int, int]:
        """coordinator id -> Telegram chat id, for notifying them (decrypted here only)."""
        async with self.db.transaction() as session:
            query = select(CoordinatorRow).where(CoordinatorRow.active)
            if on_duty_only:
                query = query.where(CoordinatorRow.on_duty)
            rows = (await session.scalars(query)).all()
        return {row.id: int(self.vault.decrypt(row.telegram_cipher)) for row in rows}

    async def count(self) -> int:
        async with self.db.transaction() as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(CoordinatorRow).where(CoordinatorRow.active)
                )
                or 0
            )

    async def invite(self, role: Role, by: Actor) -> str:
        """A one-time code (valid 24 hours) a new coordinator sends to the bot."""
        code = secrets.token_urlsafe(9)
        now = self.clock()
        async with self.db.transaction() as session:
            session.add(
                InviteRow(
                    code_index=self.vault.index(f"invite:{code}"),
                    role=role,
                    created_by=by.coordinator_id,
                    created_at=now,
                    expires_at=now + INVITE_LIFETIME,
                )
            )
            record(session, by, "coordinator.invite", f"role:{role}", now)
        return code

    async def redeem(self, code: str, telegram_id: int, label: str) -> Coordinator:
        now = self.clock()
        async with self.db.transaction() as session:
            invite = await session.scalar(
                select(InviteRow).where(InviteRow.code_index == self.vault.index(f"invite:{code}"))
            )
            if invite is None or invite.used_at is not None or invite.expires_at <= now:
                raise CoordinatorError("that invite code is not valid (used, expired or mistyped)")
            row = await self._find(session, telegram_id)
            if row is not None and row.active:
                raise CoordinatorError("you are already a coordinator")
            if row is None:
                row = CoordinatorRow(
                    telegram_index=self.vault.index(str(telegram_id)),
                    telegram_cipher=self.vault.encrypt(str(telegram_id)),
                    label=label,
                    role=invite.role,
                    active=True,
                    on_duty=True,
                    added_at=now,
                )
                session.add(row)
            else:
                row.active, row.role, row.label, row.removed_at = True, invite.role, label, None
            await session.flush()
            invite.used_at, invite.used_by = now, row.id
            record(
                session, Actor(row.id, label), "coordinator.join", f"coordinator:{row.id}", now,
                invite=invite.id,
            )  # fmt: skip
            return _of(row)

    async def _find(self, session: AsyncSession, telegram_id: int) -> CoordinatorRow | None:
        return await session.scalar(
            select(CoordinatorRow).where(
                CoordinatorRow.telegram_index.in_(self.vault.indexes(str(telegram_id)))
            )
        )
