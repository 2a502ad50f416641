"""The fake Twilio API and phones, driven by the real twilio client over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qsl

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from bot.sim import fake_twilio
from bot.sim.fake_twilio import FakeTwilio, _segments
from bot.sim.serve import RunningServer, serve

SID = "AC" + "5a" * 16
AUTH_TOKEN = "fake-auth-token-for-tests"
PHONE = "+17735550123"

# twilio 9.13's AsyncTwilioHttpClient passes aiohttp.BasicAuth as ``auth=``; aiohttp 3.14
# deprecates both. Only these two warnings are let through.
pytestmark = [
    pytest.mark.once,  # the fake Twilio alone: no database
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]
OTHER = "+17735550188"


class PhoneBot:
    """A bot-side SMS webhook that checks Twilio's signature, as the real bot must."""

    def __init__(self) -> None:
        self.validator = RequestValidator(AUTH_TOKEN)
        self.forms: list[dict[str, str]] = []
        self.statuses: list[tuple[str, str]] = []
        self.rejected = 0
        self.app = Starlette(
            routes=[
                Route("/twilio/sms", self.sms, methods=["POST"]),
                Route("/twilio/status", self.status, methods=["POST"]),
            ]
        )

    async def _form(self, request: Request) -> dict[str, str] | None:
        # parse_qsl rather than request.form(): python-multipart is not a dependency.
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        signature = request.headers.get("x-twilio-signature", "")
        if not self.validator.validate(str(request.url), form, signature):
            self.rejected += 1
            return None
        return form

    async def sms(self, request: Request) -> Response:
        form = await self._form(request)
        if form is None:
            return Response(status_code=403)
        self.forms.append(form)
        reply = MessagingResponse()
        if form["Body"].strip().upper() != "STOP":
            reply.message(f"Recibido: {form['Body']}")
            reply.message("Reply HELP for help")
        return Response(str(reply), media_type="application/xml")

    async def status(self, request: Request) -> Response:
        form = await self._form(request)
        if form is None:
            return Response(status_code=403)
        self.statuses.append((form["MessageSid"], form["MessageStatus"]))
        return Response(status_code=204)


@dataclass
class World:
    """The fake, the bot-side receiver and a real twilio client pointed at the fake."""

    fake: FakeTwilio
    phone_bot: PhoneBot
    bot_url: str
    client: Client
    api: RunningServer


@pytest.fixture
async def world() -> AsyncIterator[World]:
    phone_bot = PhoneBot()
    bot_server = await serve(phone_bot.app)
    fake = FakeTwilio(SID, AUTH_TOKEN, webhook_url=f"{bot_server.url}/twilio/sms")
    api = await serve(fake.app)
    http_client = AsyncTwilioHttpClient()  # must be created inside the running loop
    client = Client(SID, AUTH_TOKEN, http_client=http_client)
    client.api.base_url = api.url
    client.region = client.edge = None
    try:
        yield World(fake, phone_bot, bot_server.url, client, api)
    finally:
        await http_client.close()
        await fake.aclose()
        await asyncio.gather(api.stop(), bot_server.stop())


async def test_create_returns_a_message_resource_the_client_parses(world: World) -> None:
    message = await world.client.messages.create_async(
        to=PHONE, from_=world.fake.phone_number, body="Alerta verificada", validity_period=600
    )
    assert message.sid.startswith("SM")
    assert len(message.sid) == 34
    assert (message.status, message.num_segments, message.direction) == (
        "queued",
        "1",
        "outbound-api",
    )
    assert (message.to, message.from_, message.account_sid) == (PHONE, "+13125550100", SID)
    assert isinstance(message.date_created, dtm.datetime)
    assert message.error_code is None
    assert message.price is None
    fetched = await world.client.messages(message.sid).fetch_async()
    assert fetched.body == "Alerta verificada"
    (sms,) = world.fake.inbox(PHONE)
    assert (sms.sid, sms.via, sms.encoding, sms.segments) == (message.sid, "api", "GSM-7", 1)
    assert world.fake.requests_by_method["messages.create"] == 1


async def test_messaging_service_send_is_accepted_without_a_from(world: World) -> None:
    service = "MG" + "0f" * 16
    message = await world.client.messages.create_async(
        to=PHONE, messaging_service_sid=service, body="¿Necesitas ayuda? Llámanos"
    )
    assert (message.status, message.from_, message.messaging_service_sid) == (
        "accepted",
        None,
        service,
    )
    assert world.fake.inbox(PHONE)[0].encoding == "UCS-2"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": "773-555-0123", "body": "x"}, 21211),
        ({"to": "+1234", "body": "x"}, 21211),
        ({"to": PHONE}, 21602),
        ({"to": PHONE, "body": "x" * 1601}, 21617),
        ({"to": PHONE, "body": "x", "validity_period": 36001}, 21624),
        ({"to": PHONE, "body": "x", "from_": "+15555550000"}, 21606),
    ],
)
async def test_invalid_requests_get_twilio_error_codes(
    world: World, kwargs: dict[str, object], code: int
) -> None:
    kwargs.setdefault("from_", world.fake.phone_number)
    with pytest.raises(TwilioRestException) as caught:
        await world.client.messages.create_async(**kwargs)
    assert (caught.value.status, caught.value.code) == (400, code)
    assert "773" not in caught.value.msg
    assert "1234" not in caught.value.msg
    assert world.fake.sent == []


async def test_missing_sender_is_21603(world: World) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await world.client.messages.create_async(to=PHONE, body="x")
    assert caught.value.code == 21603


async def test_wrong_token_or_account_is_401_20003(world: World) -> None:
    http_client = AsyncTwilioHttpClient()
    try:
        for sid, token in ((SID, "wrong"), ("AC" + "0" * 32, AUTH_TOKEN)):
            client = Client(sid, token, http_client=http_client)
            client.api.base_url = world.api.url
            client.region = client.edge = None
            with pytest.raises(TwilioRestException) as caught:
                await client.messages.create_async(to=PHONE, from_="+13125550100", body="x")
            assert (caught.value.status, caught.value.code) == (401, 20003)
    finally:
        await http_client.close()
    assert world.fake.sent == []


async def test_inbound_text_is_signed_and_twiml_replies_are_recorded(world: World) -> None:
    result = await world.fake.text(PHONE, "Hola")
    assert result.status == 200
    assert result.replies == ["Recibido: Hola", "Reply HELP for help"]
    assert result.elapsed > 0
    (form,) = world.phone_bot.forms
    assert (form["From"], form["To"], form["Body"]) == (PHONE, "+13125550100", "Hola")
    assert form["AccountSid"] == SID
    assert form["SmsStatus"] == "received"
    assert form["MessageSid"] == form["SmsSid"]
    assert form["NumSegments"] == "1"
    assert "MessagingServiceSid" not in form
    assert "OptOutType" not in form
    inbox = world.fake.inbox(PHONE)
    assert [(s.body, s.via) for s in inbox] == [
        ("Recibido: Hola", "twiml"),
        ("Reply HELP for help", "twiml"),
    ]
    # Each is a message of the account, as the inbound text is: Twilio keeps all three.
    kept = {m["sid"]: m["direction"] for m in world.fake.kept()}
    assert kept[form["MessageSid"]] == "inbound" and result.sid == form["MessageSid"]
    assert [kept[s.sid or ""] for s in inbox] == ["outbound-reply", "outbound-reply"]


async def test_forged_or_unsigned_texts_fail_validation(world: World) -> None:
    forged = await world.fake.text(PHONE, "Hola", forge=True)
    unsigned = await world.fake.text(PHONE, "Hola", sign=False)
    assert (forged.status, forged.replies) == (403, [])
    assert (unsigned.status, unsigned.replies) == (403, [])
    assert world.phone_bot.rejected == 2
    assert world.fake.inbox(PHONE) == []


async def test_stop_blocks_api_sends_until_start(world: World) -> None:
    world.fake.advanced_opt_out = True
    await world.fake.text(PHONE, "  stop ")
    assert world.phone_bot.forms[-1]["OptOutType"] == "STOP"
    with pytest.raises(TwilioRestException) as caught:
        await world.client.messages.create_async(to=PHONE, from_="+13125550100", body="Alerta")
    assert (caught.value.status, caught.value.code) == (400, 21610)
    await world.client.messages.create_async(to=OTHER, from_="+13125550100", body="Alerta")
    start = await world.fake.text(PHONE, "START")
    assert world.phone_bot.forms[-1]["OptOutType"] == "START"
    # Twilio's own confirmations (Advanced Opt-Out's, here its default wording) and the
    # bot's reply to START are delivered; nothing reached the phone while it was opted out.
    inbox = world.fake.inbox(PHONE)
    assert [s.via for s in inbox] == ["provider", "provider", *["twiml"] * len(start.replies)]
    assert "Reply START" in inbox[0].body and "re-subscribed" in inbox[1].body
    assert [s.body for s in inbox if s.via == "twiml"] == start.replies
    await world.client.messages.create_async(to=PHONE, from_="+13125550100", body="Alerta")
    await world.fake.text(PHONE, "Help")
    assert world.phone_bot.forms[-1]["OptOutType"] == "HELP"


async def test_reply_to_a_stop_is_blocked_like_twilio_does(world: World) -> None:
    result = await world.fake.text(PHONE, "UNSUBSCRIBE")
    assert result.replies == ["Recibido: UNSUBSCRIBE", "Reply HELP for help"]
    # Only Twilio's own confirmation reaches the phone; the bot's TwiML reply is blocked.
    assert [(s.via, s.body) for s in world.fake.inbox(PHONE)] == [
        ("provider", fake_twilio.PROVIDER_REPLIES["STOP"])
    ]
    assert {s.status for s in world.fake.sent if s.via == "twiml"} == {"failed"}
    # Opted out, HELP gets nothing from Twilio either; "STOP please" is no keyword at all.
    before = len(world.fake.sent)
    await world.fake.text(PHONE, "HELP")
    assert {s.via for s in world.fake.sent[before:]} <= {"twiml"}
    assert world.fake.opted_out == {PHONE}
    await world.fake.text(OTHER, "STOP please")
    assert OTHER not in world.fake.opted_out
    assert "OptOutType" not in world.phone_bot.forms[-1]  # advanced opt-out is off


async def test_status_callbacks_are_signed_and_go_sent_then_delivered(world: World) -> None:
    callback = f"{world.bot_url}/twilio/status"
    message = await world.client.messages.create_async(
        to=PHONE, from_="+13125550100", body="Taller mañana", status_callback=callback
    )
    await world.fake.wait_status_idle(timeout=2)
    assert world.phone_bot.statuses == [(message.sid, "sent"), (message.sid, "delivered")]
    assert world.fake.status_responses == [204, 204]
    assert world.fake.inbox(PHONE)[0].status == "delivered"
    fetched = await world.client.messages(message.sid).fetch_async()
    assert fetched.status == "delivered"
    assert fetched.date_sent is not None
    assert await world.fake.send_status(message.sid, "sent") == 204  # late, out of order
    assert world.phone_bot.statuses[-1] == (message.sid, "sent")


async def test_rate_limit_and_injected_failures(world: World) -> None:
    world.fake.rate_limit(1)
    await world.client.messages.create_async(to=PHONE, from_="+13125550100", body="one")
    with pytest.raises(TwilioRestException) as limited:
        await world.client.messages.create_async(to=PHONE, from_="+13125550100", body="two")
    assert (limited.value.status, limited.value.code) == (429, 20429)
    assert world.fake.count_429 == 1
    world.fake.rate_limit(None)
    world.fake.fail_next(1, 503)
    with pytest.raises(TwilioRestException) as failed:
        await world.client.messages.create_async(to=PHONE, from_="+13125550100", body="three")
    assert (failed.value.status, failed.value.code) == (503, 20503)
    world.fake.delay(0.05)
    started = asyncio.get_running_loop().time()
    await world.client.messages.create_async(to=PHONE, from_="+13125550100", body="four")
    assert asyncio.get_running_loop().time() - started >= 0.05
    assert [s.body for s in world.fake.inbox(PHONE)] == ["one", "four"]


async def test_wait_for_wakes_on_delivery_and_times_out_with_a_count(world: World) -> None:
    waiter = asyncio.create_task(world.fake.wait_for(PHONE, 2, timeout=2))
    await world.fake.text(PHONE, "hi")
    assert len(await waiter) == 2
    with pytest.raises(TimeoutError, match="saw 2") as caught:
        await world.fake.wait_for(PHONE, 3, timeout=0.05)
    assert PHONE not in str(caught.value)
    assert "Recibido" not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "segments", "encoding"),
    [
        ("", 1, "GSM-7"),
        ("a" * 160, 1, "GSM-7"),
        ("a" * 161, 2, "GSM-7"),
        ("a" * 306, 2, "GSM-7"),
        ("a" * 307, 3, "GSM-7"),
        ("€" * 80, 1, "GSM-7"),  # extension characters cost two septets
        ("€" * 81, 2, "GSM-7"),
        ("a" * 152 + "€" + "a" * 8, 2, "GSM-7"),  # the escape pair is not split
        ("ñé" * 80, 1, "GSM-7"),
        ("á" * 70, 1, "UCS-2"),
        ("á" * 71, 2, "UCS-2"),
        ("á" * 134, 2, "UCS-2"),
        ("á" * 135, 3, "UCS-2"),
        ("🚨" * 35, 1, "UCS-2"),  # surrogate pairs: two code units each
        ("🚨" * 36, 2, "UCS-2"),
    ],
)
def test_segments_follow_gsm7_and_ucs2_rules(body: str, segments: int, encoding: str) -> None:
    assert _segments(body) == (segments, encoding)
