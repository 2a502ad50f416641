"""Flow queries: a coordinator's one active flow, its data sealed by the vault. Never commits."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.crypto import Vault
from bot.storage.models import FlowRow, place


class FlowRows:
    """Queries on the flows table within the caller's transaction."""

    def __init__(self, session: AsyncSession, vault: Vault) -> None:
        self.session = session
        self.vault = vault

    async def get(self, coordinator_id: int) -> FlowRow | None:
        return await self.session.get(FlowRow, coordinator_id, with_for_update=True)

    def data(self, row: FlowRow) -> dict[str, Any]:
        loaded = json.loads(
            self.vault.open(row.data_cipher, place(FlowRow.data_cipher, row.coordinator_id))
        )
        return loaded if isinstance(loaded, dict) else {}

    async def put(
        self,
        coordinator_id: int,
        *,
        token: int,
        kind: str,
        step: str,
        data: dict[str, Any],
        now: datetime,
        expires_at: datetime,
    ) -> FlowRow:
        """Create or overwrite the coordinator's flow row."""
        row = await self.get(coordinator_id)
        if row is None:
            row = FlowRow(coordinator_id=coordinator_id)
            self.session.add(row)
        row.token = token
        row.kind = kind
        row.step = step
        row.data_cipher = self.vault.seal(
            json.dumps(data, ensure_ascii=False), place(FlowRow.data_cipher, coordinator_id)
        )
        row.updated_at = now
        row.expires_at = expires_at
        await self.session.flush()
        return row

    async def remove(self, coordinator_id: int) -> None:
        await self.session.execute(delete(FlowRow).where(FlowRow.coordinator_id == coordinator_id))

    async def remove_expired(self, now: datetime) -> int:
        result = await self.session.execute(delete(FlowRow).where(FlowRow.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)
