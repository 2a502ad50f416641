"""Direct replies go ahead of bulk sends: a /rights answer during a broadcast at the limit."""

from __future__ import annotations

import pytest

from bot.core.alerts import AlertDraft
from bot.core.audit import Actor
from bot.core.vocabulary import AlertKind
from bot.delivery.worker import Worker
from tests.conftest import Bot
from tests.test_alerts import finished

RATE = 20
PEOPLE = 60  # three seconds of broadcast at the rate


@pytest.fixture
def bot_env() -> dict[str, str]:
    return {"TELEGRAM_RATE": str(RATE)}


async def test_a_rights_reply_is_not_stuck_behind_a_broadcast(bot: Bot, worker: Worker) -> None:
    for uid in range(60000, 60000 + PEOPLE):
        bot.telegram.add_user(uid)
        await bot.telegram.send_text(uid, "/start en_60629")
        await bot.telegram.wait_for(uid, 1)
    bot.telegram.rate_limit(overall_per_second=RATE, per_chat_per_second=None)
    alert = await bot.services.alerts.send_now(
        AlertDraft(AlertKind.ALERT, ("60629",), {"en": "Agents on Cermak."}), Actor.operator()
    )
    asker = 61000
    bot.telegram.add_user(asker)
    await bot.telegram.send_text(asker, "/rights")
    # Well before the broadcast (about 3 s) could have finished, and not lost to a 429.
    [reply] = await bot.telegram.wait_for(asker, 1, timeout=2.0)
    assert "1-855-435-7693" in reply.text
    progress = await bot.services.alerts.progress(alert.id)
    assert progress.alert.status != "done"  # the broadcast was still going
    await finished(bot, alert.id, within=20)
    broadcast = [m for m in bot.telegram.sent if "Cermak" in m.text]
    assert len(broadcast) == PEOPLE
