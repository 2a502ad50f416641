"""Claims that fence: several workers, a slow shared rate and a short lease send each row
once; a correction stops the rows already claimed; a row that cannot be sent fails alone.

The workers here share one process and one database (on PostgreSQL, its shared rate bucket
too); tests/test_crash.py kills worker processes."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.app import build_worker
from bot.core.alerts import AlertDraft, Progress
from bot.core.audit import Actor
from bot.core.vocabulary import AlertKind, DeliveryStatus
from bot.delivery.recorder import Recorder
from bot.storage.models import DeliveryRow, ReceiptRow, SubscriberRow
from bot.storage.outbox import Notice, Outbox, Update
from tests.conftest import Bot
from tests.support import subscribed
from tests.test_alerts import finished

RATE = 10  # sends a second, shared by every worker
PEOPLE = 40  # four seconds at the rate


def received(bot: Bot, fragment: str) -> Counter[int]:
    return Counter(m.chat_id for m in bot.telegram.sent if fragment in m.text)


class TestSharedSlowRate:
    @pytest.fixture
    def bot_env(self) -> dict[str, str]:
        # Rows wait their turn far longer than the lease: before the fence and the heartbeat,
        # siblings reclaimed them and both sent.
        return {"TELEGRAM_RATE": str(RATE), "TELEGRAM_CHAT_RATE": "0", "DELIVERY_LEASE": "0.6"}

    async def test_three_workers_send_each_row_once_within_the_rate(self, bot: Bot) -> None:
        users = await subscribed(bot, 91000, PEOPLE)
        bot.telegram.rate_limit(RATE, None)  # the provider's own limit, as Telegram keeps it
        before = bot.telegram.requests_by_method["sendMessage"]
        workers = [build_worker(bot.services, name=f"w{i}") for i in range(3)]
        for worker in workers:
            await worker.start()
        try:
            alert = await bot.services.alerts.send_now(
                AlertDraft(AlertKind.ALERT, ("60629",), {"en": "Vans on 26th Street."}),
                Actor.operator(),
            )
            await finished(bot, alert.id, within=30)
        finally:
            for worker in workers:
                await worker.stop()
        counts = received(bot, "Vans on 26th")
        assert set(counts) == set(users)  # nobody missing
        assert sum(counts.values()) == PEOPLE  # nobody twice
        requests = bot.telegram.requests_by_method["sendMessage"] - before
        assert bot.telegram.count_429 <= max(1, requests // 100), (bot.telegram.count_429, requests)


class TestCorrection:
    @pytest.fixture
    def bot_env(self) -> dict[str, str]:
        return {"TELEGRAM_RATE": str(RATE), "TELEGRAM_CHAT_RATE": "0"}

    async def test_a_correction_mid_broadcast_stops_what_was_claimed(self, bot: Bot) -> None:
        await subscribed(bot, 92000, PEOPLE)
        worker = build_worker(bot.services)
        await worker.start()
        try:
            original = await bot.services.alerts.send_now(
                AlertDraft(AlertKind.ALERT, ("60629",), {"en": "Raid at the Pulaski plant."}),
                Actor.operator(),
            )
            a_quarter = asyncio.Event()
            bot.telegram.add_listener(
                lambda _: (
                    a_quarter.set()
                    if sum(received(bot, "Pulaski plant").values()) >= PEOPLE // 4
                    else None
                )
            )
            async with asyncio.timeout(20):
                await a_quarter.wait()
            correction = await bot.services.alerts.send_now(
                AlertDraft(
                    AlertKind.CORRECTION,
                    (),
                    {"en": "Correction: no raid at the plant."},
                    refers_to=original.id,
                ),
                Actor.operator(),
            )
            corrected_at = time.monotonic()
            await finished(bot, correction.id, within=30)
            await finished(bot, original.id, within=30)
        finally:
            await worker.stop()
        originals = [m for m in bot.telegram.sent if "Pulaski plant" in m.text]
        # Claimed rows waiting behind the rate were stopped too: at most the sends already
        # under way when the correction committed, or sent before the worker next looked
        # for corrections (every 0.2 s at most: `Fence.corrected`), went out after it.
        late = [m for m in originals if m.at > corrected_at + 0.25]
        assert late == [], len(late)
        assert len(originals) < PEOPLE  # the rest never got the original
        # Everyone who got the original got the correction, once; nobody else did.
        got = received(bot, "Pulaski plant")
        fixed = received(bot, "Correction: no raid")
        assert set(fixed) == set(got) and set(fixed.values()) == {1}


async def broadcast(bot: Bot, text: str, *, worker_name: str | None = None) -> Progress:
    """An alert to 60629 sent by a worker of its own, once every delivery has ended."""
    worker = build_worker(bot.services, name=worker_name)
    await worker.start()
    try:
        alert = await bot.services.alerts.send_now(
            AlertDraft(AlertKind.ALERT, ("60629",), {"en": text}), Actor.operator()
        )
        await finished(bot, alert.id, within=20)
    finally:
        await worker.stop()
    return await bot.services.alerts.progress(alert.id)


async def test_a_row_that_will_not_open_fails_alone_and_the_rest_go_out(bot: Bot) -> None:
    users = await subscribed(bot, 93000, n=6)
    async with bot.services.db.transaction() as session:
        # One subscriber's address under a key nobody has (a cipher from another deployment).
        await session.execute(
            update(SubscriberRow)
            .where(SubscriberRow.id == 3)
            .values(address_cipher=b"\x80" + b"not a ciphertext" * 4)
        )
    progress = await broadcast(bot, "Checkpoint at Cermak.")
    assert progress.counts.get(("telegram", DeliveryStatus.FAILED.value)) == 1
    assert sum(received(bot, "Checkpoint at Cermak").values()) == len(users) - 1


async def test_a_receipt_that_comes_before_the_outcome_is_applied_when_it_lands(
    bot: Bot,
) -> None:
    now = datetime.now(UTC)
    async with bot.services.db.transaction() as session:
        outbox = Outbox(session)
        await outbox.enqueue_notice(
            Notice(
                channel="sms",
                language="en",
                text="Workshop tomorrow.",
                expires_at=now + timedelta(hours=1),
                address="+13125550190",
            ),
            now,
            bot.services.vault,
        )
        [job] = await outbox.claim("w1", 10, now, timedelta(seconds=30), channel="sms")
    # An outcome from a worker that does not hold the claim changes nothing (the fence).
    stale = Recorder(bot.services.db, "w2", lambda: datetime.now(UTC))
    await stale.add(Update(job.delivery_id, DeliveryStatus.FAILED, attempts=1), "sms")
    async with bot.services.db.transaction() as session:
        row = await session.get(DeliveryRow, job.delivery_id)
        assert row is not None and row.status == DeliveryStatus.SENDING and row.worker == "w1"
    # Twilio reports "delivered" before the worker has written what it sent.
    assert await bot.services.receipts.twilio("SM" + "e" * 32, "delivered", None)
    recorder = Recorder(bot.services.db, "w1", lambda: datetime.now(UTC))
    await recorder.add(
        Update(job.delivery_id, DeliveryStatus.SENT, provider_id="SM" + "e" * 32, attempts=1),
        "sms",
    )
    async with bot.services.db.transaction() as session:
        row = await session.get(DeliveryRow, job.delivery_id)
        assert row is not None and row.status == DeliveryStatus.DELIVERED
        assert (await session.scalars(select(ReceiptRow))).all() == []  # applied, not kept


async def test_a_worker_named_after_a_very_long_host_name_still_claims(bot: Bot) -> None:
    """Issue 16, point 9: the name its claims carry fits the column (PostgreSQL refused it)."""
    users = await subscribed(bot, 96000, n=3)
    long_name = "rack-7." + "very-long-subdomain." * 12 + "example"
    await broadcast(bot, "Checkpoint at Archer.", worker_name=long_name)
    assert sum(received(bot, "Checkpoint at Archer").values()) == len(users)
