"""The browser simulator's API, driven over HTTP against the real fakes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import phonenumbers
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from twilio.twiml.messaging_response import MessagingResponse

from bot.sim.fake_telegram import FakeTelegram, SentMessage
from bot.sim.fake_twilio import FakeTwilio, Sms
from bot.sim.serve import RunningServer, serve
from bot.sim.simulator import Simulator

pytestmark = pytest.mark.once  # the simulator's phones and the fakes: no database

TOKEN = "123456:SIM-token-for-the-fake"
SID = "AC" + "3c" * 16
AUTH_TOKEN = "simulator-test-auth-token"

JSONDict = dict[str, Any]


class EchoBot:
    """A stand-in for the bot's SMS webhook: answers every text with two TwiML messages."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []
        self.app = Starlette(routes=[Route("/sms", self.sms, methods=["POST"])])

    async def sms(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        self.forms.append(form)
        if form["Body"] == "SLOW":
            await asyncio.sleep(0.6)
        if form["Body"] == "BROKEN":
            return Response(status_code=500)
        reply = MessagingResponse()
        reply.message(f"Recibido: {form['Body']}")
        reply.message("Información: responde AYUDA")
        return Response(str(reply), media_type="application/xml")


class EventStream:
    """A reader of /sim/api/events that collects (event, data) pairs as they arrive."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.events: asyncio.Queue[tuple[str, JSONDict]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.comments: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EventStream:
        self._task = asyncio.create_task(self._read())
        async with asyncio.timeout(3):
            await self.connected.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _read(self) -> None:
        try:
            async with self.client.stream("GET", "/sim/api/events") as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                event, data = "message", ""
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        self.comments.append(line)
                        self.connected.set()
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif line == "" and data:
                        await self.events.put((event, json.loads(data)))
                        event, data = "message", ""
        finally:
            self.ended.set()

    async def next(self, kind: str, where: Callable[[JSONDict], bool] = lambda _: True) -> JSONDict:
        """The next event of that kind matching ``where``; others are skipped."""
        async with asyncio.timeout(3):
            while True:
                event, data = await self.events.get()
                if event == kind and where(data):
                    return data


@dataclass
class Sim:
    simulator: Simulator
    client: httpx.AsyncClient
    telegram: FakeTelegram
    twilio: FakeTwilio
    echo: EchoBot
    telegram_url: str
    twilio_url: str
    state_file: Path
    server: RunningServer
    servers: list[RunningServer] = field(default_factory=list)


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Sim]:
    echo = EchoBot()
    telegram = FakeTelegram(TOKEN)
    echo_server = await serve(echo.app)
    twilio = FakeTwilio(SID, AUTH_TOKEN, webhook_url=f"{echo_server.url}/sms")
    telegram_server = await serve(telegram.app)
    twilio_server = await serve(twilio.app)
    state_file = tmp_path / "data" / "simulator.json"
    simulator = Simulator(telegram, twilio, state_file=state_file)
    server = await serve(Starlette(routes=[Mount("/sim", routes=simulator.routes())]))
    client = httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=5)
    try:
        yield Sim(
            simulator,
            client,
            telegram,
            twilio,
            echo,
            telegram_server.url,
            twilio_server.url,
            state_file,
            server,
            [echo_server, telegram_server, twilio_server],
        )
    finally:
        await client.aclose()
        await simulator.aclose()
        await server.stop()
        await twilio.aclose()
        await telegram.aclose()
        await asyncio.gather(*(s.stop() for s in [echo_server, telegram_server, twilio_server]))


async def add(sim: Sim, **body: object) -> JSONDict:
    response = await sim.client.post("/sim/api/phones", json=body)
    assert response.status_code == 201, response.text
    phone: JSONDict = response.json()
    return phone


async def bot_send(sim: Sim, method: str, **params: str) -> JSONDict:
    """Call the fake Bot API as PTB does: form-encoded, JSON for non-string values."""
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(f"{sim.telegram_url}/bot{TOKEN}/{method}", data=params)
    assert response.status_code == 200, response.text
    result: JSONDict = response.json()["result"]
    return result


async def test_the_page_and_its_files_are_served_under_the_mount(sim: Sim) -> None:
    redirect = await sim.client.get("/sim")
    assert redirect.status_code in (301, 302, 307, 308)
    page = await sim.client.get("/sim", follow_redirects=True)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<base href="/sim/">' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    script = await sim.client.get("/sim/static/app.js")
    style = await sim.client.get("/sim/static/app.css")
    assert script.status_code == style.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "text/css" in style.headers["content-type"]
    everything = page.text + script.text
    for hook in (
        "add-phone",
        "phone-kind",
        "phone-name",
        "phone-number",
        "phone-language",
        "phone-coordinator",
        "add-phone-submit",
        '"phone"',
        "composer",
        '"send"',
        '"bubble"',
        "inline-button",
        "segments",
        "ui-lang-en",
        "ui-lang-es",
    ):
        assert hook in everything, hook
    assert "http://" not in everything
    assert "https://" not in everything


async def test_an_sms_phone_texts_the_bot_and_the_replies_arrive_as_events(sim: Sim) -> None:
    async with EventStream(sim.client) as events:
        phone = await add(sim, kind="sms", name="Ana")
        assert (await events.next("phone"))["id"] == phone["id"] == "ana"
        assert phone["kind"] == "sms"
        assert phone["role"] == "member"
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone["address"]))
        assert phone["address"] != sim.twilio.phone_number

        response = await sim.client.post(
            f"/sim/api/phones/{phone['id']}/messages", json={"text": "Hola, ¿cómo está?"}
        )
        assert response.status_code == 202
        typed = await events.next("message")
        assert (typed["direction"], typed["text"], typed["encoding"]) == (
            "in",
            "Hola, ¿cómo está?",
            "UCS-2",
        )
        assert typed["non_gsm"] == ["ó", "á"]
        first = await events.next("message")
        second = await events.next("message")
    assert sim.echo.forms[0]["From"] == phone["address"]
    assert sim.echo.forms[0]["Body"] == "Hola, ¿cómo está?"
    assert (first["direction"], first["text"], first["status"]) == (
        "out",
        "Recibido: Hola, ¿cómo está?",
        "sent",
    )
    assert (second["segments"], second["encoding"], second["non_gsm"]) == (1, "UCS-2", ["ó"])
    state = (await sim.client.get("/sim/api/state")).json()
    assert [p["id"] for p in state["phones"]] == ["ana"]
    assert [e["text"] for e in state["transcripts"]["ana"]] == [
        "Hola, ¿cómo está?",
        "Recibido: Hola, ¿cómo está?",
        "Información: responde AYUDA",
    ]
    assert state["bot"]["sms_number"] == sim.twilio.phone_number


async def test_gsm_text_and_replies_to_an_opted_out_number_show_as_failed(sim: Sim) -> None:
    phone = await add(sim, kind="sms", name="Luis", number="(312) 555-0177")
    assert phone["address"] == "+13125550177"
    async with EventStream(sim.client) as events:
        await sim.simulator.send(phone["id"], "STOP")
        typed = await events.next("message")
        assert (typed["segments"], typed["encoding"], typed["non_gsm"]) == (1, "GSM-7", [])
        twilios = await events.next("message")  # Twilio's own confirmation reaches the phone
        reply = await events.next("message")
    assert twilios["status"] == "sent" and "Reply START" in twilios["text"]
    assert reply["status"] == "failed"
    assert reply["text"] == "Recibido: STOP"


async def test_a_slow_bot_does_not_hold_the_page_and_a_broken_one_is_reported(sim: Sim) -> None:
    phone = await add(sim, kind="sms", name="Mei")
    async with EventStream(sim.client) as events:
        started = time.monotonic()
        response = await sim.client.post(
            f"/sim/api/phones/{phone['id']}/messages", json={"text": "SLOW"}
        )
        assert response.status_code == 202
        assert time.monotonic() - started < 0.4
        assert response.json()["direction"] == "in"
        reply = await events.next("message", lambda e: e["direction"] == "out")
        assert reply["text"] == "Recibido: SLOW"
        await sim.client.post(f"/sim/api/phones/{phone['id']}/messages", json={"text": "BROKEN"})
        notice = await events.next("notice")
    assert notice == {"phone_id": "mei", "code": "refused", "status": 500}


async def test_a_message_the_bot_sends_through_the_api_shows_its_status_moving_on(
    sim: Sim,
) -> None:
    phone = await add(sim, kind="sms", name="Rosa")
    async with EventStream(sim.client) as events, httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(
            f"{sim.twilio_url}/2010-04-01/Accounts/{SID}/Messages.json",
            data={"To": phone["address"], "From": sim.twilio.phone_number, "Body": "Alerta"},
            auth=(SID, AUTH_TOKEN),
        )
        assert response.status_code == 201
        created = await events.next("message")
        sent = await events.next("edit")
        delivered = await events.next("edit")
    assert created["status"] == "queued"
    assert (sent["id"], sent["status"]) == (created["id"], "sent")
    assert (delivered["id"], delivered["status"]) == (created["id"], "delivered")


async def test_a_telegram_phone_writes_sees_buttons_edits_and_presses(sim: Sim) -> None:
    async with EventStream(sim.client) as events:
        phone = await add(sim, kind="telegram", name="María", language="es", role="coordinator")
        assert (phone["id"], phone["address"], phone["role"]) == ("maria", "100001", "coordinator")
        response = await sim.client.post("/sim/api/phones/maria/messages", json={"text": "/start"})
        assert response.status_code == 202
        (update,) = sim.telegram.pending_updates
        message = update["message"]
        assert (message["text"], message["from"]["id"]) == ("/start", 100001)
        assert message["from"]["language_code"] == "es"
        assert (await events.next("message"))["direction"] == "in"

        # A chat the simulator has no phone for stays out of the page.
        sim.telegram.add_user(999, "Nadie")
        await bot_send(sim, "sendMessage", chat_id="999", text="not shown")
        keyboard = {
            "inline_keyboard": [
                [
                    {"text": "English", "callback_data": "lang:en"},
                    {"text": "Español", "callback_data": "lang:es"},
                ]
            ]
        }
        sent = await bot_send(
            sim, "sendMessage", chat_id="100001", text="Elige", reply_markup=json.dumps(keyboard)
        )
        shown = await events.next("message")
        assert (shown["direction"], shown["text"], shown["message_id"]) == (
            "out",
            "Elige",
            sent["message_id"],
        )
        assert shown["buttons"] == [
            [{"text": "English", "data": "lang:en"}, {"text": "Español", "data": "lang:es"}]
        ]

        await bot_send(
            sim,
            "editMessageText",
            chat_id="100001",
            message_id=str(sent["message_id"]),
            text="Elige un idioma",
            reply_markup=json.dumps(keyboard),
        )
        edited = await events.next("edit")
        assert (edited["id"], edited["text"], edited["edited"]) == (
            shown["id"],
            "Elige un idioma",
            True,
        )

        response = await sim.client.post(
            "/sim/api/phones/maria/press",
            json={"message_id": sent["message_id"], "data": "lang:es"},
        )
        assert response.status_code == 202
        pressed = await events.next("message")
    assert (pressed["kind"], pressed["text"], pressed["data"]) == ("press", "Español", "lang:es")
    query = sim.telegram.pending_updates[-1]["callback_query"]
    assert (query["data"], query["from"]["id"]) == ("lang:es", 100001)
    assert query["message"]["message_id"] == sent["message_id"]
    texts = [e.text for e in sim.simulator.transcript("maria")]
    assert "not shown" not in texts


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"kind": "fax", "name": "Ana"}, "bad_kind"),
        ({"kind": "sms", "name": "Ana", "number": "+1555"}, "invalid_number"),
        ({"kind": "sms", "name": "Ana", "number": "call me"}, "invalid_number"),
        ({"kind": "sms", "name": "Ana", "number": "+13125550100"}, "own_number"),
        ({"kind": "sms", "name": "Ana", "role": "coordinator"}, "coordinator_sms"),
        ({"kind": "telegram", "name": "Ana", "number": "+13125550177"}, "telegram_number"),
        ({"kind": "telegram", "name": "x" * 41}, "name_too_long"),
        ({"kind": "telegram", "name": "Ana", "language": "<script>"}, "bad_language"),
        ({"kind": ["sms"], "name": "Ana"}, "bad_field"),
    ],
)
async def test_a_bad_phone_is_refused_with_a_clear_message(
    sim: Sim, body: JSONDict, code: str
) -> None:
    response = await sim.client.post("/sim/api/phones", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["error"]
    assert sim.simulator.phones() == []


async def test_bad_messages_and_unknown_phones_are_refused(sim: Sim) -> None:
    await add(sim, kind="sms", name="Ana", number="+13125550177")
    await add(sim, kind="telegram", name="Omar")
    duplicate = await sim.client.post(
        "/sim/api/phones", json={"kind": "sms", "name": "B", "number": "312 555 0177"}
    )
    assert duplicate.json()["code"] == "duplicate_number"
    not_json = await sim.client.post(
        "/sim/api/phones", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    cases: list[tuple[str, str, JSONDict | None, int]] = [
        ("POST", "/sim/api/phones/ana/messages", {"text": "  "}, 400),
        ("POST", "/sim/api/phones/ana/messages", {"text": 5}, 400),
        ("POST", "/sim/api/phones/ana/messages", {"text": "x" * 1601}, 400),
        ("POST", "/sim/api/phones/nobody/messages", {"text": "hi"}, 404),
        ("POST", "/sim/api/phones/ana/press", {"message_id": 1, "data": "x"}, 400),
        ("POST", "/sim/api/phones/omar/press", {"message_id": "1", "data": "x"}, 400),
        ("POST", "/sim/api/phones/omar/press", {"message_id": 1, "data": ""}, 400),
        ("POST", "/sim/api/phones/omar/press", {"message_id": 42, "data": "x"}, 404),
        ("POST", "/sim/api/phones/nobody/press", {"message_id": 1, "data": "x"}, 404),
        ("DELETE", "/sim/api/phones/nobody", None, 404),
    ]
    for method, path, body, status in cases:
        response = await sim.client.request(method, path, json=body)
        assert response.status_code == status, (method, path, body, response.text)
    assert sim.echo.forms == []
    assert sim.telegram.pending_updates == []


async def test_removing_a_phone_never_hands_its_number_or_id_out_again(sim: Sim) -> None:
    async with EventStream(sim.client) as events:
        first_sms = await add(sim, kind="sms", name="")
        first_tg = await add(sim, kind="telegram", name="")
        assert (first_sms["name"], first_tg["name"]) == ("Ana", "Luis")
        assert (await sim.client.delete(f"/sim/api/phones/{first_sms['id']}")).status_code == 204
        assert (await events.next("phone-removed")) == {"id": first_sms["id"]}
    await sim.client.delete(f"/sim/api/phones/{first_tg['id']}")
    second_sms = await add(sim, kind="sms", name="Ana")
    second_tg = await add(sim, kind="telegram", name="Ana")
    assert second_sms["address"] != first_sms["address"]
    assert int(second_tg["address"]) == int(first_tg["address"]) + 1
    assert (second_sms["id"], second_tg["id"]) == ("ana", "ana-2")


async def test_the_state_file_brings_back_phones_and_conversations(sim: Sim) -> None:
    sms = await add(sim, kind="sms", name="Ana")
    await add(sim, kind="telegram", name="Jae", language="es")
    await sim.simulator.send(sms["id"], "JOIN 60629")
    keyboard = {"inline_keyboard": [[{"text": "Sí", "callback_data": "yes"}]]}
    await bot_send(
        sim, "sendMessage", chat_id="100001", text="¿Seguro?", reply_markup=json.dumps(keyboard)
    )
    before = sim.simulator.state()
    assert len(before["transcripts"]["ana"]) == 3
    await sim.simulator.aclose()

    saved = json.loads(sim.state_file.read_text(encoding="utf-8"))
    assert [p["id"] for p in saved["phones"]] == ["ana", "jae"]
    assert [p.name for p in sim.state_file.parent.iterdir()] == ["simulator.json"]

    telegram = FakeTelegram(TOKEN)
    again = Simulator(telegram, sim.twilio, state_file=sim.state_file)
    try:
        after = again.state()
        assert after["phones"] == before["phones"]
        old = before["transcripts"]["jae"][0]
        assert after["transcripts"]["jae"] == [dict(old, message_id=None)]
        assert after["transcripts"]["ana"] == before["transcripts"]["ana"]
        await telegram.send_text(100001, "hola")  # the phone is registered with the new fake
        assert telegram.pending_updates[0]["message"]["from"]["language_code"] == "es"
        newcomer = await again.add_phone("telegram", "Olena")
        assert newcomer.address == "100002"
        with pytest.raises(LookupError):
            # The old message is gone from the new fake: its buttons no longer work.
            await again.press("jae", old["message_id"], "yes")
    finally:
        await again.aclose()
        await telegram.aclose()


async def test_event_streams_end_when_the_simulator_closes(sim: Sim) -> None:
    async with EventStream(sim.client) as events:
        started = time.monotonic()
        await sim.simulator.aclose()
        async with asyncio.timeout(1):
            await events.ended.wait()
    assert time.monotonic() - started < 1
    assert (await sim.client.get("/sim/api/events")).status_code == 204
    stopping = time.monotonic()
    await sim.server.stop()
    assert time.monotonic() - stopping < 1.5


async def test_keep_alive_comments_flow_while_nothing_happens(sim: Sim) -> None:
    simulator = Simulator(sim.telegram, sim.twilio, keepalive_seconds=0.05)
    server = await serve(Starlette(routes=[Mount("/sim", routes=simulator.routes())]))
    try:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
            async with EventStream(client) as events:
                await asyncio.sleep(0.2)
            assert ": keep-alive" in events.comments
            # The browser went away: its queue is dropped.
            async with asyncio.timeout(2):
                while simulator._clients:  # noqa: ASYNC110 - no event marks the cleanup
                    await asyncio.sleep(0.01)
    finally:
        await simulator.aclose()
        await server.stop()


async def test_fake_listeners_see_sends_edits_and_texts_until_unsubscribed(sim: Sim) -> None:
    seen_telegram: list[SentMessage] = []
    seen_sms: list[Sms] = []
    stop_telegram = sim.telegram.add_listener(seen_telegram.append)
    stop_sms = sim.twilio.add_listener(seen_sms.append)
    sim.telegram.add_user(777)
    sent = await bot_send(sim, "sendMessage", chat_id="777", text="uno")
    await bot_send(
        sim, "editMessageText", chat_id="777", message_id=str(sent["message_id"]), text="dos"
    )
    await sim.twilio.text("+13125550166", "HOLA")
    stop_telegram()
    stop_sms()
    stop_sms()  # unsubscribing twice is harmless
    await bot_send(sim, "sendMessage", chat_id="777", text="tres")
    await sim.twilio.text("+13125550166", "OTRA")
    assert [(m.text, m.method) for m in seen_telegram] == [
        ("uno", "sendMessage"),
        ("dos", "editMessageText"),
    ]
    assert [s.body for s in seen_sms] == ["Recibido: HOLA", "Información: responde AYUDA"]
