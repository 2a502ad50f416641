"""Helpers every end-to-end test shares: a person says something, presses a button, reads
the buttons of a message. They drive the fake Telegram and wait for the bot's answers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from bot.sim.fake_telegram import SentMessage
from tests.conftest import METRICS_TOKEN, Bot

T = TypeVar("T")


async def metrics(bot: Bot) -> str:
    """GET /metrics as Prometheus scrapes it, with the bearer token."""
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{bot.url}/metrics", headers=headers)
    assert response.status_code == 200
    return response.text


def buttons(message: SentMessage) -> dict[str, str]:
    """Button label -> callback data."""
    markup = message.reply_markup or {}
    return {b["text"]: b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row}


async def say(bot: Bot, user: int, text: str, expect: int = 1) -> list[SentMessage]:
    """`user` sends `text`; the `expect` messages the bot sends back."""
    before = len(bot.telegram.messages_to(user))
    await bot.telegram.send_text(user, text)
    return (await bot.telegram.wait_for(user, before + expect))[before:]


async def press(
    bot: Bot, user: int, message: SentMessage, label: str, expect: int = 1
) -> list[SentMessage]:
    """`user` presses the button labelled `label` of `message`; the new messages back."""
    before = len(bot.telegram.messages_to(user))
    await bot.telegram.press(user, message.message_id, buttons(message)[label])
    return (await bot.telegram.wait_for(user, before + expect))[before:]


def latest(bot: Bot, user: int, message: SentMessage) -> SentMessage:
    """`message` as the chat shows it now (after edits)."""
    return next(m for m in bot.telegram.messages_to(user) if m.message_id == message.message_id)


async def edited(bot: Bot, user: int, message: SentMessage, contains: str) -> SentMessage:
    """`message` once an edit has put `contains` in its text (within 5 s)."""
    changed = asyncio.Event()
    stop = bot.telegram.add_listener(
        lambda m: changed.set() if (m.chat_id, m.message_id) == (user, message.message_id) else None
    )
    try:
        async with asyncio.timeout(5):
            while True:
                changed.clear()
                if contains in (now := latest(bot, user, message)).text:
                    return now
                await changed.wait()
    finally:
        stop()


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool] = bool,
    within: float = 5.0,
) -> T:
    """What `probe` returns once `until` holds (within `within` seconds): for state the
    worker writes a moment after the message it sent has arrived."""
    async with asyncio.timeout(within):
        while True:
            found = await probe()
            if until(found):
                return found
            await asyncio.sleep(0.01)


async def subscribed(bot: Bot, first: int, n: int, zone: str = "60629") -> list[int]:
    """`n` Telegram users, ids from `first`, signed up in `zone` (each got its welcome)."""
    users = [first + i for i in range(n)]
    for uid in users:
        bot.telegram.add_user(uid)
        await bot.telegram.send_text(uid, f"/start en_{zone}")
    for uid in users:
        await bot.telegram.wait_for(uid, 1, timeout=30)
    return users
