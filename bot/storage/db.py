"""Engines and transactions: one `Database` per process, built from the database URL."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import URL, event, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

Unlisten = Callable[[], Awaitable[None]]

Conflict = IntegrityError
"""A concurrent transaction wrote the same unique row first: retry the whole transaction."""

Session = AsyncSession
"""One transaction, as core passes it between the storage queries it calls (core never
imports SQLAlchemy itself: every query it needs lives in a storage module)."""


def make_engine(async_url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; on SQLite with WAL, a busy timeout and write-ready (IMMEDIATE) transactions."""
    # hide_parameters: an error (and an echoed statement) never carries the values bound to
    # it: numbers, ciphertexts, report texts would otherwise reach tracebacks and logs.
    if async_url.startswith("sqlite"):
        engine = create_async_engine(
            async_url, echo=echo, connect_args={"timeout": 30}, hide_parameters=True
        )
        _tune_sqlite(engine)
        return engine
    url, connect_args = tls_options(async_url)
    return create_async_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args=connect_args,
    )


LIBPQ_TLS = ("sslmode", "sslrootcert", "sslcert", "sslkey")


def tls_options(async_url: str) -> tuple[URL, dict[str, Any]]:
    """A PostgreSQL URL as hosted services issue it (libpq's `sslmode`, `sslrootcert`, ...),
    made into what asyncpg takes: its `ssl` argument (asyncpg rejects the libpq keywords, so
    `?sslmode=require` had kept the bot from starting). `sslmode` keeps libpq's meaning:
    require encrypts without checking the certificate, verify-ca checks it against
    `sslrootcert`, verify-full checks the host name too."""
    url = make_url(async_url)
    query = dict(url.query)
    given = {key: str(query.pop(key)) for key in LIBPQ_TLS if key in query}
    url = url.set(query=query)
    if not given:
        return url, {}
    mode = given.get("sslmode", "prefer")
    if mode not in ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"):
        raise ValueError("DATABASE_URL: sslmode must be one of libpq's modes")
    if mode in ("disable", "allow", "prefer") or (mode == "require" and "sslrootcert" not in given):
        return url, {"ssl": mode}
    context = ssl.create_default_context(cafile=given.get("sslrootcert"))
    context.check_hostname = mode == "verify-full"
    if mode == "require":  # libpq: a root certificate given makes require check the chain
        context.check_hostname = False
    if "sslcert" in given:
        context.load_cert_chain(given["sslcert"], given.get("sslkey"))
    return url, {"ssl": context}


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
        self._writer = _Turns() if engine.dialect.name == "sqlite" else None

    @classmethod
    def from_url(cls, async_url: str) -> Database:
        return cls(make_engine(async_url))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back on error.

        `urgent`: on SQLite, ahead of the transactions waiting their turn (keep it to one
        small write whose delay costs something, such as marking an update handled)."""
        if self._writer is None:
            async with self._sessions.begin() as session:
                yield session
            return
        async with self._writer.turn(urgent=urgent), self._sessions.begin() as session:
            yield session

    async def listen(self, channel: str, callback: Callable[[], None]) -> Unlisten | None:
        """PostgreSQL: call `callback` whenever a transaction that NOTIFYs `channel` commits, on
        a connection kept for it (and made again if the server drops it); returns how to stop.
        None on SQLite (one process: no need)."""
        if self.is_sqlite:
            return None
        listener = _Listener(self.engine, channel, callback)
        await listener.start()
        return listener.stop

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()


class _Turns:
    """One transaction at a time, in the order they asked, except that urgent ones go first."""

    def __init__(self) -> None:
        self._busy = False
        self._urgent: collections.deque[asyncio.Future[None]] = collections.deque()
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    @asynccontextmanager
    async def turn(self, *, urgent: bool = False) -> AsyncIterator[None]:
        if self._busy:
            handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            (self._urgent if urgent else self._waiting).append(handed)
            try:
                await handed
            except BaseException:
                if handed.done() and not handed.cancelled():
                    self._pass_on()  # cancelled just after being handed the turn
                raise
        else:
            self._busy = True
        try:
            yield
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        for queue in (self._urgent, self._waiting):
            while queue:
                handed = queue.popleft()
                if not handed.done():  # a cancelled waiter's future is done
                    handed.set_result(None)
                    return
        self._busy = False


class _Listener:
    """A LISTEN connection that comes back: when the server drops it (a restart, a failover,
    an idle timeout), `callback` is called at once, since what was queued meanwhile was not
    announced, and the connection is made again with backoff, then `callback` once more."""

    def __init__(
        self, engine: AsyncEngine, channel: str, callback: Callable[[], None], retry: float = 0.5
    ) -> None:
        self.engine = engine
        self.channel = channel
        self.callback = callback
        self.retry = retry
        self._connection: AsyncConnection | None = None
        self._driver: Any = None  # its asyncpg connection
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._connect()  # the first time, a failure is the caller's to report
        self._task = asyncio.create_task(self._keep(), name=f"listen-{self.channel}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop()

    async def _connect(self) -> None:
        connection = await self.engine.connect()
        try:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection  # the asyncpg connection
            await driver.add_listener(self.channel, self._notified)
            driver.add_termination_listener(self._terminated)
        except BaseException:
            await connection.invalidate()
            await connection.close()
            raise
        self._lost.clear()
        self._connection, self._driver = connection, driver

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        driver, self._driver = self._driver, None
        if connection is None:
            return
        try:
            if driver.is_closed():
                await connection.invalidate()
            else:
                driver.remove_termination_listener(self._terminated)
                await driver.remove_listener(self.channel, self._notified)
        finally:
            await connection.close()

    def _notified(self, *_: object) -> None:
        self.callback()

    def _terminated(self, *_: object) -> None:
        self._lost.set()

    async def _keep(self) -> None:
        while True:
            await self._lost.wait()
            log.warning("lost the connection listening for %s; making it again", self.channel)
            try:
                await self._drop()
            except Exception as exc:  # the connection is dead already: note it, go on
                log.warning(
                    "closing the lost listening connection failed",
                    extra={"error": type(exc).__name__},
                )
            self.callback()
            delay = self.retry
            while True:
                try:
                    await self._connect()
                    break
                except Exception as exc:
                    log.warning(
                        "listening for %s failed; trying again in %.1f s",
                        self.channel,
                        delay,
                        extra={"error": type(exc).__name__},
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
            log.info("listening for %s again", self.channel)
            self.callback()
