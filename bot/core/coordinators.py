"""Coordinators and admins: who may compose, approve and send alerts."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.audit import Actor, record
from bot.core.content import DEFAULT_LANGUAGE
from bot.core.errors import Explained
from bot.core.i18n import N_
from bot.core.signoffs import SignOff, SignOffs
from bot.core.vocabulary import Channel, Role, SignOffAction
from bot.storage.coordinators import CoordinatorRows
from bot.storage.crypto import Vault
from bot.storage.db import Database, Session
from bot.storage.models import CoordinatorRow
from bot.storage.outbox import ButtonRows, Notice, Outbox, open_notice

INVITE_LIFETIME = timedelta(hours=24)
NOTICE_LIFETIME = timedelta(hours=24)  # a notice to coordinators undelivered by then is stale


@dataclass(frozen=True)
class SentNotice:
    """A notice as it sits in a coordinator's chat: where, which message, what it says."""

    chat_id: int
    message_id: int
    text: str


class CoordinatorError(Explained):
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

    def __init__(
        self,
        db: Database,
        vault: Vault,
        clock: Callable[[], datetime],
        signoffs: SignOffs | None = None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.clock = clock
        # Removing a coordinator and making an admin need a second admin (bot.core.signoffs).
        self.signoffs = signoffs or SignOffs(db, clock)
        self.signoffs.executes(SignOffAction.REMOVE, self._granted_removal)
        self.signoffs.executes(SignOffAction.ADMIN, self._granted_admin)

    async def add(self, telegram_id: int, role: Role, label: str, by: Actor) -> Coordinator:
        now = self.clock()
        async with self.db.transaction() as session:
            rows = CoordinatorRows(session, self.vault)
            row = await rows.find(telegram_id)
            if row is not None and row.active:
                raise CoordinatorError(N_("already a coordinator (#{id})"), id=row.id)
            if row is None:
                row = await rows.add(telegram_id, role=role, label=label, now=now)
            else:
                row.active, row.role, row.label, row.removed_at = True, role, label, None
            record(session, by, "coordinator.add", f"coordinator:{row.id}", now, role=str(role))
            return _of(row)

    async def remove(self, coordinator_id: int, by: Actor) -> SignOff | None:
        """Remove a coordinator: at once from the operator's CLI; from an admin, once a second
        admin agrees (the request is returned, and nothing changes until then)."""
        now = self.clock()
        async with self.db.transaction() as session:
            row = await self._active(session, coordinator_id)
            if await self.signoffs.required(session, SignOffAction.REMOVE, by):
                if row.id == by.coordinator_id:
                    raise CoordinatorError(N_("another admin would have to remove you"))
                return await self.signoffs.ask(session, SignOffAction.REMOVE, row.id, by, now)
            await self._remove(session, row.id, by, now)
            return None

    async def _remove(
        self, session: Session, coordinator_id: int, by: Actor, now: datetime
    ) -> None:
        """They lose everything at once: their role, the invites they handed out and have not
        been used, and the notices still queued to them (cards, approval requests)."""
        row = await self._active(session, coordinator_id)
        row.active, row.removed_at = False, now
        revoked = await CoordinatorRows(session, self.vault).revoke_invites(row.id, now)
        dropped = await Outbox(session).drop_coordinator_notices(row.id, now)
        record(
            session, by, "coordinator.remove", f"coordinator:{row.id}", now,
            invites=revoked, notices=dropped,
        )  # fmt: skip

    async def _granted_removal(
        self, session: Session, sign_off: SignOff, by: Actor, now: datetime
    ) -> None:
        await self._remove(session, sign_off.subject, by, now)

    async def _active(self, session: Session, coordinator_id: int) -> CoordinatorRow:
        row = await CoordinatorRows(session, self.vault).get(coordinator_id)
        if row is None or not row.active:
            raise CoordinatorError(N_("no active coordinator #{id}"), id=coordinator_id)
        return row

    async def set_duty(
        self, coordinator_id: int, on: bool, zones: tuple[str, ...], by: Actor
    ) -> Coordinator:
        """On duty (for `zones`, or every zone when empty) or off: who gets new reports."""
        now = self.clock()
        async with self.db.transaction() as session:
            row = await CoordinatorRows(session, self.vault).get(coordinator_id)
            if row is None or not row.active:
                raise CoordinatorError(N_("no active coordinator #{id}"), id=coordinator_id)
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
        photo: bytes | None = None,
    ) -> int:
        """A notice to coordinators (`to`, or every active one but `exclude`) through the
        outbox, so a crash cannot lose it (with `photo`, an image the text is the caption
        of). How many were queued."""
        now = self.clock()
        async with self.db.transaction() as session:
            active = await CoordinatorRows(session, self.vault).active(ids=to)
            rows = [r for r in active if r.id != exclude]
            outbox = Outbox(session)
            for row in rows:
                text, rows_of_buttons = (
                    (message, buttons) if isinstance(message, str) else message(row.language)
                )
                await outbox.enqueue_notice(
                    Notice(
                        channel=Channel.TELEGRAM,
                        language=row.language or DEFAULT_LANGUAGE,
                        text=text,
                        buttons=rows_of_buttons,
                        expires_at=now + NOTICE_LIFETIME,
                        ref=ref,
                        coordinator_id=row.id,  # their chat, from their row when it is sent
                        priority=1,
                        photo=photo,
                    ),
                    now,
                    self.vault,
                )
            return len(rows)

    async def set_language(self, coordinator_id: int, language: str) -> None:
        """The language of the coordinator's screens and notices from now on."""
        async with self.db.transaction() as session:
            row = await CoordinatorRows(session, self.vault).get(coordinator_id)
            if row is not None:
                row.language = language

    async def by_telegram(self, telegram_id: int) -> Coordinator | None:
        async with self.db.transaction() as session:
            row = await CoordinatorRows(session, self.vault).find(telegram_id)
            return _of(row) if row is not None and row.active else None

    async def all(self) -> list[Coordinator]:
        async with self.db.transaction() as session:
            return [_of(row) for row in await CoordinatorRows(session, self.vault).active()]

    async def telegram_ids(self, *, on_duty_only: bool = False) -> dict[int, int]:
        """coordinator id -> Telegram chat id, for notifying them (decrypted here only)."""
        async with self.db.transaction() as session:
            rows = CoordinatorRows(session, self.vault)
            return {
                row.id: rows.telegram_id_of(row)
                for row in await rows.active(on_duty_only=on_duty_only)
            }

    async def notices(self, ref: str) -> list[SentNotice]:
        """Each notice of `ref` that reached a coordinator's chat, to edit it when what it
        asked is settled (an approval request another coordinator answered)."""
        async with self.db.transaction() as session:
            sent = await Outbox(session).sent_notices(ref)
        return [
            SentNotice(
                chat_id=int(self.vault.open(notice.address_cipher, notice.address_where)),
                message_id=int(notice.provider_id),
                text=open_notice(self.vault, notice.delivery_id, notice.body_cipher)[0],
            )
            for notice in sent
            if notice.provider_id.isdigit()
        ]

    async def count(self) -> int:
        async with self.db.transaction() as session:
            return await CoordinatorRows(session, self.vault).count_active()

    async def invite(self, role: Role, by: Actor) -> str | SignOff:
        """A one-time code (valid 24 hours) a new coordinator sends to the bot. An admin's
        invite for a new admin waits for a second admin: the request is returned, and the code
        is made when they agree (and given to the one who asked)."""
        now = self.clock()
        async with self.db.transaction() as session:
            if role is Role.ADMIN and await self.signoffs.required(
                session, SignOffAction.ADMIN, by
            ):
                return await self.signoffs.ask(session, SignOffAction.ADMIN, 0, by, now)
            return self._invite(session, role, by.coordinator_id, by, now)

    def _invite(
        self, session: Session, role: Role, created_by: int | None, by: Actor, now: datetime
    ) -> str:
        code = secrets.token_urlsafe(9)
        CoordinatorRows(session, self.vault).add_invite(
            code, role=role, created_by=created_by, now=now, expires_at=now + INVITE_LIFETIME
        )
        record(session, by, "coordinator.invite", f"role:{role}", now)
        return code

    async def _granted_admin(
        self, session: Session, sign_off: SignOff, by: Actor, now: datetime
    ) -> str:
        # The invite is the asker's: removing them later revokes it if it is still unused.
        return self._invite(session, Role.ADMIN, sign_off.requested_by, by, now)

    async def redeem(self, code: str, telegram_id: int, label: str) -> Coordinator:
        now = self.clock()
        async with self.db.transaction() as session:
            rows = CoordinatorRows(session, self.vault)
            invite = await rows.find_invite(code, lock=True)
            if invite is None or invite.used_at is not None or invite.expires_at <= now:
                raise CoordinatorError(
                    N_("that invite code is not valid (used, expired or mistyped)")
                )
            row = await rows.find(telegram_id)
            if row is not None and row.active:
                raise CoordinatorError(N_("you are already a coordinator"))
            if row is None:
                row = await rows.add(telegram_id, role=Role(invite.role), label=label, now=now)
            else:
                row.active, row.role, row.label, row.removed_at = True, invite.role, label, None
            invite.used_at, invite.used_by = now, row.id
            record(
                session, Actor(row.id, label), "coordinator.join", f"coordinator:{row.id}", now,
                invite=invite.id,
            )  # fmt: skip
            return _of(row)
