"""Alerts end to end: approve, deliver to exactly the right people in their language, follow up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.core.alerts import AlertDraft, AlertError, Progress
from bot.core.audit import Actor, entries
from bot.core.segments import gsm_fold
from bot.core.vocabulary import AlertKind, AlertStatus, Role
from bot.delivery.worker import Worker
from bot.upkeep import Upkeep
from tests.conftest import Bot

OPERATOR = Actor.operator()
EN = "Agents seen at 26th and Pulaski around 9am. Stay calm, don't open the door."
ES = "Agentes vistos en la 26 y Pulaski a las 9am. Mantenga la calma, no abra la puerta."


@dataclass(frozen=True)
class Person:
    channel: str
    address: str  # phone number or Telegram user id
    language: str
    zone: str

    @property
    def label(self) -> str:
        """Who, for a failing assertion: never the number or chat id."""
        return f"{self.channel}/{self.language}/{self.zone}"


def people() -> list[Person]:
    crowd = []
    zones = ["60629", "60623", "60608"]
    for i in range(18):
        zone, language = zones[i % 3], ("en", "es")[i % 2]
        crowd.append(Person("sms", f"+1312555{1000 + i:04d}", language, zone))
        crowd.append(Person("telegram", str(70000 + i), language, zone))
    return crowd


async def sign_up(bot: Bot, crowd: list[Person]) -> None:
    for person in crowd:
        if person.channel == "sms":
            keyword = "JOIN" if person.language == "en" else "ALTA"
            result = await bot.twilio.text(person.address, f"{keyword} {person.zone}")
            assert result.status == 200
        else:
            uid = int(person.address)
            bot.telegram.add_user(uid, language_code=person.language)
            await bot.telegram.send_text(uid, f"/start {person.language}_{person.zone}")
            await bot.telegram.wait_for(uid, 1)


def received(bot: Bot, person: Person, marker: str) -> list[str]:
    if person.channel == "sms":
        texts = [sms.body for sms in bot.twilio.inbox(person.address)]
    else:
        texts = [m.text for m in bot.telegram.messages_to(int(person.address))]
    # By SMS, Spanish goes without the accents GSM-7 lacks (ACTUALIZACION).
    return [t for t in texts if gsm_fold(marker) in gsm_fold(t)]


async def finished(bot: Bot, alert_id: int, within: float = 15.0) -> Progress:
    """Until no delivery of the alert is queued or in flight."""
    progress = await bot.services.alerts.progress(alert_id)
    try:
        async with asyncio.timeout(within):
            while progress.alert.status is not AlertStatus.DONE:
                await asyncio.sleep(0.05)
                progress = await bot.services.alerts.progress(alert_id)
    except TimeoutError:
        raise AssertionError(f"alert #{alert_id} not done: {progress.counts}") from None
    return progress


def alert(zones: tuple[str, ...] = ("60629", "60623"), **texts: str) -> AlertDraft:
    return AlertDraft(AlertKind.ALERT, zones, texts or {"en": EN, "es": ES})


async def test_an_alert_reaches_each_person_in_zone_once_in_their_language(
    bot: Bot, worker: Worker
) -> None:
    crowd = people()
    await sign_up(bot, crowd)
    # Two who must get nothing although they live in the zone.
    await bot.twilio.text(crowd[0].address, "STOP")
    await bot.telegram.block(int(crowd[1].address))
    await asyncio.sleep(0.2)

    sent = await bot.services.alerts.send_now(alert(), OPERATOR)
    progress = await finished(bot, sent.id)

    for person in crowd:
        got = received(bot, person, "VERIFIED ALERT") + received(bot, person, "ALERTA VERIFICADA")
        gone = person in crowd[:2]
        if person.zone == "60608" or gone:
            assert got == [], person.label
        else:
            assert len(got) == 1, person.label
            assert ("Pulaski" in got[0]) and (("Mantenga" in got[0]) == (person.language == "es"))
            assert "1-855-435-7693" in got[0]
    in_zone = [p for p in crowd[2:] if p.zone != "60608"]
    assert sent.recipients == len(in_zone)
    assert sum(
        n for (_, status), n in progress.counts.items() if status in ("sent", "delivered")
    ) == len(in_zone)


async def test_updates_and_all_clear_reach_exactly_the_original_recipients(
    bot: Bot, worker: Worker
) -> None:
    crowd = people()[:12]
    await sign_up(bot, crowd)
    original = await bot.services.alerts.send_now(alert(("60629",)), OPERATOR)
    await finished(bot, original.id)
    # Someone in the zone who signs up later was not reached, and gets no update either.
    late = Person("sms", "+13125559999", "en", "60629")
    await sign_up(bot, [late])

    for kind, marker in ((AlertKind.UPDATE, "UPDATE"), (AlertKind.ALL_CLEAR, "ALL CLEAR")):
        follow = await bot.services.alerts.send_now(
            AlertDraft(
                kind,
                (),
                {"en": "Agents left the area.", "es": "Los agentes se fueron."},
                refers_to=original.id,
            ),
            OPERATOR,
        )
        await finished(bot, follow.id)
        assert follow.recipients == original.recipients
        for person in crowd:
            reached = bool(
                received(bot, person, "VERIFIED ALERT") + received(bot, person, "ALERTA VERIFICADA")
            )
            spanish = {"UPDATE": "ACTUALIZACIÓN", "ALL CLEAR": "FIN DE LA ALERTA"}[marker]
            got = received(bot, person, marker) + received(bot, person, spanish)
            assert len(got) == (1 if reached else 0), (person.label, marker)
        assert received(bot, late, marker) == []


async def test_a_correction_cancels_what_is_unsent_and_tells_who_got_it(bot: Bot) -> None:
    crowd = [p for p in people()[:12] if p.zone == "60629"]
    await sign_up(bot, crowd)
    # No worker yet: the alert sits queued, then is corrected before anything goes out.
    original = await bot.services.alerts.send_now(alert(("60629",)), OPERATOR)
    correction = await bot.services.alerts.send_now(
        AlertDraft(AlertKind.CORRECTION, (), {"en": "That was not ICE."}, refers_to=original.id),
        OPERATOR,
    )
    progress = await bot.services.alerts.progress(original.id)
    assert set(status for _, status in progress.counts) == {"skipped"}
    assert correction.recipients == 0
    assert correction.status is AlertStatus.DONE


async def test_expired_alerts_are_never_delivered_late(bot: Bot) -> None:
    crowd = people()[:6]
    await sign_up(bot, crowd)
    sent = await bot.services.alerts.send_now(
        AlertDraft(AlertKind.ALERT, ("all",), {"en": EN}, expires_in=timedelta(minutes=5)), OPERATOR
    )
    from bot.app import build_worker

    later = build_worker(bot.services, clock=lambda: sent.expires_at + timedelta(seconds=1))
    for channel in ("telegram", "sms"):
        await later.run_once(channel)
    progress = await bot.services.alerts.progress(sent.id)
    assert {status for _, status in progress.counts} == {"skipped"}
    for person in crowd:
        assert received(bot, person, "VERIFIED ALERT") == []


async def test_a_provider_failing_part_of_the_time_still_delivers_everything(
    bot: Bot, worker: Worker
) -> None:
    crowd = people()
    await sign_up(bot, crowd)
    bot.telegram.fail_next(5, status=500)
    bot.telegram.rate_limit(overall_per_second=20, per_chat_per_second=None)
    bot.twilio.fail_next(4, status=503)
    bot.twilio.rate_limit(per_second=15)
    sent = await bot.services.alerts.send_now(alert(("all",)), OPERATOR)
    await finished(bot, sent.id, within=30)
    for person in crowd:
        got = received(bot, person, "VERIFIED ALERT") + received(bot, person, "ALERTA VERIFICADA")
        assert len(got) == 1, person.label
    assert bot.telegram.count_429 + bot.twilio.count_429 > 0  # the limits were really hit


async def test_sms_status_callbacks_mark_deliveries_delivered(bot: Bot, worker: Worker) -> None:
    crowd = [p for p in people() if p.channel == "sms"][:6]
    await sign_up(bot, crowd)
    sent = await bot.services.alerts.send_now(alert(("all",)), OPERATOR)
    await finished(bot, sent.id)
    await bot.twilio.wait_status_idle()
    progress = await bot.services.alerts.progress(sent.id)
    assert progress.counts == {("sms", "delivered"): 6}
    # A late "sent" after "delivered", and a duplicate: the status does not move back.
    sid = next(sms.sid for sms in bot.twilio.sent if sms.sid and "VERIFIED" in sms.body)
    await bot.twilio.send_status(sid, "sent")
    await bot.twilio.send_status(sid, "delivered")
    progress = await bot.services.alerts.progress(sent.id)
    assert progress.counts == {("sms", "delivered"): 6}


async def test_two_person_rule_once_there_are_two_coordinators(bot: Bot) -> None:
    coordinators = bot.services.coordinators
    rosa = await coordinators.add(901, Role.ADMIN, "Rosa", OPERATOR)
    assert not await bot.services.alerts.needs_approval()
    luis = await coordinators.add(902, Role.COORDINATOR, "Luis", OPERATOR)
    assert await bot.services.alerts.needs_approval()
    draft = await bot.services.alerts.draft(alert(), rosa.actor())
    pending = await bot.services.alerts.submit(draft.id, rosa.actor())
    assert pending.status is AlertStatus.PENDING
    with pytest.raises(AlertError, match="second coordinator"):
        await bot.services.alerts.approve(draft.id, rosa.actor())
    approved = await bot.services.alerts.approve(draft.id, luis.actor())
    assert approved.status in (AlertStatus.QUEUED, AlertStatus.DONE)
    actions = [(e.actor, e.action) for e in await entries(bot.services.db)]
    assert ("Rosa", "alert.draft") in actions and ("Rosa", "alert.submit") in actions
    assert ("Luis", "alert.approve") in actions
    assert ("operator (rrbot CLI)", "coordinator.add") in actions


async def test_preview_counts_people_segments_and_time(bot: Bot) -> None:
    crowd = people()[:12]
    await sign_up(bot, crowd)
    bot.services.alerts.rates = {"sms": 1.0, "telegram": 30.0}  # a long code, Telegram's default
    draft = await bot.services.alerts.draft(alert(("60629",), en=EN), OPERATOR)
    preview = await bot.services.alerts.preview(draft.id)
    in_zone = [p for p in crowd if p.zone == "60629"]
    assert preview.total == len(in_zone)
    assert "es" in preview.fallback  # no Spanish text: Spanish speakers get English
    assert preview.segments["en"].segments >= 1
    # One SMS segment a second on a long code: at least as many seconds as SMS segments.
    sms = sum(n for (channel, _), n in preview.recipients.items() if channel == "sms")
    assert preview.seconds >= sms * preview.segments["en"].segments


@pytest.mark.parametrize(
    ("draft", "message"),
    [
        (AlertDraft(AlertKind.ALERT, ("60629",), {"es": ES}), "English"),
        (AlertDraft(AlertKind.ALERT, ("90210",), {"en": EN}), "not zones"),
        (AlertDraft(AlertKind.ALERT, (), {"en": EN}), "zones"),
        (AlertDraft(AlertKind.UPDATE, (), {"en": EN}), "refer"),
        (
            AlertDraft(AlertKind.ALERT, ("60629",), {"en": EN}, expires_in=timedelta(hours=30)),
            "expiry",
        ),
    ],
)
async def test_bad_drafts_are_refused_with_a_reason(
    bot: Bot, draft: AlertDraft, message: str
) -> None:
    with pytest.raises(AlertError, match=message):
        await bot.services.alerts.draft(draft, OPERATOR)


async def test_a_refusal_reads_in_the_coordinators_language_and_in_english_for_logs(
    bot: Bot,
) -> None:
    update = AlertDraft(AlertKind.UPDATE, (), {"en": EN})
    with pytest.raises(AlertError) as refused:
        await bot.services.alerts.draft(update, OPERATOR)
    assert str(refused.value) == "an update must refer to the alert it follows"
    spanish = refused.value.say(bot.services.content.speaking("es").gettext)
    assert spanish.startswith("una actualización") and "update" not in spanish
    draft = await bot.services.alerts.draft(alert(), OPERATOR)
    with pytest.raises(AlertError) as refused:
        await bot.services.alerts.approve(draft.id, OPERATOR)
    assert "draft" in str(refused.value) and "AlertStatus" not in str(refused.value)
    assert "borrador" in refused.value.say(bot.services.content.speaking("es").gettext)


async def test_upkeep_drops_drafts_nobody_sent_within_a_day_and_keeps_the_rest(bot: Bot) -> None:
    alerts = bot.services.alerts
    await bot.twilio.text("+13125550163", "REPORT agents at 26th and Pulaski 60623")
    orphan = await alerts.draft(alert(), OPERATOR)
    from_report = await alerts.draft(alert(), OPERATOR)
    await bot.services.reports.link_alert(1, from_report.id, OPERATOR)
    kept = await alerts.draft(alert(), OPERATOR)
    sent = await alerts.send_now(alert(), OPERATOR)
    upkeep = Upkeep(bot.services.reports, bot.services.flows, alerts)
    start = alerts.clock()
    alerts.clock = lambda: start + timedelta(hours=23)
    assert (await upkeep.tick())["alert_drafts"] == 0  # expired, but not a day old yet
    await alerts.revise(kept.id, alert(), OPERATOR)  # changed just now: sendable for 4 hours
    alerts.clock = lambda: start + timedelta(hours=25)
    assert (await upkeep.tick())["alert_drafts"] == 2
    for gone in (orphan, from_report):
        with pytest.raises(AlertError, match="no alert"):
            await alerts.get(gone.id)
    assert (await alerts.get(kept.id)).status is AlertStatus.DRAFT
    assert (await alerts.get(sent.id)).status is AlertStatus.DONE  # nobody to send to
    assert (await bot.services.reports.view(1)).alert_id is None
    dropped = [e.subject for e in await entries(bot.services.db) if e.action == "alert.drop"]
    # Both in one tick, at one moment: their order in the audit log is not the point.
    assert sorted(dropped) == sorted([f"alert:{orphan.id}", f"alert:{from_report.id}"])


async def test_timeouts_are_retried_and_only_those_can_repeat(bot: Bot, worker: Worker) -> None:
    crowd = [p for p in people() if p.channel == "telegram"][:8]
    await sign_up(bot, crowd)
    bot.telegram.delay(3.0)  # longer than the worker's 2 s send timeout
    sent = await bot.services.alerts.send_now(alert(("all",)), OPERATOR)
    await asyncio.sleep(0.5)
    bot.telegram.delay(0)
    await finished(bot, sent.id, within=30)
    counts = [
        len(received(bot, p, "VERIFIED ALERT") + received(bot, p, "ALERTA VERIFICADA"))
        for p in crowd
    ]
    # Everyone got it; a send that timed out may also have arrived (the outbox accepts that).
    assert all(n >= 1 for n in counts)
    assert all(n <= 2 for n in counts)


async def test_a_worker_in_another_process_hears_of_an_approval_at_once(bot: Bot) -> None:
    if bot.services.db.is_sqlite:
        pytest.skip("one process per SQLite database: the worker is woken in-process")
    from bot.app import build_worker

    crowd = people()[:4]
    await sign_up(bot, crowd)
    worker = build_worker(bot.services)
    bot.services.alerts.on_queued = None  # as if the approval happened in another process
    worker.poll_interval = 60.0  # so only PostgreSQL's notification can wake it in time
    await worker.start()
    try:
        await asyncio.sleep(0.2)  # its loops have found nothing and wait
        sent = await bot.services.alerts.send_now(alert(("all",)), OPERATOR)
        await finished(bot, sent.id, within=10.0)
    finally:
        await worker.stop()
    for person in crowd:
        got = received(bot, person, "VERIFIED ALERT") + received(bot, person, "ALERTA VERIFICADA")
        assert len(got) == 1, person.label


async def test_an_idle_worker_polls_with_one_loop_per_lane(bot: Bot) -> None:
    from sqlalchemy import event

    from bot.app import build_worker
    from bot.delivery.worker import LOOPS_PER_LANE

    claims = 0

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        nonlocal claims
        if statement.lstrip().upper().startswith("UPDATE DELIVERIES SET STATUS"):
            claims += 1

    engine = bot.services.db.engine.sync_engine
    worker = build_worker(bot.services)
    worker.poll_interval = 0.05
    event.listen(engine, "before_cursor_execute", count)
    try:
        await worker.start()
        await asyncio.sleep(0.5)
        await worker.stop()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # Each loop claims once on start; then one poller per lane, about 10 times in 0.5 s.
    # With every loop polling it would be LOOPS_PER_LANE times as many.
    lanes = len(worker.lanes)
    assert 0 < claims <= lanes * (LOOPS_PER_LANE + 0.5 / 0.05 + 2)


async def test_a_woken_worker_claims_a_little_first_then_more_one_claim_at_a_time(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.app import build_worker
    from bot.storage.outbox import Job, Outbox

    crowd = [person for person in people() if person.channel == "telegram"]
    await sign_up(bot, crowd)
    limits: list[int] = []
    running = most = 0
    claim = Outbox.claim

    async def watched(self: Outbox, *args: object, channel: str, **options: object) -> list[Job]:
        nonlocal running, most
        if channel != "telegram":
            return await claim(self, *args, channel=channel, **options)  # type: ignore[arg-type]
        running += 1
        most = max(most, running)
        try:
            jobs = await claim(self, *args, channel=channel, **options)  # type: ignore[arg-type]
        finally:
            running -= 1
        if jobs:
            limits.append(int(args[1]))  # type: ignore[call-overload]
        return jobs

    monkeypatch.setattr(Outbox, "claim", watched)
    worker = build_worker(bot.services)
    worker.lanes["telegram"].batch = 10
    await worker.start()
    try:
        await asyncio.sleep(0.2)  # its loops have found nothing and wait
        sent = await bot.services.alerts.send_now(alert(("all",)), OPERATOR)
        await finished(bot, sent.id)
    finally:
        await worker.stop()
    # A tenth of a batch, then twice that, four times ..., in the order the claims are made
    # (whichever loop makes them): the first send waits for a claim of one row, not of the
    # whole batch; and never two claims of a lane at once.
    assert limits[:5] == [1, 2, 4, 8, 10]
    assert most == 1  # on SQLite the in-process writer serialises claims anyway
    for person in crowd:
        assert len(received(bot, person, "VERIFIED ALERT") + received(bot, person, "ALERTA")) == 1


async def test_two_approvals_at_once_give_one_approval_and_one_refusal(bot: Bot) -> None:
    # Before a row lock, both read "pending": the second's queuing found every delivery
    # already there and marked the alert done with no recipients (PostgreSQL).
    crowd = [p for p in people() if p.channel == "telegram"][:6]
    await sign_up(bot, crowd)
    coordinators = bot.services.coordinators
    rosa = await coordinators.add(911, Role.ADMIN, "Rosa", OPERATOR)
    luis = await coordinators.add(912, Role.COORDINATOR, "Luis", OPERATOR)
    ana = await coordinators.add(913, Role.COORDINATOR, "Ana", OPERATOR)
    alerts = bot.services.alerts
    draft = await alerts.draft(alert(("all",)), rosa.actor())
    await alerts.submit(draft.id, rosa.actor())
    results = await asyncio.gather(
        alerts.approve(draft.id, luis.actor()),
        alerts.approve(draft.id, ana.actor()),
        return_exceptions=True,
    )
    approved = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, AlertError)]
    assert (len(approved), len(refused)) == (1, 1), [type(r).__name__ for r in results]
    progress = await alerts.progress(draft.id)
    assert progress.alert.status in (AlertStatus.QUEUED, AlertStatus.DONE)
    assert progress.alert.recipients == len(crowd)
    approvals = [e for e in await entries(bot.services.db) if e.action == "alert.approve"]
    assert len(approvals) == 1
