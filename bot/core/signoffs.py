"""The two-person rule beyond alerts: what one coordinator asks and a second must agree to.

- A workshop announcement reaches subscribers as an alert does, so it waits for a second
  coordinator whenever an alert would (ALERT_APPROVAL: on, off, or auto from two active
  coordinators), and the one who agrees is neither the asker nor the workshop's author.
- Removing a coordinator, or inviting an admin, changes who runs the network: a second admin
  always agrees (not the one being removed). With no such admin, only the operator's CLI can.

The operator's CLI needs nobody. Granting does the action in the grant's own transaction,
through the executor the owning service registered, so a grant is never recorded without its
effect; the request is locked while it is decided, so two grants at once do it once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.core.audit import Actor, record
from bot.core.errors import Explained
from bot.core.i18n import N_
from bot.core.vocabulary import ApprovalMode, Role, SignOffAction, SignOffStatus
from bot.storage.db import Database, Session
from bot.storage.models import CoordinatorRow, SignOffRow
from bot.storage.signoffs import SignOffRows

LIFETIME = timedelta(hours=24)  # a request nobody decided by then can no longer be granted
ADMINS_DECIDE = frozenset({SignOffAction.REMOVE, SignOffAction.ADMIN})


class SignOffError(Explained):
    """A request that cannot be made or decided; the message is safe to show."""


@dataclass(frozen=True)
class SignOff:
    id: int
    action: SignOffAction
    subject: int
    requested_by: int
    status: SignOffStatus
    decided_by: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def _of(row: SignOffRow) -> SignOff:
    return SignOff(
        row.id,
        SignOffAction(row.action),
        row.subject,
        row.requested_by,
        SignOffStatus(row.status),
        row.decided_by,
        dict(row.detail or {}),
    )


@dataclass(frozen=True)
class Decision:
    sign_off: SignOff
    result: Any = None  # what the granted action gave (an announcement, an invite code)


Executor = Callable[[Session, SignOff, Actor, datetime], Awaitable[Any]]
"""Does a granted request's action in the grant's transaction; raises SignOffError (or the
service's own Explained error) to refuse, and then nothing is granted."""


async def approval_needed(session: Session, mode: ApprovalMode) -> bool:
    """Whether ALERT_APPROVAL asks for a second coordinator now (auto: from two active)."""
    if mode is ApprovalMode.AUTO:
        return await SignOffRows(session).count_active() >= 2
    return mode is ApprovalMode.ON


class SignOffs:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        approval: ApprovalMode = ApprovalMode.AUTO,
    ) -> None:
        self.db = db
        self.clock = clock
        self.approval = approval
        self._executors: dict[SignOffAction, Executor] = {}

    def executes(self, action: SignOffAction, executor: Executor) -> None:
        """`executor` does `action` once it is granted (the owning service registers it)."""
        self._executors[action] = executor

    async def required(self, session: Session, action: SignOffAction, by: Actor) -> bool:
        if by.coordinator_id is None:
            return False  # the operator's CLI
        if action in ADMINS_DECIDE:
            return True
        return await approval_needed(session, self.approval)

    async def ask(
        self,
        session: Session,
        action: SignOffAction,
        subject: int,
        by: Actor,
        now: datetime,
        **detail: Any,
    ) -> SignOff:
        """A request for a second person's agreement, in the caller's transaction."""
        if by.coordinator_id is None:
            raise SignOffError(N_("only a coordinator asks for a sign-off"))
        if action in ADMINS_DECIDE:
            asker = await session.get(CoordinatorRow, by.coordinator_id)
            if asker is None or not asker.active or asker.role != Role.ADMIN:
                raise SignOffError(N_("only an admin can do that"))
            others = [
                c
                for c in await self._admins(session)
                if c.id != by.coordinator_id
                and not (action is SignOffAction.REMOVE and c.id == subject)
            ]
            if not others:
                raise SignOffError(
                    N_(
                        "a second admin must agree, and there is none who can: the operator can "
                        "do it with the rrbot command"
                    )
                )
        row = await SignOffRows(session).add(action, subject, detail, by.coordinator_id, now)
        record(session, by, "signoff.ask", f"signoff:{row.id}", now, kind=str(action))
        return _of(row)

    async def decide(self, sign_off_id: int, by: Actor, *, grant: bool) -> Decision:
        """A second person's yes (the action is done now) or no."""
        now = self.clock()
        async with self.db.transaction() as session:
            row = await SignOffRows(session).get(sign_off_id, lock=True)
            if row is None:
                raise SignOffError(N_("no request #{id}"), id=sign_off_id)
            if row.status != SignOffStatus.PENDING:
                raise SignOffError(N_("request #{id} is already decided"), id=row.id)
            if row.requested_at + LIFETIME <= now:
                raise SignOffError(N_("request #{id} has lapsed; ask again"), id=row.id)
            await self._may_decide(session, _of(row), by)
            sign_off = _of(row)
            result = None
            if grant:
                executor = self._executors.get(sign_off.action)
                if executor is None:  # a wiring mistake, not the coordinator's
                    raise RuntimeError(f"nothing executes {sign_off.action}")
                result = await executor(session, sign_off, by, now)
            row.status = SignOffStatus.GRANTED if grant else SignOffStatus.DENIED
            row.decided_by, row.decided_at = by.coordinator_id, now
            action = "signoff.grant" if grant else "signoff.deny"
            record(session, by, action, f"signoff:{row.id}", now, kind=row.action)
            return Decision(_of(row), result)

    async def get(self, sign_off_id: int) -> SignOff | None:
        async with self.db.transaction() as session:
            row = await SignOffRows(session).get(sign_off_id)
            return _of(row) if row is not None else None

    async def deciders(self, sign_off: SignOff) -> list[int]:
        """The coordinators who may decide it: the ones to ask."""
        async with self.db.transaction() as session:
            if sign_off.action in ADMINS_DECIDE:
                people = await self._admins(session)
            else:
                people = await self._active(session)
        return [
            c.id
            for c in people
            if c.id != sign_off.requested_by
            and not (sign_off.action is SignOffAction.REMOVE and c.id == sign_off.subject)
        ]

    async def _may_decide(self, session: Session, sign_off: SignOff, by: Actor) -> None:
        if by.coordinator_id is None or by.coordinator_id == sign_off.requested_by:
            raise SignOffError(N_("a second coordinator must agree"))
        decider = await session.get(CoordinatorRow, by.coordinator_id)
        if decider is None or not decider.active:
            raise SignOffError(N_("only an active coordinator can agree"))
        if sign_off.action in ADMINS_DECIDE:
            if decider.role != Role.ADMIN:
                raise SignOffError(N_("only an admin can agree to this"))
            if sign_off.action is SignOffAction.REMOVE and decider.id == sign_off.subject:
                raise SignOffError(N_("nobody agrees to their own removal"))

    @staticmethod
    async def _active(session: Session) -> list[CoordinatorRow]:
        return await SignOffRows(session).active()

    @staticmethod
    async def _admins(session: Session) -> list[CoordinatorRow]:
        return await SignOffRows(session).active(admins=True)
