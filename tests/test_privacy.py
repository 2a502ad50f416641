"""Privacy by construction: what the flows log, and what the redaction catches anyway."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bot import logs
from bot.storage.crypto import generate_key
from bot.storage.models import Base, SubscriberRow
from tests.conftest import Bot

PHONE = "+13125550177"
USER = 88123456
SECRET_TEXT = "my neighbour Maria at 4400 S Kedzie"


async def test_no_number_chat_id_or_message_text_reaches_the_logs(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    logs.quiet_libraries("DEBUG")
    caplog.set_level(logging.DEBUG)
    bot.telegram.add_user(USER)
    for body in ("JOIN 60629", SECRET_TEXT, "RIGHTS", "2", "STOP", "REPORT " + SECRET_TEXT):
        await bot.twilio.text(PHONE, body)
    await bot.twilio.text(PHONE, "JOIN", forge=True)
    for body in ("/start es_60629", SECRET_TEXT, "/rights"):
        before = len(bot.telegram.messages_to(USER))
        await bot.telegram.send_text(USER, body)
        await bot.telegram.wait_for(USER, before + 1)
    await bot.telegram.block(USER)

    assert len(caplog.records) >= 8, "the flows should have logged their events"
    formatter = logs.JSONFormatter()
    for record in caplog.records:
        line = formatter.format(record) + record.getMessage()
        for secret in (PHONE, PHONE[2:], "5550177", str(USER), "Kedzie", "Maria"):
            assert secret not in line, record.name


async def test_the_database_holds_no_number_or_chat_id(bot: Bot, database_url: str) -> None:
    bot.telegram.add_user(USER)
    await bot.twilio.text(PHONE, "JOIN 60629")
    await bot.telegram.send_text(USER, "/start es_60629")
    await bot.telegram.wait_for(USER, 1)
    assert len(await bot.services.directory.stats()) == 2
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))  # with the WAL
        assert len(raw) > 10_000
    else:
        # On PostgreSQL, every column of every row, as text.
        async with bot.services.db.transaction() as session:
            rows = [
                repr(tuple(row))
                for table in Base.metadata.sorted_tables
                for row in (await session.execute(select(table))).all()
            ]
        raw = "\n".join(rows).encode()
        assert len(rows) >= 4
    for secret in (PHONE, PHONE[2:], str(USER)):
        assert secret.encode() not in raw


def test_redaction_masks_digit_runs_and_drops_exception_messages() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed for %s", (PHONE,), None)
    try:
        raise ValueError(f"bad number {PHONE}")
    except ValueError as error:
        record.exc_info = (ValueError, error, error.__traceback__)
    logs.RedactingFilter().filter(record)
    out = logging.Formatter().format(record)
    assert PHONE not in out and "5550177" not in out
    assert "ValueError" in out and logs.REDACTED in out
    # The JSON line keeps the error's type and frames, not its message.
    entry = json.loads(logs.JSONFormatter().format(record))
    assert entry["error"].endswith("ValueError") and "5550177" not in entry["error"]


def test_json_lines_carry_extra_fields() -> None:
    record = logging.LogRecord("bot", logging.INFO, __file__, 1, "sms answered", (), None)
    record.intent = "rights"
    entry = json.loads(logs.JSONFormatter().format(record))
    assert (
        entry["event"] == "sms answered"
        and entry["intent"] == "rights"
        and entry["level"] == "INFO"
    )


def test_a_librarys_record_keeps_its_wording_but_not_the_update_it_quotes() -> None:
    update = {"message": {"text": SECRET_TEXT, "chat": {"first_name": "Maria"}}}
    record = logging.LogRecord(
        "telegram.ext.Application",
        logging.CRITICAL,
        __file__,
        1,
        "Error while building CallbackContext for update %s. Update will not be processed.",
        (update,),
        None,
    )
    logs.RedactingFilter().filter(record)
    line = logs.JSONFormatter().format(record)
    assert "Kedzie" not in line and "Maria" not in line
    assert "Update will not be processed" in json.loads(line)["event"]


async def insert_twice(bot: Bot, cipher: bytes) -> None:
    now = datetime.now(UTC)
    row = {
        "channel": "sms", "address_index": "a-blind-index", "address_cipher": cipher,
        "language": "en", "zone": "60629", "topics": [], "status": "active",
        "consent_at": now, "consent_via": "test", "status_changed_at": now, "created_at": now,
    }  # fmt: skip
    async with bot.services.db.transaction() as session:
        await session.execute(insert(SubscriberRow), [row, row])


async def test_a_database_error_never_carries_the_values_bound_to_it(bot: Bot) -> None:
    # A duplicate subscriber: the error names the statement, never the parameters. (The
    # server's own detail names the duplicate key's values: blind indexes and ids only.)
    with pytest.raises(IntegrityError) as caught:
        await insert_twice(bot, SECRET_TEXT.encode())
    assert SECRET_TEXT not in str(caught.value)
    assert SECRET_TEXT not in "".join(traceback.format_exception(caught.value))


def test_a_command_whose_database_is_down_says_so_in_a_line_without_secrets(
    tmp_path: Path,
) -> None:
    # Nothing listens on port 1. Before: Typer's pretty traceback, 570 lines of frames and
    # code (its local variables, where enabled, held the URL with its password).
    key = generate_key()
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://bot:pw-secret-4711@127.0.0.1:1/none",
        "DATA_KEY": key,
        "VAR_DIR": str(tmp_path / "var"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "audit"], env=env, capture_output=True, text=True, timeout=60
    )
    shown = done.stdout + done.stderr
    assert done.returncode == 1
    assert "DATABASE_URL did not answer" in shown and len(shown.splitlines()) <= 2
    assert "pw-secret-4711" not in shown and key not in shown and "127.0.0.1" not in shown
