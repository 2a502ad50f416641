from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.settings import SettingsError, TelegramMode, load_settings
from bot.storage.crypto import generate_key

KEY = generate_key()


def test_defaults_follow_the_contract() -> None:
    settings = load_settings({})
    assert settings.database_url.get_secret_value() == "sqlite:///var/bot.sqlite3"
    assert str(settings.telegram_api_url) == "https://api.telegram.org/"
    assert settings.telegram_mode is TelegramMode.POLLING
    assert (settings.host, settings.port, settings.timezone) == (
        "127.0.0.1",
        8080,
        "America/Chicago",
    )
    assert (settings.telegram_rate, settings.telegram_chat_rate, settings.twilio_rate) == (30, 1, 1)
    assert not settings.telegram_enabled and not settings.sms_enabled
    assert settings.opt_in_keywords == ("START", "UNSTOP", "YES")  # Twilio's own
    assert load_settings({"TWILIO_OPT_IN_KEYWORDS": "start,alta"}).opt_in_keywords == (
        "START",
        "ALTA",
    )


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgres://u:p@db:5432/rr", "postgresql+asyncpg://u:p@db:5432/rr"),
        ("postgresql://u@db/rr", "postgresql+asyncpg://u@db/rr"),
        ("sqlite:///var/x.sqlite3", "sqlite+aiosqlite:///var/x.sqlite3"),
    ],
)
def test_the_project_chooses_the_async_driver(url: str, driver: str) -> None:
    assert load_settings({"DATABASE_URL": url, "DATA_KEY": KEY}).async_database_url == driver


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"TELEGRAM_MODE": "push"}, "TELEGRAM_MODE"),
        ({"TIMEZONE": "Chicago"}, "TIMEZONE"),
        ({"TWILIO_RATE": "-1"}, "TWILIO_RATE"),
        ({"TWILIO_OPT_IN_KEYWORDS": "START, OPT IN"}, "TWILIO_OPT_IN_KEYWORDS"),
        ({"WORKSHOP_REMINDERS": "24h"}, "WORKSHOP_REMINDERS"),
        ({"QUIET_HOURS": "9pm-8am"}, "QUIET_HOURS"),
        ({"REPORTS_PER_HOUR": "0"}, "REPORTS_PER_HOUR"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"TWILIO_FROM_NUMBER": "312 555 0100"}, "TWILIO_FROM_NUMBER"),
        (
            {
                "TELEGRAM_BOT_TOKEN": "1:x",
                "TELEGRAM_MODE": "webhook",
                "PUBLIC_URL": "https://x.org",
            },
            "TELEGRAM_WEBHOOK_SECRET",
        ),
        (
            {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "PUBLIC_URL": "https://x.org"},
            "TWILIO_FROM_NUMBER",
        ),
        ({"TWILIO_ACCOUNT_SID": "AC1"}, "TWILIO_AUTH_TOKEN"),
        ({"PUBLIC_URL": "http://bot.example.org"}, "PUBLIC_URL: must be https"),
        ({"DATA_KEY": "not-a-fernet-key"}, "DATA_KEY"),
        ({"DATA_KEY": f"{KEY},{KEY[:-2]}"}, "DATA_KEY"),  # the old key of a rotation, cut
        # No silent development key where several processes share one database.
        ({"DATABASE_URL": "postgresql://bot@db.internal/bot"}, "DATA_KEY"),
        ({"DATABASE_URL": "postgres://bot@db.internal/bot"}, "rrbot keygen"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_it(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_secrets_never_print() -> None:
    url = "postgresql://bot:db-password@db.internal/bot"
    settings = load_settings(
        {"TELEGRAM_BOT_TOKEN": "123:very-secret", "DATA_KEY": KEY, "DATABASE_URL": url}
    )
    for shown in (repr(settings), str(settings)):
        assert "very-secret" not in shown and KEY not in shown and "db-password" not in shown
    assert settings.async_database_url == "postgresql+asyncpg://bot:db-password@db.internal/bot"


def test_a_malformed_data_key_is_named_never_shown() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"DATA_KEY": "hunter2-is-not-a-key"})
    assert "DATA_KEY" in str(caught.value) and "hunter2" not in str(caught.value)


def test_sqlite_without_data_key_still_starts_for_a_newcomer() -> None:
    assert load_settings({"DATABASE_URL": "sqlite:///var/bot.sqlite3"}).data_key is None


def test_a_bad_value_is_not_echoed_in_the_error() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"PORT": "secret-looking-value"})
    assert "secret-looking-value" not in str(caught.value)


@pytest.mark.parametrize(
    "command",
    [["run"], ["web"], ["worker"], ["db", "upgrade"], ["audit"], ["subscribers", "stats"]],
)
def test_every_command_that_opens_postgresql_refuses_to_start_without_data_key(
    command: list[str],
) -> None:
    env = {"DATABASE_URL": "postgresql://bot@127.0.0.1:1/none", "DATA_KEY": ""}
    result = CliRunner().invoke(cli, command, env=env)
    assert result.exit_code == 2
    assert "DATA_KEY" in result.output and "rrbot keygen" in result.output


def test_keygen_needs_no_settings() -> None:
    result = CliRunner().invoke(cli, ["keygen"], env={"DATABASE_URL": "postgresql://x@h/db"})
    assert result.exit_code == 0 and len(result.output.strip()) == 44


def test_a_bad_sslmode_or_url_is_named_never_shown() -> None:
    for url in (
        "postgresql://bot:hunter22@db/bot?sslmode=bogus",
        "postgresql://bot:hunter22@db:x/b",
    ):
        with pytest.raises(SettingsError, match="DATABASE_URL") as raised:
            load_settings({"DATABASE_URL": url, "DATA_KEY": KEY})
        assert "hunter22" not in str(raised.value)


async def test_a_hosted_databases_sslmode_reaches_the_driver(database_url: str) -> None:
    """As hosted PostgreSQL services issue DATABASE_URL (issue 16, point 8). This server has
    TLS off: `prefer` connects without it, `require` is refused by the server (so TLS was asked
    for); asyncpg had rejected the `sslmode` keyword itself, and the bot could not start."""
    from bot.settings import async_database_url
    from bot.storage.db import Database

    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has no TLS: this runs in the PostgreSQL pass")
    separator = "&" if "?" in database_url else "?"
    prefer = Database.from_url(async_database_url(f"{database_url}{separator}sslmode=prefer"))
    require = Database.from_url(async_database_url(f"{database_url}{separator}sslmode=require"))
    try:
        assert await prefer.ping()
        assert not await require.ping()
    finally:
        await prefer.close()
        await require.close()
