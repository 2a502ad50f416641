"""The browser phone simulator: phones side by side, talking to the bot through the fakes.

Every message goes the production way: an SMS phone texts through ``FakeTwilio.text`` (the
signed webhook to the bot, TwiML back), a Telegram phone writes through ``FakeTelegram``
(the real PTB Application fetches the update). What the bot sends comes back through the
fakes' listeners, so a broadcast that reaches a phone shows up like any reply.

Mount the routes under ``/sim``; the page and its API use URLs relative to that mount::

    Mount("/sim", routes=simulator.routes())

The simulator only knows the fakes. What the bot itself stores about a person (their language,
zone and status) comes from an optional ``lookup`` the composition root hands in; a phone's
header and suggestions follow it, looked up again after each message to or from that phone.
The languages a new phone can be set to (each by its own name, and which way it is written)
come from the composition root too; the page gets them with the state.

An SMS phone can also call the bot's hotline (bot/sim/calls.py): keys, speech and silence go
through the fake Twilio Voice, and the page sees what the caller hears, never a number. Calls
are kept in memory only.

Live updates are server-sent events. uvicorn waits for open responses before it runs the
lifespan shutdown, so call ``aclose()`` when shutdown begins (it ends every stream), not only
from the lifespan.

Why one module over 500 lines: the `Simulator` is one set of routes over one state (the
phones, their conversations, the open streams); the page itself lives in `static/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import quote

import phonenumbers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.core.intents import Intent
from bot.core.keywords import KEYWORDS
from bot.core.segments import count_segments
from bot.sim.calls import Call, CallError, Calls
from bot.sim.fake_telegram import (
    ApiError,
    FakeTelegram,
    SentDocument,
    SentMessage,
    _visible_text,
)
from bot.sim.fake_twilio import MAX_BODY_LENGTH, FakeTwilio, Sms

__all__ = [
    "DEFAULT_LANGUAGES",
    "Entry",
    "Language",
    "Lookup",
    "Phone",
    "PhoneError",
    "Simulator",
    "Standing",
    "chips",
]

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
Kind = Literal["sms", "telegram"]
Role = Literal["member", "coordinator"]
Direction = Literal["in", "out"]

STATIC_DIR = Path(__file__).parent / "static"
HISTORY = 200  # entries kept per phone, in memory and in the state file
FIRST_USER_ID = 100001
MAX_NAME = 40
MAX_TELEGRAM_TEXT = 4096
# 555-0100 … 555-0199 are the fictional numbers of North America; 312 is Chicago.
_FICTIONAL = tuple(
    f"+1{area}5550{n:03d}" for area in ("312", "773", "708") for n in range(100, 200)
)
_DEFAULT_NAMES = ("Ana", "Luis", "María", "Tomasz", "Mei", "Omar", "Rosa", "Jae", "Olena", "João")
# A BCP 47 tag as the bot's languages are named: en, es, fa-AF, zh-Hans.
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")
_ZIP = re.compile(r"[0-9]{5}")
# The ZIP an SMS phone's JOIN suggestion names before the phone or the bot knows one: a zone
# of the default area (Chicago Lawn, West Lawn, Gage Park).
DEFAULT_ZIP = "60629"
# The bot's Telegram commands (bot/channels/telegram/): a member's, and the coordinator
# console's, which a coordinator needs far more often than the member ones.
TELEGRAM_CHIPS = ("/start", "/rights", "/workshops", "/report", "/help", "/language", "/zone", "/stop")  # fmt: skip
COORDINATOR_CHIPS = ("/alert", "/reports", "/status", "/duty", "/workshop", "/coordinators", "/cancel")  # fmt: skip
# An SMS phone is offered the other language by its own name (a language's name sets it).
_SWITCH_TO = {"en": "ESPAÑOL", "es": "ENGLISH"}
_QUEUE_SIZE = 1000  # events buffered per browser before it is dropped and must reconnect
_SAVE_DELAY = 0.25  # seconds: changes within this window are written once


class PhoneError(ValueError):
    """A request the simulator refuses; the message is safe to show, the code names it for the page."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Language:
    """A language the bot speaks, as a phone's set-up offers it: by its own name."""

    code: str  # en, es, fa-AF, zh-Hans …
    name: str  # its own name: English, Español, العربية …
    direction: Literal["ltr", "rtl"] = "ltr"

    def to_json(self) -> JSONDict:
        return asdict(self)


# The languages offered when the composition root names none (the bot's first two).
DEFAULT_LANGUAGES = (Language("en", "English"), Language("es", "Español"))


@dataclass(frozen=True)
class Standing:
    """What the bot stores about a phone's person: their language, zone (a ZIP) and status."""

    language: str
    zone: str | None
    status: str  # the subscriber's status as the bot names it: "active", "opted_out", …


# Given a phone's kind and address (SMS: the E.164 number; Telegram: the chat id as text), what
# the bot stores about that subscriber, or None when it has no subscriber there.
Lookup = Callable[[Kind, str], Awaitable[Standing | None]]


@dataclass(frozen=True)
class Phone:
    """A simulated person's phone: an SMS number or a Telegram account."""

    id: str  # short slug, unique in the simulator, used in URLs
    kind: Kind
    name: str
    address: str  # SMS: E.164 number; Telegram: the user id (== private chat id) as text
    language: str  # the language chosen when the phone was added (Telegram's language_code)
    role: Role = "member"
    zip_code: str | None = None  # SMS: the ZIP given when the phone was added, if any
    standing: Standing | None = None  # as the lookup last answered; None: no subscriber (yet)

    def to_json(self) -> JSONDict:
        return asdict(self)


@dataclass
class Entry:
    """One line of a phone's conversation: something the person sent, or the bot sent them."""

    id: str
    phone_id: str
    direction: Direction  # "in": the person sent it; "out": the bot sent it
    text: str
    at: str  # ISO 8601, UTC
    kind: Literal["text", "press"] = "text"  # "press": the person tapped an inline button
    buttons: list[list[JSONDict]] | None = None  # Telegram inline keyboard: [[{text, data}]]
    message_id: int | None = None  # Telegram; None once the fake no longer knows the message
    data: str | None = None  # press: the button's callback data
    document: str | None = None  # Telegram: the file name of a document the bot sent
    document_url: str | None = None  # relative to the mount; None once the fake forgot the file
    edited: bool = False
    segments: int | None = None  # SMS
    encoding: str | None = None  # SMS: "GSM-7" or "UCS-2"
    non_gsm: list[str] = field(default_factory=list)  # SMS: the characters that forced UCS-2
    status: str | None = None  # SMS out: Twilio's status; "failed" when Twilio blocked it

    def to_json(self) -> JSONDict:
        return asdict(self)


class Simulator:
    """The browser's view of the fake providers: phones, their conversations, live events."""

    def __init__(
        self,
        telegram: FakeTelegram,
        twilio: FakeTwilio,
        *,
        state_file: Path | None = None,
        keepalive_seconds: float = 15.0,
        lookup: Lookup | None = None,
        languages: Sequence[Language] = DEFAULT_LANGUAGES,
    ) -> None:
        self.telegram = telegram
        self.twilio = twilio
        self.state_file = state_file
        self.keepalive_seconds = keepalive_seconds
        self.lookup = lookup
        self.languages = tuple(languages)

        self._phones: dict[str, Phone] = {}
        self._transcripts: dict[str, list[Entry]] = {}
        self._next_user_id = FIRST_USER_ID
        self._used_numbers: set[str] = set()  # never handed out twice: the bot remembers them
        self._sms_entries: dict[str, tuple[str, str]] = {}  # Twilio sid -> (phone id, entry id)
        self._clients: set[asyncio.Queue[str | None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._send_locks: dict[str, asyncio.Lock] = {}
        # Phone id -> whether another lookup was asked for while one is in flight.
        self._refreshing: dict[str, bool] = {}
        self._save_handle: asyncio.TimerHandle | None = None
        self._dirty = False
        self._closed = False
        self.calls = Calls(twilio, self._on_call, lambda c: self._spawn(c, name="simulator-call"))

        if state_file is not None:
            self._load(state_file)
        for phone in self._phones.values():
            self._register(phone)
        self._unsubscribe = [
            telegram.add_listener(self._on_telegram),
            twilio.add_listener(self._on_sms),
        ]

    # ------------------------------------------------------------------ Python API

    def phones(self) -> list[Phone]:
        """The phones, in the order they were added."""
        return list(self._phones.values())

    def transcript(self, phone_id: str) -> list[Entry]:
        """A phone's conversation, oldest first (at most the last 200 entries)."""
        return list(self._transcripts.get(phone_id, []))

    async def add_phone(
        self,
        kind: Literal["sms", "telegram"],
        name: str,
        *,
        number: str | None = None,
        language: str = "en",
        role: str = "member",
        zip_code: str | None = None,
    ) -> Phone:
        """Add a phone; an SMS phone without a number gets the next fictional one.

        ``zip_code`` (SMS only) is where the person lives: the phone's JOIN suggestion names it
        until the bot knows their zone.
        """
        if kind not in ("sms", "telegram"):
            raise PhoneError("bad_kind", 'kind must be "sms" or "telegram"')
        if role not in ("member", "coordinator"):
            raise PhoneError("bad_role", 'role must be "member" or "coordinator"')
        if role == "coordinator" and kind != "telegram":
            raise PhoneError(
                "coordinator_sms",
                "coordinators use Telegram: a coordinator phone must be a Telegram phone",
            )
        language = (language or "en").strip()
        if not _LANGUAGE.fullmatch(language):
            raise PhoneError("bad_language", "language must be a language code such as en or es")
        name = " ".join(name.split())
        if len(name) > MAX_NAME:
            raise PhoneError(
                "name_too_long", f"the name is too long (at most {MAX_NAME} characters)"
            )
        if not name:
            name = self._default_name()
        zip_code = (zip_code or "").strip() or None
        if zip_code is not None and kind != "sms":
            raise PhoneError("telegram_zip", "a Telegram phone has no ZIP here: send /zone")
        if zip_code is not None and not _ZIP.fullmatch(zip_code):
            raise PhoneError("bad_zip", "a ZIP code is five digits, such as 60629")
        if kind == "sms":
            address = self._take_number(number)
        else:
            if number:
                raise PhoneError(
                    "telegram_number", "a Telegram phone has no number; leave it empty"
                )
            address = str(self._next_user_id)
            self._next_user_id += 1
        phone = Phone(
            id=self._slug(name),
            kind=kind,
            name=name,
            address=address,
            language=language,
            role="coordinator" if role == "coordinator" else "member",
            zip_code=zip_code,
        )
        self._phones[phone.id] = phone
        self._transcripts[phone.id] = []
        self._register(phone)
        self._emit("phone", _view(phone))
        self._changed()
        log.info("simulator phone added", extra={"kind": kind})
        return phone

    async def remove_phone(self, phone_id: str) -> None:
        """Forget a phone and its conversation; its number or user id is not reused."""
        self._phone(phone_id)
        await self.calls.forget(phone_id)
        del self._phones[phone_id]
        self._transcripts.pop(phone_id, None)
        self._send_locks.pop(phone_id, None)
        self._emit("phone-removed", {"id": phone_id})
        self._changed()

    async def send(self, phone_id: str, text: str) -> None:
        """Type ``text`` as that person; returns once the bot has had it (SMS: answered)."""
        phone = self._check_text(phone_id, text)
        self._record_in(phone, text)
        await self._deliver(phone, text)

    async def press(self, phone_id: str, message_id: int, data: str) -> None:
        """Tap the inline button carrying ``data`` under the bot's message ``message_id``."""
        phone = self._phone(phone_id)
        if phone.kind != "telegram":
            raise PhoneError("no_buttons", "only Telegram messages have buttons")
        # Only a button on the screen can be tapped: a live message of the bot's that has it.
        label = next(
            (
                str(button.get("text", data))
                for entry in self._transcripts.get(phone_id, [])
                if entry.direction == "out" and entry.message_id == message_id
                for row in entry.buttons or []
                for button in row
                if button.get("data") == data
            ),
            None,
        )
        if label is None:
            raise LookupError("no such button")
        await self.telegram.press(int(phone.address), message_id, data)
        entry = Entry(
            id=_entry_id(),
            phone_id=phone.id,
            direction="in",
            text=label,
            at=_now(),
            kind="press",
            message_id=message_id,
            data=data,
        )
        self._append(phone.id, entry)

    def document(self, phone_id: str, message_id: int) -> SentDocument:
        """The file the bot sent this phone as message ``message_id``, as the fake recorded it."""
        phone = self._phone(phone_id)
        if phone.kind != "telegram":
            raise LookupError("SMS has no documents")
        for sent in self.telegram.messages_to(int(phone.address)):
            document = sent.document
            # A photo is recorded by its file id alone: only uploaded bytes can be downloaded.
            if sent.message_id != message_id or sent.deleted or document is None:
                continue
            if document.content is not None:
                return document
        raise LookupError("no such document")

    async def call(self, phone_id: str) -> Call:
        """The SMS phone calls the bot; returns once the bot waits for an answer or hung up."""
        phone = self._phone(phone_id)
        if phone.kind != "sms":
            raise PhoneError("no_calls", "only an SMS phone can call the hotline here")
        return await self.calls.start(phone.id, phone.address)

    def refresh(self, phone_id: str | None = None) -> None:
        """Look up again what the bot stores about one phone's person, or every phone's."""
        for phone in [self._phone(phone_id)] if phone_id else list(self._phones.values()):
            self._refresh_later(phone)

    async def aclose(self) -> None:
        """End every event stream, stop listening to the fakes and write the state file."""
        if self._closed:
            return
        self._closed = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for queue in list(self._clients):
            _end_stream(queue)
        self._clients.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        if self._dirty:
            self._save()

    # ------------------------------------------------------------------ HTTP

    def routes(self) -> list[BaseRoute]:
        """The page, its static files and its JSON/SSE API, relative to the mount point."""
        return [
            Route("/", self._page, methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="sim-static"),
            Route("/api/state", self._state, methods=["GET"]),
            Route("/api/phones", self._add_phone, methods=["POST"]),
            Route("/api/phones/{phone_id}", self._remove_phone, methods=["DELETE"]),
            Route("/api/phones/{phone_id}/messages", self._post_message, methods=["POST"]),
            Route("/api/phones/{phone_id}/press", self._post_press, methods=["POST"]),
            Route(
                "/api/phones/{phone_id}/documents/{message_id:int}",
                self._get_document,
                methods=["GET"],
            ),
            Route("/api/phones/{phone_id}/call", self._get_call, methods=["GET"]),
            Route("/api/phones/{phone_id}/call", self._start_call, methods=["POST"]),
            Route("/api/phones/{phone_id}/call", self._forget_call, methods=["DELETE"]),
            Route("/api/phones/{phone_id}/call/keys", self._call_keys, methods=["POST"]),
            Route("/api/phones/{phone_id}/call/speech", self._call_speech, methods=["POST"]),
            Route("/api/phones/{phone_id}/call/silence", self._call_silence, methods=["POST"]),
            Route("/api/phones/{phone_id}/call/hang-up", self._call_hang_up, methods=["POST"]),
            Route("/api/events", self._events, methods=["GET"]),
        ]

    async def _page(self, request: Request) -> Response:
        html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        # The page's relative URLs then resolve under the mount even without a trailing slash.
        root = str(request.scope.get("root_path", "")).rstrip("/") + "/"
        html = html.replace('<base href="./">', f'<base href="{_attr(root)}">', 1)
        return HTMLResponse(
            html,
            headers={
                "Cache-Control": "no-store",
                "Content-Security-Policy": (
                    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
                    " connect-src 'self'; base-uri 'self'; form-action 'self'; object-src 'none'"
                ),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def _state(self, request: Request) -> Response:
        return JSONResponse(self.state())

    def state(self) -> JSONDict:
        """What the page shows: the bot's addresses and languages, the phones, their conversations."""
        return {
            "bot": {
                "sms_number": self.twilio.phone_number,
                "telegram_username": self.telegram.bot_username,
            },
            "languages": [language.to_json() for language in self.languages],
            "phones": [_view(phone) for phone in self._phones.values()],
            "transcripts": {
                phone_id: [entry.to_json() for entry in entries]
                for phone_id, entries in self._transcripts.items()
            },
            "calls": self.calls.views(),
        }

    async def _add_phone(self, request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        kind = body.get("kind")
        name = body.get("name") or ""
        number = body.get("number") or None
        language = body.get("language") or "en"
        role = body.get("role") or "member"
        zip_code = body.get("zip_code") or None
        if not all(isinstance(v, str) for v in (kind, name, language, role)) or not all(
            isinstance(v, str | None) for v in (number, zip_code)
        ):
            return _problem(
                400, "bad_field", "kind, name, number, language, role and zip_code must be strings"
            )
        try:
            phone = await self.add_phone(
                cast(Kind, kind),
                name,
                number=number,
                language=language,
                role=role,
                zip_code=zip_code,
            )
        except PhoneError as error:
            return _problem(400, error.code, str(error))
        return JSONResponse(_view(phone), status_code=201)

    async def _remove_phone(self, request: Request) -> Response:
        try:
            await self.remove_phone(request.path_params["phone_id"])
        except LookupError:
            return _problem(404, "not_found", "no such phone")
        return Response(status_code=204)

    async def _post_message(self, request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        text = body.get("text")
        if not isinstance(text, str):
            return _problem(400, "bad_field", "text must be a string")
        try:
            phone = self._check_text(request.path_params["phone_id"], text)
        except LookupError:
            return _problem(404, "not_found", "no such phone")
        except PhoneError as error:
            return _problem(400, error.code, str(error))
        entry = self._record_in(phone, text)
        if phone.kind == "telegram":
            await self._deliver(phone, text)
        else:
            # The webhook round trip can take as long as the bot does; replies arrive as events.
            self._spawn(self._deliver(phone, text))
        return JSONResponse(entry.to_json(), status_code=202)

    async def _post_press(self, request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        message_id, data = body.get("message_id"), body.get("data")
        if isinstance(message_id, bool) or not isinstance(message_id, int):
            return _problem(400, "bad_field", "message_id must be an integer")
        if not isinstance(data, str) or not data:
            return _problem(400, "bad_field", "data must be a non-empty string")
        try:
            await self.press(request.path_params["phone_id"], message_id, data)
        except PhoneError as error:
            return _problem(400, error.code, str(error))
        except LookupError:
            return _problem(404, "not_found", "no such phone or message")
        return JSONResponse({"ok": True}, status_code=202)

    async def _get_document(self, request: Request) -> Response:
        try:
            document = self.document(
                request.path_params["phone_id"], request.path_params["message_id"]
            )
        except LookupError:
            return _problem(404, "not_found", "no such document")
        filename = document.filename or "document"
        media_type = (
            document.mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        )
        return Response(
            document.content,
            media_type=media_type,
            headers={
                "Content-Disposition": _attachment(filename),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def _get_call(self, request: Request) -> Response:
        call = self.calls.get(request.path_params["phone_id"])
        if call is None:
            return _problem(404, "no_call", "this phone is not in a call")
        return JSONResponse(call.view())

    async def _start_call(self, request: Request) -> Response:
        try:
            call = await self.call(request.path_params["phone_id"])
        except LookupError:
            return _problem(404, "not_found", "no such phone")
        except (PhoneError, CallError) as error:
            return _problem(getattr(error, "status", 400), error.code, str(error))
        return JSONResponse(call.view(), status_code=201)

    async def _forget_call(self, request: Request) -> Response:
        await self.calls.forget(request.path_params["phone_id"])
        return Response(status_code=204)

    async def _call_keys(self, request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        keys, send = body.get("keys"), body.get("send", False)
        if not isinstance(keys, str) or not isinstance(send, bool):
            return _problem(400, "bad_field", "keys must be a string and send a boolean")
        phone_id = request.path_params["phone_id"]
        return await _call_answer(self.calls.keys(phone_id, keys, send=send))

    async def _call_speech(self, request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        text = body.get("text")
        if not isinstance(text, str):
            return _problem(400, "bad_field", "text must be a string")
        return await _call_answer(self.calls.speak(request.path_params["phone_id"], text))

    async def _call_silence(self, request: Request) -> Response:
        return await _call_answer(self.calls.silence(request.path_params["phone_id"]))

    async def _call_hang_up(self, request: Request) -> Response:
        return await _call_answer(self.calls.hang_up(request.path_params["phone_id"]))

    async def _events(self, request: Request) -> Response:
        if self._closed:
            # 204 tells EventSource to stop reconnecting.
            return Response(status_code=204)
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=_QUEUE_SIZE)
        self._clients.add(queue)
        return StreamingResponse(
            self._stream(queue),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _stream(self, queue: asyncio.Queue[str | None]) -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n: connected\n\n"
            while True:
                try:
                    async with asyncio.timeout(self.keepalive_seconds):
                        item = await queue.get()
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if item is None:
                    return
                yield item
        finally:
            self._clients.discard(queue)

    # ------------------------------------------------------------------ listeners

    def _on_call(self, phone_id: str, call: Call | None) -> None:
        self._emit("call", {"phone_id": phone_id, "call": call.view() if call else None})

    def _on_telegram(self, sent: SentMessage) -> None:
        phone = self._by_address("telegram", str(sent.chat_id))
        if phone is None:
            return
        try:
            text = _visible_text(sent.text, sent.parse_mode)
        except ApiError:
            text = sent.text
        buttons = _buttons(sent.reply_markup)
        document = (sent.document.filename or "document") if sent.document is not None else None
        document_url = None
        if sent.document is not None and sent.document.content is not None:
            document_url = f"api/phones/{quote(phone.id)}/documents/{sent.message_id}"
        # Whatever the bot says may follow a change of language or zone: ask it again.
        self._refresh_later(phone)
        entries = self._transcripts[phone.id]
        for index, previous in enumerate(entries):
            if previous.direction == "out" and previous.message_id == sent.message_id:
                if (previous.text, previous.buttons) == (text, buttons):
                    return
                entries[index] = replace(previous, text=text, buttons=buttons, edited=True)
                self._emit("edit", entries[index].to_json())
                self._changed()
                return
        entry = Entry(
            id=_entry_id(),
            phone_id=phone.id,
            direction="out",
            text=text,
            at=_now(),
            buttons=buttons,
            message_id=sent.message_id,
            document=document,
            document_url=document_url,
        )
        self._append(phone.id, entry)

    def _on_sms(self, sms: Sms) -> None:
        known = self._sms_entries.get(sms.sid) if sms.sid is not None else None
        if known is not None:
            phone_id, entry_id = known
            for index, entry in enumerate(self._transcripts.get(phone_id, [])):
                if entry.id == entry_id:
                    if entry.status != sms.status:
                        updated = replace(entry, status=sms.status)
                        self._transcripts[phone_id][index] = updated
                        self._emit("edit", updated.to_json())
                        self._changed()
                    return
            return
        phone = self._by_address("sms", sms.to)
        if phone is None:
            return
        self._refresh_later(phone)
        entry = Entry(
            id=_entry_id(),
            phone_id=phone.id,
            direction="out",
            text=sms.body,
            at=_now(),
            status=sms.status,
            **_sms_counts(sms.body),
        )
        if sms.sid is not None:
            self._sms_entries[sms.sid] = (phone.id, entry.id)
        self._append(phone.id, entry)

    # ------------------------------------------------------------------ helpers

    def _phone(self, phone_id: str) -> Phone:
        phone = self._phones.get(phone_id)
        if phone is None:
            raise LookupError("no such phone")
        return phone

    def _by_address(self, kind: Kind, address: str) -> Phone | None:
        for phone in self._phones.values():
            if phone.kind == kind and phone.address == address:
                return phone
        return None

    def _check_text(self, phone_id: str, text: str) -> Phone:
        phone = self._phone(phone_id)
        if not text.strip():
            raise PhoneError("empty", "the message is empty")
        limit = MAX_BODY_LENGTH if phone.kind == "sms" else MAX_TELEGRAM_TEXT
        if len(text) > limit:
            raise PhoneError("too_long", f"the message is too long (at most {limit} characters)")
        return phone

    def _record_in(self, phone: Phone, text: str) -> Entry:
        entry = Entry(id=_entry_id(), phone_id=phone.id, direction="in", text=text, at=_now())
        if phone.kind == "sms":
            entry = replace(entry, **_sms_counts(text))
        self._append(phone.id, entry)
        return entry

    async def _deliver(self, phone: Phone, text: str) -> None:
        if phone.kind == "telegram":
            # The bot reads it later (getUpdates); its answer, through the listener, refreshes.
            await self.telegram.send_text(int(phone.address), text)
            return
        # One text at a time per phone, so that the bot reads them in the order typed.
        lock = self._send_locks.setdefault(phone.id, asyncio.Lock())
        async with lock:
            try:
                result = await self.twilio.text(phone.address, text)
            except Exception as error:  # the bot is down or slow: say so on the phone
                log.warning("simulated SMS not delivered", extra={"error": type(error).__name__})
                self._emit("notice", {"phone_id": phone.id, "code": "unreachable", "status": 0})
                return
            if not 200 <= result.status < 300:
                log.warning("simulated SMS refused", extra={"status": result.status})
                self._emit(
                    "notice", {"phone_id": phone.id, "code": "refused", "status": result.status}
                )
        # The webhook has answered, so whatever the text changed is stored (a STOP has no reply).
        self._refresh_later(phone)

    def _refresh_later(self, phone: Phone) -> None:
        if self.lookup is None or self._closed:
            return
        if phone.id in self._refreshing:
            # The lookup in flight may have read the database before this message: once more.
            self._refreshing[phone.id] = True
            return
        self._refreshing[phone.id] = False
        self._spawn(self._refresh(phone.id), name="simulator-lookup")

    async def _refresh(self, phone_id: str) -> None:
        try:
            while self.lookup is not None:
                phone = self._phones.get(phone_id)
                if phone is None:
                    return
                try:
                    standing = await self.lookup(phone.kind, phone.address)
                except Exception as error:  # the header keeps what it showed; the bot is unhurt
                    log.warning("simulator lookup failed", extra={"error": type(error).__name__})
                    return
                current = self._phones.get(phone_id)
                if current is not None and current.standing != standing:
                    current = replace(current, standing=standing)
                    self._phones[phone_id] = current
                    self._emit("phone", _view(current))
                    self._changed()
                if not self._refreshing.get(phone_id):
                    return
                self._refreshing[phone_id] = False
        finally:
            self._refreshing.pop(phone_id, None)

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str = "simulator-send") -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _append(self, phone_id: str, entry: Entry) -> None:
        entries = self._transcripts.setdefault(phone_id, [])
        entries.append(entry)
        if len(entries) > HISTORY:
            del entries[: len(entries) - HISTORY]
        self._emit("message", entry.to_json())
        self._changed()

    def _emit(self, event: str, data: JSONDict) -> None:
        if self._closed:
            return
        payload = f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        for queue in list(self._clients):
            try:
                queue.put_nowait(payload)
            except asyncio.QueueFull:
                # A browser that stopped reading: end its stream; it reconnects and reloads.
                self._clients.discard(queue)
                _end_stream(queue)

    def _register(self, phone: Phone) -> None:
        if phone.kind == "telegram":
            self.telegram.add_user(int(phone.address), phone.name, phone.language)

    def _default_name(self) -> str:
        taken = {phone.name for phone in self._phones.values()}
        for name in _DEFAULT_NAMES:
            if name not in taken:
                return name
        return f"Phone {len(self._phones) + 1}"

    def _slug(self, name: str) -> str:
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:20].strip("-")
        base = base or "phone"
        slug, n = base, 2
        while slug in self._phones:
            slug, n = f"{base}-{n}", n + 1
        return slug

    def _take_number(self, number: str | None) -> str:
        if number is None or not number.strip():
            for candidate in _FICTIONAL:
                if candidate not in self._used_numbers and candidate != self.twilio.phone_number:
                    self._used_numbers.add(candidate)
                    return candidate
            raise PhoneError("numbers_exhausted", "no fictional numbers left; give a number")
        try:
            parsed = phonenumbers.parse(number, "US")
        except phonenumbers.NumberParseException:
            raise PhoneError("invalid_number", "that is not a phone number") from None
        if not phonenumbers.is_valid_number(parsed):
            raise PhoneError(
                "invalid_number", "that is not a valid phone number (try +1 312 555 0142)"
            )
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if e164 == self.twilio.phone_number:
            raise PhoneError("own_number", "that is the bot's own number")
        if self._by_address("sms", e164) is not None:
            raise PhoneError("duplicate_number", "a phone with that number is already here")
        self._used_numbers.add(e164)
        return e164

    # ------------------------------------------------------------------ state file

    def _changed(self) -> None:
        if self.state_file is None or self._closed:
            return
        self._dirty = True
        if self._save_handle is None:
            loop = asyncio.get_running_loop()
            self._save_handle = loop.call_later(_SAVE_DELAY, self._save)

    def _save(self) -> None:
        self._save_handle = None
        self._dirty = False
        path = self.state_file
        if path is None:
            return
        state = {
            "version": 1,
            "next_user_id": self._next_user_id,
            "used_numbers": sorted(self._used_numbers),
            "phones": [phone.to_json() for phone in self._phones.values()],
            "transcripts": {
                phone_id: [entry.to_json() for entry in entries[-HISTORY:]]
                for phone_id, entries in self._transcripts.items()
            },
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".simulator-", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    json.dump(state, file, ensure_ascii=False)
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError as error:
            log.warning("simulator state not saved", extra={"error": type(error).__name__})

    def _load(self, path: Path) -> None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as error:
            log.warning("simulator state unreadable", extra={"error": type(error).__name__})
            return
        try:
            phones = [_phone_from_json(item) for item in raw.get("phones", [])]
            transcripts = {
                str(phone_id): [_entry_from_json(item) for item in items][-HISTORY:]
                for phone_id, items in dict(raw.get("transcripts", {})).items()
            }
            next_user_id = int(raw.get("next_user_id", FIRST_USER_ID))
            used = {str(number) for number in raw.get("used_numbers", [])}
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            log.warning("simulator state unreadable", extra={"error": type(error).__name__})
            return
        self._phones = {phone.id: phone for phone in phones}
        self._transcripts = {phone.id: transcripts.get(phone.id, []) for phone in phones}
        self._used_numbers = used | {p.address for p in phones if p.kind == "sms"}
        telegram_ids = [int(p.address) for p in phones if p.kind == "telegram"]
        self._next_user_id = max([next_user_id, *(i + 1 for i in telegram_ids)])


def _end_stream(queue: asyncio.Queue[str | None]) -> None:
    while True:
        try:
            queue.get_nowait()
        except asyncio.QueueEmpty:
            break
    queue.put_nowait(None)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _entry_id() -> str:
    return secrets.token_hex(6)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _attachment(filename: str) -> str:
    """A Content-Disposition that downloads under ``filename`` (RFC 6266, UTF-8 safe)."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("._") or "document"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _sms_counts(text: str) -> dict[str, Any]:
    count = count_segments(text)
    return {"segments": count.segments, "encoding": count.encoding, "non_gsm": list(count.non_gsm)}


def _buttons(markup: JSONDict | None) -> list[list[JSONDict]] | None:
    """An inline keyboard as rows of {text, data} (or {text, url} for a link button)."""
    rows = (markup or {}).get("inline_keyboard")
    if not isinstance(rows, list):
        return None
    result: list[list[JSONDict]] = []
    for row in rows:
        if not isinstance(row, list):
            continue
        buttons: list[JSONDict] = []
        for button in row:
            if not isinstance(button, dict):
                continue
            item: JSONDict = {"text": str(button.get("text", ""))}
            if "callback_data" in button:
                item["data"] = str(button["callback_data"])
            elif "url" in button:
                item["url"] = str(button["url"])
            buttons.append(item)
        result.append(buttons)
    return result or None


def _phone_from_json(item: JSONDict) -> Phone:
    kind, role = item["kind"], item.get("role", "member")
    if kind not in ("sms", "telegram") or role not in ("member", "coordinator"):
        raise ValueError("bad phone")
    zip_code = item.get("zip_code")
    known = item.get("standing")
    standing = None
    if isinstance(known, dict):
        zone = known.get("zone")
        standing = Standing(
            language=str(known["language"]),
            zone=None if zone is None else str(zone),
            status=str(known["status"]),
        )
    return Phone(
        id=str(item["id"]),
        kind=kind,
        name=str(item["name"]),
        address=str(item["address"]),
        language=str(item.get("language", "en")),
        role=role,
        zip_code=str(zip_code) if zip_code and _ZIP.fullmatch(str(zip_code)) else None,
        standing=standing,
    )


def _view(phone: Phone) -> JSONDict:
    """A phone as the page shows it: what is stored, and the suggestions that follow from it."""
    return {**phone.to_json(), "chips": chips(phone)}


def _keyword(intent: Intent, language: str) -> str:
    """The bot's first keyword for ``intent`` in ``language``, in English if it has none there."""
    for wanted in (language, "en"):
        for word, (meaning, said_in) in KEYWORDS.items():
            if meaning is intent and said_in == wanted:
                return word
    raise LookupError(intent)


def chips(phone: Phone) -> list[str]:
    """The quick messages a phone offers: its commands, or its keywords in its language.

    An SMS phone's JOIN names its zone once the bot knows it, else the ZIP it was added with;
    its language is the bot's for that person once there is one.
    """
    if phone.role == "coordinator":
        return list(COORDINATOR_CHIPS)
    if phone.kind == "telegram":
        return list(TELEGRAM_CHIPS)
    standing = phone.standing
    language = standing.language if standing is not None else phone.language
    zip_code = (standing.zone if standing is not None else None) or phone.zip_code or DEFAULT_ZIP
    language = language if language in _SWITCH_TO else "en"
    return [
        f"{_keyword(Intent.SUBSCRIBE, language)} {zip_code}",
        *(
            _keyword(intent, language)
            for intent in (Intent.RIGHTS, Intent.WORKSHOPS, Intent.HELP, Intent.STOP)
        ),
        _SWITCH_TO[language],
    ]


def _entry_from_json(item: JSONDict) -> Entry:
    known = {name for name in Entry.__dataclass_fields__}
    entry = Entry(**{key: value for key, value in item.items() if key in known})
    if entry.direction not in ("in", "out"):
        raise ValueError("bad entry")
    # The fake Telegram server starts afresh: it no longer knows the old messages, so their
    # buttons cannot be pressed, their files cannot be fetched, and a new message with the same
    # id is not an edit of them.
    return replace(entry, message_id=None, document_url=None)


async def _json_body(request: Request) -> JSONDict | Response:
    try:
        body = await request.json()
    except ValueError:
        return _problem(400, "bad_json", "the body must be a JSON object")
    if not isinstance(body, dict):
        return _problem(400, "bad_json", "the body must be a JSON object")
    return cast(JSONDict, body)


async def _call_answer(action: Coroutine[Any, Any, Call]) -> Response:
    """A call request answered with the call as it stands after it, or why it was refused."""
    try:
        call = await action
    except CallError as error:
        return _problem(error.status, error.code, str(error))
    return JSONResponse(call.view())


def _problem(status: int, code: str, message: str) -> JSONResponse:
    """An error the page can show: ``code`` picks its translated text, ``error`` is English."""
    return JSONResponse({"error": message, "code": code}, status_code=status)
