"""A fake Telegram Bot API server that the real python-telegram-bot client can talk to.

Routes ``GET|POST /bot{token}/{method}`` like ``api.telegram.org``; point PTB at it with
``Bot(token, base_url=f"{url}/bot")`` or ``ApplicationBuilder().base_url(f"{url}/bot")``.

Wire details it keeps from the real API, because the bot must cope with them:

* PTB 22 posts ``application/x-www-form-urlencoded`` (``multipart/form-data`` with files):
  strings are sent as they are, every other value JSON-encoded (``123``, ``true``,
  ``{"inline_keyboard": …}``). Parameters are therefore read per field with the type the Bot
  API documents, never by guessing from the text: a message text ``"[1]"`` stays a string.
* Errors are ``{"ok": false, "error_code": N, "description": …}`` with HTTP status N; a 429
  carries ``parameters.retry_after``. PTB maps 403 to ``Forbidden``, 400 to ``BadRequest``
  (a subclass of ``NetworkError``), 409 to ``Conflict``, 429 to ``RetryAfter``.
* ``parse_mode=HTML`` is parsed with Telegram's rules: unknown or unclosed tags and a bare
  ``<`` are "can't parse entities" errors; the returned message holds the text without tags.
* ``editMessageText`` without ``reply_markup`` removes the inline keyboard, and an edit that
  changes nothing is "message is not modified".
* A second ``getUpdates`` while one is waiting ends the first with 409, as two pollers do.
* Webhook delivery retries a failed update a few times with a short backoff and then drops it
  (Telegram keeps retrying for longer); updates of one chat go out one at a time, in order.

Why one long module: it is one server faking one public API, and its parts (the method
table, the wire parsing, the update queue, the webhook sender) share the state of every chat;
read it by method, the way the Bot API documentation is read.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import email.message
import email.parser
import email.policy
import hashlib
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.channels.tls import client_context

__all__ = [
    "CallbackAnswer",
    "FakeTelegram",
    "Faults",
    "SentDocument",
    "SentListener",
    "SentMessage",
]

JSONDict = dict[str, Any]
log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
# Telegram's defaults: getUpdates without allowed_updates skips these three kinds.
_NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Tags Telegram's HTML parse mode accepts; anything else is an error, not dropped.
_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "code",
        "del",
        "em",
        "i",
        "ins",
        "pre",
        "s",
        "span",
        "strike",
        "strong",
        "tg-emoji",
        "tg-spoiler",
        "u",
    }
)
_HTML_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent to a chat, or its latest edit, as the fake recorded it."""

    chat_id: int
    message_id: int
    text: str  # as the bot sent it: HTML tags included; a document's caption
    reply_markup: JSONDict | None
    method: str
    parse_mode: str | None
    at: float  # time.monotonic() when recorded
    document: SentDocument | None = None
    deleted: bool = False
    reply_to: int | None = None  # the message id it replies to (quotes), if any


@dataclass(frozen=True)
class SentDocument:
    """A file the bot uploaded with sendDocument."""

    filename: str | None
    content: bytes | None  # None when the bot sent a file_id or URL instead of bytes
    mime_type: str | None


@dataclass(frozen=True)
class CallbackAnswer:
    """The bot's answer to a button press (answerCallbackQuery)."""

    callback_query_id: str
    text: str | None
    show_alert: bool


SentListener = Callable[[SentMessage], None]
"""Told synchronously of every message the bot sends and of every edit (the edited copy)."""


class ApiError(Exception):
    """A Bot API error response: HTTP status, Telegram's description, optional parameters."""

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def response(self) -> JSONResponse:
        """The JSON response Telegram sends for this error."""
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return JSONResponse(body, status_code=self.code)


class _Window:
    """A sliding-window limit: at most ``allowed`` events within ``span`` seconds."""

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("rate must be positive")
        # Below one per second the window widens so that one event fits: 0.5/s is 1 per 2 s.
        self.allowed = max(1, math.floor(per_second))
        self.span = self.allowed / per_second
        self.times: collections.deque[float] = collections.deque()

    def wait_needed(self, now: float) -> float:
        """Seconds until another event fits; 0 when one fits now."""
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()
        if len(self.times) < self.allowed:
            return 0.0
        return self.times[0] + self.span - now


class Faults:
    """Misbehaviour injected into a fake provider: latency, forced failures, rate limits."""

    def __init__(self) -> None:
        self.latency = 0.0
        self.failures_left = 0
        self.failure_status = 500
        self._overall: _Window | None = None
        self._per_key_rate: float | None = None
        self._per_key: dict[object, _Window] = {}

    def rate_limit(
        self, overall_per_second: float | None, per_key_per_second: float | None
    ) -> None:
        """Limit accepted calls overall and per key (chat, number); None lifts a limit."""
        self._overall = _Window(overall_per_second) if overall_per_second else None
        self._per_key_rate = per_key_per_second or None
        self._per_key = {}

    def fail_next(self, n: int, status: int) -> None:
        """Make the next ``n`` calls fail with HTTP ``status``."""
        self.failures_left = n
        self.failure_status = status

    def take_failure(self) -> int | None:
        """The status to fail this call with, or None to let it through."""
        if self.failures_left <= 0:
            return None
        self.failures_left -= 1
        return self.failure_status

    def retry_after(self, key: object) -> int | None:
        """Whole seconds to wait when this call exceeds a limit; None records it as accepted."""
        now = time.monotonic()
        windows: list[_Window] = []
        if self._overall is not None:
            windows.append(self._overall)
        if self._per_key_rate is not None:
            window = self._per_key.get(key)
            if window is None:
                window = self._per_key[key] = _Window(self._per_key_rate)
            windows.append(window)
        wait = max((w.wait_needed(now) for w in windows), default=0.0)
        if wait > 0:
            return max(1, math.ceil(wait))
        for window in windows:
            window.times.append(now)
        return None


@dataclass
class _User:
    """A simulated Telegram user; their private chat has the same id."""

    user_id: int
    first_name: str
    language_code: str | None
    blocked: bool = False


@dataclass
class _Params:
    """Request parameters with Bot API typing applied on read."""

    values: dict[str, Any]
    files: dict[str, tuple[str | None, bytes, str | None]] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def str_(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        return json.dumps(value)

    def int_(self, name: str, *, what: str | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise ApiError(400, f"Bad Request: invalid {what or name} specified")
        if isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise ApiError(400, f"Bad Request: invalid {what or name} specified") from None

    def float_(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def bool_(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in {"true", "1"}
        return bool(value)

    def json_(self, name: str, *, what: str | None = None) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if not value:
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(
                    400, f"Bad Request: can't parse {what or name} JSON object"
                ) from None
        return value


class FakeTelegram:
    """A Telegram Bot API for one bot, with simulated users, groups and faults."""

    def __init__(
        self, token: str, *, bot_id: int = 7000000001, bot_username: str = "rrbot_test_bot"
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = "Rapid Response Bot"

        self.sent: list[SentMessage] = []  # every send and every edit, in order
        self.callback_answers: list[CallbackAnswer] = []
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.menu_buttons: dict[int | None, JSONDict] = {}
        self.requests_by_method: collections.Counter[str] = collections.Counter()
        self.count_429 = 0
        self.faults = Faults()

        self.webhook_url: str | None = None
        self.webhook_responses: list[int] = []  # HTTP status per attempt; 0 = no response
        self.webhook_failures = 0  # updates dropped after the last retry
        self.webhook_attempts = 3
        self.webhook_backoff = 0.05  # seconds before the first retry, doubled after each

        self._users: dict[int, _User] = {}
        self._chats: dict[int, JSONDict] = {}
        self._by_chat: dict[int, list[SentMessage]] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._next_message_id: dict[int, int] = {}
        self._open_callbacks: set[str] = set()
        self._next_callback = 0

        self._updates: list[JSONDict] = []
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._closing = False
        self._updates_changed = asyncio.Condition()
        self._sent_changed = asyncio.Condition()

        self._webhook_secret: str | None = None
        self._webhook_max_connections = 40  # Telegram's default
        self._webhook_slots = asyncio.Semaphore(self._webhook_max_connections)
        self._webhook_client: httpx.AsyncClient | None = None
        self._chat_queues: dict[int, collections.deque[JSONDict]] = {}
        self._chat_workers: dict[int, asyncio.Task[None]] = {}
        self._in_flight = 0
        self._webhook_idle = asyncio.Event()
        self._webhook_idle.set()
        self._last_webhook_error: tuple[int, str] | None = None
        self._listeners: list[SentListener] = []

        handlers: dict[str, Callable[[_Params, Request], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "sendChatAction": self._send_chat_action,
            "close": self._true,
            "logOut": self._true,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "deleteMessage": self._delete_message,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
        }
        # Telegram matches method names case-insensitively.
        self._handlers = {name.lower(): (name, fn) for name, fn in handlers.items()}
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/{path:path}", self._not_found, methods=["GET", "POST"]),
            ]
        )

    # ------------------------------------------------------------------ simulation API

    def add_user(
        self, user_id: int, first_name: str = "Ana", language_code: str | None = "en"
    ) -> None:
        """Register a user who has a private chat with the bot (chat id == user id)."""
        self._users[user_id] = _User(user_id, first_name, language_code)
        self._chats[user_id] = {"id": user_id, "first_name": first_name, "type": "private"}

    def add_listener(self, listener: SentListener) -> Callable[[], None]:
        """Call ``listener`` with each message as it is recorded; returns the unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    async def send_text(self, user_id: int, text: str) -> int:
        """The user writes ``text`` to the bot; returns the update_id."""
        message = self._new_message(user_id, self._user(user_id), text)
        return await self._enqueue("message", message)

    async def send_group_text(self, group_id: int, user_id: int, text: str) -> int:
        """The user writes ``text`` in a group the bot is in; returns the update_id."""
        self._chats.setdefault(group_id, {"id": group_id, "title": "Neighbours", "type": "group"})
        message = self._new_message(group_id, self._user(user_id), text)
        return await self._enqueue("message", message)

    async def press(self, user_id: int, message_id: int, callback_data: str) -> int:
        """The user taps an inline button of the bot's message; returns the update_id."""
        user = self._user(user_id)
        message = self._messages.get((user_id, message_id))
        if message is None:
            raise LookupError("no such message in that chat")
        self._next_callback += 1
        query_id = str(4_200_000_000_000_000_000 + self._next_callback * 7919)
        self._open_callbacks.add(query_id)
        digest = hashlib.sha256(f"{self.bot_id}:{user_id}".encode()).digest()
        return await self._enqueue(
            "callback_query",
            {
                "id": query_id,
                "from": self._user_json(user),
                "message": json.loads(json.dumps(message)),
                "chat_instance": str(-int.from_bytes(digest[:8], "big") // 2),
                "data": callback_data,
            },
        )

    async def block(self, user_id: int) -> int | None:
        """The user blocks the bot; returns the my_chat_member update_id, None if already so."""
        return await self._set_blocked(user_id, blocked=True)

    async def unblock(self, user_id: int) -> int | None:
        """The user unblocks (restarts) the bot; returns the update_id, None if not blocked."""
        return await self._set_blocked(user_id, blocked=False)

    async def send_sticker(self, user_id: int) -> int:
        """The user sends a sticker: a message without text."""
        message = self._new_message(user_id, self._user(user_id), None)
        message["sticker"] = {
            "file_id": "CAACAgIAAxkBAAEfake" + secrets.token_hex(8),
            "file_unique_id": "AgAD" + secrets.token_hex(4),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return await self._enqueue("message", message)

    async def send_photo(self, user_id: int) -> str:
        """The user sends a photo (no caption); returns its file id, as the bot will see it."""
        file_id = "AgACAgIAAxkBAAEfake" + secrets.token_hex(8)
        message = self._new_message(user_id, self._user(user_id), None)
        message["photo"] = [
            {"file_id": file_id + "s", "file_unique_id": "AQAD" + secrets.token_hex(4),
             "width": 90, "height": 68},
            {"file_id": file_id, "file_unique_id": "AQAD" + secrets.token_hex(4),
             "width": 1280, "height": 960},
        ]  # fmt: skip
        await self._enqueue("message", message)
        return file_id

    async def edit_text(self, user_id: int, message_id: int, text: str) -> int:
        """The user edits one of their earlier messages (an ``edited_message`` update)."""
        original = self._messages.get((user_id, message_id))
        if original is None or original.get("from", {}).get("id") != user_id:
            raise LookupError("no such message from that user")
        edited = dict(original, text=text, edit_date=int(time.time()))
        edited.pop("entities", None)
        if entities := _command_entities(text):
            edited["entities"] = entities
        self._messages[(user_id, message_id)] = edited
        return await self._enqueue("edited_message", edited)

    async def channel_post(self, channel_id: int, text: str) -> int:
        """A post in a channel the bot administers (a ``channel_post`` update)."""
        chat = self._chats.setdefault(
            channel_id, {"id": channel_id, "title": "Neighbourhood news", "type": "channel"}
        )
        message_id = self._take_message_id(channel_id)
        post = {
            "message_id": message_id,
            "sender_chat": chat,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        self._messages[(channel_id, message_id)] = post
        return await self._enqueue("channel_post", post)

    async def inject_raw_update(self, update: JSONDict) -> int:
        """Queue an update exactly as given, such as one the bot's library cannot parse (a
        newer Bot API, a field of another type); an ``update_id`` is added unless it has one,
        and one it has is used as it is (a repeat). Returns the update_id."""
        update = dict(update)
        given = update.get("update_id")
        if isinstance(given, int):
            self._next_update_id = max(self._next_update_id, given + 1)
        else:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
        if self.webhook_url is not None:
            self._dispatch_webhook(update)
        else:
            self._updates.append(update)
            async with self._updates_changed:
                self._updates_changed.notify_all()
        return int(update["update_id"])

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """What the bot sent to a chat, in order, each with its latest edit applied."""
        return list(self._by_chat.get(chat_id, []))

    async def wait_callback_answers(
        self,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the helper's contract for tests
    ) -> list[CallbackAnswer]:
        """Wait until the bot has answered at least ``count`` button presses in all."""
        try:
            async with asyncio.timeout(timeout), self._sent_changed:
                await self._sent_changed.wait_for(lambda: len(self.callback_answers) >= count)
        except TimeoutError:
            raise TimeoutError(
                f"expected {count} answered press(es) within {timeout}s, "
                f"saw {len(self.callback_answers)}"
            ) from None
        return self.callback_answers

    async def wait_for(
        self,
        chat_id: int,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the helper's contract for tests
    ) -> list[SentMessage]:
        """Wait until the bot has sent at least ``count`` messages to the chat."""
        try:
            async with asyncio.timeout(timeout), self._sent_changed:
                await self._sent_changed.wait_for(
                    lambda: len(self._by_chat.get(chat_id, [])) >= count
                )
        except TimeoutError:
            seen = len(self._by_chat.get(chat_id, []))
            raise TimeoutError(
                f"expected {count} message(s) to the chat within {timeout}s, saw {seen}"
            ) from None
        return self.messages_to(chat_id)

    async def wait_webhook_idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every update queued for the webhook has been delivered or dropped."""
        async with asyncio.timeout(timeout):
            await self._webhook_idle.wait()

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates waiting for getUpdates (not yet confirmed by a higher offset)."""
        return list(self._updates)

    def rate_limit(
        self, overall_per_second: float | None, per_chat_per_second: float | None
    ) -> None:
        """Answer sendMessage with 429 once a rate is exceeded in a sliding window."""
        self.faults.rate_limit(overall_per_second, per_chat_per_second)

    def fail_next(self, n: int, status: int = 500) -> None:
        """Make the next ``n`` sendMessage calls fail with HTTP ``status``."""
        self.faults.fail_next(n, status)

    def delay(self, seconds: float) -> None:
        """Add latency to every sendMessage call."""
        self.faults.latency = seconds

    async def aclose(self) -> None:
        """Release waiting long polls, stop webhook delivery and close the HTTP client."""
        self._closing = True
        async with self._updates_changed:
            self._updates_changed.notify_all()
        workers = list(self._chat_workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._webhook_client is not None:
            await self._webhook_client.aclose()
            self._webhook_client = None

    # ------------------------------------------------------------------ HTTP plumbing

    async def _endpoint(self, request: Request) -> Response:
        if not secrets.compare_digest(request.path_params["token"], self.token):
            return ApiError(401, "Unauthorized").response()
        entry = self._handlers.get(request.path_params["method"].lower())
        if entry is None:
            return ApiError(404, "Not Found").response()
        name, handler = entry
        self.requests_by_method[name] += 1
        try:
            params = await _read_params(request)
            result = await handler(params, request)
        except ApiError as error:
            return error.response()
        if isinstance(result, Response):
            return result
        return JSONResponse({"ok": True, "result": result})

    async def _not_found(self, request: Request) -> Response:
        return ApiError(404, "Not Found").response()

    # ------------------------------------------------------------------ methods

    async def _true(self, params: _Params, request: Request) -> bool:
        return True

    async def _get_me(self, params: _Params, request: Request) -> JSONDict:
        return {
            **self._bot_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: _Params, request: Request) -> list[JSONDict]:
        if self.webhook_url is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active;"
                " use deleteWebhook to delete the webhook first",
            )
        offset = params.int_("offset") or 0
        limit = min(max(params.int_("limit") or 100, 1), 100)
        timeout = max(params.float_("timeout") or 0.0, 0.0)
        allowed = params.json_("allowed_updates", what="allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(kind) for kind in allowed)
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        async with self._updates_changed:
            # Wakes an earlier poll so that it can answer 409, as Telegram does.
            self._updates_changed.notify_all()
        if not self._updates and timeout > 0 and not self._closing:
            await self._long_poll(request, timeout, generation)
        if generation != self._poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request;"
                " make sure that only one bot instance is running",
            )
        return self._updates[:limit]

    async def _long_poll(self, request: Request, seconds: float, generation: int) -> None:
        async def updates_arrive() -> None:
            async with self._updates_changed:
                await self._updates_changed.wait_for(
                    lambda: (
                        bool(self._updates) or self._closing or generation != self._poll_generation
                    )
                )

        waiters = [
            asyncio.create_task(updates_arrive()),
            # A poller that hung up (PTB stopping) must not keep the connection open.
            asyncio.create_task(_client_gone(request)),
        ]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiters:
                task.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def _set_webhook(self, params: _Params, request: Request) -> Response:
        url = params.str_("url") or ""
        if not url:
            return await self._delete_webhook(params, request)
        secret = params.str_("secret_token") or None
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = params.int_("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise ApiError(400, "Bad Request: invalid max_connections specified")
        allowed = params.json_("allowed_updates", what="allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(kind) for kind in allowed)
        if params.bool_("drop_pending_updates"):
            self._updates = []
        self.webhook_url = url
        self._webhook_secret = secret
        self._webhook_max_connections = max_connections
        self._webhook_slots = asyncio.Semaphore(max_connections)
        self._last_webhook_error = None
        # Whatever getUpdates had not confirmed yet now goes to the webhook.
        pending, self._updates = self._updates, []
        for update in pending:
            self._dispatch_webhook(update)
        return _ok_with_description(True, "Webhook was set")

    async def _delete_webhook(self, params: _Params, request: Request) -> Response:
        was_set = self.webhook_url is not None
        self.webhook_url = None
        self._webhook_secret = None
        # Updates not yet handed to a delivery return to the getUpdates queue.
        returned = [update for queue in self._chat_queues.values() for update in queue]
        for queue in self._chat_queues.values():
            queue.clear()
        if params.bool_("drop_pending_updates"):
            self._updates = []
        else:
            self._updates = sorted(self._updates + returned, key=lambda u: int(u["update_id"]))
        return _ok_with_description(
            True, "Webhook was deleted" if was_set else "Webhook is already deleted"
        )

    async def _get_webhook_info(self, params: _Params, request: Request) -> JSONDict:
        if self.webhook_url is None:
            return {
                "url": "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
        pending = sum(len(queue) for queue in self._chat_queues.values()) + self._in_flight
        info: JSONDict = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": pending,
            "max_connections": self._webhook_max_connections,
            "ip_address": "127.0.0.1",
        }
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        if self._last_webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self._last_webhook_error
        return info

    async def _set_my_commands(self, params: _Params, request: Request) -> bool:
        commands = params.json_("commands", what="commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        self.commands[self._command_key(params)] = [dict(c) for c in commands]
        return True

    async def _delete_my_commands(self, params: _Params, request: Request) -> bool:
        self.commands.pop(self._command_key(params), None)
        return True

    async def _get_my_commands(self, params: _Params, request: Request) -> list[JSONDict]:
        return self.commands.get(self._command_key(params), [])

    def _command_key(self, params: _Params) -> tuple[str, str]:
        scope = params.json_("scope", what="scope")
        scope_type = str(scope.get("type", "default")) if isinstance(scope, dict) else "default"
        return scope_type, params.str_("language_code") or ""

    async def _set_chat_menu_button(self, params: _Params, request: Request) -> bool:
        button = params.json_("menu_button", what="menu_button")
        self.menu_buttons[params.int_("chat_id")] = (
            button if isinstance(button, dict) else {"type": "default"}
        )
        return True

    async def _send_chat_action(self, params: _Params, request: Request) -> bool:
        self._check_reachable(self._chat_id(params))
        return True

    async def _send_message(self, params: _Params, request: Request) -> JSONDict:
        if self.faults.latency > 0:
            await asyncio.sleep(self.faults.latency)
        status = self.faults.take_failure()
        if status is not None:
            raise _failure(status)
        chat_id = self._chat_id(params)
        retry_after = self.faults.retry_after(chat_id)
        if retry_after is not None:
            self.count_429 += 1
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        self._check_reachable(chat_id)
        raw = params.str_("text") or ""
        parse_mode = params.str_("parse_mode") or None
        visible = _visible_text(raw, parse_mode)
        if not visible.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(visible) > MAX_TEXT_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._reply_markup(params)
        reply_to = self._reply_target(params, chat_id)
        message = self._bot_message(chat_id, reply_to=reply_to)
        message["text"] = visible
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        await self._record(message, raw, markup, "sendMessage", parse_mode)
        return message

    async def _send_photo(self, params: _Params, request: Request) -> JSONDict:
        """A photo re-sent by its file id, recorded with the id as its document name; or
        uploaded (multipart), recorded with its bytes, which must be a PNG or a JPEG as
        Telegram requires (anything else: IMAGE_PROCESS_FAILED)."""
        chat_id = self._chat_id(params)
        self._check_reachable(chat_id)
        upload = params.files.get("photo")
        file_id = params.str_("photo")
        if upload is not None:
            if not upload[1].startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
                raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
            file_id = "AgACAgIAAxkBAAEfake" + secrets.token_hex(8)
            document = SentDocument(upload[0], upload[1], upload[2])
        elif file_id:
            document = SentDocument(file_id, None, "image/jpeg")
        else:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        caption_raw = params.str_("caption") or ""
        if len(caption_raw) > MAX_CAPTION_LENGTH:
            raise ApiError(400, "Bad Request: message caption is too long")
        markup = self._reply_markup(params)
        message = self._bot_message(chat_id, reply_to=None)
        message["photo"] = [
            {"file_id": file_id, "file_unique_id": "AQAD" + secrets.token_hex(4),
             "width": 1280, "height": 960},
        ]  # fmt: skip
        if caption_raw:
            message["caption"] = caption_raw
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        await self._record(message, caption_raw, markup, "sendPhoto", None, document)
        return message

    async def _send_document(self, params: _Params, request: Request) -> JSONDict:
        chat_id = self._chat_id(params)
        self._check_reachable(chat_id)
        caption_raw = params.str_("caption") or ""
        parse_mode = params.str_("parse_mode") or None
        caption = _visible_text(caption_raw, parse_mode)
        if len(caption) > MAX_CAPTION_LENGTH:
            raise ApiError(400, "Bad Request: message caption is too long")
        upload = params.files.get("document")
        if upload is not None:
            document = SentDocument(upload[0], upload[1], upload[2])
        elif params.has("document"):
            document = SentDocument(None, None, None)
        else:
            raise ApiError(400, "Bad Request: there is no document in the request")
        markup = self._reply_markup(params)
        message = self._bot_message(chat_id, reply_to=self._reply_target(params, chat_id))
        message["document"] = {
            "file_id": "BQACAgIAAxkBAAEfake" + secrets.token_hex(8),
            "file_unique_id": "AgAD" + secrets.token_hex(4),
            "file_name": document.filename or "document",
            "mime_type": document.mime_type or "application/octet-stream",
            "file_size": len(document.content or b""),
        }
        if caption:
            message["caption"] = caption
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        await self._record(message, caption_raw, markup, "sendDocument", parse_mode, document)
        return message

    async def _edit_message_text(self, params: _Params, request: Request) -> JSONDict:
        chat_id, message_id, current = self._editable(params)
        raw = params.str_("text") or ""
        parse_mode = params.str_("parse_mode") or None
        visible = _visible_text(raw, parse_mode)
        if not visible.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(visible) > MAX_TEXT_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._reply_markup(params)
        # Telegram drops the inline keyboard when an edit does not repeat it.
        inline = markup if markup is not None and "inline_keyboard" in markup else None
        if current.get("text") == visible and current.get("reply_markup") == inline:
            raise _not_modified()
        edited = {k: v for k, v in current.items() if k != "reply_markup"}
        edited.update(text=visible, edit_date=int(time.time()))
        if inline is not None:
            edited["reply_markup"] = inline
        await self._record_edit(chat_id, message_id, edited, "editMessageText", raw, parse_mode)
        return edited

    async def _edit_message_reply_markup(self, params: _Params, request: Request) -> JSONDict:
        chat_id, message_id, current = self._editable(params)
        markup = self._reply_markup(params)
        inline = markup if markup is not None and "inline_keyboard" in markup else None
        if current.get("reply_markup") == inline:
            raise _not_modified()
        edited = {k: v for k, v in current.items() if k != "reply_markup"}
        edited["edit_date"] = int(time.time())
        if inline is not None:
            edited["reply_markup"] = inline
        await self._record_edit(chat_id, message_id, edited, "editMessageReplyMarkup", None, None)
        return edited

    async def _answer_callback_query(self, params: _Params, request: Request) -> bool:
        query_id = params.str_("callback_query_id") or ""
        if query_id not in self._open_callbacks:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_callbacks.discard(query_id)
        self.callback_answers.append(
            CallbackAnswer(query_id, params.str_("text"), params.bool_("show_alert"))
        )
        async with self._sent_changed:
            self._sent_changed.notify_all()
        return True

    async def _delete_message(self, params: _Params, request: Request) -> bool:
        chat_id = self._chat_id(params)
        message_id = params.int_("message_id", what="message identifier")
        if message_id is None or self._messages.pop((chat_id, message_id), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        chat = self._by_chat.get(chat_id, [])
        for index, sent in enumerate(chat):
            if sent.message_id == message_id:
                chat[index] = dataclasses.replace(sent, deleted=True)
        return True

    # ------------------------------------------------------------------ helpers

    def _user(self, user_id: int) -> _User:
        user = self._users.get(user_id)
        if user is None:
            raise LookupError("unknown user; call add_user() first")
        return user

    def _user_json(self, user: _User) -> JSONDict:
        data: JSONDict = {"id": user.user_id, "is_bot": False, "first_name": user.first_name}
        if user.language_code is not None:
            data["language_code"] = user.language_code
        return data

    def _bot_json(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _take_message_id(self, chat_id: int) -> int:
        # One sequence per chat, shared by both sides, as in a private chat on Telegram.
        message_id = self._next_message_id.get(chat_id, 0) + 1
        self._next_message_id[chat_id] = message_id
        return message_id

    def _new_message(self, chat_id: int, user: _User, text: str | None) -> JSONDict:
        message_id = self._take_message_id(chat_id)
        message: JSONDict = {
            "message_id": message_id,
            "from": self._user_json(user),
            "chat": dict(self._chats[chat_id]),
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
            if entities := _command_entities(text):
                message["entities"] = entities
        self._messages[(chat_id, message_id)] = message
        return message

    def _bot_message(self, chat_id: int, *, reply_to: JSONDict | None) -> JSONDict:
        message: JSONDict = {
            "message_id": self._take_message_id(chat_id),
            "from": self._bot_json(),
            "chat": dict(self._chats[chat_id]),
            "date": int(time.time()),
        }
        if reply_to is not None:
            message["reply_to_message"] = {
                k: v for k, v in reply_to.items() if k != "reply_to_message"
            }
        return message

    def _chat_id(self, params: _Params) -> int:
        value = params.values.get("chat_id")
        if value is None or value == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            return int(value)
        except (TypeError, ValueError):
            # "@channelusername" addresses a public chat; the fake has none.
            raise ApiError(400, "Bad Request: chat not found") from None

    def _check_reachable(self, chat_id: int) -> None:
        user = self._users.get(chat_id)
        if user is not None and user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id not in self._chats:
            raise ApiError(400, "Bad Request: chat not found")

    def _reply_markup(self, params: _Params) -> JSONDict | None:
        markup = params.json_("reply_markup", what="reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        return markup

    def _reply_target(self, params: _Params, chat_id: int) -> JSONDict | None:
        reply = params.json_("reply_parameters", what="reply parameters")
        allow_without = params.bool_("allow_sending_without_reply")
        target_id: int | None
        if isinstance(reply, dict):
            target_id = int(reply["message_id"]) if "message_id" in reply else None
            allow_without = allow_without or bool(reply.get("allow_sending_without_reply"))
        else:
            target_id = params.int_("reply_to_message_id", what="reply message identifier")
        if target_id is None:
            return None
        target = self._messages.get((chat_id, target_id))
        if target is None and not allow_without:
            raise ApiError(400, "Bad Request: message to be replied not found")
        return target

    def _editable(self, params: _Params) -> tuple[int, int, JSONDict]:
        if params.has("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat_id = self._chat_id(params)
        self._check_reachable(chat_id)
        message_id = params.int_("message_id", what="message identifier")
        current = self._messages.get((chat_id, message_id or 0))
        if message_id is None or current is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if current.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat_id, message_id, current

    async def _record(
        self,
        message: JSONDict,
        raw_text: str,
        markup: JSONDict | None,
        method: str,
        parse_mode: str | None,
        document: SentDocument | None = None,
    ) -> None:
        chat_id = int(message["chat"]["id"])
        self._messages[(chat_id, int(message["message_id"]))] = message
        sent = SentMessage(
            chat_id=chat_id,
            message_id=int(message["message_id"]),
            text=raw_text,
            reply_markup=markup,
            method=method,
            parse_mode=parse_mode,
            at=time.monotonic(),
            document=document,
            reply_to=(message.get("reply_to_message") or {}).get("message_id"),
        )
        self.sent.append(sent)
        self._by_chat.setdefault(chat_id, []).append(sent)
        self._notify(sent)
        async with self._sent_changed:
            self._sent_changed.notify_all()

    async def _record_edit(
        self,
        chat_id: int,
        message_id: int,
        edited: JSONDict,
        method: str,
        raw_text: str | None,
        parse_mode: str | None,
    ) -> None:
        self._messages[(chat_id, message_id)] = edited
        chat = self._by_chat.get(chat_id, [])
        for index, previous in enumerate(chat):
            if previous.message_id == message_id:
                updated = dataclasses.replace(
                    previous,
                    text=previous.text if raw_text is None else raw_text,
                    parse_mode=previous.parse_mode if raw_text is None else parse_mode,
                    reply_markup=edited.get("reply_markup"),
                    method=method,
                    at=time.monotonic(),
                )
                chat[index] = updated
                self.sent.append(updated)
                self._notify(updated)
        async with self._sent_changed:
            self._sent_changed.notify_all()

    def _notify(self, sent: SentMessage) -> None:
        for listener in list(self._listeners):
            try:
                listener(sent)
            except Exception:
                # A broken observer must not turn the bot's sendMessage into a 500.
                log.exception("a FakeTelegram listener failed")

    async def _set_blocked(self, user_id: int, *, blocked: bool) -> int | None:
        user = self._user(user_id)
        if user.blocked == blocked:
            return None
        user.blocked = blocked
        before, after = ("member", "kicked") if blocked else ("kicked", "member")
        return await self._enqueue(
            "my_chat_member",
            {
                "chat": dict(self._chats[user_id]),
                "from": self._user_json(user),
                "date": int(time.time()),
                "old_chat_member": _chat_member(self._bot_json(), before),
                "new_chat_member": _chat_member(self._bot_json(), after),
            },
        )

    async def _enqueue(self, kind: str, payload: JSONDict) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        allowed = self._allowed_updates
        if allowed is None or not allowed:
            allowed = None
        if (allowed is None and kind in _NOT_DEFAULT_UPDATES) or (
            allowed is not None and kind not in allowed
        ):
            return update_id
        update = {"update_id": update_id, kind: payload}
        if self.webhook_url is not None:
            self._dispatch_webhook(update)
            return update_id
        self._updates.append(update)
        async with self._updates_changed:
            self._updates_changed.notify_all()
        return update_id

    def _dispatch_webhook(self, update: JSONDict) -> None:
        key = _chat_key(update)
        self._chat_queues.setdefault(key, collections.deque()).append(update)
        self._webhook_idle.clear()
        if key not in self._chat_workers:
            self._chat_workers[key] = asyncio.create_task(
                self._drain_chat(key), name="fake-telegram-webhook"
            )

    async def _drain_chat(self, key: int) -> None:
        queue = self._chat_queues[key]
        try:
            while queue and self.webhook_url is not None:
                update = queue.popleft()
                self._in_flight += 1
                try:
                    async with self._webhook_slots:
                        await self._deliver(update)
                finally:
                    self._in_flight -= 1
        finally:
            del self._chat_workers[key]
            if not queue:
                self._chat_queues.pop(key, None)
            if not self._chat_workers:
                self._webhook_idle.set()

    async def _deliver(self, update: JSONDict) -> None:
        url = self.webhook_url
        if url is None:
            return
        if self._webhook_client is None:
            # trust_env=False keeps loopback deliveries away from any configured proxy.
            self._webhook_client = httpx.AsyncClient(
                timeout=10.0, trust_env=False, verify=client_context()
            )
        headers = {"Content-Type": "application/json"}
        if self._webhook_secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self._webhook_secret
        body = json.dumps(update).encode()
        for attempt in range(self.webhook_attempts):
            try:
                response = await self._webhook_client.post(url, content=body, headers=headers)
            except httpx.HTTPError as error:
                status, problem = 0, type(error).__name__
            else:
                status = response.status_code
                problem = f"Wrong response from the webhook: {status} {response.reason_phrase}"
            self.webhook_responses.append(status)
            if 200 <= status < 300:
                return
            self._last_webhook_error = (int(time.time()), problem)
            if attempt + 1 < self.webhook_attempts:
                await asyncio.sleep(self.webhook_backoff * 2**attempt)
        self.webhook_failures += 1


def _ok_with_description(result: Any, description: str) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result, "description": description})


def _failure(status: int) -> ApiError:
    if status == 429:
        return ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
    if status == 400:
        return ApiError(400, "Bad Request")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return ApiError(status, phrase)


def _not_modified() -> ApiError:
    return ApiError(
        400,
        "Bad Request: message is not modified: specified new message content and reply markup"
        " are exactly the same as a current content and reply markup of the message",
    )


def _chat_member(user: JSONDict, status: str) -> JSONDict:
    member: JSONDict = {"user": user, "status": status}
    if status == "kicked":
        member["until_date"] = 0  # Telegram's "forever"
    return member


def _chat_key(update: JSONDict) -> int:
    """The chat an update belongs to, for ordering webhook deliveries."""
    for kind, payload in update.items():
        if kind == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return int(chat["id"])
        sender = payload.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return int(sender["id"])
    return 0


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str) -> list[JSONDict]:
    if not text.startswith("/"):
        return []
    command = text.split(" ", 1)[0].split("\n", 1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]


def _visible_text(text: str, parse_mode: str | None) -> str:
    """The text users see: HTML checked and stripped of tags; other modes as sent."""
    if parse_mode is None or parse_mode.upper() != "HTML":
        return text
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            offset = len(text[:i].encode())
            end = text.find(">", i)
            if text.startswith("</", i):
                if end == -1:
                    raise _entities_error(f"Unclosed end tag at byte offset {offset}")
                name = text[i + 2 : end].strip().lower()
                if not stack:
                    raise _entities_error(f"Unexpected end tag at byte offset {offset}")
                if name and name != stack[-1]:
                    raise _entities_error(
                        f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1]}>",'
                        f' found "</{name}>"'
                    )
                stack.pop()
            else:
                j = i + 1
                while j < len(text) and (text[j].isalnum() or text[j] == "-"):
                    j += 1
                name = text[i + 1 : j].lower()
                if name not in _HTML_TAGS:
                    raise _entities_error(f'Unsupported start tag "{name}" at byte offset {offset}')
                if end == -1:
                    raise _entities_error(f'Unclosed start tag "{name}" at byte offset {offset}')
                stack.append(name)
            i = end + 1
        elif char == "&":
            match = _HTML_ENTITY.match(text, i)
            if match is None:
                out.append("&")
                i += 1
                continue
            name = match.group(1)
            if name.startswith("#x"):
                out.append(chr(int(name[2:], 16)))
            elif name.startswith("#"):
                out.append(chr(int(name[1:])))
            else:
                out.append(_HTML_NAMED[name])
            i = match.end()
        else:
            out.append(char)
            i += 1
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def _entities_error(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {detail}")


async def _client_gone(request: Request) -> None:
    """Return once the client has closed the connection."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _read_params(request: Request) -> _Params:
    """Parameters from the query string and a JSON, urlencoded or multipart body."""
    values: dict[str, Any] = dict(request.query_params)
    files: dict[str, tuple[str | None, bytes, str | None]] = {}
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    body = await request.body()
    if not body:
        return _Params(values, files)
    if media_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON object") from None
        if isinstance(data, dict):
            values.update(data)
    elif media_type == "application/x-www-form-urlencoded":
        values.update(parse_qsl(body.decode(), keep_blank_values=True))
    elif media_type == "multipart/form-data":
        for name, filename, payload, part_type in _multipart_parts(content_type, body):
            if filename is None:
                values[name] = payload.decode()
            else:
                files[name] = (filename, payload, part_type)
    return _Params(values, files)


def _multipart_parts(
    content_type: str, body: bytes
) -> Iterable[tuple[str, str | None, bytes, str | None]]:
    """(name, filename, bytes, content type) of each part of a multipart/form-data body."""
    # The standard library's MIME parser reads form-data once the header is put in front;
    # it spares the fake a dependency on python-multipart.
    document = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not isinstance(document, email.message.EmailMessage):
        return
    for part in document.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        filename = part.get_filename()
        part_type = part.get_content_type() if part.get("content-type") else None
        yield name, filename, payload if isinstance(payload, bytes) else b"", part_type
