"""The audit log: every privileged action, who did it and when. Never a subscriber's address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.storage.audit import AuditRows
from bot.storage.db import Database, Session


@dataclass(frozen=True)
class Actor:
    """Who acts: a coordinator (by id and label), or the server's operator through the CLI."""

    coordinator_id: int | None
    label: str

    @classmethod
    def operator(cls) -> Actor:
        return cls(None, "operator (rrbot CLI)")

    @classmethod
    def system(cls) -> Actor:
        """The bot itself, on a schedule (purges, expiries)."""
        return cls(None, "system (scheduled)")


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]


def record(
    session: Session,
    actor: Actor,
    action: str,
    subject: str,
    now: datetime,
    **detail: Any,
) -> None:
    """Add an entry in the caller's transaction, so the action and its record land together."""
    AuditRows(session).add(
        at=now,
        actor_id=actor.coordinator_id,
        actor=actor.label,
        action=action,
        subject=subject,
        detail=detail,
    )


async def entries(db: Database, limit: int = 100) -> list[AuditEntry]:
    async with db.transaction() as session:
        rows = await AuditRows(session).latest(limit)
    return [AuditEntry(r.at, r.actor, r.action, r.subject, r.detail) for r in rows]
