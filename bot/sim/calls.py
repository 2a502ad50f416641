"""An SMS phone of the simulator calls the hotline: the fake Twilio Voice, driven key by key.

The fake's `VoiceCall` takes a Gather's whole answer at once (``press("60629")``); a person
presses one key at a time. Keys wait here, as Twilio collects them, until the Gather has its
``numDigits``, its ``finishOnKey`` (``#`` unless it says otherwise) is pressed, or its
``timeout`` passes after the last key; then they go to the bot as one answer.

What the page is shown of a call (`Call.view`): the text and language of each Say, and that
the call dialed, was connected or ended. Never a number: whom a Dial rang stays in the fake.
Calls live in memory only, one per phone.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bot.sim.fake_twilio import FakeTwilio
from bot.sim.fake_voice import VoiceCall

__all__ = ["MAX_SPEECH", "Call", "CallError", "Calls"]

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
MAX_SPEECH = 1000  # characters "said" at once (the bot keeps as much of a spoken report)
_KEYS = re.compile(r"[0-9*#]{1,32}")
_DEFAULT_TIMEOUT = 5.0  # seconds: Twilio's Gather timeout when the TwiML names none


class CallError(ValueError):
    """A call request the simulator refuses: the message is safe to show, the code names it."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass
class Call:
    """A phone's call: the fake's call once it is placed, and the keys pressed but not yet sent."""

    phone_id: str
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    voice: VoiceCall | None = None
    pending: str = ""  # keys pressed that the Gather has not taken yet
    busy: bool = False  # the bot is being asked (the call is placed, or an answer is on its way)
    failed: bool = False  # the bot could not be reached: the call is over
    version: int = 0  # every change counts up: the page keeps the newest view of a call
    typed: int = 0  # counts key presses: a timeout is for the last of them only
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def ended(self) -> bool:
        return self.failed or (self.voice is not None and self.voice.ended)

    def view(self) -> JSONDict:
        """The call as the page shows it: no number, no URL."""
        voice = self.voice
        heard: list[JSONDict] = []
        ended_by: str | None = None
        for item in voice.heard if voice is not None else []:
            if item.kind == "say":
                heard.append({"kind": "say", "text": item.text, "language": item.language})
                continue
            if item.kind == "play":  # the recording's file name, not its URL
                name = urlsplit(item.text).path.rsplit("/", 2)[-2:]
                heard.append({"kind": "play", "text": "/".join(name)})
                continue
            heard.append({"kind": item.kind})
            if item.kind == "hangup":
                ended_by = _ended_by(item.text)
        if self.failed:
            ended_by = "unreachable"
            if not heard or heard[-1]["kind"] != "hangup":
                heard.append({"kind": "hangup"})
        waiting = None
        gather = voice.waiting if voice is not None and not self.ended else None
        if gather is not None:
            digits = gather.get("numDigits", "")
            waiting = {
                "input": gather.get("input", "dtmf"),
                "language": gather.get("language"),
                "digits": int(digits) if digits.isdigit() else None,
                "finish_on_key": gather.get("finishOnKey", "#"),
            }
        return {
            "id": self.id,
            "phone_id": self.phone_id,
            "version": self.version,
            "busy": self.busy,
            "ended": self.ended,
            "ended_by": ended_by,
            "connected": voice is not None and voice.connected_to is not None,
            "heard": heard,
            "waiting": waiting,
            "pending": self.pending,
        }


def _ended_by(why: str) -> str:
    """Who ended the call, from what the fake noted: the caller, the bot, or its failure."""
    if why == "caller hung up":
        return "caller"
    if why.startswith("the webhook answered"):
        return "error"
    return "bot"


class Calls:
    """The phones' calls: placed through the fake Twilio, each change reported to ``changed``."""

    def __init__(
        self,
        twilio: FakeTwilio,
        changed: Callable[[str, Call | None], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self.twilio = twilio
        self._changed = changed  # (phone id, its call or None once forgotten)
        self._spawn = spawn  # runs a key timeout beside the requests (tracked, cancelled on close)
        self._calls: dict[str, Call] = {}

    def get(self, phone_id: str) -> Call | None:
        return self._calls.get(phone_id)

    def views(self) -> dict[str, JSONDict]:
        return {phone_id: call.view() for phone_id, call in self._calls.items()}

    async def start(self, phone_id: str, number: str) -> Call:
        """The phone at ``number`` calls the bot; returns once the bot waits for it or hung up."""
        current = self._calls.get(phone_id)
        if current is not None and not current.ended:
            raise CallError("call_in_progress", "this phone is already in a call")
        if self.twilio.voice_url is None:
            raise CallError("no_voice", "the bot's voice URL is not set", status=503)
        call = Call(phone_id)
        self._calls[phone_id] = call
        async with call.lock:
            await self._act(call, lambda: self._place(call, number))
        return call

    async def keys(self, phone_id: str, keys: str, *, send: bool = False) -> Call:
        """Press ``keys`` one after another; ``send``: then the Gather takes what was pressed
        at once, as when its time runs out."""
        if not _KEYS.fullmatch(keys):
            raise CallError("bad_keys", "keys are 0-9, * and # (at most 32)", status=400)
        call = self._live(phone_id)
        async with call.lock:
            call.typed += 1
            for index, key in enumerate(keys):
                try:
                    finish, wanted = self._for_keys(call)
                except CallError:
                    if index == 0:
                        raise
                    break  # the call moved on (or ended) under the keys typed ahead
                if finish and key == finish:
                    await self._submit(call)
                    continue
                call.pending += key
                self._report(call)
                if wanted is not None and len(call.pending) >= wanted:
                    await self._submit(call)
            if call.pending and send:
                await self._submit(call)
            if call.pending and call.voice is not None and call.voice.waiting is not None:
                timeout = call.voice.waiting.get("timeout", "")
                seconds = float(timeout) if timeout.isdigit() else _DEFAULT_TIMEOUT
                self._spawn(self._time_out(call, call.typed, seconds))
        return call

    async def speak(self, phone_id: str, text: str) -> Call:
        """Say ``text`` (what Twilio's speech recognition would hear) to a Gather for speech."""
        text = " ".join(text.split())
        if not text:
            raise CallError("empty_speech", "say something first", status=400)
        if len(text) > MAX_SPEECH:
            raise CallError("speech_too_long", f"at most {MAX_SPEECH} characters", status=400)
        call = self._live(phone_id)
        async with call.lock:
            voice = call.voice
            gather = voice.waiting if voice is not None else None
            if voice is None or gather is None or "speech" not in gather.get("input", "").split():
                raise CallError("not_listening", "the call is not listening for speech now")
            call.typed += 1
            call.pending = ""
            await self._act(call, lambda: voice.speak(text))
        return call

    async def silence(self, phone_id: str) -> Call:
        """Say and press nothing until the Gather's time runs out (keys pressed go then)."""
        call = self._live(phone_id)
        async with call.lock:
            if call.voice is None or call.voice.waiting is None:
                raise CallError("not_waiting", "the call is not waiting for an answer now")
            call.typed += 1
            await self._submit(call)
        return call

    async def hang_up(self, phone_id: str) -> Call:
        call = self._live(phone_id)
        async with call.lock:
            call.typed += 1
            call.pending = ""
            if call.voice is not None:
                await call.voice.hang_up()
            else:
                call.failed = True
            self._report(call)
        return call

    async def forget(self, phone_id: str) -> None:
        """The phone's call is put away (hung up first if it goes on): the panel closes."""
        call = self._calls.pop(phone_id, None)
        if call is None:
            return
        call.typed += 1
        if call.voice is not None and not call.voice.ended:
            await call.voice.hang_up()
        self._changed(phone_id, None)

    # ------------------------------------------------------------------ helpers

    def _live(self, phone_id: str) -> Call:
        call = self._calls.get(phone_id)
        if call is None:
            raise CallError("no_call", "this phone is not in a call", status=404)
        if call.ended:
            raise CallError("call_ended", "the call has ended")
        return call

    def _for_keys(self, call: Call) -> tuple[str, int | None]:
        """The awaited Gather's finishing key and number of digits; refused if none takes keys."""
        if call.ended:
            raise CallError("call_ended", "the call has ended")
        gather = call.voice.waiting if call.voice is not None else None
        if gather is None:
            raise CallError("not_waiting", "the call is not waiting for keys now")
        if "dtmf" not in gather.get("input", "dtmf").split():
            raise CallError("wants_speech", "the call is listening for speech, not keys")
        digits = gather.get("numDigits", "")
        return gather.get("finishOnKey", "#"), int(digits) if digits.isdigit() else None

    async def _submit(self, call: Call) -> None:
        """What was pressed goes to the bot; nothing pressed is silence."""
        voice = call.voice
        if voice is None or voice.waiting is None:
            return
        keys, call.pending = call.pending, ""
        if keys:
            await self._act(call, lambda: voice.press(keys))
        else:
            await self._act(call, voice.silence)

    async def _time_out(self, call: Call, typed: int, seconds: float) -> None:
        """The Gather's time runs out after the last key: what was pressed goes as it is."""
        await asyncio.sleep(seconds)
        async with call.lock:
            current = self._calls.get(call.phone_id) is call
            if current and call.typed == typed and call.pending and not call.ended:
                await self._submit(call)

    async def _place(self, call: Call, number: str) -> None:
        call.voice = await self.twilio.call(number)

    async def _act(self, call: Call, action: Callable[[], Awaitable[None]]) -> None:
        call.busy = True
        self._report(call)
        try:
            await action()
        except Exception as error:  # the bot is down or slow: the call is over, and says so
            log.warning("simulated call failed", extra={"error": type(error).__name__})
            call.failed = True
            call.pending = ""
        finally:
            call.busy = False
            self._report(call)

    def _report(self, call: Call) -> None:
        call.version += 1
        if self._calls.get(call.phone_id) is call:
            self._changed(call.phone_id, call)
