"""The fake Telegram Bot API, driven by the real python-telegram-bot client over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from bot.sim.fake_telegram import FakeTelegram
from bot.sim.serve import RunningServer, serve

TOKEN = "123456789:AAFakeTokenForTests_only-abcdefghij"
ANA = 1001
BEA = 1002


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(TOKEN)
    fake.add_user(ANA, "Ana", "es")
    fake.add_user(BEA, "Bea", None)
    yield fake
    await fake.aclose()


@pytest.fixture
async def server(fake: FakeTelegram) -> AsyncIterator[RunningServer]:
    server = await serve(fake.app)
    yield server
    await fake.aclose()
    await server.stop()


@pytest.fixture
async def bot(server: RunningServer) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=f"{server.url}/bot") as bot:
        yield bot


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=f"pick:{label}") for label in labels]]
    )


async def test_serve_binds_a_real_port_and_leaves_signal_handlers_alone(
    fake: FakeTelegram,
) -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    server = await serve(fake.app)
    try:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{server.url}/bot{TOKEN}/getMe")
        assert response.json()["result"]["is_bot"] is True
    finally:
        await server.stop()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


async def test_get_me_answers_with_the_bot_user(bot: Bot, fake: FakeTelegram) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (fake.bot_id, True, "rrbot_test_bot")
    assert me.can_join_groups is True
    assert fake.requests_by_method["getMe"] == 2  # initialize() asked once already


async def test_wrong_token_is_invalid_token_and_unknown_method_is_404(
    server: RunningServer,
) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=f"{server.url}/bot"):
            pass
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{server.url}/bot{TOKEN}/sendCarrierPigeon")
        lower = await client.get(f"{server.url}/bot{TOKEN}/getme")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert lower.json()["ok"] is True


async def test_send_message_echoes_inline_keyboard_and_is_recorded(
    bot: Bot, fake: FakeTelegram
) -> None:
    first = await bot.send_message(ANA, "Elige tu idioma", reply_markup=keyboard("es", "en"))
    second = await bot.send_message(ANA, "Gracias")
    assert first.reply_markup == keyboard("es", "en")
    assert first.from_user is not None
    assert first.from_user.id == fake.bot_id
    assert first.chat.type == "private"
    assert second.message_id == first.message_id + 1
    recorded = fake.messages_to(ANA)
    assert [m.text for m in recorded] == ["Elige tu idioma", "Gracias"]
    assert recorded[0].reply_markup == keyboard("es", "en").to_dict()
    assert recorded[1].reply_markup is None
    assert fake.sent[0].method == "sendMessage"


async def test_html_is_parsed_like_telegram(bot: Bot, fake: FakeTelegram) -> None:
    message = await bot.send_message(ANA, "<b>Alerta</b> &amp; aviso", parse_mode=ParseMode.HTML)
    assert message.text == "Alerta & aviso"
    assert fake.messages_to(ANA)[0].text == "<b>Alerta</b> &amp; aviso"
    with pytest.raises(BadRequest, match="parse entities"):
        await bot.send_message(ANA, "agents < 5 blocks away", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="end tag"):
        await bot.send_message(ANA, "<b>unclosed", parse_mode=ParseMode.HTML)


async def test_send_message_errors_come_in_telegrams_order(bot: Bot, fake: FakeTelegram) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hello")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(ANA, "")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(ANA, "x" * 4097)
    await bot.send_message(ANA, "x" * 4096)
    await fake.block(ANA)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(ANA, "")  # blocked wins over every other check


async def test_text_and_command_updates_parse_and_offset_confirms(
    bot: Bot, fake: FakeTelegram
) -> None:
    first = await fake.send_text(ANA, "/start es_60629")
    await fake.send_text(ANA, "hola")
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [first, first + 1]
    command = updates[0].message
    assert command is not None
    assert command.text == "/start es_60629"
    assert command.from_user is not None
    assert command.from_user.language_code == "es"
    assert command.parse_entities() == {command.entities[0]: "/start"}
    assert await bot.get_updates(offset=first + 1) == (updates[1],)
    assert await bot.get_updates(offset=first + 2) == ()
    assert fake.pending_updates == []


async def test_a_raw_update_is_served_as_given_with_its_own_id_or_the_next(
    fake: FakeTelegram,
) -> None:
    first = await fake.send_text(ANA, "hola")
    odd = await fake.inject_raw_update({"message": {"date": "not a number"}})
    assert odd == first + 1
    assert await fake.inject_raw_update({"update_id": first + 9, "poll": {}}) == first + 9
    served = fake.pending_updates
    assert served[1:] == [
        {"update_id": odd, "message": {"date": "not a number"}},
        {"update_id": first + 9, "poll": {}},
    ]
    assert await fake.send_text(ANA, "otra") == first + 10


async def test_long_poll_returns_as_soon_as_an_update_arrives(bot: Bot, fake: FakeTelegram) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()
    await fake.send_text(BEA, "help")
    updates = await poll
    assert time.monotonic() - started < 2
    assert updates[0].message is not None
    assert updates[0].message.text == "help"


async def test_second_poller_ends_the_first_with_conflict(bot: Bot, server: RunningServer) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    # PTB gives getUpdates its own one-connection pool: a second poller is a second Bot.
    async with Bot(TOKEN, base_url=f"{server.url}/bot") as other:
        await other.get_updates(timeout=0)
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await first


async def test_press_sends_a_callback_query_that_can_be_answered_once(
    bot: Bot, fake: FakeTelegram
) -> None:
    sent = await bot.send_message(ANA, "¿Idioma?", reply_markup=keyboard("es"))
    update_id = await fake.press(ANA, sent.message_id, "pick:es")
    (update,) = await bot.get_updates(offset=update_id)
    query = update.callback_query
    assert query is not None
    assert query.data == "pick:es"
    assert query.from_user.id == ANA
    assert query.message is not None
    assert query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="OK") is True
    assert fake.callback_answers[0].text == "OK"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)


async def test_edit_applies_to_the_chat_and_drops_an_unrepeated_keyboard(
    bot: Bot, fake: FakeTelegram
) -> None:
    sent = await bot.send_message(ANA, "Verify?", reply_markup=keyboard("yes", "no"))
    edited = await bot.edit_message_text("Verified", chat_id=ANA, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "Verified"
    assert edited.reply_markup is None
    (current,) = fake.messages_to(ANA)
    assert (current.text, current.reply_markup, current.method) == (
        "Verified",
        None,
        "editMessageText",
    )
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("Verified", chat_id=ANA, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="not found"):
        await bot.edit_message_text("x", chat_id=ANA, message_id=999)
    markup = await bot.edit_message_reply_markup(ANA, sent.message_id, reply_markup=keyboard("ok"))
    assert not isinstance(markup, bool)
    assert markup.reply_markup == keyboard("ok")
    assert await bot.delete_message(ANA, sent.message_id) is True
    assert fake.messages_to(ANA)[0].deleted is True


async def test_block_and_unblock_send_my_chat_member_updates(bot: Bot, fake: FakeTelegram) -> None:
    blocked = await fake.block(ANA)
    assert await fake.block(ANA) is None  # no second update for the same state
    await fake.unblock(ANA)
    updates = await bot.get_updates()
    assert updates[0].update_id == blocked
    kicked = updates[0].my_chat_member
    back = updates[1].my_chat_member
    assert kicked is not None
    assert back is not None
    assert (kicked.old_chat_member.status, kicked.new_chat_member.status) == ("member", "kicked")
    assert kicked.new_chat_member.user.id == fake.bot_id
    assert kicked.from_user.id == ANA
    assert (back.old_chat_member.status, back.new_chat_member.status) == ("kicked", "member")
    assert (await bot.send_message(ANA, "welcome back")).text == "welcome back"


async def test_unhandled_update_kinds_parse(bot: Bot, fake: FakeTelegram) -> None:
    said = await fake.send_text(BEA, "hello")
    await fake.send_sticker(BEA)
    await fake.edit_text(BEA, 1, "hello again")
    await fake.send_group_text(-100, BEA, "/alert@rrbot_test_bot now")
    await fake.channel_post(-1009, "news")
    updates = await bot.get_updates(offset=said + 1)
    assert updates[0].message is not None
    assert updates[0].message.sticker is not None
    assert updates[1].edited_message is not None
    assert updates[1].edited_message.text == "hello again"
    group = updates[2].message
    assert group is not None
    assert group.chat.type == "group"
    assert group.chat.title == "Neighbours"
    assert updates[3].channel_post is not None
    assert updates[3].channel_post.chat.type == "channel"
    sent = await bot.send_message(-100, "noted")
    assert sent.chat.id == -100


async def test_send_document_uploads_bytes_through_multipart(bot: Bot, fake: FakeTelegram) -> None:
    content = b"zip,count\r\n60629,3\x00\xff"
    message = await bot.send_document(
        BEA,
        document=content,
        filename="report.csv",
        caption="Informe <i>semanal</i> ñ 🚨",
        parse_mode=ParseMode.HTML,
    )
    assert message.document is not None
    assert message.document.file_name == "report.csv"
    assert message.caption == "Informe semanal ñ 🚨"
    document = fake.messages_to(BEA)[0].document
    assert document is not None
    assert (document.filename, document.content) == ("report.csv", content)


async def test_commands_and_other_housekeeping(bot: Bot, fake: FakeTelegram) -> None:
    from telegram import BotCommand

    assert await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("stop", "Stop")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "stop"]
    assert await bot.set_my_commands([BotCommand("ayuda", "Ayuda")], language_code="es")
    assert [c.command for c in await bot.get_my_commands(language_code="es")] == ["ayuda"]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert await bot.send_chat_action(ANA, "typing")
    assert await bot.set_chat_menu_button()


async def test_rate_limit_answers_429_retry_after(
    bot: Bot, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # else reading retry_after warns
    fake.rate_limit(None, 1)
    await bot.send_message(ANA, "one")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ANA, "two")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    await bot.send_message(BEA, "other chat is fine")
    assert fake.count_429 == 1
    fake.rate_limit(2, None)
    await bot.send_message(ANA, "first overall")
    await bot.send_message(BEA, "second overall")
    with pytest.raises(RetryAfter):
        await bot.send_message(BEA, "third overall within a second")
    assert fake.count_429 == 2
    assert [m.text for m in fake.messages_to(ANA)] == ["one", "first overall"]


async def test_fail_next_and_delay(bot: Bot, fake: FakeTelegram) -> None:
    fake.fail_next(2, 502)
    for _ in range(2):
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(ANA, "retry me")
        assert not isinstance(caught.value, BadRequest)
    fake.delay(0.1)
    started = time.monotonic()
    await bot.send_message(ANA, "slow")
    assert time.monotonic() - started >= 0.1
    assert [m.text for m in fake.messages_to(ANA)] == ["slow"]
    assert fake.requests_by_method["sendMessage"] == 3


async def test_wait_for_wakes_on_send_and_times_out_with_a_count(
    bot: Bot, fake: FakeTelegram
) -> None:
    waiter = asyncio.create_task(fake.wait_for(BEA, 2, timeout=2))
    await bot.send_message(BEA, "one")
    await bot.send_message(BEA, "two")
    assert [m.text for m in await waiter] == ["one", "two"]
    with pytest.raises(TimeoutError, match="saw 2") as caught:
        await fake.wait_for(BEA, 3, timeout=0.05)
    assert "one" not in str(caught.value)


class Receiver:
    """A bot-side webhook endpoint that records what the fake delivers."""

    def __init__(self, fail_first: int = 0) -> None:
        self.updates: list[dict[str, Any]] = []
        self.secrets: list[str | None] = []
        self.fail_first = fail_first
        self.in_flight: dict[int, int] = {}
        self.max_per_chat = 0
        self.max_total = 0
        self.app = Starlette(routes=[Route("/telegram/webhook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        if self.fail_first > 0:
            self.fail_first -= 1
            return Response(status_code=500)
        update = json.loads(await request.body())
        chat = int(update["message"]["chat"]["id"])
        self.in_flight[chat] = self.in_flight.get(chat, 0) + 1
        self.max_per_chat = max(self.max_per_chat, self.in_flight[chat])
        self.max_total = max(self.max_total, sum(self.in_flight.values()))
        await asyncio.sleep(0.02)  # slow enough for deliveries to overlap
        self.in_flight[chat] -= 1
        self.updates.append(update)
        self.secrets.append(request.headers.get("x-telegram-bot-api-secret-token"))
        return Response(status_code=200)


async def test_webhook_delivers_in_order_per_chat_with_secret_and_retries(
    bot: Bot, fake: FakeTelegram
) -> None:
    receiver = Receiver(fail_first=1)
    hook_server = await serve(receiver.app)
    try:
        fake.webhook_backoff = 0.01
        url = f"{hook_server.url}/telegram/webhook"
        assert await bot.set_webhook(url, secret_token="s3cret-Token_1")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        sent = [await fake.send_text(ANA, f"a{i}") for i in range(3)]
        sent += [await fake.send_text(BEA, f"b{i}") for i in range(3)]
        await fake.wait_webhook_idle(timeout=3)
        assert sorted(u["update_id"] for u in receiver.updates) == sent
        ana = [u["update_id"] for u in receiver.updates if u["message"]["chat"]["id"] == ANA]
        assert ana == sent[:3]
        assert receiver.max_per_chat == 1
        assert receiver.max_total == 2
        assert set(receiver.secrets) == {"s3cret-Token_1"}
        assert fake.webhook_responses[:2] == [500, 200]
        assert len(fake.webhook_responses) == 7
        info = await bot.get_webhook_info()
        assert (info.url, info.pending_update_count) == (url, 0)
        assert await bot.delete_webhook()
        await fake.send_text(ANA, "polling again")
        assert len(await bot.get_updates()) == 1
    finally:
        await hook_server.stop()


async def test_a_polling_application_answers_a_command_end_to_end(
    server: RunningServer, fake: FakeTelegram
) -> None:
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"Hola {' '.join(context.args or [])}")

    app = ApplicationBuilder().token(TOKEN).base_url(f"{server.url}/bot").build()
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=10)
        await fake.send_text(ANA, "/start es_60629")
        (reply,) = await fake.wait_for(ANA, 1, timeout=3)
        await app.updater.stop()
        await app.stop()
    assert reply.text == "Hola es_60629"
    assert fake.requests_by_method["deleteWebhook"] == 1  # start_polling clears any webhook
