"""The SMS sender: the real twilio client, through its form transport, against the fake Twilio."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.channels.sms.sender import FormTransport, TwilioSender
from bot.core.vocabulary import SubscriberStatus
from bot.delivery.sender import Message, Result
from bot.sim.serve import serve
from tests.conftest import TWILIO_TOKEN, Fakes, make_settings

pytestmark = pytest.mark.once  # the SMS sender against the fake: its database is never opened

PHONE = "+13125550142"
# Every character a form body must escape, a GSM-7 extension, and two that force UCS-2.
AWKWARD = 'Rosa & Luis: 50% = mitad + 1/2? {ok} ~ €5 "quoted"\nsegunda línea 🙂'


def sender(api_url: str, tmp_path: Path, **overrides: str) -> TwilioSender:
    """The sender alone, against a Twilio at `api_url` (its database is never opened)."""
    settings = make_settings(
        f"sqlite:///{tmp_path / 'unused.sqlite3'}", tmp_path, TWILIO_API_URL=api_url, **overrides
    )
    return TwilioSender(settings, timeout=5.0)


def message(text: str, address: str = PHONE, valid_for: float = 3600) -> Message:
    return Message(delivery_id=1, address=address, text=text, valid_for=valid_for)


async def test_a_text_reaches_twilio_exactly_as_written(fakes: Fakes, tmp_path: Path) -> None:
    sms = sender(fakes.twilio_server.url, tmp_path)
    try:
        outcome = await sms.send(message(AWKWARD))
    finally:
        await sms.close()
    assert outcome.result == Result.SENT
    [got] = fakes.twilio.inbox(PHONE)
    assert got.body == AWKWARD
    assert got.encoding == "UCS-2"
    assert outcome.provider_id == got.sid


def test_the_form_body_is_what_aiohttp_formdata_would_send() -> None:
    data = {"To": PHONE, "Body": AWKWARD, "ValidityPeriod": 3600, "From": "+13125550100"}
    payload = aiohttp.FormData(data)()
    assert payload.content_type == "application/x-www-form-urlencoded"
    assert FormTransport.encode(data) == payload._value


async def test_a_wrong_token_is_refused_and_recorded_not_retried(
    fakes: Fakes, tmp_path: Path
) -> None:
    sms = sender(fakes.twilio_server.url, tmp_path, TWILIO_AUTH_TOKEN=TWILIO_TOKEN + "-wrong")
    try:
        outcome = await sms.send(message("hello"))
    finally:
        await sms.close()
    assert (outcome.result, outcome.error) == (Result.FAILED, "twilio:20003")
    assert fakes.twilio.inbox(PHONE) == []


async def test_twilio_errors_come_back_as_outcomes(fakes: Fakes, tmp_path: Path) -> None:
    fakes.twilio.opted_out.add(PHONE)
    sms = sender(fakes.twilio_server.url, tmp_path)
    try:
        opted_out = await sms.send(message("hello"))
        fakes.twilio.fail_next(1, status=503)
        busy = await sms.send(message("hello", address="+13125550143"))
        invalid = await sms.send(message("hello", address="+1312"))
    finally:
        await sms.close()
    assert opted_out.result == Result.UNREACHABLE
    assert opted_out.subscriber_status == SubscriberStatus.OPTED_OUT.value
    assert (busy.result, busy.error) == (Result.RETRY, "twilio:20503")
    assert invalid.result == Result.UNREACHABLE
    assert invalid.subscriber_status == SubscriberStatus.BLOCKED.value


async def test_a_problem_details_error_is_classified_like_any_twilio_error(
    tmp_path: Path,
) -> None:
    async def problem(request: Request) -> JSONResponse:
        body = {
            "type": "https://www.twilio.com/docs/api/errors/21610",
            "title": "Attempt to send to unsubscribed recipient",
            "status": 400,
            "code": 21610,
        }
        return JSONResponse(body, status_code=400, media_type="application/problem+json")

    server = await serve(Starlette(routes=[Route("/{path:path}", problem, methods=["POST"])]))
    sms = sender(server.url, tmp_path)
    try:
        outcome = await sms.send(message("hello"))
    finally:
        await sms.close()
        await server.stop()
    assert (outcome.result, outcome.error) == (Result.UNREACHABLE, "twilio:21610")
    assert outcome.subscriber_status == SubscriberStatus.OPTED_OUT.value


async def test_twilio_info_logging_shows_no_number_text_or_secret(
    fakes: Fakes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sms = sender(fakes.twilio_server.url, tmp_path)
    with caplog.at_level(logging.DEBUG, logger="twilio"):
        try:
            outcome = await sms.send(message("a private text"))
        finally:
            await sms.close()
    assert outcome.result == Result.SENT
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "BEGIN Twilio API Request" in logged  # twilio's own lines are kept
    # Names only: a failure must not print what it found.
    secrets = {"number": PHONE, "text": "private", "token": TWILIO_TOKEN, "auth": "Basic "}
    shown = [name for name, secret in secrets.items() if secret in logged]
    assert shown == [], "the twilio log shows something it must not"
