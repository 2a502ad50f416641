"""Alembic, driven from code: `rrbot db upgrade` and tests call `upgrade` before any event loop runs."""

from __future__ import annotations

import functools
import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError

from bot.storage.db import Database

log = logging.getLogger(__name__)


def alembic_config(async_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "bot.storage:migrations")
    # Kept out of the ini options: a URL may carry a password and % would need escaping.
    config.attributes["url"] = async_url
    return config


def upgrade(async_url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`. Runs its own event loop, so never call it inside one."""
    command.upgrade(alembic_config(async_url), revision)


def downgrade(async_url: str, revision: str) -> None:
    command.downgrade(alembic_config(async_url), revision)


@functools.cache
def code_head() -> str | None:
    """The revision this code needs: its migrations are part of the code, read once."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


class SchemaOutOfDate(RuntimeError):
    """The database is not at the schema this code needs."""


async def check_current(db: Database) -> bool:
    """Refuse to serve on a database that `rrbot db upgrade` has not brought up to date.

    Returns False when the database cannot be reached: the process still starts, and
    /healthz answers 503 until it can, so an orchestrator sees why.
    """
    head = code_head()
    try:
        async with db.engine.connect() as connection:
            current = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    except (OSError, DBAPIError):
        log.error("database unreachable at start-up: /healthz will answer 503")
        return False
    if current != head:
        raise SchemaOutOfDate(
            f"the database schema is at {current or 'nothing'}, this version needs {head}: "
            "run `rrbot db upgrade` first"
        )
    return True
