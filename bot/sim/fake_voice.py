"""Twilio Voice as a caller meets it: the fake places a call to the bot's voice webhook and
follows the TwiML it answers (Say, Play, Pause, Gather with digits or speech, Redirect, Dial
with a whisper to each number, Hangup), signing every request as Twilio does.

A test (or the simulator) drives the caller: `press("1")`, `speak("...")`, `silence()`;
what the caller heard is `heard` (the text of each Say, the URL of each Play). Who answers a
Dial is the `answers` table: a number that "accepts" presses 1 at the whisper, "voicemail"
lets the whisper run out, anything else does not pick up.
"""

from __future__ import annotations

import secrets
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import urljoin, urlsplit

import httpx

if TYPE_CHECKING:
    from bot.sim.fake_twilio import FakeTwilio

Answer = Literal["accepts", "voicemail", "busy"]


@dataclass(frozen=True)
class Heard:
    """One thing the caller heard: said (with its language), played, or what happened."""

    kind: Literal["say", "play", "dial", "connected", "hangup"]
    text: str
    language: str | None = None


@dataclass
class VoiceCall:
    """One call in progress: follow its TwiML with `press`, `speak` and `silence`."""

    twilio: FakeTwilio = field(repr=False)
    sid: str
    caller: str = field(repr=False)  # a number: never in a test's failure output
    url: str
    to: str | None = field(default=None, repr=False)  # None: the account's own number
    direction: str = (
        "inbound"  # "outbound-api": placed by the Calls API; "outbound-dial": a Dial's leg
    )
    parent: str | None = None  # a Dial's leg: the call it was dialled from
    heard: list[Heard] = field(default_factory=list)
    ended: bool = False
    connected_to: str | None = field(default=None, repr=False)  # the volunteer bridged to
    requests: int = 0
    statuses: list[int] = field(default_factory=list)  # HTTP status of each webhook answer
    dials: list[dict[str, str]] = field(default_factory=list)  # each Dial's attributes
    seconds: list[float] = field(default_factory=list)  # how long each webhook took to answer
    paths: list[str] = field(default_factory=list)  # the path each of those went to (no query)
    # What Twilio would report in its debugger: a <Play> it could not fetch or play (11200,
    # 12300), which the caller hears as silence.
    errors: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    extra_seconds: float = 0.0  # see elapse()
    talk_seconds: int = 0  # how long a bridged volunteer talks (the Dial's DialCallDuration)
    status_callbacks: list[int] = field(default_factory=list)  # HTTP status of each
    _gather: ET.Element | None = None  # the Gather awaiting input
    _gather_url: str = ""  # the document it came from (relative actions resolve against it)
    _after: list[ET.Element] = field(default_factory=list)  # verbs after that Gather

    @property
    def said(self) -> list[str]:
        return [h.text for h in self.heard if h.kind == "say"]

    @property
    def waiting(self) -> ET.Element | None:
        """The Gather the call waits at (its `input`, `numDigits`, `language`), or None."""
        return self._gather

    async def start(self) -> VoiceCall:
        await self._fetch(self.url, {})
        return self

    async def press(self, digits: str) -> None:
        await self._answer({"Digits": digits})

    async def speak(self, words: str, confidence: float = 0.92) -> None:
        await self._answer({"SpeechResult": words, "Confidence": f"{confidence:.2f}"})

    async def silence(self) -> None:
        """No input until the Gather times out: its action if actionOnEmptyResult, else
        the verbs after it."""
        gather = self._take_gather()
        if gather.get("actionOnEmptyResult") == "true":
            await self._action(gather, {})
        else:
            await self._run(self._after, self._gather_url)

    async def hang_up(self) -> None:
        self._gather = None
        await self._end("caller hung up")

    def _take_gather(self) -> ET.Element:
        if self._gather is None:
            raise RuntimeError(f"the call waits for no input (heard: {self.heard[-3:]})")
        gather, self._gather = self._gather, None
        return gather

    async def _answer(self, given: dict[str, str]) -> None:
        await self._action(self._take_gather(), given)

    async def _action(self, gather: ET.Element, given: dict[str, str]) -> None:
        action = gather.get("action") or self._gather_url
        await self._fetch(urljoin(self._gather_url, action), given)

    # ------------------------------------------------------------------ following TwiML

    def _form(self, extra: dict[str, str]) -> dict[str, str]:
        return {
            "AccountSid": self.twilio.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.sid,
            "CallStatus": "in-progress",
            "Called": self.to or self.twilio.phone_number,
            "Caller": self.caller,
            "Direction": self.direction,
            "From": self.caller,
            "To": self.to or self.twilio.phone_number,
            "FromCity": "CHICAGO",
            "FromState": "IL",
            "FromZip": "60629",
            **extra,
        }

    async def _post(self, url: str, form: dict[str, str]) -> tuple[int, bytes]:
        headers = {
            "X-Twilio-Signature": self.twilio.sign(url, form),
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        self.requests += 1
        started = time.perf_counter()
        try:
            response = await self.twilio.http().post(url, data=form, headers=headers)
        except httpx.TransportError:
            # Nobody answers there (the process is down): Twilio's debugger says 11200, and
            # the call goes on as after an error answer.
            self.errors.append("11200 HTTP retrieval failure")
            status, content = 502, b""
        else:
            status, content = response.status_code, response.content
        self.seconds.append(time.perf_counter() - started)
        self.paths.append(urlsplit(url).path)
        self.statuses.append(status)
        return status, content

    async def _fetch(self, url: str, extra: dict[str, str]) -> None:
        status, content = await self._post(url, self._form(extra))
        if status != 200:
            await self._end(f"the webhook answered {status}")  # Twilio: "an application error"
            return
        await self._run(_twiml(content), url)

    async def _run(self, verbs: list[ET.Element], url: str) -> None:
        for i, verb in enumerate(verbs):
            if verb.tag in ("Say", "Play"):
                await self._hear(verb, url)
            elif verb.tag == "Pause":
                continue
            elif verb.tag == "Gather":
                for inner in verb:  # its prompts, heard while it listens
                    await self._hear(inner, url)
                self._gather, self._gather_url, self._after = verb, url, verbs[i + 1 :]
                return
            elif verb.tag == "Redirect":
                await self._fetch(urljoin(url, (verb.text or "").strip()), {})
                return
            elif verb.tag == "Dial":
                await self._dial(verb, url)
                if verb.get("action") is not None or self.ended:
                    return
                # No action: once the bridged call is over, Twilio goes on with the verbs after
                # the Dial (none: it hangs up).
            elif verb.tag == "Hangup":
                await self._end("hung up")
                return
        if not self.ended:
            await self._end("no more TwiML")  # Twilio hangs up when the document ends

    async def _hear(self, verb: ET.Element, url: str) -> None:
        if verb.tag == "Say":
            self.heard.append(Heard("say", (verb.text or "").strip(), verb.get("language")))
        elif verb.tag == "Play":
            # Twilio fetches the audio (a GET, cached by URL) and plays it; what it cannot
            # fetch, or what is not audio, it skips with an error in its debugger.
            source = urljoin(url, (verb.text or "").strip())
            response = await self.twilio.http().get(source)
            kind = response.headers.get("content-type", "")
            if response.status_code != 200:
                self.errors.append(f"11200 <Play> answered {response.status_code}")
            elif not kind.startswith("audio/"):
                self.errors.append(f"12300 <Play> is {kind or 'untyped'}, not audio")
            else:
                self.heard.append(Heard("play", source))

    async def _dial(self, dial: ET.Element, url: str) -> None:
        numbers = [n for n in dial if n.tag == "Number"]
        self.dials.append(dict(dial.attrib))
        if not numbers and (dial.text or "").strip():
            numbers = [ET.Element("Number")]  # <Dial>+1...</Dial>: one number, no whisper
            numbers[0].text = dial.text
        self.heard.append(Heard("dial", ", ".join(self.twilio.label(n) for n in numbers)))
        answered = None
        for number in numbers:
            to = (number.text or "").strip()
            answer = self.twilio.answers.get(to, "busy")
            whisper = number.get("url")
            if answer == "busy":
                continue
            if whisper is None:
                answered = to
                break
            accepted = await self._whisper(urljoin(url, whisper), to, answer)
            if accepted:
                answered = to
                break
        status = "completed" if answered else "no-answer"
        if answered:
            self.connected_to = answered
            self.heard.append(Heard("connected", self.twilio.label_of(answered)))
            # The bridged leg is a call of its own at Twilio (its parent is this one), from
            # the Dial's callerId: the number the person who answers sees.
            shown = dial.get("callerId") or self.twilio.phone_number
            leg = VoiceCall(self.twilio, "CA" + secrets.token_hex(16), shown, "", to=answered,
                            direction="outbound-dial", ended=True, parent=self.sid)  # fmt: skip
            self.twilio.placed.append(leg)
        action = dial.get("action")
        if action is None:
            if not answered:
                await self._end("nobody answered")
            return
        given = {"DialCallStatus": status}
        if answered:  # Twilio posts the Dial's action when the bridged call ends
            given["DialCallDuration"] = str(self.talk_seconds)
        await self._fetch(urljoin(url, action), given)

    async def _whisper(self, url: str, to: str, answer: Answer) -> bool:
        """The whisper a volunteer hears before the call is bridged: True if they accept."""
        form = self._form({"CallSid": "CA" + secrets.token_hex(16), "To": to, "Called": to})
        status, content = await self._post(url, form)
        if status != 200:
            return False
        gather = next((v for v in _twiml(content) if v.tag == "Gather"), None)
        if gather is None or answer != "accepts":
            return False  # a voicemail never presses 1
        action = urljoin(url, gather.get("action") or url)
        status, content = await self._post(action, {**form, "Digits": "1"})
        if status != 200:
            return False
        # The whisper's answer to 1 bridges the call unless it hangs up on the volunteer.
        return not any(v.tag == "Hangup" for v in _twiml(content))

    async def _end(self, why: str) -> None:
        if not self.ended:
            self.ended = True
            self.heard.append(Heard("hangup", why))
            await self._status_callback()

    def elapse(self, seconds: float) -> None:
        """Let the call last `seconds` longer than it really did (no test sleeps)."""
        self.extra_seconds += seconds

    async def _status_callback(self) -> None:
        """Twilio's "call status changes" webhook of the number: `completed`, with the
        call's length in whole seconds."""
        url = self.twilio.voice_status_url
        if url is None or self.direction != "inbound":
            return  # the number's webhook: only for calls to it
        lasted = time.monotonic() - self.started_at + self.extra_seconds
        form = self._form({"CallStatus": "completed", "CallDuration": str(int(lasted))})
        status, _ = await self._post(url, form)
        self.status_callbacks.append(status)


def _twiml(content: bytes) -> list[ET.Element]:
    """The verbs of a TwiML document: the bot's own answer, which the fake trusts."""
    return list(ET.fromstring(content))  # noqa: S314
