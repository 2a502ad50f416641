"""The inbox: nothing is acknowledged to Telegram before it is stored, a SIGKILL in a sign-up
burst loses nobody, an update the library cannot parse is set aside without deafening the bot
or reaching a log, and a repeat of an update is handled once."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import logs
from bot.app import build_services
from bot.core.inbox import LEASE, Inbox
from bot.core.vocabulary import InboxStatus
from bot.storage.crypto import Vault
from bot.storage.db import Database
from bot.storage.inbox import InboxRows
from bot.upkeep import Upkeep
from tests.conftest import DATA_KEY, Bot, Fakes, async_url, make_settings, process_env
from tests.processes import Processes, free_port, wait_healthy
from tests.support import eventually, metrics
from tests.test_cli import rrbot

PEOPLE = 200
FIRST = 730001  # user ids FIRST .. FIRST + PEOPLE - 1
KILL_AFTER = 40  # answered chats: some, not all, so the kill lands mid-burst
USER, OTHER = 52001, 52002
SECRET_TEXT = "Maria is hiding at 4400 S Kedzie"
SECRET_NAME = "Zyxwbeth"
POISON_CHAT = 81234567


def answered(fakes: Fakes) -> dict[int, int]:
    """Messages the bot sent, per chat of the burst."""
    counts = {uid: len(fakes.telegram.messages_to(uid)) for uid in range(FIRST, FIRST + PEOPLE)}
    return {uid: n for uid, n in counts.items() if n}


async def pending_chats(database_url: str) -> set[int]:
    """The chats whose update the inbox holds pending (read as the operator's key reads it)."""
    db = Database.from_url(async_url(database_url))
    try:
        vault = Vault.from_setting(DATA_KEY)
        async with db.transaction() as session:
            inbox = InboxRows(session, vault)
            rows = await inbox.listing([InboxStatus.PENDING], limit=10_000)
            bodies = [inbox.content(row.update_id, row.body_cipher) or {} for row in rows]
    finally:
        await db.close()
    return {int(body["message"]["chat"]["id"]) for body in bodies}


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_sigkill_mid_burst_then_a_restart_stores_and_answers_everyone(
    fakes: Fakes, database_url: str, tmp_path: Path, processes: Processes, mode: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**process_env(fakes, database_url, tmp_path, port), "LOG_LEVEL": "WARNING"}
    if mode == "webhook":
        env |= {"TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_SECRET": "burst-webhook-secret"}
        # Telegram retries a webhook for hours; the fake's retries must outlast the restart.
        fakes.telegram.webhook_attempts = 10
    telegram = fakes.telegram
    for uid in range(FIRST, FIRST + PEOPLE):
        telegram.add_user(uid)
        await telegram.send_text(uid, "/start en_60629")

    with (tmp_path / "bot.log").open("wb") as log:
        first = await processes.spawn(["run"], env, log)
        async with asyncio.timeout(60):
            while len(answered(fakes)) < KILL_AFTER:  # noqa: ASYNC110 (polled to kill mid-burst)
                await asyncio.sleep(0.002)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        await asyncio.sleep(0.3)  # a sendMessage the bot wrote just before dying lands now
        at_kill = answered(fakes)
        assert len(at_kill) < PEOPLE, "the kill came too late to test anything"
        # Handled and answered, not yet marked done: the only updates that may be answered twice.
        in_flight = (await pending_chats(database_url)) & set(at_kill)

        second = await processes.spawn(["run"], env, log)
        await wait_healthy(second, url, within=30)
        started = time.monotonic()
        async with asyncio.timeout(60):
            while len(answered(fakes)) < PEOPLE:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        took = time.monotonic() - started
        await asyncio.sleep(1.0)  # anything doubled would arrive now
        second.kill()
        await second.wait()

    counts = answered(fakes)
    twice = {uid for uid, n in counts.items() if n > 1}
    services = build_services(make_settings(database_url, tmp_path))
    try:
        stored = sum(c.count for c in await services.directory.stats() if c.channel == "telegram")
    finally:
        await services.db.close()
    print(  # the measured numbers, with -s
        f"\n{mode}: answered at the kill {len(at_kill)}, in flight {len(in_flight)}, "
        f"stored {stored}, answered {len(counts)}, twice {len(twice)}; "
        f"the rest answered {took:.1f} s after the restart was healthy"
    )
    assert stored == PEOPLE
    assert len(counts) == PEOPLE
    assert max(counts.values()) <= 2
    assert twice == in_flight


async def test_an_update_the_library_cannot_parse_is_set_aside_and_the_bot_goes_on(
    bot: Bot, caplog: pytest.LogCaptureFixture, database_url: str, tmp_path: Path
) -> None:
    logs.quiet_libraries("DEBUG")
    caplog.set_level(logging.DEBUG)
    for uid in (USER, OTHER):
        bot.telegram.add_user(uid, first_name=SECRET_NAME)
    await bot.telegram.send_text(USER, "/start en_60629")
    # As a newer Bot API might send it: a field this PTB reads as a number is a string.
    person = {"id": POISON_CHAT, "is_bot": False, "first_name": SECRET_NAME}
    poison = {
        "message": {
            "message_id": 7,
            "date": "2026-12-03T10:00:00Z",
            "chat": {**person, "type": "private"},
            "from": person,
            "text": SECRET_TEXT,
        }
    }
    poison_id = await bot.telegram.inject_raw_update(poison)
    await bot.telegram.send_text(OTHER, SECRET_TEXT)
    await bot.telegram.wait_for(USER, 1)
    await bot.telegram.wait_for(OTHER, 1)

    # It fetched past it: a long poll waiting, not the same update again and again.
    polls = bot.telegram.requests_by_method["getUpdates"]
    await asyncio.sleep(1.0)
    assert bot.telegram.requests_by_method["getUpdates"] - polls <= 2
    assert bot.telegram.pending_updates == []
    assert bot.telegram.messages_to(POISON_CHAT) == []

    listed = await rrbot(database_url, tmp_path, "inbox", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [entry] = json.loads(listed.output)
    assert entry["update_id"] == poison_id
    assert (entry["status"], entry["attempts"], entry["error"]) == ("set_aside", 0, "TypeError")
    table = await rrbot(database_url, tmp_path, "inbox", "list")
    assert "set aside" in table.output and "TypeError" in table.output
    for shown in (listed.output, table.output):
        assert SECRET_TEXT not in shown and SECRET_NAME not in shown
        assert str(POISON_CHAT) not in shown

    counted = await metrics(bot)
    assert 'rrbot_inbox_set_aside_total{channel="telegram",reason="unreadable"} 1.0' in counted

    formatter = logs.JSONFormatter()
    assert any("set aside" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        line = formatter.format(record) + record.getMessage()
        for secret in (SECRET_TEXT, "Kedzie", SECRET_NAME, str(POISON_CHAT), str(USER)):
            assert secret not in line, record.name


async def test_a_handling_that_fails_three_times_is_set_aside_and_an_operator_retries_it(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    bot.telegram.add_user(USER)
    bot.telegram.add_user(OTHER)
    bot.telegram.fail_next(3, 500)  # the reply fails, and the two tries after it
    await bot.telegram.send_text(USER, "/start en_60629")
    async with asyncio.timeout(10):
        while not (listed := await bot.services.inbox.items([InboxStatus.SET_ASIDE])):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    [entry] = listed
    assert (entry.attempts, entry.error) == (3, "NetworkError")
    assert bot.telegram.messages_to(USER) == []
    # The ones after it are not held up.
    await bot.telegram.send_text(OTHER, "/start en_60629")
    await bot.telegram.wait_for(OTHER, 1)

    retried = await rrbot(database_url, tmp_path, "inbox", "retry", str(entry.id))
    assert retried.exit_code == 0, retried.output
    again = await rrbot(database_url, tmp_path, "inbox", "retry", str(entry.id))
    assert again.exit_code == 1 and "not set aside" in again.output
    # The running bot's sweep (every 5 s) takes it back.
    [welcome] = await bot.telegram.wait_for(USER, 1, timeout=10)
    assert "/stop" in welcome.text
    assert "inbox.retry" in (await rrbot(database_url, tmp_path, "audit")).output
    await asyncio.sleep(0.3)
    assert len(bot.telegram.messages_to(USER)) == 1


def message_update(update_id: int, user: int, text: str) -> dict[str, Any]:
    person = {"id": user, "is_bot": False, "first_name": "Ana", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user, "type": "private", "first_name": "Ana"},
            "from": person,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


class TestWebhookMode:
    @pytest.fixture
    def bot_env(self) -> dict[str, str]:
        return {"TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_SECRET": "s3cret-webhook-token"}

    async def test_a_repeat_of_an_update_is_answered_200_and_handled_once(self, bot: Bot) -> None:
        bot.telegram.add_user(USER)
        update = message_update(9_000_001, USER, "/start en_60629")
        await bot.telegram.inject_raw_update(update)
        await bot.telegram.inject_raw_update(update)  # Telegram retrying, or a proxy's replay
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-webhook-token"}
        async with httpx.AsyncClient() as client:
            posted = await asyncio.gather(
                *(
                    client.post(f"{bot.url}/telegram/webhook", json=update, headers=headers)
                    for _ in range(100)  # a hundred posts of one update, at once
                )
            )
        assert {p.status_code for p in posted} == {200}
        await bot.telegram.wait_for(USER, 1)
        await bot.telegram.wait_webhook_idle()
        await asyncio.sleep(0.5)
        assert len(bot.telegram.messages_to(USER)) == 1
        assert set(bot.telegram.webhook_responses) == {200}

    async def test_a_repeat_after_the_inbox_let_go_of_the_update_is_still_ignored(
        self, bot: Bot
    ) -> None:
        """Issue 16, point 5: an hour after its handling the inbox deletes an update (and its
        text); its update_id is kept as seen, so a repeat then is ignored too."""
        bot.telegram.add_user(USER)
        update = message_update(9_000_002, USER, "/start en_60629")
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-webhook-token"}
        async with httpx.AsyncClient() as client:
            url = f"{bot.url}/telegram/webhook"
            assert (await client.post(url, json=update, headers=headers)).status_code == 200
            await bot.telegram.wait_for(USER, 1)
            await eventually(  # marked done just after its reply
                bot.services.inbox.counts, until=lambda n: n[InboxStatus.DONE] == 1
            )
            later = datetime.now(UTC) + timedelta(hours=2)
            services = bot.services
            assert await Inbox(services.db, services.vault, lambda: later).purge() == 1
            assert (await client.post(url, json=update, headers=headers)).status_code == 200
        await asyncio.sleep(0.5)
        assert len(bot.telegram.messages_to(USER)) == 1

    @pytest.mark.parametrize(
        "body",
        [
            "null",
            "[]",
            '"an update"',
            "5",
            "{}",
            '{"update_id": "9"}',
            "[" * 30_000 + "]" * 30_000,
        ],
        ids=["null", "list", "string", "number", "empty", "string-id", "deep"],
    )
    async def test_json_that_is_not_an_update_answers_400(self, bot: Bot, body: str) -> None:
        headers = {
            "X-Telegram-Bot-Api-Secret-Token": "s3cret-webhook-token",
            "Content-Type": "application/json",
        }
        async with httpx.AsyncClient() as client:
            posted = await client.post(f"{bot.url}/telegram/webhook", content=body, headers=headers)
        assert posted.status_code == 400

    async def test_an_unreadable_update_is_stored_answered_200_and_set_aside(
        self, bot: Bot
    ) -> None:
        bot.telegram.add_user(USER)
        await bot.telegram.inject_raw_update({"message": ["not", "a", "message"]})
        await bot.telegram.send_text(USER, "/start en_60629")
        await bot.telegram.wait_for(USER, 1)
        await bot.telegram.wait_webhook_idle()
        assert set(bot.telegram.webhook_responses) == {200}
        [entry] = await bot.services.inbox.items([InboxStatus.SET_ASIDE])
        assert entry.error == "TypeError"


NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


async def test_the_inbox_stores_an_update_id_once_and_purges_what_was_handled_an_hour_ago(
    database_url: str, tmp_path: Path
) -> None:
    now = [NOW]
    services = build_services(make_settings(database_url, tmp_path))
    inbox = Inbox(services.db, services.vault, lambda: now[0])
    try:
        first = await inbox.store([message_update(5, USER, "/start"), message_update(6, USER, "x")])
        assert [e.update_id for e in first] == [5, 6]
        assert await inbox.store([message_update(5, USER, "/start")]) == []
        seventh = message_update(7, USER, "y")  # once: its date is the clock's second
        assert [e.update_id for e in await inbox.store([seventh] * 2)] == [7]
        # Held by the process that stored them: a sweep takes none, a restart every pending one.
        assert await inbox.take_released() == []
        await inbox.done(first[0].id)
        await inbox.set_aside(first[1].id, "TypeError")
        upkeep = Upkeep(services.reports, inbox=inbox)
        now[0] = NOW + timedelta(minutes=59)
        assert (await upkeep.tick()).get("inbox", 0) == 0
        now[0] = NOW + timedelta(minutes=61)
        assert (await upkeep.tick())["inbox"] == 1
        counts = await inbox.counts()
        assert counts == {InboxStatus.PENDING: 1, InboxStatus.DONE: 0, InboxStatus.SET_ASIDE: 1}
        [left] = await inbox.take_all()
        assert left.update_id == 7
        same = left.data == seventh
        assert same  # a bool: a failure shows no update's content
        # Its lease runs out (its process died): a sweep takes it.
        now[0] += LEASE + timedelta(seconds=1)
        assert [entry.id for entry in await inbox.take_released()] == [left.id]
    finally:
        await services.db.close()
