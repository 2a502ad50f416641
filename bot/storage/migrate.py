"""Alembic, driven from code: `rrbot db upgrade` and tests call `upgrade` before any event loop runs."""

from __future__ import annotations

from alembic import command
from alembic.config import Config


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
