"""Storage: encryption at rest, blind-index lookups across a key rotation, migrations = models."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from bot.app import build_services
from bot.core.conversation import Inbound
from bot.core.intents import Intent, Request
from bot.core.vocabulary import Channel, SubscriberStatus
from bot.storage.crypto import KeyError_, Vault, generate_key
from bot.storage.db import Database
from bot.storage.migrate import downgrade, upgrade
from bot.storage.models import Base, ConsentRow, SubscriberRow, place
from bot.storage.subscribers import Subscribers
from tests.conftest import async_url, make_settings

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PHONE = "+13125550199"


@pytest.fixture
async def db(database_url: str) -> Database:
    database = Database.from_url(async_url(database_url))
    yield database  # type: ignore[misc]
    await database.close()


async def add(db: Database, vault: Vault, address: str = PHONE) -> None:
    async with db.transaction() as session:
        await Subscribers(session, vault).add(
            "sms", address, language="es", zone="60629", topics=["alerts"], via="sms:JOIN", now=NOW
        )


async def test_addresses_are_encrypted_and_found_by_blind_index(
    db: Database, database_url: str
) -> None:
    vault = Vault([generate_key().encode()])
    await add(db, vault)
    async with db.transaction() as session:
        subscribers = Subscribers(session, vault)
        row = await subscribers.find("sms", PHONE)
        assert row is not None
        assert row.address_cipher is not None and PHONE not in row.address_index
        assert PHONE.encode() not in row.address_cipher
        assert vault.open(row.address_cipher, place(SubscriberRow.address_cipher, row.id)) == PHONE
        assert row.consent_at == NOW and row.consent_via == "sms:JOIN"
        consents = (await session.scalars(select(ConsentRow))).all()
        assert [(c.action, c.via) for c in consents] == [("opt_in", "sms:JOIN")]
        assert await subscribers.find("sms", "+13125550100") is None
        assert await subscribers.find("telegram", PHONE) is None
    if database_url.startswith("sqlite"):
        await db.close()
        raw = b"".join(
            p.read_bytes()
            for p in Path(database_url.removeprefix("sqlite:///")).parent.glob("bot.sqlite3*")
        )
        assert PHONE.encode() not in raw and PHONE[2:].encode() not in raw


async def test_a_rotated_key_still_finds_rows_and_moves_them_to_the_new_key(db: Database) -> None:
    old, new = generate_key().encode(), generate_key().encode()
    await add(db, Vault([old]))
    rotated = Vault([new, old])
    async with db.transaction() as session:
        row = await Subscribers(session, rotated).find("sms", PHONE)
        assert row is not None
    # After the pass, the new key alone suffices.
    async with db.transaction() as session:
        row = await Subscribers(session, Vault([new])).find("sms", PHONE)
        assert row is not None and row.address_cipher is not None
        where = place(SubscriberRow.address_cipher, row.id)
        assert Vault([new]).open(row.address_cipher, where) == PHONE


async def test_status_changes_are_kept_in_the_consent_history(db: Database) -> None:
    vault = Vault([generate_key().encode()])
    await add(db, vault)
    async with db.transaction() as session:
        subscribers = Subscribers(session, vault)
        row = await subscribers.find("sms", PHONE)
        assert row is not None
        subscribers.set_status(row, SubscriberStatus.OPTED_OUT, via="sms:STOP", now=NOW)
    async with db.transaction() as session:
        actions = (await session.scalars(select(ConsentRow.action).order_by(ConsentRow.id))).all()
        assert list(actions) == ["opt_in", "opt_out"]
        counts = await Subscribers(session, vault).counts()
        assert [(c.channel, c.language, c.zone, c.status, c.count) for c in counts] == [
            ("sms", "es", "60629", "opted_out", 1)
        ]


def test_a_malformed_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(KeyError_) as caught:
        Vault.from_setting("not-a-real-key")
    assert "not-a-real-key" not in str(caught.value)


async def test_the_migrations_match_the_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert diff == []


async def test_two_first_messages_at_once_make_one_subscriber(
    database_url: str, tmp_path: Path
) -> None:
    services = build_services(make_settings(database_url, tmp_path))
    try:
        inbound = Inbound(Channel.TELEGRAM, "424242", Request(Intent.SUBSCRIBE, keyword="/start"))
        answers = await asyncio.gather(*(services.conversation.handle(inbound) for _ in range(4)))
        assert all(len(replies) >= 1 for replies in answers)
        counts = await services.directory.stats()
        assert [(c.channel, c.count) for c in counts] == [("telegram", 1)]
    finally:
        await services.db.close()


async def test_a_listen_connection_the_server_drops_is_made_again(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has no LISTEN: one process, woken in-process")
    channel = f"rrbot_test_{os.getpid()}"
    db = Database.from_url(async_url(database_url))
    calls: list[asyncio.Event] = [asyncio.Event() for _ in range(3)]

    def called() -> None:
        for event in calls:
            if not event.is_set():
                event.set()
                return

    stop = await db.listen(channel, called)
    assert stop is not None
    try:
        async with db.engine.connect() as connection:
            # As a server restart or failover would: end the listener's backend.
            ended = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE query LIKE :listen AND pid <> pg_backend_pid()"
                ),
                {"listen": f"%LISTEN%{channel}%"},
            )
        assert ended == 1
        lost, back, notified = calls
        # Told when lost (a claim then finds what was missed) and again when listening.
        async with asyncio.timeout(10):
            await back.wait()
        assert lost.is_set()
        async with db.transaction() as session:
            await session.execute(text(f"NOTIFY {channel}"))
        async with asyncio.timeout(5):
            await notified.wait()
    finally:
        await stop()
        await db.close()


async def test_numbers_twilio_blocks_today_are_marked_blocked_by_the_migration(
    database_url: str,
) -> None:
    """Before 0010 a STOP left no trace of Twilio's block: the migration derives it from the
    consent record (a STOP keyword blocks at Twilio, the bot's own BAJA does not)."""
    url = async_url(database_url)
    await asyncio.to_thread(downgrade, url, "0009")
    db = Database.from_url(url)
    try:
        async with db.engine.begin() as connection:
            for id_, via in ((1, "sms:STOP"), (2, "sms:BAJA"), (3, "sms:QUIT")):
                await connection.execute(
                    text(
                        "INSERT INTO subscribers (id, channel, address_index, address_cipher,"
                        " language, zone, topics, status, status_changed_at, created_at)"
                        " VALUES (:id, 'sms', :ix, :c, 'en', NULL, '[]', 'opted_out', :t, :t)"
                    ),
                    {
                        "id": id_,
                        "ix": f"ix{id_}",
                        "c": b"x",
                        "t": datetime(2026, 11, 1, tzinfo=UTC),
                    },
                )
                await connection.execute(
                    text(
                        "INSERT INTO consents (subscriber_id, action, via, at)"
                        " VALUES (:id, 'opt_out', :via, :t)"
                    ),
                    {"id": id_, "via": via, "t": datetime(2026, 11, 1, tzinfo=UTC)},
                )
    finally:
        await db.close()
    await asyncio.to_thread(upgrade, url)
    db = Database.from_url(url)
    try:
        async with db.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT id, provider_blocked FROM subscribers ORDER BY id")
            )
            assert [(i, bool(b)) for i, b in rows.all()] == [(1, True), (2, False), (3, True)]
    finally:
        await db.close()


def test_upgrading_an_sqlite_database_loses_no_row_to_a_cascade(tmp_path: Path) -> None:
    """Batch mode rebuilds SQLite tables by copy and drop; with foreign keys on, dropping
    `alerts` took every delivery with it (0005). The upgrade keeps every row, from the
    first schema that had them to the newest. SQLite only: PostgreSQL alters in place."""
    path = tmp_path / "old.sqlite3"
    url = async_url(f"sqlite:///{path}")
    upgrade(url, "0002")
    with sqlite3.connect(path) as connection:
        connection.executescript(SCHEMA_0002_ROWS)
    upgrade(url)
    with sqlite3.connect(path) as connection:
        counts = [
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("subscribers", "consents", "coordinators", "alerts", "deliveries")
        ]
    assert counts == [1, 1, 1, 1, 1]


AT = "'2026-11-01 00:00:00'"
SCHEMA_0002_ROWS = """
INSERT INTO subscribers (id, channel, address_index, address_cipher, language, topics, status,
    status_changed_at, created_at) VALUES (1, 'sms', 'i', x'00', 'en', '[]', 'active', AT, AT);
INSERT INTO consents (subscriber_id, action, via, at) VALUES (1, 'opt_in', 'sms:JOIN', AT);
INSERT INTO coordinators (id, telegram_index, telegram_cipher, label, role, active, on_duty,
    added_at) VALUES (1, 't', x'00', 'R', 'admin', 1, 1, AT);
INSERT INTO alerts (id, kind, zones, texts, status, expires_at, created_by, created_at,
    recipients) VALUES (1, 'alert', '[]', '{}', 'queued', AT, 1, AT, 1);
INSERT INTO deliveries (id, alert_id, subscriber_id, channel, language, priority, status,
    attempts, due_at, updated_at) VALUES (1, 1, 1, 'sms', 'en', 10, 'queued', 0, AT, AT);
""".replace("AT", AT)


async def test_on_sqlite_an_urgent_write_goes_ahead_of_those_waiting_their_turn(
    db: Database,
) -> None:
    if not db.is_sqlite:
        pytest.skip("PostgreSQL has no writer queue: its transactions run side by side")
    order: list[str] = []
    holding = asyncio.Event()

    async def write(name: str, *, urgent: bool = False) -> None:
        async with db.transaction(urgent=urgent) as session:
            order.append(name)
            await session.execute(text("SELECT 1"))
            if name == "first":
                holding.set()
                await asyncio.sleep(0.1)

    first = asyncio.create_task(write("first"))
    await holding.wait()
    waiting = [asyncio.create_task(write(name)) for name in ("a", "gone", "b")]
    await asyncio.sleep(0.01)
    waiting[1].cancel()  # a waiter that gives up is skipped, and loses nobody their turn
    urgent = asyncio.create_task(write("urgent", urgent=True))
    await asyncio.gather(first, urgent, *waiting, return_exceptions=True)
    assert order == ["first", "urgent", "a", "b"]
    async with asyncio.timeout(1), db.transaction() as session:  # the turn was handed back
        await session.execute(text("SELECT 1"))
