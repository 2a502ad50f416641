"""`rrbot keys rotate` (issue 15, point 3): every value sealed anew and every index remade under
the new key, after which the old key can go and nothing is forgotten (subscribers, coordinators,
blocked senders, report limits, an opted-out number no longer kept, an unused invite); and a
rotation killed with SIGKILL halfway goes on when run again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select
from typer.testing import CliRunner, Result

from bot.app import Services, build_services
from bot.cli import app as cli
from bot.core.audit import Actor
from bot.core.retention import Retention
from bot.core.vocabulary import Channel, ReportRefusal, Role, SubscriberStatus
from bot.storage.crypto import Purpose, Vault, generate_key
from bot.storage.keycheck import check_ready
from bot.storage.models import SubscriberRow, place
from bot.storage.rotation import remaining
from bot.storage.subscribers import Subscribers
from tests.conftest import DATA_KEY, Bot, make_settings

OLD = DATA_KEY  # the key the bot fixture runs with
PHONE, GONE, BLOCKED, BUSY = "+13125550181", "+13125550182", "+13125550183", "+13125550184"
ROSA, LUIS = 9201, 9202


async def rrbot(database_url: str, tmp_path: Path, data_key: str, *args: str) -> Result:
    env = {"DATABASE_URL": database_url, "DATA_KEY": data_key, "VAR_DIR": str(tmp_path / "var")}
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def services_with(database_url: str, tmp_path: Path, data_key: str) -> Services:
    services = build_services(make_settings(database_url, tmp_path, DATA_KEY=data_key))
    await check_ready(services.db, services.vault)
    return services


async def test_after_a_rotation_the_old_key_can_go_and_nothing_is_forgotten(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    await bot.twilio.text(PHONE, "JOIN 60629")
    await bot.twilio.text(GONE, "JOIN 60629")
    await bot.twilio.text(GONE, "STOP")
    later = datetime.now(UTC) + timedelta(days=31)
    live = bot.services.retention
    await Retention(live.db, live.vault, lambda: later, live.periods).purge()  # GONE's number
    await bot.twilio.text(BLOCKED, "REPORT agents at the corner of 26th and Pulaski 60623")
    await bot.services.reports.block_sender(1, Actor.operator())
    for _ in range(3):
        await bot.twilio.text(BUSY, "REPORT agents at the corner of 26th and Pulaski 60623")
    coordinators = bot.services.coordinators
    await coordinators.add(ROSA, Role.ADMIN, "Rosa", Actor.operator())
    code = await coordinators.invite(Role.COORDINATOR, Actor.operator())
    assert isinstance(code, str)
    async with bot.services.db.transaction() as session:
        # One subscriber as the bot stored them before values were sealed (Fernet, and the
        # index without a purpose): a rotation moves them too.
        row = await Subscribers(session, bot.services.vault).find(Channel.SMS, PHONE)
        assert row is not None
        row.address_cipher = Fernet(OLD.encode()).encrypt(PHONE.encode())
        row.address_index = bot.services.vault.indexes(PHONE, Purpose.SUBSCRIBER)[1]

    new = generate_key()
    rotated = await rrbot(database_url, tmp_path, f"{new},{OLD}", "keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    assert "DATA_KEY can now be that key alone" in rotated.output
    assert "subscribers.address_cipher: 1 sealed anew" in rotated.output  # PHONE; GONE has none
    assert OLD not in rotated.output and new not in rotated.output

    only_new = await services_with(database_url, tmp_path, new)  # the old key is gone
    try:
        assert await remaining(only_new.db, only_new.vault) == 0
        async with only_new.db.transaction() as session:
            subscribers = Subscribers(session, only_new.vault)
            found = await subscribers.find(Channel.SMS, PHONE)
            assert found is not None and found.address_cipher is not None
            assert found.address_index == only_new.vault.index(PHONE, Purpose.SUBSCRIBER)
            where = place(SubscriberRow.address_cipher, found.id)
            assert only_new.vault.open(found.address_cipher, where) == PHONE
            stopped = await subscribers.find(Channel.SMS, GONE)  # its number is not kept:
            assert stopped is not None and stopped.status == SubscriberStatus.OPTED_OUT
            refused = only_new.reports.refused
            blocked = await refused(session, Channel.SMS, BLOCKED)
            busy = await refused(session, Channel.SMS, BUSY)
            assert blocked is not None and blocked.reason is ReportRefusal.BLOCKED
            assert busy is not None and busy.reason is ReportRefusal.LIMIT
        assert (await only_new.coordinators.by_telegram(ROSA)) is not None
        joined = await only_new.coordinators.redeem(code, LUIS, "Luis")
        assert joined.role is Role.COORDINATOR
        again = await rrbot(database_url, tmp_path, new, "keys", "rotate")  # nothing left to do
        assert again.exit_code == 0 and "sealed anew" not in again.output
    finally:
        await only_new.db.close()


async def test_a_rotation_killed_halfway_goes_on_when_run_again(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    vault = bot.services.vault
    now = datetime.now(UTC)
    people = 10_000
    numbers = [f"+1312556{i:04d}" for i in range(people)]
    async with bot.services.db.transaction() as session:
        await session.execute(
            insert(SubscriberRow),
            [
                {
                    "id": i + 1,
                    "channel": "sms",
                    "address_index": vault.index(number, Purpose.SUBSCRIBER),
                    "address_cipher": vault.seal(
                        number, place(SubscriberRow.address_cipher, i + 1)
                    ),
                    "language": "en",
                    "zone": "60629",
                    "topics": ["alerts"],
                    "status": "active",
                    "status_changed_at": now,
                    "created_at": now,
                }
                for i, number in enumerate(numbers)
            ],
        )
    new = generate_key()
    both = Vault.from_setting(f"{new},{OLD}")

    under_new = both.seal("", "")[:9]  # a sealed value's first bytes name its key

    async def rotated() -> int:
        if database_url.startswith("sqlite"):
            # A plain reader: the bot's transactions on SQLite take the write lock first
            # (BEGIN IMMEDIATE), and would wait out the rotation's batches.
            with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as db:
                (found,) = db.execute(
                    "SELECT count(*) FROM subscribers WHERE substr(address_cipher, 1, 9) = ?",
                    (under_new,),
                ).fetchone()
            return int(found)
        async with bot.services.db.transaction() as session:
            found = await session.scalar(
                select(func.count()).where(
                    func.substr(SubscriberRow.address_cipher, 1, 9) == under_new
                )
            )
        return int(found or 0)

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "TWILIO_"))},
        "DATABASE_URL": database_url,
        "DATA_KEY": f"{new},{OLD}",
        "VAR_DIR": str(tmp_path / "var"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "keys", "rotate", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    done = 0
    try:
        for _ in range(3000):  # a minute at most
            if (done := await rotated()) > 0:
                break
            await asyncio.sleep(0.02)
    finally:
        if process.returncode is None:
            os.kill(process.pid, signal.SIGKILL)
        await process.wait()
    at_kill = await rotated()
    assert 0 < at_kill < people, f"the kill came too late ({done}, {at_kill})"
    print(f"rotated at the kill: {at_kill} of {people}")
    finished = await rrbot(database_url, tmp_path, f"{new},{OLD}", "keys", "rotate")
    assert finished.exit_code == 0, finished.output
    assert await rotated() == people
    async with bot.services.db.transaction() as session:
        ciphers = (await session.scalars(select(SubscriberRow.address_cipher))).all()
    assert all(c is not None and both.current(c) for c in ciphers)
    only_new = Vault.from_setting(new)
    async with bot.services.db.transaction() as session:
        rows = (await session.execute(select(SubscriberRow.id, SubscriberRow.address_cipher))).all()
    assert all(
        only_new.open(cipher, place(SubscriberRow.address_cipher, i)) == numbers[i - 1]
        for i, cipher in rows
        if cipher is not None
    )
