"""A fake Twilio Programmable Messaging API, and the phones that text the bot through it.

Pointing the real ``twilio`` 9.13 client at it: every request is built as
``client.api.base_url + "/2010-04-01/" + path`` at call time (``twilio.base.domain.Domain``
and ``twilio.base.version.Version``); ``client.messages`` goes through ``client.api.v2010``,
so one assignment after construction is enough::

    client = Client(account_sid, auth_token, http_client=AsyncTwilioHttpClient())
    client.api.base_url = fake_url          # no trailing "/2010-04-01"
    client.region = client.edge = None      # TWILIO_REGION/TWILIO_EDGE would rewrite the host

``Client(environment={})`` does not shield from those variables: an empty mapping is falsy
and the client falls back to ``os.environ``.

Choices where Twilio's documentation leaves room:

* An invalid ``ValidityPeriod`` (not an integer in 1..36000) is 400 with code 21624
  ("Invalid validity period value"), the code Twilio's error catalogue gives for it.
* The opt-out keywords are Twilio's current defaults for long codes, which add REVOKE and
  OPTOUT to the classic six; the opt-in keywords are START, YES and UNSTOP, or those an
  account's Advanced Opt-Out adds (``opt_in_keywords``). Keywords match the whole message,
  trimmed, in any case ("STOP PLEASE" is no keyword). Twilio's own automatic replies to
  STOP, START (to a number that was opted out) and HELP are sent (``via="provider"``, its
  documented default wording, or ``provider_replies``), except to a number that is opted
  out: nothing reaches one, replies included, so the bot's TwiML reply to it is recorded as
  failed (21610).
* An inbound text over 1,600 characters reaches the webhook cut to 1,600, as Twilio's does.
* Error bodies use Twilio's legacy shape ``{code, message, more_info, status}``, which the
  client raises as ``TwilioRestException``; injected failures use code 20000 + status.

Why one module over 500 lines: one fake account (its numbers, opt-outs, messages and status
callbacks) behind one set of routes; the phones are the account's other side and share it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import email.utils
import logging
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from bot.channels.tls import client_context
from bot.core.segments import count_segments
from bot.sim.fake_telegram import Faults
from bot.sim.fake_voice import Answer, VoiceCall

__all__ = ["FakeTwilio", "InboundResult", "Sms", "SmsListener"]

JSONDict = dict[str, Any]
log = logging.getLogger(__name__)

MAX_BODY_LENGTH = 1600
API_VERSION = "2010-04-01"
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
MAX_BODY = 1600  # characters Twilio passes on of an inbound text
# Twilio's default automatic replies (Advanced Opt-Out lets an account write its own).
PROVIDER_REPLIES = {
    "STOP": "You have successfully been unsubscribed. You will not receive any more messages "
    "from this number. Reply START to resubscribe.",
    "START": "You have successfully been re-subscribed to messages from this number. Reply "
    "HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
    "HELP": "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
# Statuses in which Twilio refuses to delete a message (error 20009).
IN_PROGRESS = frozenset({"accepted", "scheduled", "queued", "sending", "receiving"})


@dataclass
class Sms:
    """A text message addressed to a phone, sent through the API or as a TwiML reply."""

    to: str
    from_: str
    body: str
    sid: str | None
    via: Literal["api", "twiml", "provider"]  # provider: Twilio's own STOP/START/HELP reply
    status: str  # Twilio's message status: queued, accepted, sent, delivered, failed …
    segments: int
    encoding: Literal["GSM-7", "UCS-2"]
    at: float  # time.monotonic() when recorded


SmsListener = Callable[[Sms], None]
"""Told synchronously of every text to a phone (API-created or TwiML reply, failed ones too),
and again with the same object whenever an API message's status moves on."""


@dataclass(frozen=True)
class InboundResult:
    """What the bot's SMS webhook answered to one inbound text."""

    status: int
    replies: list[str]
    elapsed: float  # seconds the webhook took
    sid: str = ""  # the inbound message's sid at Twilio


class FakeTwilio:
    """Twilio's Messages API for one account and number, plus simulated phones."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        phone_number: str = "+13125550100",
        messaging_service_sid: str | None = None,
        webhook_url: str | None = None,
        auto_status: bool = True,
        status_delay: float = 0.01,
        advanced_opt_out: bool = False,
        opt_in_keywords: Iterable[str] = OPT_IN_KEYWORDS,
        provider_replies: dict[str, str] | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.phone_number = phone_number
        self.messaging_service_sid = messaging_service_sid
        self.webhook_url = webhook_url  # the bot's inbound SMS URL, exactly as it validates it
        self.auto_status = auto_status
        self.status_delay = status_delay
        self.advanced_opt_out = advanced_opt_out
        self.opt_in_keywords = frozenset(k.upper() for k in opt_in_keywords)
        self.provider_replies = dict(
            PROVIDER_REPLIES if provider_replies is None else provider_replies
        )

        self.sent: list[Sms] = []
        self.opted_out: set[str] = set()
        self.messages: dict[str, JSONDict] = {}  # Message resources by sid
        self.status_responses: list[int] = []  # HTTP status per callback; 0 = no response
        self.requests_by_method: collections.Counter[str] = collections.Counter()
        self.count_429 = 0
        self.faults = Faults()
        self.deleted: list[str] = []  # sids of messages deleted through the API, in order
        self._last_inbound: tuple[str, dict[str, str], dict[str, str]] | None = None
        self._refuse_deletes = 0

        self._validator = RequestValidator(auth_token)
        self._callbacks: dict[str, str] = {}  # StatusCallback URL by message sid
        self._sms_by_sid: dict[str, Sms] = {}
        self._sent_changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._listeners: list[SmsListener] = []
        # Voice (bot/sim/fake_voice.py): the bot's "a call comes in" URL, who answers a Dial
        # (number -> "accepts", "voicemail"; anything else is busy) and names for them.
        self.voice_url: str | None = None
        # The number's "call status changes" webhook: posted when a call ends (None: not set).
        self.voice_status_url: str | None = None
        self.answers: dict[str, Answer] = {}
        self.names: dict[str, str] = {}
        self.calls: dict[str, VoiceCall] = {}
        # Calls the account placed, in order: by the Calls API, and each Dial's bridged leg.
        self.placed: list[VoiceCall] = []

        base = f"/{API_VERSION}/Accounts/{{account_sid}}"
        self.app = Starlette(
            routes=[
                Route(f"{base}/Messages.json", self._create_message, methods=["POST"]),
                Route(f"{base}/Messages/{{message_sid}}.json", self._fetch_message),
                Route(f"{base}/Calls.json", self._create_call, methods=["POST"]),
                Route(f"{base}/Calls/{{call_sid}}.json", self._delete_call, methods=["DELETE"]),
                Route(
                    f"{base}/Messages/{{message_sid}}.json",
                    self._delete_message,
                    methods=["DELETE"],
                ),
                Route("/{path:path}", self._not_found, methods=["GET", "POST", "DELETE"]),
            ]
        )

    # ------------------------------------------------------------------ simulation API

    def add_listener(self, listener: SmsListener) -> Callable[[], None]:
        """Call ``listener`` with each text to a phone as it is recorded; returns the unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    async def text(
        self, from_number: str, body: str, *, sign: bool = True, forge: bool = False
    ) -> InboundResult:
        """A phone texts ``body`` to the bot's number; posts the webhook as Twilio does."""
        if self.webhook_url is None:
            raise RuntimeError("set webhook_url to the bot's inbound SMS URL first")
        body = body[:MAX_BODY]
        keyword = body.strip().upper()
        opt_out_type: str | None = None
        was_out = from_number in self.opted_out
        if keyword in OPT_OUT_KEYWORDS:
            self.opted_out.add(from_number)
            opt_out_type = "STOP"
        elif keyword in self.opt_in_keywords:
            self.opted_out.discard(from_number)
            opt_out_type = "START"
        elif keyword in HELP_KEYWORDS:
            opt_out_type = "HELP"
        reply = self.provider_replies.get(opt_out_type or "")
        # Nothing reaches an opted-out number, not even HELP's reply; "re-subscribed" is said
        # only to a number that was opted out (a YES to anything else is just a message).
        if (opt_out_type == "HELP" and was_out) or (opt_out_type == "START" and not was_out):
            reply = None
        if reply:
            await self._record_provider(from_number, reply)
        sid = _sid("SM")
        segments, _ = _segments(body)
        form = {
            "ToCountry": "US",
            "ToState": "IL",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "CHICAGO",
            "FromZip": "60629",
            "SmsSid": sid,
            "FromState": "IL",
            "SmsStatus": "received",
            "FromCity": "CHICAGO",
            "Body": body,
            "FromCountry": "US",
            "To": self.phone_number,
            "ToZip": "60601",
            "NumSegments": str(segments),
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_number,
            "ApiVersion": API_VERSION,
        }
        if self.messaging_service_sid is not None:
            form["MessagingServiceSid"] = self.messaging_service_sid
        if self.advanced_opt_out and opt_out_type is not None:
            form["OptOutType"] = opt_out_type
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        if sign:
            headers["X-Twilio-Signature"] = self._signature(self.webhook_url, form, forge=forge)
        self.messages[sid] = self._resource(
            sid, to=self.phone_number, from_=from_number, body=body, status="received",
            direction="inbound", segments=segments,
        )  # fmt: skip
        self._last_inbound = (self.webhook_url, form, headers)
        started = time.monotonic()
        response = await self._http().post(self.webhook_url, data=form, headers=headers)
        elapsed = time.monotonic() - started
        replies: list[tuple[str, str, str | None]] = []
        if 200 <= response.status_code < 300:
            replies = _twiml_messages(response.content, default_to=from_number)
        for to, reply, action in replies:
            await self._record_twiml(to, reply, action)
        return InboundResult(response.status_code, [reply for _, reply, _ in replies], elapsed, sid)

    async def call(self, from_number: str) -> VoiceCall:
        """A phone calls the bot's number: Twilio posts "a call comes in" to `voice_url` and
        follows the TwiML until the caller must answer (press, speak) or the call ends."""
        if self.voice_url is None:
            raise RuntimeError("set voice_url to the bot's voice URL first")
        sid = _sid("CA")
        call = VoiceCall(self, sid, from_number, self.voice_url)
        self.calls[sid] = call
        return await call.start()

    def sign(self, url: str, form: dict[str, str]) -> str:
        return self._signature(url, form, forge=False)

    def http(self) -> httpx.AsyncClient:
        return self._http()

    def label_of(self, number: str) -> str:
        """A number as a transcript shows it: a test's name for it, never the number."""
        return self.names.get(number, "a number")

    def label(self, element: ET.Element) -> str:
        return self.label_of((element.text or "").strip())

    async def replay(self) -> InboundResult:
        """The last inbound request posted again, byte for byte (signature and all): what
        someone who captured it could send. Twilio itself never does."""
        if self._last_inbound is None:
            raise RuntimeError("no inbound text to replay")
        url, form, headers = self._last_inbound
        started = time.monotonic()
        response = await self._http().post(url, data=form, headers=headers)
        replies = (
            _twiml_messages(response.content, default_to=form["From"])
            if 200 <= response.status_code < 300
            else []
        )
        return InboundResult(
            response.status_code,
            [reply for _, reply, _ in replies],
            time.monotonic() - started,
            form["MessageSid"],
        )

    async def send_status(
        self, message_sid: str, status: str, error_code: int | None = None
    ) -> int:
        """Post a status callback for a message by hand; returns the bot's HTTP status."""
        url = self._callbacks.get(message_sid)
        resource = self.messages.get(message_sid)
        if url is None or resource is None:
            raise LookupError("no message with a StatusCallback has that sid")
        form = {
            "SmsSid": message_sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "To": str(resource["to"]),
            "MessageSid": message_sid,
            "AccountSid": self.account_sid,
            "From": str(resource["from"] or self.phone_number),
            "ApiVersion": API_VERSION,
        }
        if resource.get("messaging_service_sid"):
            form["MessagingServiceSid"] = str(resource["messaging_service_sid"])
        if error_code is not None:
            form["ErrorCode"] = str(error_code)
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "X-Twilio-Signature": self._signature(url, form, forge=False),
        }
        try:
            response = await self._http().post(url, data=form, headers=headers)
        except httpx.HTTPError:
            self.status_responses.append(0)
            return 0
        self.status_responses.append(response.status_code)
        return response.status_code

    def inbox(self, number: str) -> list[Sms]:
        """Messages delivered to a phone, in order (failed ones left out)."""
        return [sms for sms in self.sent if sms.to == number and sms.status != "failed"]

    async def wait_for(
        self,
        number: str,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the helper's contract for tests
    ) -> list[Sms]:
        """Wait until at least ``count`` messages were delivered to the phone."""
        try:
            async with asyncio.timeout(timeout), self._sent_changed:
                await self._sent_changed.wait_for(lambda: len(self.inbox(number)) >= count)
        except TimeoutError:
            seen = len(self.inbox(number))
            raise TimeoutError(
                f"expected {count} message(s) to the phone within {timeout}s, saw {seen}"
            ) from None
        return self.inbox(number)

    async def wait_status_idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every automatic status progression (and its callbacks) has finished."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def kept(self) -> list[JSONDict]:
        """The message records the account still keeps (what a records request would get)."""
        return list(self.messages.values())

    def refuse_deletes(self, n: int) -> None:
        """Answer the next ``n`` deletions with 20009, as Twilio does while it still
        processes a message (it advises waiting a minute)."""
        self._refuse_deletes = n

    def rate_limit(self, per_second: float | None) -> None:
        """Answer message creation with 429 (code 20429) above this rate."""
        self.faults.rate_limit(per_second, None)

    def fail_next(self, n: int, status: int = 500) -> None:
        """Make the next ``n`` message creations fail with HTTP ``status``."""
        self.faults.fail_next(n, status)

    def delay(self, seconds: float) -> None:
        """Add latency to every message creation."""
        self.faults.latency = seconds

    async def aclose(self) -> None:
        """Cancel pending status callbacks and close the HTTP client."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------------ REST API

    async def _create_message(self, request: Request) -> Response:
        self.requests_by_method["messages.create"] += 1
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        if self.faults.latency > 0:
            await asyncio.sleep(self.faults.latency)
        status = self.faults.take_failure()
        if status is not None:
            return _error(status, 20000 + status, _phrase(status))
        if self.faults.retry_after(None) is not None:
            self.count_429 += 1
            return _error(429, 20429, "Too Many Requests")
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        problem = self._validate(form)
        if problem is not None:
            return problem
        to, body = form["To"], form["Body"]
        service = form.get("MessagingServiceSid") or None
        sender = form.get("From") or None
        sid = _sid("SM")
        segments, encoding = _segments(body)
        # Through a Messaging Service Twilio picks the sender later: "accepted", from null.
        initial = "queued" if sender is not None else "accepted"
        resource = self._resource(
            sid, to=to, from_=sender, body=body, status=initial, direction="outbound-api",
            segments=segments, service=service,
        )  # fmt: skip
        self.messages[sid] = resource
        sms = Sms(
            to=to,
            from_=sender or self.phone_number,
            body=body,
            sid=sid,
            via="api",
            status=initial,
            segments=segments,
            encoding=encoding,
            at=time.monotonic(),
        )
        self._sms_by_sid[sid] = sms
        if form.get("StatusCallback"):
            self._callbacks[sid] = form["StatusCallback"]
        await self._append(sms)
        if self.auto_status:
            self._spawn(self._progress(sid))
        return JSONResponse(resource, status_code=201)

    async def _fetch_message(self, request: Request) -> Response:
        self.requests_by_method["messages.fetch"] += 1
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        resource = self.messages.get(request.path_params["message_sid"])
        if resource is None:
            return _error(404, 20404, f"The requested resource {request.url.path} was not found")
        return JSONResponse(resource)

    async def _delete_message(self, request: Request) -> Response:
        self.requests_by_method["messages.delete"] += 1
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        sid = request.path_params["message_sid"]
        resource = self.messages.get(sid)
        if resource is None:
            return _error(404, 20404, f"The requested resource {request.url.path} was not found")
        if self._refuse_deletes > 0 or resource["status"] in IN_PROGRESS:
            self._refuse_deletes = max(0, self._refuse_deletes - 1)
            return _error(409, 20009, "Cannot delete this resource before it is complete")
        del self.messages[sid]
        self._callbacks.pop(sid, None)
        self.deleted.append(sid)
        return Response(status_code=204)

    async def _create_call(self, request: Request) -> Response:
        """Twilio's Calls API: ring `To` showing `From`; once answered, follow the TwiML at
        `Url`. Who answers is the `answers` table: "accepts" presses 1 at the first Gather,
        "voicemail" lets it run out, anything else does not pick up."""
        self.requests_by_method["calls.create"] += 1
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        to, caller_id, url = form.get("To", ""), form.get("From", ""), form.get("Url", "")
        if not (to and caller_id and url):
            return _error(400, 21205, "To, From and Url are required")
        sid = _sid("CA")
        call = VoiceCall(self, sid, caller_id, url, to=to, direction="outbound-api")
        self.calls[sid] = call
        self.placed.append(call)
        self._spawn(self._ring_out(call, self.answers.get(to, "busy")))
        payload = {"sid": sid, "account_sid": self.account_sid, "to": to,
                   "from": caller_id, "status": "queued", "direction": "outbound-api",
                   "api_version": API_VERSION}  # fmt: skip
        return JSONResponse(payload, status_code=201)

    async def _ring_out(self, call: VoiceCall, answer: Answer) -> None:
        if answer == "busy":
            await call._end("no answer")
            return
        await call.start()
        if call.waiting is not None:
            await (call.press("1") if answer == "accepts" else call.silence())

    async def _delete_call(self, request: Request) -> Response:
        self.requests_by_method["calls.delete"] += 1
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        call = self.calls.get(request.path_params["call_sid"])
        if call is None:
            return _error(404, 20404, f"The requested resource {request.url.path} was not found")
        if not call.ended:
            return _error(409, 20009, "Cannot delete this resource before it is complete")
        del self.calls[call.sid]
        self.deleted.append(call.sid)
        return Response(status_code=204)

    async def _not_found(self, request: Request) -> Response:
        return _error(404, 20404, f"The requested resource {request.url.path} was not found")

    def _authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        ok = (
            scheme.lower() == "basic"
            and secrets.compare_digest(user, self.account_sid)
            and secrets.compare_digest(password, self.auth_token)
            and request.path_params["account_sid"] == self.account_sid
        )
        if ok:
            return None
        denied = _error(401, 20003, "Authenticate")
        denied.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return denied

    def _validate(self, form: dict[str, str]) -> Response | None:
        to = form.get("To", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        sender, service = form.get("From", ""), form.get("MessagingServiceSid", "")
        if not sender and not service:
            return _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required.")
        if "Body" not in form or form["Body"] == "":
            return _error(400, 21602, "Message body is required.")
        if not (to.startswith("+") and to[1:].isdigit() and 8 <= len(to) - 1 <= 15):
            return _error(400, 21211, "The 'To' number is not a valid phone number.")
        if sender and sender != self.phone_number:
            return _error(
                400,
                21606,
                "The 'From' phone number provided is not a valid message-capable Twilio"
                " phone number for this destination/account.",
            )
        if service and not (service.startswith("MG") and len(service) == 34):
            return _error(400, 21705, "The Messaging Service is invalid.")
        if service and self.messaging_service_sid not in (None, service):
            return _error(400, 21701, "The Messaging Service does not exist.")
        if len(form["Body"]) > MAX_BODY_LENGTH:
            return _error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        validity = form.get("ValidityPeriod")
        if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 36000):
            return _error(400, 21624, "Invalid validity period value.")
        if to in self.opted_out:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        return None

    # ------------------------------------------------------------------ helpers

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # Twilio gives a webhook 15 s; trust_env=False keeps loopback off any proxy.
            self._client = httpx.AsyncClient(timeout=15.0, trust_env=False, verify=client_context())
        return self._client

    def _signature(self, url: str, form: dict[str, str], *, forge: bool) -> str:
        token = self.auth_token + "-forged" if forge else self.auth_token
        validator = RequestValidator(token) if forge else self._validator
        return str(validator.compute_signature(url, form))

    async def _append(self, sms: Sms) -> None:
        self.sent.append(sms)
        self._notify(sms)
        async with self._sent_changed:
            self._sent_changed.notify_all()

    def _notify(self, sms: Sms) -> None:
        for listener in list(self._listeners):
            try:
                listener(sms)
            except Exception:
                # A broken observer must not break the API or the webhook round trip.
                log.exception("a FakeTwilio listener failed")

    async def _record_provider(self, to: str, body: str) -> None:
        segments, encoding = _segments(body)
        await self._append(
            Sms(
                to=to,
                from_=self.phone_number,
                body=body,
                sid=None,
                via="provider",
                status="sent",
                segments=segments,
                encoding=encoding,
                at=time.monotonic(),
            )
        )

    async def _record_twiml(self, to: str, body: str, action: str | None = None) -> None:
        """A TwiML reply: a message of the account like any other (its own sid); with
        ``action``, its status is reported there as for an API message's StatusCallback."""
        segments, encoding = _segments(body)
        # Twilio blocks replies to a number that has opted out, even the reply to STOP.
        failed = to in self.opted_out
        status = "failed" if failed else "sent"
        sid = _sid("SM")
        self.messages[sid] = self._resource(
            sid, to=to, from_=self.phone_number, body=body, status=status,
            direction="outbound-reply", segments=segments,
        )  # fmt: skip
        if failed:
            self.messages[sid]["error_code"] = 21610
        sms = Sms(
            to=to,
            from_=self.phone_number,
            body=body,
            sid=sid,
            via="twiml",
            status=status,
            segments=segments,
            encoding=encoding,
            at=time.monotonic(),
        )
        self._sms_by_sid[sid] = sms
        if action:
            self._callbacks[sid] = action
        await self._append(sms)
        if action and failed:
            self._spawn(self.send_status(sid, "failed", 21610))
        elif self.auto_status:
            self._spawn(self._progress(sid, ("delivered",)))

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run(), name="fake-twilio-status")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _resource(
        self,
        sid: str,
        *,
        to: str,
        from_: str | None,
        body: str,
        status: str,
        direction: str,
        segments: int,
        service: str | None = None,
    ) -> JSONDict:
        """A Message resource as Twilio's API shows it."""
        now = email.utils.format_datetime(datetime.now(UTC))
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": direction,
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": to,
            "uri": uri,
        }

    async def _progress(self, sid: str, statuses: tuple[str, ...] = ("sent", "delivered")) -> None:
        """Move a message through sent and delivered, posting callbacks if asked."""
        for status in statuses:
            await asyncio.sleep(self.status_delay)
            resource = self.messages.get(sid)
            if resource is None:  # deleted meanwhile
                return
            resource["status"] = status
            now = datetime.now(UTC)
            resource["date_updated"] = email.utils.format_datetime(now)
            if status == "sent":
                resource["date_sent"] = resource["date_updated"]
                resource["from"] = resource["from"] or self.phone_number
            self._sms_by_sid[sid].status = status
            self._notify(self._sms_by_sid[sid])
            if sid in self._callbacks:
                await self.send_status(sid, status)


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _error(status: int, code: int, message: str) -> JSONResponse:
    """Twilio's legacy error body, which the client raises as TwilioRestException."""
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def _segments(body: str) -> tuple[int, Literal["GSM-7", "UCS-2"]]:
    """How many SMS segments ``body`` takes, and in which encoding (the bot's own counter)."""
    count = count_segments(body)
    encoding: Literal["GSM-7", "UCS-2"] = "GSM-7" if count.encoding == "GSM-7" else "UCS-2"
    return count.segments, encoding


def _twiml_messages(content: bytes, *, default_to: str) -> list[tuple[str, str, str | None]]:
    """(recipient, text, status URL) of each ``<Message>`` in a TwiML ``<Response>``."""
    if not content.strip():
        return []
    try:
        # The document comes from the bot under test on loopback, not from the internet.
        root = ET.fromstring(content)  # noqa: S314
    except ET.ParseError:
        return []
    if root.tag != "Response":
        return []
    messages: list[tuple[str, str, str | None]] = []
    for element in root.iter("Message"):
        body = element.find("Body")
        text = (body.text if body is not None else element.text) or ""
        action = element.get("action") or element.get("statusCallback")
        messages.append((element.get("to") or default_to, text.strip(), action))
    return messages
