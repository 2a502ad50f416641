"""Alembic environment: async engine, batch mode on SQLite, a lock on PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

from bot.storage.db import make_engine
from bot.storage.models import Base

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several processes may start at once (release phase, workers): one migrates.
            connection.execute(text("SELECT pg_advisory_xact_lock(7265636)"))
        context.run_migrations()


async def _online() -> None:
    engine = make_engine(config.attributes["url"])
    if engine.dialect.name == "sqlite":
        # Batch mode rebuilds a table by copying it and dropping the original; with foreign
        # keys on, that drop cascades (rebuilding `alerts` deleted every delivery, rebuilding
        # `subscribers` every consent). SQLite only changes this outside a transaction, so it
        # is set as each connection opens, after the app's own settings.
        @event.listens_for(engine.sync_engine, "connect")
        def _no_cascades(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.close()

    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `rrbot db upgrade`")
asyncio.run(_online())
