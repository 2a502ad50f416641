"""Delivery's Sender for SMS: the real twilio client, its errors mapped to outcomes."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any
from urllib.parse import urlencode

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.core.text import for_sms
from bot.core.vocabulary import Channel, SubscriberStatus
from bot.delivery.sender import Message, Outcome, Result
from bot.settings import Settings

log = logging.getLogger(__name__)

STATUS_PATH = "/twilio/status"
TIMEOUT = 15.0  # seconds; AsyncTwilioHttpClient ignores its own timeout argument
MAX_VALIDITY = 36_000  # Twilio's ceiling (10 hours), also its default

OPTED_OUT = {21610}  # they texted STOP to this sender
INVALID = {21211, 21214, 21217, 21407, 21408, 21612, 21614}  # not a number we can text
QUEUE_FULL = {21611, 30001, 20429}  # slow down and try again
HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


class FormTransport(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """twilio's own aiohttp transport, sending its form as ready bytes.

    twilio lets a program bring its HTTP client (``Client(http_client=...)``); this one keeps
    twilio's session, URL, headers, query and response handling and drops per-request work
    that a form POST does not need: aiohttp's FormData (a multipart writer with a fresh uuid
    boundary for every urlencoded body), a BasicAuth object per request (aiohttp 3.14
    deprecates it and the ``auth=`` argument), and the INFO log lines formatted while nobody
    listens. The body is what FormData would have sent:
    ``urlencode(data, doseq=True)`` as application/x-www-form-urlencoded (a test compares
    them). Measured against the fake Twilio: 610 -> 510 us of CPU per message sent.
    """

    def __init__(self) -> None:
        super().__init__()  # max_retries unset: no silent re-POST on 5xx
        self._auth: tuple[tuple[str, str], str] | None = None

    @staticmethod
    def encode(data: dict[str, object]) -> bytes:
        """The form as aiohttp's FormData encodes a urlencoded body."""
        return urlencode(data, doseq=True).encode()

    def _authorization(self, auth: tuple[str, str]) -> str:
        if self._auth is None or self._auth[0] != auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            self._auth = (auth, f"Basic {token}")
        return self._auth[1]

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  # twilio's signature
        allow_redirects: bool = False,
    ) -> Response:
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        sent = dict(headers or {})
        if auth is not None:
            sent["Authorization"] = self._authorization(auth)
        body = None
        if data:
            body = self.encode(data)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.logger.isEnabledFor(logging.INFO):
            # twilio's own lines; its log_request leaves the Authorization header out.
            self.log_request(
                {"method": method.upper(), "url": url, "params": params, "headers": headers}
            )
        options: dict[str, Any] = {}
        if timeout is not None:
            options["timeout"] = aiohttp.ClientTimeout(total=timeout)
        async with self.session.request(
            method.upper(),
            url,
            params=params,
            data=body,
            headers=sent,
            allow_redirects=allow_redirects,
            **options,
        ) as response:
            text = await response.text()
        if self.logger.isEnabledFor(logging.INFO):
            self.log_response(response.status, response)
        return Response(response.status, text, response.headers)


RING_SECONDS = 25  # a placed call rings this long before Twilio gives up


class TwilioSender:
    """Sends SMS through Twilio's Messages API with a validity period from the expiry.

    Through twilio's own API version object (`client.api.v2010.create_async`: its URL, auth,
    transport and error parsing, `TwilioRestException` or `TwilioServiceException` alike), not
    `messages.create_async`, which also serialises some thirty unset parameters and builds a
    `MessageInstance` (three RFC 2822 dates parsed, a dozen fields) for the one `sid` the
    outbox keeps. Measured against the fake Twilio in another process: 200-220 -> 170-175 us
    of CPU per message sent. The form's names are Twilio's Messages API's own (`To`, `From`,
    `Body`, `ValidityPeriod`, ...).
    """

    channel = Channel.SMS.value

    def __init__(self, settings: Settings, *, timeout: float = TIMEOUT) -> None:
        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            raise ValueError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set")
        self.settings = settings
        self.timeout = timeout
        self._token = settings.twilio_auth_token.get_secret_value()
        self.status_callback = settings.public(STATUS_PATH) if settings.public_url else None
        self._client: Client | None = None
        self._http: FormTransport | None = None
        self._messages_uri = ""
        sender: dict[str, object] = (
            {"From": settings.twilio_from_number}
            if settings.twilio_from_number
            else {"MessagingServiceSid": settings.twilio_messaging_service_sid}
        )
        self._form: dict[str, object] = {
            **sender,
            **({"StatusCallback": self.status_callback} if self.status_callback else {}),
        }

    def _connect(self) -> Client:
        # AsyncTwilioHttpClient must be created inside the running event loop.
        if self._client is None:
            settings = self.settings
            self._http = FormTransport()
            client = Client(
                settings.twilio_account_sid,
                self._token,
                http_client=self._http,
            )
            client.api.base_url = str(settings.twilio_api_url).rstrip("/")
            # TWILIO_REGION / TWILIO_EDGE in the environment would rewrite the host.
            client.region = None
            client.edge = None
            self._client = client
            self._messages_uri = f"/Accounts/{settings.twilio_account_sid}/Messages.json"
        return self._client

    async def send(self, message: Message) -> Outcome:
        remaining = int(message.valid_for)
        if remaining < 1:
            return Outcome(Result.FAILED, error="expired")
        form = {
            "To": message.address,
            **self._form,
            "Body": for_sms(message.text),  # Twilio refuses a longer Body whole: cut instead
            "ValidityPeriod": min(remaining, MAX_VALIDITY),
        }
        try:
            async with asyncio.timeout(self.timeout):
                created = await self._connect().api.v2010.create_async(
                    method="POST", uri=self._messages_uri, data=form, headers=dict(HEADERS)
                )
        except (TwilioRestException, TwilioServiceException) as exc:
            # twilio raises the second for RFC 9457 problem bodies ({type, title, status, code}),
            # which newer Twilio APIs answer with; it is not a TwilioRestException.
            return classify(exc.status, exc.code)
        except TimeoutError:
            # Ambiguous: Twilio may have accepted it. A possible duplicate beats a lost alert.
            return Outcome(Result.RETRY, error="timeout")
        except (aiohttp.ClientError, OSError):
            return Outcome(Result.RETRY, error="network")
        except Exception as exc:
            # Never raise into the worker: an unknown failure is retried, and logged by type.
            log.warning("sms send failed unexpectedly", extra={"error": type(exc).__name__})
            return Outcome(Result.RETRY, error=type(exc).__name__)
        return Outcome(Result.SENT, provider_id=str(created["sid"]))

    async def call(self, to: str, caller_id: str, url: str) -> tuple[str | None, str | None]:
        """Place a call (Twilio's Calls API): Twilio rings `to` showing `caller_id` and, once
        answered, follows the TwiML at `url`. The call's sid, or the error."""
        try:
            async with asyncio.timeout(self.timeout):
                call = await self._connect().calls.create_async(
                    to=to, from_=caller_id, url=url, timeout=RING_SECONDS
                )
        except (TwilioRestException, TwilioServiceException) as exc:
            return None, f"twilio:{exc.code or exc.status}"
        except TimeoutError:
            return None, "timeout"
        except (aiohttp.ClientError, OSError):
            return None, "network"
        return str(call.sid), None

    async def delete(self, sid: str) -> str | None:
        """Delete a message, or a call (its sid starts CA), at Twilio (bot/delivery/
        deletions.py): None once Twilio no longer keeps it (deleted now, or already gone),
        else the error to retry on (20009: Twilio is still processing it, or the call goes on)."""
        try:
            async with asyncio.timeout(self.timeout):
                client = self._connect()
                if sid.startswith("CA"):
                    await client.calls(sid).delete_async()
                else:
                    await client.messages(sid).delete_async()
        except (TwilioRestException, TwilioServiceException) as exc:
            if exc.status == 404:
                return None
            return f"twilio:{exc.code or exc.status}"
        except TimeoutError:
            return "timeout"
        except (aiohttp.ClientError, OSError):
            return "network"
        return None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


def classify(status: int, code: int | None) -> Outcome:
    """A Twilio error as a delivery outcome (codes from Twilio's error catalogue)."""
    label = f"twilio:{code or status}"
    if status == 429 or code in QUEUE_FULL:
        return Outcome(Result.RATE_LIMITED, error=label, retry_after=1.0)
    if code in OPTED_OUT:
        return Outcome(
            Result.UNREACHABLE, error=label, subscriber_status=SubscriberStatus.OPTED_OUT.value
        )
    if code in INVALID:
        return Outcome(
            Result.UNREACHABLE, error=label, subscriber_status=SubscriberStatus.BLOCKED.value
        )
    if status >= 500:
        return Outcome(Result.RETRY, error=label)
    return Outcome(Result.FAILED, error=label)
