"""`rrbot demo`: the real bot against the fake Telegram and Twilio servers, with the simulator.

Nothing here is special-cased in the bot: the fakes listen on loopback ports of their own,
the real PTB Application and twilio client talk to them over HTTP, and the simulator page
(served beside the bot's routes under /sim) types as people through the fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import httpx
import uvicorn
from rich.console import Console
from rich.markup import escape
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route

from bot import logs
from bot.app import build_services, build_upkeep, build_web, build_worker, uvicorn_config
from bot.core.alerts import AlertDraft, Alerts
from bot.core.audit import Actor
from bot.core.content import Content
from bot.core.coordinators import Coordinators
from bot.core.subscribers import SubscriberDirectory
from bot.core.vocabulary import AlertKind, Channel, Role
from bot.core.workshops import DEFAULT_MINUTES, WorkshopPlan, Workshops
from bot.settings import Settings, load_settings
from bot.sim.fake_telegram import FakeTelegram
from bot.sim.fake_twilio import FakeTwilio
from bot.sim.serve import RunningServer, serve
from bot.sim.simulator import Kind, Language, Lookup, Simulator, Standing
from bot.storage.crypto import dev_key
from bot.storage.migrate import upgrade

log = logging.getLogger(__name__)

# Fixed, fake credentials: they only ever meet the fake servers of this same process.
DEMO_TELEGRAM_TOKEN = "1000000001:DEMO-token-for-the-local-fake"  # noqa: S105
DEMO_TWILIO_SID = "AC" + "d" * 32
DEMO_TWILIO_TOKEN = "demo-auth-token-for-the-local-fake"  # noqa: S105
DEMO_NUMBER = "+13125550100"


@dataclass(frozen=True)
class Persona:
    """Someone the demo network starts with: who, on which channel, and what they first sent."""

    name: str
    kind: str  # "sms" or "telegram"
    language: str
    first_message: str
    role: str = "member"
    zip_code: str | None = None  # SMS: where they live, before the bot knows it


PERSONAS = (
    Persona("Ana", "sms", "es", "ALTA 60629", zip_code="60629"),
    Persona("Maria", "sms", "en", "JOIN 60608", zip_code="60608"),
    Persona("Luis", "telegram", "es", "/start es_60623"),
    Persona("Sam", "telegram", "en", "/start en_60632"),
    # The page marks a coordinator with a badge: the name stays a name.
    Persona("Rosa", "telegram", "en", "/status", role="coordinator"),
)


def demo_settings(
    data_dir: Path,
    port: int,
    telegram_url: str,
    twilio_url: str,
    data_key: str | None = None,
) -> Settings:
    key = {"DATA_KEY": data_key} if data_key is not None else {}
    return load_settings(
        {
            **key,
            "DATABASE_URL": f"sqlite:///{data_dir / 'bot.sqlite3'}",
            "VAR_DIR": str(data_dir),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "TELEGRAM_BOT_TOKEN": DEMO_TELEGRAM_TOKEN,
            "TELEGRAM_API_URL": telegram_url,
            "TWILIO_ACCOUNT_SID": DEMO_TWILIO_SID,
            "TWILIO_AUTH_TOKEN": DEMO_TWILIO_TOKEN,
            "TWILIO_FROM_NUMBER": DEMO_NUMBER,
            "TWILIO_API_URL": twilio_url,
            "LOG_LEVEL": "WARNING",
        }
    )


class FakeProviders:
    """The fake Telegram and Twilio servers, stopped after the channels that talk to them."""

    def __init__(
        self,
        telegram: FakeTelegram,
        twilio: FakeTwilio,
        servers: list[RunningServer],
        simulator: Simulator,
    ) -> None:
        self.telegram = telegram
        self.twilio = twilio
        self.servers = servers
        self.simulator = simulator

    async def start(self) -> None:
        """Already serving: they had to be up before the bot's settings could name them."""

    async def stop(self) -> None:
        await self.simulator.aclose()
        await self.telegram.aclose()
        await self.twilio.aclose()
        for server in self.servers:
            await server.stop()


class Greeter:
    """Once the bot answers, seeds the demo network on its first run and prints the URL."""

    def __init__(
        self,
        simulator: Simulator,
        coordinators: Coordinators,
        url: str,
        console: Console,
        workshops: Workshops | None = None,
        key_file: Path | None = None,
        alerts: Alerts | None = None,
    ) -> None:
        self.simulator = simulator
        self.coordinators = coordinators
        self.workshops = workshops
        self.alerts = alerts
        self.url = url
        self.console = console
        self.key_file = key_file
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._greet(), name="demo-greeter")

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _greet(self) -> None:
        await wait_until_healthy(self.url)
        if self.simulator.phones():
            # A state file from an earlier run: what the bot stores may have moved on since.
            self.simulator.refresh()
        else:
            await seed(self.simulator, self.coordinators, self.workshops, self.alerts)
        self.console.print(banner(f"{self.url}/sim", self.key_file))


def banner(url: str, key_file: Path | None) -> str:
    """What the demo prints once it answers: where to look, which key it uses, how to stop."""
    lines = [
        "",
        f"[bold]Rapid Response Bot demo[/] is running: open [bold cyan]{escape(url)}[/]",
        "Ctrl-C stops it; `make demo` keeps the data, `make demo-reset` starts over.",
        "",
    ]
    if key_file is not None:
        shown = escape(_shown(key_file))
        lines.insert(2, f"Uses a demo encryption key ({shown}); a real network sets DATA_KEY.")
    return "\n".join(lines)


def _shown(path: Path) -> str:
    """A path as short as it can be said: from the working directory when it is under it."""
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    return str(path)


def demo_key(data_dir: Path) -> str:
    """The demo's own key, kept beside its database; created quietly, since the banner says so.

    (Without DATA_KEY the bot makes a development key itself and warns, in a JSON log line
    meant for a server's operator, that production needs one: not news in a demo.)
    """
    crypto = logging.getLogger("bot.storage.crypto")
    was_disabled = crypto.disabled
    crypto.disabled = True
    try:
        return dev_key(data_dir)
    finally:
        crypto.disabled = was_disabled


class DemoServer(uvicorn.Server):
    """uvicorn waits for open responses before the lifespan shutdown: end the page's live
    event streams first, or Ctrl-C hangs until the graceful-shutdown timeout."""

    def __init__(self, config: uvicorn.Config, simulator: Simulator) -> None:
        super().__init__(config)
        self.simulator = simulator

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.simulator.aclose()
        await super().shutdown(sockets)


async def wait_until_healthy(url: str, within: float = 30.0) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        async with asyncio.timeout(within):
            while True:
                try:
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)


async def seed(
    simulator: Simulator,
    coordinators: Coordinators,
    workshops: Workshops | None = None,
    alerts: Alerts | None = None,
) -> None:
    """The demo network's people sign up the way anyone would: by messaging the bot.

    The coordinator persona is made an admin the way an operator would, and a workshop is
    scheduled two Saturdays ahead, as an operator would from the server. Last, a
    rumor-control notice goes to Uptown (60640), where none of the people lives: a newcomer
    who texts `VERIFY 60640` sees how rumor control answers; and a drill with a check-in goes
    to everyone, so each phone shows what a drill looks like and can answer 1 or 2.
    """
    if workshops is not None:
        local = datetime.now(workshops.timezone)
        saturday = local.date() + timedelta(days=(5 - local.weekday()) % 7 + 7)
        await workshops.add(
            WorkshopPlan(
                titles={
                    "en": "Know your rights at home and at work",
                    "es": "Conozca sus derechos en casa y en el trabajo",
                },
                starts_at=datetime.combine(saturday, time(10), tzinfo=workshops.timezone),
                minutes=DEFAULT_MINUTES,
                place="Gage Park library, 2807 W 55th St",
                languages=("es", "en"),
                zones=("all",),
                capacity=40,
            ),
            Actor.operator(),
        )
    for persona in PERSONAS:
        phone = await simulator.add_phone(
            persona.kind,  # type: ignore[arg-type]
            persona.name,
            language=persona.language,
            role=persona.role,
            zip_code=persona.zip_code,
        )
        if persona.role == "coordinator":
            await coordinators.add(int(phone.address), Role.ADMIN, persona.name, Actor.operator())
        await simulator.send(phone.id, persona.first_message)
    if alerts is not None:
        await alerts.send_now(
            AlertDraft(
                AlertKind.RUMOR,
                ("60640",),
                {
                    "en": "A post about a raid at the Broadway and Lawrence school is false. "
                    "No enforcement was seen there.",
                    "es": "Una publicación sobre una redada en la escuela de Broadway y Lawrence "
                    "es falsa. No se vio ninguna operación allí.",
                },
                expires_in=timedelta(hours=24),
            ),
            Actor.operator(),
        )
        await alerts.send_now(
            AlertDraft(
                AlertKind.ALERT,
                ("all",),
                {
                    "en": "This is the demo network's monthly test of its alerts.",
                    "es": "Esta es la prueba mensual de las alertas de la red de demostración.",
                },
                expires_in=timedelta(hours=24),
                check_in=True,
                drill=True,
            ),
            Actor.operator(),
        )


def standing_in(directory: SubscriberDirectory) -> Lookup:
    """The simulator's lookup: what the bot stores about the subscriber at a phone's address."""

    async def lookup(kind: Kind, address: str) -> Standing | None:
        subscriber = await directory.get(Channel(kind), address)
        if subscriber is None:
            return None
        return Standing(subscriber.language, subscriber.zone, str(subscriber.status))

    return lookup


def languages_of(content: Content) -> list[Language]:
    """The simulator's phone set-up offers every language the bot speaks, by its own name."""
    return [
        Language(code, content.language_name(code), "rtl" if content.is_rtl(code) else "ltr")
        for code in content.languages
    ]


async def run_demo(data_dir: Path, port: int, console: Console, data_key: str) -> None:
    telegram = FakeTelegram(DEMO_TELEGRAM_TOKEN)
    twilio = FakeTwilio(DEMO_TWILIO_SID, DEMO_TWILIO_TOKEN, phone_number=DEMO_NUMBER)
    telegram_server = await serve(telegram.app)
    twilio_server = await serve(twilio.app)
    settings = demo_settings(data_dir, port, telegram_server.url, twilio_server.url, data_key)
    twilio.webhook_url = settings.public("/twilio/sms")
    twilio.voice_url = settings.public("/twilio/voice")  # an SMS phone's "Call" button
    twilio.voice_status_url = settings.public("/twilio/voice/status")
    services = build_services(settings)
    simulator = Simulator(
        telegram,
        twilio,
        state_file=data_dir / "simulator.json",
        lookup=standing_in(services.directory),
        languages=languages_of(services.content),
    )
    providers = FakeProviders(telegram, twilio, [telegram_server, twilio_server], simulator)
    public = settings.public("")
    web = build_web(
        services,
        extra_routes=[
            Route("/", lambda _: RedirectResponse("/sim/"), methods=["GET"]),
            Route("/sim", lambda _: RedirectResponse("/sim/"), methods=["GET"]),
            Mount("/sim", routes=simulator.routes()),
        ],
        underneath=[providers],
        on_top=[
            build_worker(services),
            build_upkeep(services),
            Greeter(
                simulator,
                services.coordinators,
                public,
                console,
                services.workshops,
                key_file=data_dir / "data.key",
                alerts=services.alerts,
            ),
        ],
    )
    server = DemoServer(uvicorn_config(web, settings), simulator)
    await server.serve()


def demo(data_dir: Path, port: int, *, reset: bool = False) -> None:
    """Run the demo until Ctrl-C; `reset` starts from an empty network."""
    # Soft wrap: a narrow terminal folds a long line itself, rich does not break it mid-phrase.
    console = Console(soft_wrap=True)
    if reset and data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    logs.configure("WARNING")
    data_key = demo_key(data_dir)
    upgrade(
        demo_settings(
            data_dir, port, "http://127.0.0.1:9", "http://127.0.0.1:9", data_key
        ).async_database_url
    )
    # uvicorn stops everything in order on Ctrl-C, then re-raises it: that is our exit.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(data_dir, port, console, data_key))
    console.print("demo stopped")
