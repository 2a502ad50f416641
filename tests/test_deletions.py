"""Nothing left at Twilio (issue 15, point 9): every SMS the bot receives or sends is deleted
there once handled or final, through a table a crash cannot empty; Twilio's refusals are
retried; a web process killed with SIGKILL mid-burst leaves no answered message behind."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.channels.sms.sender import FormTransport, TwilioSender
from bot.core.alerts import AlertDraft
from bot.core.audit import Actor
from bot.core.vocabulary import AlertKind
from bot.delivery.deletions import MAX_ATTEMPTS, Deletions
from bot.delivery.worker import Worker
from bot.storage.models import DeletionRow, DeliveryRow
from tests.conftest import TWILIO_SID, TWILIO_TOKEN, Bot
from tests.processes import Processes, wait_healthy
from tests.test_alerts import finished
from tests.test_crash import sms_web


def later(by: timedelta) -> datetime:
    return datetime.now(UTC) + by


async def deletions(bot: Bot, *, at: datetime) -> dict[str, int]:
    """One round of the upkeep's deletions with the clock at `at`."""
    sender = TwilioSender(bot.settings)
    try:
        return await Deletions(bot.services.db, lambda: at).run(sender)
    finally:
        await sender.close()


async def waiting(bot: Bot) -> list[DeletionRow]:
    async with bot.services.db.transaction() as session:
        return list((await session.scalars(select(DeletionRow))).all())


async def test_the_fake_deletes_a_finished_message_and_refuses_one_in_progress(bot: Bot) -> None:
    fake = bot.twilio
    fake.auto_status = False
    client = Client(TWILIO_SID, TWILIO_TOKEN, http_client=FormTransport())
    client.api.base_url = bot.settings.twilio_api_url.unicode_string().rstrip("/")
    client.region = client.edge = None
    try:
        created = await client.messages.create_async(
            to="+13125550111", from_="+13125550100", body="hello"
        )
        with pytest.raises(TwilioRestException) as refused:
            await client.messages(created.sid).delete_async()  # still queued
        assert refused.value.code == 20009
        fake.messages[created.sid]["status"] = "delivered"
        assert await client.messages(created.sid).delete_async() is True
        with pytest.raises(TwilioRestException) as gone:
            await client.messages(created.sid).fetch_async()
        assert gone.value.status == 404
        assert fake.deleted == [created.sid] and fake.kept() == []
    finally:
        await client.http_client.close()


async def test_nothing_stays_at_twilio_after_a_conversation_and_an_alert(
    bot: Bot, worker: Worker
) -> None:
    phone = "+13125550142"
    await bot.twilio.text(phone, "JOIN 60629")
    await bot.twilio.text(phone, "RIGHTS")
    alert = await bot.services.alerts.send_now(
        AlertDraft(AlertKind.ALERT, ("60629",), {"en": "Agents at 59th and Kedzie."}),
        Actor.operator(),
    )
    await finished(bot, alert.id)
    await bot.twilio.wait_status_idle()
    kept = bot.twilio.kept()
    # Two texts in, their replies and the alert out: each is a record at Twilio.
    assert {m["direction"] for m in kept} == {"inbound", "outbound-reply", "outbound-api"}
    assert {m["sid"] for m in kept} == {row.sid for row in await waiting(bot)}
    # Not before a minute (Twilio is still processing them): nothing is tried early.
    assert (await deletions(bot, at=later(timedelta(seconds=5))))["deleted"] == 0
    done = await deletions(bot, at=later(timedelta(minutes=2)))
    assert done["deleted"] == len(kept)
    assert bot.twilio.kept() == [] and await waiting(bot) == []


async def test_a_refused_deletion_is_retried_and_one_given_up_on_stays_counted(bot: Bot) -> None:
    await bot.twilio.text("+13125550143", "HELP")
    await bot.twilio.wait_status_idle()
    bot.twilio.refuse_deletes(1)
    base = later(timedelta(minutes=2))
    first = await deletions(bot, at=base)
    assert first["retried"] == 1 and first["deleted"] >= 1  # the reply went; the text waits
    [row] = await waiting(bot)
    assert (row.attempts, row.error) == (1, "twilio:20009")
    # Tried again a minute later, not before.
    assert (await deletions(bot, at=base + timedelta(seconds=30)))["deleted"] == 0
    assert (await deletions(bot, at=base + timedelta(seconds=61)))["deleted"] == 1
    assert bot.twilio.kept() == []

    await bot.twilio.text("+13125550144", "HELP")
    await bot.twilio.wait_status_idle()
    bot.twilio.refuse_deletes(10 * MAX_ATTEMPTS)
    moment = later(timedelta(minutes=2))
    for _ in range(MAX_ATTEMPTS):
        await deletions(bot, at=moment)
        moment += timedelta(hours=7)
    assert await bot.services.deletions.counts() == (0, 2)
    assert all(r.failed_at is not None and r.error == "twilio:20009" for r in await waiting(bot))


async def test_an_sms_never_reported_final_is_deleted_after_a_day(bot: Bot, worker: Worker) -> None:
    bot.twilio.auto_status = False  # Twilio accepts it and never says more
    phone = "+13125550145"
    await bot.twilio.text(phone, "JOIN 60629")
    alert = await bot.services.alerts.send_now(
        AlertDraft(AlertKind.ALERT, ("60629",), {"en": "Agents at 59th and Kedzie."}),
        Actor.operator(),
    )
    await finished(bot, alert.id)
    [sent] = [m for m in bot.twilio.kept() if m["direction"] == "outbound-api"]
    sent["status"] = "sent"  # accepted by the carrier; no delivery report comes
    await deletions(bot, at=later(timedelta(hours=2)))
    assert sent["sid"] in {m["sid"] for m in bot.twilio.kept()}  # not yet: a report may come
    scheduled = await deletions(bot, at=later(timedelta(days=1, hours=1)))
    assert scheduled["unfinished"] == 1
    async with bot.services.db.transaction() as session:
        provider_ids = (await session.scalars(select(DeliveryRow.provider_id))).all()
    assert sent["sid"] not in provider_ids  # the delivery keeps no link to Twilio's record
    await deletions(bot, at=later(timedelta(days=1, hours=2)))
    assert sent["sid"] not in {m["sid"] for m in bot.twilio.kept()}


async def test_when_turned_off_nothing_is_deleted(bot: Bot) -> None:
    off = Deletions(bot.services.db, lambda: later(timedelta(days=2)), enabled=False)
    await off.schedule(["SM" + "1" * 32])
    await bot.twilio.text("+13125550146", "HELP")
    sender = TwilioSender(bot.settings)
    try:
        assert (await off.run(sender))["deleted"] == 0
    finally:
        await sender.close()
    assert "SM" + "1" * 32 not in {r.sid for r in await waiting(bot)}


async def test_a_web_process_killed_mid_burst_leaves_no_answered_text_at_twilio(
    bot: Bot, database_url: str, tmp_path: Path, processes: Processes
) -> None:
    web, url, env = await sms_web(bot, database_url, tmp_path, processes)
    bot.twilio.webhook_url = f"{url}/twilio/sms"
    answered: list[str] = []
    ten = asyncio.Event()
    lanes = asyncio.Semaphore(6)  # a few in flight at the kill, most still to come

    async def one(i: int) -> None:
        async with lanes:
            result = await bot.twilio.text(f"+1312555{2000 + i:04d}", "RIGHTS")
        if result.status == 200:
            answered.append(result.sid)
            if len(answered) >= 10:
                ten.set()

    texts = [asyncio.create_task(one(i)) for i in range(60)]
    async with asyncio.timeout(60):
        await ten.wait()
    os.kill(web.pid, signal.SIGKILL)
    await asyncio.gather(*texts, return_exceptions=True)
    assert 10 <= len(answered) < 60, "the kill came too late to test anything"
    await web.wait()
    again = await processes.spawn(["web"], env)
    await wait_healthy(again, url, within=30)
    await deletions(bot, at=later(timedelta(minutes=2)))
    left = {m["sid"] for m in bot.twilio.kept()}
    assert not left & set(answered), f"{len(left & set(answered))} of {len(answered)} kept"
