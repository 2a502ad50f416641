"""Telegram end to end: the real PTB Application polling the fake Bot API over HTTP."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.core.content import TOPIC_KEYS
from bot.core.vocabulary import Channel, SubscriberStatus
from bot.sim.fake_telegram import SentMessage
from tests.conftest import Bot
from tests.support import buttons

USER = 51001


async def say(bot: Bot, text: str, user: int = USER, expect: int = 1) -> list[SentMessage]:
    before = len(bot.telegram.messages_to(user))
    await bot.telegram.send_text(user, text)
    return (await bot.telegram.wait_for(user, before + expect))[before:]


async def press(
    bot: Bot, message: SentMessage, data: str, user: int = USER, expect: int = 1
) -> list[SentMessage]:
    before = len(bot.telegram.messages_to(user))
    await bot.telegram.press(user, message.message_id, data)
    return (await bot.telegram.wait_for(user, before + expect))[before:]


async def subscriber(bot: Bot, user: int = USER):  # type: ignore[no-untyped-def]
    return await bot.services.directory.get(Channel.TELEGRAM, str(user))


async def eventually_status(bot: Bot, status: SubscriberStatus, user: int = USER) -> bool:
    """Whether the subscriber reaches `status` within a few seconds (the bot works in the background)."""
    for _ in range(60):
        stored = await subscriber(bot, user)
        if stored is not None and stored.status == status:
            return True
        await asyncio.sleep(0.05)
    return False


async def settle(bot: Bot, user: int = USER) -> list[SentMessage]:
    """Everything sent to the user once the bot has had a moment to (not) answer."""
    await asyncio.sleep(0.3)
    return bot.telegram.messages_to(user)


async def test_start_welcomes_offers_languages_then_asks_for_a_zip(bot: Bot) -> None:
    bot.telegram.add_user(USER, language_code="en")
    [welcome] = await say(bot, "/start")
    assert "/stop" in welcome.text and "verified alerts" in welcome.text
    choices = buttons(welcome)
    assert {"English", "Español"} <= set(choices)
    language_set, zip_prompt = await press(bot, welcome, choices["Español"], expect=2)
    assert "Español" in language_set.text
    assert "código postal" in zip_prompt.text.lower() or "zip" in zip_prompt.text.lower()
    [zone] = await say(bot, "60629")
    assert "60629" in zone.text and "Chicago Lawn" in zone.text
    stored = await subscriber(bot)
    assert stored is not None
    assert (stored.language, stored.zone, stored.status) == ("es", "60629", SubscriberStatus.ACTIVE)


async def test_a_deep_link_sets_language_and_zone_at_once(bot: Bot) -> None:
    bot.telegram.add_user(USER, language_code="en")
    [welcome] = await say(bot, "/start es_60623")
    assert "Little Village" in welcome.text
    assert "/stop" in welcome.text
    stored = await subscriber(bot)
    assert stored is not None and (stored.language, stored.zone) == ("es", "60623")


async def test_rights_in_the_persons_language_with_topic_buttons(bot: Bot) -> None:
    bot.telegram.add_user(USER, language_code="es-MX")
    [summary] = await say(bot, "/rights")
    topics = buttons(summary)
    assert list(topics.values()) == [f"rights:{k}" for k in TOPIC_KEYS]
    assert "En casa" in topics
    [home] = await press(bot, summary, topics["En casa"])
    assert "orden" in home.text.lower() and "1-855-435-7693" in home.text


async def test_stop_confirms_and_start_subscribes_again(bot: Bot) -> None:
    bot.telegram.add_user(USER)
    await say(bot, "/start en_60629")
    [stopped] = await say(bot, "/stop")
    assert "/start" in stopped.text
    assert (await subscriber(bot)).status == SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    await say(bot, "/start")
    stored = await subscriber(bot)
    assert (
        stored is not None and stored.status == SubscriberStatus.ACTIVE and stored.zone == "60629"
    )


async def test_language_and_zone_can_change_at_any_time(bot: Bot) -> None:
    bot.telegram.add_user(USER)
    await say(bot, "/start en_60629")
    [menu] = await say(bot, "/language")
    await press(bot, menu, buttons(menu)["Español"])
    [prompt] = await say(bot, "/zone")
    assert "60629" not in prompt.text
    await say(bot, "60608")
    stored = await subscriber(bot)
    assert stored is not None and (stored.language, stored.zone) == ("es", "60608")


async def test_help_lists_what_the_bot_does_and_the_hotline(bot: Bot) -> None:
    bot.telegram.add_user(USER)
    [help_] = await say(bot, "/help")
    assert "/rights" in help_.text and "1-855-435-7693" in help_.text


@pytest.mark.parametrize("kind", ["text", "sticker", "unknown command"])
async def test_anything_else_gets_a_menu_never_silence(bot: Bot, kind: str) -> None:
    bot.telegram.add_user(USER)
    before = len(bot.telegram.messages_to(USER))
    if kind == "sticker":
        await bot.telegram.send_sticker(USER)
    else:
        await bot.telegram.send_text(USER, "hola que tal" if kind == "text" else "/dance")
    [menu] = (await bot.telegram.wait_for(USER, before + 1))[before:]
    assert set(buttons(menu).values()) >= {"rights", "lang", "zone", "help"}


async def test_blocking_the_bot_marks_the_subscriber_blocked(bot: Bot) -> None:
    bot.telegram.add_user(USER)
    await say(bot, "/start en_60629")
    await bot.telegram.block(USER)
    assert await eventually_status(bot, SubscriberStatus.BLOCKED)


async def test_a_403_on_send_marks_the_subscriber_blocked(bot: Bot) -> None:
    bot.telegram.add_user(USER)
    await say(bot, "/start en_60629")
    bot.telegram._users[USER].blocked = True  # blocked without Telegram telling us
    await bot.telegram.send_text(USER, "/rights")
    assert await eventually_status(bot, SubscriberStatus.BLOCKED)


async def test_groups_get_one_polite_line_only_when_addressed(bot: Bot) -> None:
    bot.telegram.add_user(USER)
    group = -100777
    await bot.telegram.send_group_text(group, USER, "anyone seen anything?")
    await bot.telegram.send_group_text(group, USER, f"/help@{bot.telegram.bot_username}")
    [polite] = await bot.telegram.wait_for(group, 1)
    assert "private" in polite.text
    assert len(await settle(bot, group)) == 1
    assert await subscriber(bot, group) is None


async def test_updates_it_does_not_handle_do_not_crash_it(bot: Bot) -> None:
    bot.telegram.add_user(USER)
    await say(bot, "/start en_60629")
    await bot.telegram.edit_text(USER, 1, "/stop")
    await bot.telegram.channel_post(-100555, "news")
    # Still alive and still subscribed: the edit was not taken as a /stop.
    [answer] = await say(bot, "/rights")
    assert "1-855-435-7693" in answer.text
    assert (await subscriber(bot)).status == SubscriberStatus.ACTIVE  # type: ignore[union-attr]


class TestWebhookMode:
    @pytest.fixture
    def bot_env(self) -> dict[str, str]:
        return {"TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_SECRET": "s3cret-webhook-token"}

    async def test_updates_posted_by_telegram_are_answered(self, bot: Bot) -> None:
        assert bot.telegram.webhook_url == f"{bot.url}/telegram/webhook"
        bot.telegram.add_user(USER)
        [welcome] = await say(bot, "/start en_60629")
        assert "/stop" in welcome.text
        assert bot.telegram.webhook_responses and set(bot.telegram.webhook_responses) == {200}

    @pytest.mark.parametrize("secret", [None, "wrong"])
    async def test_a_wrong_secret_gets_403(self, bot: Bot, secret: str | None) -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        update = {
            "update_id": 9,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": USER, "type": "private"},
                "from": {"id": USER, "is_bot": False, "first_name": "A"},
                "text": "/start",
            },
        }
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{bot.url}/telegram/webhook", json=update, headers=headers
            )
        assert response.status_code == 403
        assert await settle(bot) == []
        assert await subscriber(bot) is None
