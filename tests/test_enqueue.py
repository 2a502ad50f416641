"""Large alerts are queued in committed chunks from a cursor on the alert: the approval
commits at once, the alert's own zone is queued before its neighbours, a crash mid-way
resumes where it stopped, and a correction stops the original's queuing."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text

from bot.app import build_worker
from bot.core.alerts import AlertDraft
from bot.core.audit import Actor, entries
from bot.core.vocabulary import AlertKind, Channel
from bot.storage import outbox as outbox_module
from bot.storage.models import AlertRow, DeliveryRow, SubscriberRow
from bot.storage.outbox import Outbox
from bot.storage.subscribers import Subscribers
from tests.conftest import Bot
from tests.test_alerts import finished

CHUNK = 7
ZONES = ("60629", "60632")  # the alert's own zone, then a neighbour
EACH = 20


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_module, "ENQUEUE_CHUNK", CHUNK)
    monkeypatch.setattr(outbox_module, "CONTINUE_CHUNK", CHUNK)


async def people(bot: Bot) -> dict[str, list[int]]:
    """EACH Telegram subscribers in each zone, added alternately (ids interleave)."""
    chats: dict[str, list[int]] = {zone: [] for zone in ZONES}
    now = datetime.now(UTC)
    async with bot.services.db.transaction() as session:
        subscribers = Subscribers(session, bot.services.vault)
        for _ in range(EACH):
            for zone in ZONES:
                chat = 95000 + len(chats[ZONES[0]]) + len(chats[ZONES[1]])
                bot.telegram.add_user(chat)
                await subscribers.add(
                    Channel.TELEGRAM, str(chat), language="en", zone=zone,
                    topics=["alerts"], via="test", now=now,
                )  # fmt: skip
                chats[zone].append(chat)
    return chats


async def alert(bot: Bot) -> int:
    sent = await bot.services.alerts.send_now(
        AlertDraft(AlertKind.ALERT, ZONES, {"en": "Agents at 63rd and Pulaski."}),
        Actor.operator(),
    )
    assert sent.recipients == 2 * EACH  # everyone it will reach, counted at the approval
    return sent.id


async def queued(bot: Bot, alert_id: int) -> list[tuple[int, str]]:
    async with bot.services.db.transaction() as session:
        rows = await session.execute(
            select(DeliveryRow.id, SubscriberRow.zone)
            .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
            .where(DeliveryRow.alert_id == alert_id)
            .order_by(DeliveryRow.id)
        )
        return [(id_, zone) for id_, zone in rows.all()]


async def more(bot: Bot) -> int:
    async with bot.services.db.transaction() as session:
        return await Outbox(session).continue_enqueue(datetime.now(UTC))


async def test_the_approval_queues_one_chunk_and_the_rest_follows_own_zone_first(
    bot: Bot,
) -> None:
    await people(bot)
    alert_id = await alert(bot)
    assert len(await queued(bot, alert_id)) == CHUNK  # the approval did not wait for all
    # Its audit entry landed with it; everyone it will reach was counted after (`alert`).
    log = await entries(bot.services.db)
    [sent] = [e for e in log if e.subject == f"alert:{alert_id}" and e.action == "alert.send"]
    assert sent.detail == {"queued_first": CHUNK}
    while await more(bot):
        pass
    rows = await queued(bot, alert_id)
    assert len(rows) == 2 * EACH
    zones = [zone for _, zone in rows]
    assert zones == [ZONES[0]] * EACH + [ZONES[1]] * EACH  # the own zone's sends come first
    async with bot.services.db.transaction() as session:
        row = await session.get(AlertRow, alert_id)
        assert row is not None and row.enqueue_phase is None


async def test_a_crash_mid_enqueue_resumes_where_it_stopped(bot: Bot) -> None:
    await people(bot)
    alert_id = await alert(bot)
    await more(bot)

    class Crash(Exception):
        pass

    async def crash_mid_chunk() -> None:
        async with bot.services.db.transaction() as session:
            await Outbox(session).continue_enqueue(datetime.now(UTC))
            raise Crash  # the chunk and the cursor's move are lost together

    with pytest.raises(Crash):
        await crash_mid_chunk()
    assert len(await queued(bot, alert_id)) == 2 * CHUNK
    while await more(bot):
        pass
    rows = await queued(bot, alert_id)
    async with bot.services.db.transaction() as session:
        distinct = await session.scalar(
            select(func.count(func.distinct(DeliveryRow.subscriber_id))).where(
                DeliveryRow.alert_id == alert_id
            )
        )
    assert len(rows) == distinct == 2 * EACH  # nobody twice, nobody missed


async def test_a_correction_stops_the_originals_queuing(bot: Bot) -> None:
    await people(bot)
    alert_id = await alert(bot)
    await bot.services.alerts.send_now(
        AlertDraft(AlertKind.CORRECTION, (), {"en": "Correction: no agents."}, refers_to=alert_id),
        Actor.operator(),
    )
    while await more(bot):
        pass
    # The first chunk was skipped by the correction, and none came after it.
    assert len(await queued(bot, alert_id)) == CHUNK
    progress = await bot.services.alerts.progress(alert_id)
    assert progress.counts == {("telegram", "skipped"): CHUNK}
    async with bot.services.db.transaction() as session:
        row = await session.get(AlertRow, alert_id)
        assert row is not None and row.enqueue_phase is None


async def test_a_worker_queues_and_sends_it_all_once(bot: Bot) -> None:
    chats = await people(bot)
    worker = build_worker(bot.services)
    await worker.start()
    try:
        alert_id = await alert(bot)
        await finished(bot, alert_id, within=20)
    finally:
        await worker.stop()
    got = Counter(m.chat_id for m in bot.telegram.sent if "63rd and Pulaski" in m.text)
    assert got == dict.fromkeys(chats[ZONES[0]] + chats[ZONES[1]], 1)


async def written_since_sampled(bot: Bot, rows: int) -> None:
    """`rows` finished deliveries (nothing to claim), their count flushed to PostgreSQL's
    statistics at once (a backend may otherwise hold it for seconds)."""
    now = datetime.now(UTC)
    async with bot.services.db.transaction() as session:
        await session.execute(
            insert(DeliveryRow),
            [
                {"channel": "telegram", "language": "en", "status": "skipped", "due_at": now,
                 "updated_at": now}
                for _ in range(rows)
            ],
        )  # fmt: skip
        await session.execute(text("SELECT pg_stat_force_next_flush()"))


async def test_a_worker_samples_the_outbox_again_after_many_writes(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL plans each claim from statistics sampled when the outbox was small: a
    # million deliveries queued since looked like a dozen, and every claim sorted them all.
    if bot.services.db.is_sqlite:
        pytest.skip("SQLite plans a claim without sampled statistics")
    from bot.delivery import worker as worker_module

    monkeypatch.setattr(worker_module, "STATISTICS_EVERY", 0.05)
    monkeypatch.setattr(worker_module, "STATISTICS_AFTER", 100)

    async def stale() -> bool:
        async with bot.services.db.transaction() as session:
            return await Outbox(session).stale_statistics(100)

    async with bot.services.db.transaction() as session:
        await Outbox(session).gather_statistics()  # sampled while the outbox is empty
    await written_since_sampled(bot, 50)
    assert not await stale()  # under the threshold
    await written_since_sampled(bot, 100)
    assert await stale()
    worker = build_worker(bot.services)
    await worker.start()
    try:
        for _ in range(100):  # five seconds
            if not await stale():
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the worker never sampled the outbox again")
    finally:
        await worker.stop()
