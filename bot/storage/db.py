"""Engines and transactions: one `Database` per process, built from the database URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

Unlisten = Callable[[], Awaitable[None]]

Conflict = IntegrityError
"""A concurrent transaction wrote the same unique row first: retry the whole transaction."""


def make_engine(async_url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; on SQLite with WAL, a busy timeout and write-ready (IMMEDIATE) transactions."""
    if async_url.startswith("sqlite"):
        engine = create_async_engine(async_url, echo=echo, connect_args={"timeout": 30})
        _tune_sqlite(engine)
        return engine
    return create_async_engine(
        async_url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True
    )


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take BEGIN out of the driver's hands so we can emit BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a read that later writes cannot
        # deadlock against another writer, it waits (busy_timeout) instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The process's engine and the one way to open a transaction on it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer. Queueing our own transactions here, in the event loop,
        # beats letting the pool's connections fight over the file lock: SQLite's busy
        # handler sleeps in growing steps, and a burst turned 15 ms answers into seconds.
        # busy_timeout still covers another process (a CLI command) holding the lock.
        self._writer = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @classmethod
    def from_url(cls, async_url: str) -> Database:
        return cls(make_engine(async_url))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back on error."""
        if self._writer is None:
            async with self._sessions.begin() as session:
                yield session
            return
        async with self._writer, self._sessions.begin() as session:
            yield session

    async def listen(self, channel: str, callback: Callable[[], None]) -> Unlisten | None:
        """PostgreSQL: call `callback` whenever a transaction that NOTIFYs `channel` commits, on
        a connection kept for it; returns how to stop. None on SQLite (one process: no need)."""
        if self.is_sqlite:
            return None
        connection = await self.engine.connect()
        try:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection  # the asyncpg connection

            def notified(*_: object) -> None:
                callback()

            await driver.add_listener(channel, notified)
        except BaseException:
            await connection.close()
            raise

        async def stop() -> None:
            try:
                if not driver.is_closed():
                    await driver.remove_listener(channel, notified)
            finally:
                await connection.close()

        return stop

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()
