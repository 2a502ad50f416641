"""Flows: what a coordinator is in the middle of (composing an alert, setting up a workshop,
relaying a question), one at a time, kept in the database so a restart loses nothing.

A flow has a kind, a named step and the data gathered so far (encrypted: it can hold an
alert's text). It expires after a while untouched (2 hours by default); starting another
replaces it. Its token, drawn at random when it starts, is carried by its buttons: a button
of an ended or replaced flow, or of another coordinator's, matches nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.core.vocabulary import FlowKind
from bot.storage.crypto import Vault
from bot.storage.db import Database
from bot.storage.flows import FlowRows
from bot.storage.models import FlowRow

LIFETIME = timedelta(hours=2)
TOKEN_BITS = 31  # fits a signed 32-bit column and a short button


@dataclass(frozen=True)
class Flow:
    """A coordinator's active flow: its kind, step and what it has gathered so far."""

    coordinator_id: int
    token: int
    kind: FlowKind
    step: str
    data: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None
    # The step this one was read at, before `at` moved it: `save` stores it only from there.
    was: str | None = None

    def at(self, step: str, **data: Any) -> Flow:
        """This flow moved to `step`, with `data` added to what it gathered."""
        return replace(self, step=step, data={**self.data, **data}, was=self.was or self.step)


class Flows:
    """Start, read, advance and end coordinators' flows, each in its own transaction."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        clock: Callable[[], datetime],
        lifetime: timedelta = LIFETIME,
    ) -> None:
        self.db = db
        self.vault = vault
        self.clock = clock
        self.lifetime = lifetime

    async def active(self, coordinator_id: int) -> Flow | None:
        """The coordinator's flow, unless it has expired (an expired one is dropped here)."""
        async with self.db.transaction() as session:
            rows = FlowRows(session, self.vault)
            row = await rows.get(coordinator_id)
            if row is None:
                return None
            if row.expires_at <= self.clock():
                await rows.remove(coordinator_id)
                return None
            return self._of(rows, row)

    async def start(
        self, coordinator_id: int, kind: FlowKind, step: str, data: dict[str, Any] | None = None
    ) -> Flow:
        """A new flow, replacing whatever the coordinator had."""
        token = secrets.randbits(TOKEN_BITS)
        async with self.db.transaction() as session:
            return await self._put(
                FlowRows(session, self.vault),
                Flow(coordinator_id, token, kind, step, dict(data or {})),
            )

    async def save(self, flow: Flow) -> Flow | None:
        """Store the flow's new step and data (and its expiry starts again), unless it was
        ended, replaced or moved on meanwhile (a double tap): then None, nothing stored."""
        async with self.db.transaction() as session:
            rows = FlowRows(session, self.vault)
            row = await rows.get(flow.coordinator_id)
            if row is None or row.token != flow.token or row.expires_at <= self.clock():
                return None
            if flow.was is not None and row.step != flow.was:
                return None
            return await self._put(rows, replace(flow, was=None))

    async def end(self, coordinator_id: int, token: int | None = None) -> Flow | None:
        """End the coordinator's flow (only the one with `token`, if given); what it was."""
        async with self.db.transaction() as session:
            rows = FlowRows(session, self.vault)
            row = await rows.get(coordinator_id)
            if row is None or (token is not None and row.token != token):
                return None
            ended = self._of(rows, row)
            await rows.remove(coordinator_id)
            return ended

    async def expire(self) -> int:
        """Drop every flow past its expiry (upkeep); how many."""
        async with self.db.transaction() as session:
            return await FlowRows(session, self.vault).remove_expired(self.clock())

    async def _put(self, rows: FlowRows, flow: Flow) -> Flow:
        now = self.clock()
        expires_at = now + self.lifetime
        await rows.put(
            flow.coordinator_id,
            token=flow.token,
            kind=flow.kind.value,
            step=flow.step,
            data=flow.data,
            now=now,
            expires_at=expires_at,
        )
        return replace(flow, expires_at=expires_at)

    @staticmethod
    def _of(rows: FlowRows, row: FlowRow) -> Flow:
        return Flow(
            coordinator_id=row.coordinator_id,
            token=row.token,
            kind=FlowKind(row.kind),
            step=row.step,
            data=rows.data(row),
            expires_at=row.expires_at,
        )
