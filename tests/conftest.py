"""Fixtures: a migrated database per test (SQLite or PostgreSQL), the fake providers, the bot.

The suite runs twice in `make test`: on SQLite, then with TEST_DATABASE_URL pointing at the
real PostgreSQL server. PostgreSQL being unreachable fails the run; it never skips. Under
pytest-xdist each worker has a PostgreSQL database of its own (`test_gw0`, `test_gw1`, …,
created on first use), since every test empties the one it uses.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url

from bot.app import Services, build_services, build_web, build_worker
from bot.delivery.worker import RetryPolicy, Worker
from bot.settings import Settings, async_database_url, load_settings
from bot.sim.fake_telegram import FakeTelegram
from bot.sim.fake_twilio import FakeTwilio
from bot.sim.serve import RunningServer, bind, serve
from bot.storage.crypto import generate_key
from bot.storage.migrate import upgrade
from bot.storage.models import Base
from tests.bench.common import PostgresUnreachableError, asyncpg_dsn, reset_postgres
from tests.processes import Processes

TELEGRAM_TOKEN = "123456:TEST-token-for-the-fake"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "twilio-test-auth-token"
METRICS_TOKEN = "metrics-test-bearer-token"
BOT_NUMBER = "+13125550100"
DATA_KEY = generate_key()

# xdist workers inherit COLUMNS=80, and Rich fixes a console's width from it when the console
# is made (bot.cli makes its own at import): the CLI tests set the width they need per call.
os.environ.pop("COLUMNS", None)


def postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL") or None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url is None or worker is None:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


def async_url(url: str) -> str:
    return async_database_url(url)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database: an SQLite file to copy per test, or the PostgreSQL schema."""
    url = postgres_url()
    if url is None:
        path = tmp_path_factory.mktemp("template") / "bot.sqlite3"
        upgrade(async_url(f"sqlite:///{path}"))
        return f"sqlite:///{path}"
    _reset_postgres(url)
    upgrade(async_url(url))
    return url


def _reset_postgres(url: str) -> None:
    """An empty schema in the test database (created on first use); loud if unreachable."""
    try:
        asyncio.run(reset_postgres(url))
    except PostgresUnreachableError as exc:
        raise RuntimeError(
            f"PostgreSQL at TEST_DATABASE_URL is unreachable ({exc}); "
            "start it, or run the SQLite half alone with `make pytest-sqlite`"
        ) from None


_DELETES = [f"DELETE FROM {t.name};" for t in reversed(Base.metadata.sorted_tables)]  # noqa: S608
_EMPTY_ALL = "\n".join(
    [
        *_DELETES,
        "DO $$DECLARE s record; BEGIN FOR s IN SELECT c.relname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' "
        "AND n.nspname = 'public' LOOP EXECUTE format('ALTER SEQUENCE %I RESTART', s.relname); "
        "END LOOP; END$$;",
    ]
)
"""Every table emptied (children first) and every id counting from 1 again: on tables this
small, DELETE takes a tenth of TRUNCATE's time, which creates new files for each table."""


async def _truncate(url: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
    try:
        async with connection.transaction():
            await connection.execute(_EMPTY_ALL)
    finally:
        await connection.close()


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> str:
    """A database of this test's own: a copy of the template, or PostgreSQL emptied first."""
    if database_template.startswith("sqlite"):
        path = tmp_path / "bot.sqlite3"
        shutil.copy(database_template.removeprefix("sqlite:///"), path)
        return f"sqlite:///{path}"
    asyncio.run(_truncate(async_url(database_template)))
    return database_template


def make_settings(database_url: str, tmp_path: Path, **overrides: str) -> Settings:
    env = {
        "DATABASE_URL": database_url,
        "DATA_KEY": DATA_KEY,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM_NUMBER": BOT_NUMBER,
        "PUBLIC_URL": "http://127.0.0.1:9",
        "TELEGRAM_API_URL": "http://127.0.0.1:9",
        "TWILIO_API_URL": "http://127.0.0.1:9",
        "VAR_DIR": str(tmp_path / "var"),
        "METRICS_TOKEN": METRICS_TOKEN,
        # The fakes enforce limits where a test wants them; the pacing has tests of its own.
        "TELEGRAM_RATE": "0",
        "TELEGRAM_CHAT_RATE": "0",
        "TWILIO_RATE": "0",
    }
    env.update(overrides)
    return load_settings(env)


@dataclass
class Fakes:
    telegram: FakeTelegram
    twilio: FakeTwilio
    telegram_server: RunningServer
    twilio_server: RunningServer


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    telegram = FakeTelegram(TELEGRAM_TOKEN)
    twilio = FakeTwilio(TWILIO_SID, TWILIO_TOKEN, phone_number=BOT_NUMBER)
    telegram_server = await serve(telegram.app)
    twilio_server = await serve(twilio.app)
    yield Fakes(telegram, twilio, telegram_server, twilio_server)
    await telegram.aclose()
    await twilio.aclose()
    await telegram_server.stop()
    await twilio_server.stop()


def process_env(fakes: Fakes, database_url: str, tmp_path: Path, port: int) -> dict[str, str]:
    """The environment of a bot process (`python -m bot run`) on `port`, against the fakes;
    the fakes' Twilio posts to it."""
    url = f"http://127.0.0.1:{port}"
    fakes.twilio.webhook_url = f"{url}/twilio/sms"
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "TWILIO_"))},
        "DATABASE_URL": database_url,
        "DATA_KEY": DATA_KEY,
        "PORT": str(port),
        "PUBLIC_URL": url,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_API_URL": fakes.telegram_server.url,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM_NUMBER": BOT_NUMBER,
        "TWILIO_API_URL": fakes.twilio_server.url,
        "VAR_DIR": str(tmp_path / "var"),
    }


@dataclass
class Bot:
    """The whole bot, served on loopback against the fakes, as `rrbot run` would run it."""

    services: Services
    settings: Settings
    url: str
    telegram: FakeTelegram
    twilio: FakeTwilio


@pytest.fixture
def bot_env(fakes: Fakes) -> dict[str, str]:
    """Settings overrides for the bot fixture; tests override this to change the mode."""
    return {}


@pytest.fixture
async def bot(
    database_url: str, tmp_path: Path, fakes: Fakes, bot_env: dict[str, str]
) -> AsyncIterator[Bot]:
    sock = bind()
    port = sock.getsockname()[1]
    public = f"http://127.0.0.1:{port}"
    settings = make_settings(
        database_url,
        tmp_path,
        PUBLIC_URL=public,
        TELEGRAM_API_URL=fakes.telegram_server.url,
        TWILIO_API_URL=fakes.twilio_server.url,
        **bot_env,
    )
    services = build_services(settings)
    server = await serve(build_web(services), sock=sock, lifespan="on")
    fakes.twilio.webhook_url = f"{public}/twilio/sms"
    fakes.twilio.voice_url = f"{public}/twilio/voice"
    fakes.twilio.voice_status_url = f"{public}/twilio/voice/status"
    yield Bot(services, settings, public, fakes.telegram, fakes.twilio)
    await server.stop()


@pytest.fixture
async def worker(bot: Bot) -> AsyncIterator[Worker]:
    """A delivery worker in the test's process, with quick retries."""
    running = build_worker(bot.services, policy=RetryPolicy(base=0.02, cap=0.2), send_timeout=2.0)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def processes() -> AsyncIterator[Processes]:
    """Start bot processes through this; a failing test cannot leave one running."""
    started = Processes()
    yield started
    await started.kill_all()
