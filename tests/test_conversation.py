"""The conversation as a table: who writes what, on which channel, and what the answer says.

No HTTP and no fakes: each script goes through the channel's own parser (`read_inbound` for
SMS, the command table and `parse_text` for Telegram) into `Conversation.handle` on a real
database, and the last answer is checked. The end-to-end tests over the fakes (test_sms,
test_telegram) stay beside these; this table is where a rule of the conversation is pinned
in one line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.app import Services, build_services
from bot.channels.sms.inbound import read_inbound
from bot.channels.telegram.handlers import COMMANDS, start_payload
from bot.core.content import TOPIC_KEYS
from bot.core.conversation import Inbound, Reply
from bot.core.intents import Request
from bot.core.keywords import parse_text
from bot.core.segments import count_segments
from bot.core.vocabulary import Channel, SubscriberStatus
from tests.conftest import make_settings

SMS, TELEGRAM = Channel.SMS, Channel.TELEGRAM
PHONE = "+13125550111"
CHAT = "777001"


@dataclass(frozen=True)
class Script:
    """Messages from one person; `press:N` taps the Nth button of the last answer."""

    name: str
    channel: Channel
    messages: list[str]
    says: list[str]  # every fragment is in the last answer
    never: list[str] = field(default_factory=list)  # no fragment is in it
    status: SubscriberStatus | None = None  # the person's stored status afterwards
    client_language: str | None = None
    silent: bool = False  # the last message gets no answer at all
    stored: bool | None = None  # whether the person is stored at all afterwards
    buttons: list[str] = field(default_factory=list)  # labels among the last answer's buttons
    gsm: bool = False  # the last SMS is GSM-7 throughout (160 characters a segment)


SCRIPTS = [
    # First contact, on SMS: a menu, never silence; sign-up names the zone and the carrier words.
    Script("sms: anything unknown gets the menu", SMS, ["hello"], ["JOIN", "RIGHTS", "HELP"]),
    Script(
        "sms: JOIN with a ZIP confirms zone, frequency, rates, HELP and STOP",
        SMS,
        ["JOIN 60629"],
        ["60629", "Chicago Lawn", "a few alerts a month", "Msg & data rates", "HELP", "STOP"],
        status=SubscriberStatus.ACTIVE,
    ),
    Script(
        "sms: a bare ZIP from a stranger says how to join, stores nothing",
        SMS,
        ["60629"],
        ["JOIN 60629"],
    ),
    Script(
        "sms: a ZIP outside the area names the area",
        SMS,
        ["90210"],
        ["90210", "outside the Chicago area"],
    ),
    # Rights on demand, subscribed or not, with numbered topics that fit SMS.
    Script(
        "sms: RIGHTS lists the numbered topics and the hotline",
        SMS,
        ["RIGHTS"],
        ["You can stay silent", "warrant signed by a judge", "1 At home", "6 Family", "Hotline"],
    ),
    Script(
        "sms: a topic's number after RIGHTS reads that topic",
        SMS,
        ["RIGHTS", "2"],
        ["On the street", "I do not consent to a search"],
    ),
    Script(
        "sms: DERECHOS answers in Spanish without signing up",
        SMS,
        ["DERECHOS"],
        ["derecho", "1-855-435-7693"],
        never=["You can stay silent"],
    ),
    # Language: a language's own name switches it; Spanish keywords answer in Spanish.
    Script("sms: a language's name switches", SMS, ["JOIN 60629", "ESPAÑOL"], ["Español"]),
    Script("sms: AYUDA is Spanish help", SMS, ["AYUDA"], ["Teléfono de ayuda", "STOP"]),
    # Consent: STOP confirms once, then silence; the record says opted out.
    # STOP is Twilio's: it blocks the number and answers itself; a reply of ours would fail.
    Script(
        "sms: STOP opts out and the bot adds nothing to Twilio's own answer",
        SMS,
        ["JOIN 60629", "STOP"],
        [],
        status=SubscriberStatus.OPTED_OUT,
        silent=True,
    ),
    Script(
        "sms: JOIN after STOP is no sign-up while Twilio blocks the number",
        SMS,
        ["JOIN 60608", "STOP", "JOIN 60608"],
        [],
        status=SubscriberStatus.OPTED_OUT,
        silent=True,
    ),
    Script(
        "sms: START after STOP lifts the block and signs up again",
        SMS,
        ["JOIN 60608", "STOP", "START"],
        ["Msg & data rates", "60608"],
        status=SubscriberStatus.ACTIVE,
    ),
    Script(
        "sms: BAJA (the bot's own opt-out) confirms and names START, not ALTA",
        SMS,
        ["ALTA 60623", "BAJA"],
        ["START", "baja"],
        never=["ALTA"],
        status=SubscriberStatus.OPTED_OUT,
    ),
    Script(
        "sms: JOIN with a ZIP outside the area stores nothing and names the area",
        SMS,
        ["JOIN 90210"],
        ["90210", "outside the Chicago area"],
        never=["Msg & data rates"],
        stored=False,
    ),
    Script(
        "sms: JOIN with something that is no ZIP stores nothing",
        SMS,
        ["JOIN 00000"],
        ["not a ZIP code"],
        stored=False,
    ),
    # First contact in the person's words.
    Script(
        "sms: a few words of Spanish get the menu in Spanish",
        SMS,
        ["Hola, necesito información por favor"],
        ["ALTA", "DERECHOS"],
        never=["Text JOIN"],
    ),
    Script(
        "sms: Hola alone is too little to tell: the menu in English and Spanish",
        SMS,
        ["Hola"],
        ["Text JOIN", "ALTA", "DERECHOS"],
        gsm=True,
    ),
    Script(
        "sms: a first message in Polish gets the menu in Polish and how to sign up in it",
        SMS,
        ["Dzień dobry, chcę dostawać powiadomienia"],
        ["JOIN 60629 POLSKI", "Polski"],
        never=["Text JOIN"],
        stored=False,
    ),
    Script(
        "sms: traditional Chinese is told from simplified",
        SMS,
        ["我們需要幫助，請告訴我怎麼做"],
        ["JOIN 60629 繁體中文"],
        stored=False,
    ),
    Script(
        "sms: Pashto is told by its own letters",
        SMS,
        ["سلام، زه غواړم خبرتیاوې ترلاسه کړم"],
        ["JOIN 60629", "پښتو"],
        stored=False,
    ),
    Script(
        "sms: a language the bot does not speak is no guess: English and Spanish",
        SMS,
        ["Bonjou mwen vle resevwa alèt yo"],
        ["Text JOIN", "ALTA"],
        gsm=True,
    ),
    Script(
        "sms: a ZIP inside a first Spanish message is offered, in Spanish",
        SMS,
        ["quiero recibir alertas, vivo en el 60623"],
        ["60623", "Little Village", "ALTA 60623"],
        stored=False,
    ),
    Script(
        "sms: a ZIP inside a first English message is offered",
        SMS,
        ["hi, I live in 60629 and want alerts"],
        ["Chicago Lawn", "Reply JOIN 60629"],
    ),
    Script(
        "sms: an emoji gets the menu in English and Spanish, in GSM-7",
        SMS,
        ["👋"],
        ["Text JOIN", "ALTA", "DERECHOS"],
        gsm=True,
    ),
    Script(
        "sms: one Arabic word is too little to tell: the menu in English and Spanish",
        SMS,
        ["مرحبا"],
        ["Text JOIN", "ALTA"],
        gsm=True,
    ),
    Script(
        "sms: a long message about agents and vans is taken as a report",
        SMS,
        ["I saw " + "two ICE vans and six agents stopping people at 26th and Pulaski. " * 25],
        ["Report #1 received"],
    ),
    Script(
        "sms: a long message about something else gets the menu",
        SMS,
        ["I would like to know more about what this service is and how it works. " * 4],
        ["JOIN", "RIGHTS"],
        never=["Report #"],
    ),
    Script(
        "sms: HELP names the hotline, rates and how to stop",
        SMS,
        ["HELP"],
        ["1-855-435-7693", "Msg & data rates", "STOP"],
    ),
    # Reports by SMS: one message is a report, with a number and no promise of an alert.
    Script(
        "sms: REPORT with text is received with its number",
        SMS,
        ["REPORT ICE van at 26th and Pulaski"],
        ["Report #1 received", "verify it before any alert", "YES"],
    ),
    Script(
        "sms: WORKSHOPS with none scheduled says so and gives the hotline",
        SMS,
        ["WORKSHOPS"],
        ["No workshops", "1-855-435-7693"],
    ),
    # Telegram: buttons instead of numbers, the app's language as a first guess.
    Script(
        "telegram: /start welcomes and offers the languages",
        TELEGRAM,
        ["/start"],
        ["Welcome", "/stop", "Choose your language"],
        status=SubscriberStatus.ACTIVE,
    ),
    Script(
        "telegram: /start from a Spanish app answers in Spanish",
        TELEGRAM,
        ["/start"],
        ["Le damos la bienvenida", "Elija su idioma"],
        never=["Welcome"],
        client_language="es",
    ),
    Script(
        "telegram: a rights topic button reads the topic",
        TELEGRAM,
        ["/rights", "press:0"],
        ["At home", "Do not open the door", "I-200"],
    ),
    Script(
        "telegram: a ZIP after /zone sets the zone with its names",
        TELEGRAM,
        ["/start", "/zone", "60629"],
        ["60629", "Chicago Lawn"],
    ),
    Script(
        "telegram: /report asks what is happening, every question skippable",
        TELEGRAM,
        ["/report"],
        ["What is happening?"],
    ),
    Script(
        "telegram: the report's second question is where, never a home address",
        TELEGRAM,
        ["/report", "agents stopping people"],
        ["Where?", "Not a home address"],
    ),
    Script(
        "telegram: Send now before saying anything asks once more",
        TELEGRAM,
        ["/report", "press:1"],
        ["needs at least what you see or where", "What is happening?"],
        buttons=["Skip", "Send now"],
    ),
    Script(
        "telegram: Send now twice on an empty report drops it, in words",
        TELEGRAM,
        ["/report", "press:1", "press:1"],
        ["Nothing was sent", "/report"],
    ),
    Script(
        "telegram: the fallback menu offers reporting and workshops by button",
        TELEGRAM,
        ["/start", "press:0", "hello"],
        ["What would you like to do?"],
        buttons=["Know your rights", "Report what I see", "Workshops", "Help"],
    ),
    Script(
        "telegram: /stop unsubscribes and says how to come back",
        TELEGRAM,
        ["/start", "/stop"],
        ["unsubscribed", "/start"],
        status=SubscriberStatus.OPTED_OUT,
    ),
    Script(
        "telegram: rights stay available after /stop",
        TELEGRAM,
        ["/start", "/stop", "/rights"],
        ["Know your rights"],
    ),
]


class Person:
    """One sender talking to the conversation through their channel's own parser."""

    def __init__(self, services: Services, channel: Channel, client_language: str | None):
        self.services = services
        self.channel = channel
        self.client_language = client_language
        self.last: list[Reply] = []

    def request(self, message: str) -> Request:
        content = self.services.content
        if message.startswith("press:"):
            return self.last[-1].choices[int(message.removeprefix("press:"))].request
        if self.channel is TELEGRAM and message.startswith("/"):
            name, *args = message[1:].split()
            if COMMANDS[name] is start_payload([], content).intent:
                return start_payload(args, content)
            return Request(COMMANDS[name], keyword=f"/{name}")
        names = {content.language_name(code): code for code in content.languages}
        return parse_text(message, names, len(TOPIC_KEYS))

    async def send(self, message: str) -> list[Reply]:
        if self.channel is SMS and not message.startswith("press:"):
            inbound = read_inbound({"From": PHONE, "Body": message}, self.services.content)
            assert inbound is not None
        else:
            inbound = Inbound(
                self.channel,
                CHAT,
                self.request(message),
                client_language=self.client_language,
                # A tapped button carries no text; a typed message does.
                text=None if message.startswith("press:") else message,
            )
        self.last = await self.services.conversation.handle(inbound)
        return self.last


@pytest.fixture
async def services(database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    built = build_services(make_settings(database_url, tmp_path))
    yield built
    await built.db.close()


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
async def test_the_conversation(services: Services, script: Script) -> None:
    person = Person(services, script.channel, script.client_language)
    for message in script.messages:
        await person.send(message)
    if script.silent:
        assert person.last == [], f"{script.name}: answered {len(person.last)} times"
    else:
        assert person.last, f"{script.name}: no answer"
    said = "\n".join(reply.text for reply in person.last)
    missing = [fragment for fragment in script.says if fragment not in said]
    assert not missing, f"{script.name}: {missing} not in:\n{said}"
    wrong = [fragment for fragment in script.never if fragment in said]
    assert not wrong, f"{script.name}: {wrong} in:\n{said}"
    if script.channel is SMS:
        # An SMS answer fits the budget the conversation promises (four segments).
        assert all(count_segments(reply.text).segments <= 4 for reply in person.last), said
    labels = [choice.label for reply in person.last for choice in reply.choices]
    assert all(label in labels for label in script.buttons), (script.name, labels)
    if script.gsm:
        assert all(count_segments(r.text).encoding == "GSM-7" for r in person.last), said
    address = PHONE if script.channel is SMS else CHAT
    subscriber = await services.directory.get(script.channel, address)
    if script.status is not None:
        assert subscriber is not None and subscriber.status is script.status
    if script.stored is not None:
        assert (subscriber is not None) is script.stored, script.name


async def test_an_opted_out_number_gets_no_answer_by_sms(services: Services) -> None:
    """After STOP the carrier rules allow one confirmation and then silence, whatever comes."""
    person = Person(services, SMS, None)
    await person.send("JOIN 60629")
    await person.send("STOP")
    for message in ("RIGHTS", "hello", "REPORT a van", "60629"):
        assert await person.send(message) == [], message
