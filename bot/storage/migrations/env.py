"""Alembic environment: async engine, batch mode on SQLite, a lock on PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

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
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `rrbot db upgrade`")
asyncio.run(_online())
