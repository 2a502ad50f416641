"""Coordinators' flows in the database: encrypted, one per coordinator, replaced, saved only
from the step they were read at, expired after their lifetime (and dropped by upkeep)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.channels.telegram.coordinator.alerts import AlertsFeature
from bot.core.audit import Actor
from bot.core.coordinators import Coordinators
from bot.core.flows import Flows
from bot.core.vocabulary import FlowKind, Role
from bot.storage.crypto import Vault, generate_key
from bot.storage.db import Database
from bot.storage.models import FlowRow
from tests.conftest import async_url

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECRET_TEXT = "Agents at 55th and Kedzie"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database.from_url(async_url(database_url))
    yield database
    await database.close()


async def test_a_flow_is_kept_encrypted_replaced_saved_in_step_and_expires(db: Database) -> None:
    vault = Vault.from_setting(generate_key())
    clock = [NOW]
    flows = Flows(db, vault, lambda: clock[0])
    rosa = await Coordinators(db, vault, lambda: NOW).add(1, Role.ADMIN, "Rosa", Actor.operator())
    first = await flows.start(rosa.id, FlowKind.ALERT, "text", {"texts": {"en": SECRET_TEXT}})
    async with db.transaction() as session:
        [row] = (await session.scalars(select(FlowRow))).all()
        assert SECRET_TEXT.encode() not in row.data_cipher
    assert (await flows.active(rosa.id)) == first
    # Two saves from the same read: the first moves the step on, the second finds it moved.
    assert await flows.save(first.at("expiry", hours=4)) is not None
    assert await flows.save(first.at("expiry", hours=8)) is None
    assert (await flows.active(rosa.id)).data["hours"] == 4  # type: ignore[union-attr]
    # Starting another replaces it; the old one's token matches nothing any more.
    second = await flows.start(rosa.id, FlowKind.WORKSHOP, "title")
    assert second.token != first.token
    assert await flows.end(rosa.id, first.token) is None
    assert (await flows.active(rosa.id)).kind is FlowKind.WORKSHOP  # type: ignore[union-attr]
    # Untouched for longer than its lifetime: gone, and upkeep drops what nobody read.
    clock[0] = NOW + timedelta(hours=2, seconds=1)
    assert await flows.active(rosa.id) is None
    await flows.start(rosa.id, FlowKind.RELAY, "question", {"report": 1})
    clock[0] += timedelta(hours=3)
    assert await flows.expire() == 1
    async with db.transaction() as session:
        assert (await session.scalars(select(FlowRow))).all() == []


class _Lang:
    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return singular if n == 1 else plural


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0.0, "about 1 second"),
        (3.0, "about 3 seconds"),
        (59.4, "about 59 seconds"),
        (90.0, "about 2 minutes"),
        (3600.0, "about 60 minutes"),
    ],
)
def test_the_time_to_send_is_said_in_seconds_under_a_minute(seconds: float, said: str) -> None:
    assert AlertsFeature.how_long(_Lang(), seconds).endswith(said)  # type: ignore[arg-type]
