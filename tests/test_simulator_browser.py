"""The demo as a newcomer meets it: `rrbot demo`, then the simulator in a real browser.

Drives Debian's chromium with Playwright. Where chromium is missing the tests say exactly
what to install; in CI (CI=true) that is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import icalendar
import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from bot.core.content import load_content
from tests.processes import free_port, spawn, wait_healthy

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PERSONAS = 5  # seeded by the demo on its first run


def require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = "browser tests need Debian's chromium: run `make install` as root, or `sudo apt-get install chromium`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PTB_TIMEDELTA": "true"}
    for name in list(env):
        if name.startswith(("TELEGRAM_", "TWILIO_", "DATABASE_URL", "DATA_KEY")):
            del env[name]
    log = (tmp_path / "demo.log").open("wb")
    process = await spawn(["demo", "--port", str(port), "--data", str(tmp_path / "demo")], env, log)
    try:
        await wait_healthy(process, url, within=60)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 20)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            log.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


async def add_phone(page: Page, kind: str, name: str, language: str = "en") -> str:
    form = page.get_by_test_id("add-phone")
    await form.get_by_test_id("phone-kind").select_option(kind)
    await form.get_by_test_id("phone-name").fill(name)
    await form.get_by_test_id("phone-language").select_option(language)
    await form.get_by_test_id("add-phone-submit").click()
    phone = phone_named(page, name)
    await expect(phone).to_have_count(1)
    return str(await phone.get_attribute("data-phone-id"))


def phone_named(page: Page, name: str) -> Locator:
    """The phone whose title is exactly `name`. (`filter(has_text=...)` matches any text in the
    card, case-insensitively: "Ana" also matched Luis's phone, whose Spanish messages say
    "semana", and the alert seemed to arrive twice.)"""
    title = page.locator(".phone-name", has_text=re.compile(f"^{re.escape(name)}$"))
    return page.get_by_test_id("phone").filter(has=title)


async def type_as(page: Page, phone_id: str, text: str) -> None:
    composer = page.locator(f'[data-phone-id="{phone_id}"] [data-testid="composer"]')
    await composer.fill(text)
    await composer.press("Enter")


def bot_bubbles(page: Page, phone_id: str):  # type: ignore[no-untyped-def]
    return page.locator(
        f'[data-phone-id="{phone_id}"] [data-testid="bubble"][data-direction="out"]'
    )


async def test_a_newcomer_signs_up_by_sms_and_on_telegram_in_spanish(
    demo: str, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{demo}/sim")
    # The demo network's people are there, and already answered by the bot.
    await expect(page.get_by_test_id("phone")).to_have_count(PERSONAS, timeout=15_000)

    sms = await add_phone(page, "sms", "Newcomer SMS")
    await type_as(page, sms, "JOIN 60629")
    confirmation = bot_bubbles(page, sms).first
    await expect(confirmation).to_contain_text("Msg & data rates may apply", timeout=10_000)
    await expect(confirmation.get_by_test_id("segments")).to_contain_text("GSM-7")
    # The demo network has a workshop scheduled: a newcomer can find it and save a seat.
    await type_as(page, sms, "WORKSHOPS")
    listing = bot_bubbles(page, sms).filter(has_text="1. Know your rights at home and at work")
    await expect(listing).to_have_count(1, timeout=10_000)
    await type_as(page, sms, "RSVP 1")
    await expect(bot_bubbles(page, sms).filter(has_text="See you at")).to_have_count(
        1, timeout=10_000
    )
    # The demo seeds a rumor-control notice for Uptown: "is it true?" shows it.
    await type_as(page, sms, "VERIFY 60640")
    checked = bot_bubbles(page, sms).filter(has_text="No confirmed activity near 60640")
    await expect(checked).to_contain_text("RUMOR CONTROL #1", timeout=10_000)

    telegram = await add_phone(page, "telegram", "Newcomer Telegram")
    await type_as(page, telegram, "/start")
    welcome = bot_bubbles(page, telegram).first
    await expect(welcome).to_contain_text("/stop", timeout=10_000)
    await welcome.get_by_test_id("inline-button").filter(has_text="Español").click()
    await expect(bot_bubbles(page, telegram).filter(has_text="Idioma elegido")).to_have_count(
        1, timeout=10_000
    )
    await type_as(page, telegram, "/rights")
    rights = bot_bubbles(page, telegram).filter(has_text="Conozca sus derechos")
    await expect(rights.get_by_test_id("inline-button").filter(has_text="En casa")).to_have_count(
        1, timeout=10_000
    )

    ARTIFACTS.mkdir(exist_ok=True)
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(ARTIFACTS / "simulator-newcomers.png"))


async def test_sms_segments_show_gsm7_spanish_and_what_forced_ucs2(
    demo: str, browser: Browser
) -> None:
    page = await browser.new_page()
    await page.goto(f"{demo}/sim")
    sms = await add_phone(page, "sms", "Texto")
    await type_as(page, sms, "ALTA 60629")
    await expect(bot_bubbles(page, sms).first).to_be_visible(timeout=10_000)
    # The bot's Spanish goes by SMS without accents: GSM-7, 153 characters a segment.
    await type_as(page, sms, "no entiendo")
    menu = bot_bubbles(page, sms).last
    await expect(menu.get_by_test_id("segments")).to_contain_text("GSM-7", timeout=10_000)
    # Russian cannot: the segments say UCS-2 and which letters forced it.
    await type_as(page, sms, "РУССКИЙ")
    await expect(bot_bubbles(page, sms).last).to_contain_text("Русский", timeout=10_000)
    await type_as(page, sms, "RIGHTS")
    topics = bot_bubbles(page, sms).last
    await expect(topics).to_contain_text("12 ", timeout=10_000)
    await expect(topics.get_by_test_id("segments")).to_contain_text("UCS-2")
    await expect(topics.get_by_test_id("segments")).to_contain_text("Д")


async def test_phone_width_keyboard_only_and_in_spanish(demo: str, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 375, "height": 740})
    await page.goto(f"{demo}/sim")
    await expect(page.get_by_test_id("phone")).to_have_count(PERSONAS, timeout=15_000)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375

    await page.get_by_test_id("ui-lang-es").click()
    assert await page.evaluate("document.documentElement.lang") == "es"

    # Keyboard alone: fill the form and submit with Enter, then write from the new phone.
    await page.get_by_test_id("phone-name").focus()
    await page.keyboard.type("Teclado")
    await page.keyboard.press("Enter")
    phone = page.get_by_test_id("phone").filter(has_text="Teclado")
    await expect(phone).to_have_count(1)
    composer = phone.get_by_test_id("composer")
    await composer.focus()
    await page.keyboard.type("RIGHTS")
    await page.keyboard.press("Enter")
    await expect(
        phone.locator('[data-testid="bubble"][data-direction="out"]').first
    ).to_contain_text("1-855-435-7693", timeout=10_000)


async def test_the_coordinator_phone_sends_an_alert_that_reaches_the_zone(
    demo: str, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{demo}/sim")
    await expect(page.get_by_test_id("phone")).to_have_count(PERSONAS, timeout=15_000)
    rosa = page.get_by_test_id("phone").filter(has_text="Rosa")
    await expect(rosa.get_by_test_id("coordinator-badge")).to_have_count(1)
    rosa_id = str(await rosa.get_attribute("data-phone-id"))

    async def answer(count: int) -> None:
        await expect(bot_bubbles(page, rosa_id)).to_have_count(count, timeout=10_000)

    await answer(1)  # the seeded /status
    await type_as(page, rosa_id, "/alert")
    await answer(2)
    await (
        bot_bubbles(page, rosa_id)
        .last.get_by_test_id("inline-button")
        .filter(has_text="Alert")
        .click()
    )
    await answer(3)
    await type_as(page, rosa_id, "60629, 60623")
    await answer(4)
    await type_as(page, rosa_id, "Agents at 26th and Pulaski. Stay inside.")
    await answer(5)
    await type_as(page, rosa_id, "Agentes en la 26 y Pulaski. Quédese adentro.")
    await answer(6)
    await (
        bot_bubbles(page, rosa_id)
        .last.get_by_test_id("inline-button")
        .filter(has_text="4 hours")
        .click()
    )
    await answer(7)
    await expect(bot_bubbles(page, rosa_id).last).to_contain_text(
        "Preview of #3"
    )  # #1 and #2: the seeded rumor-control notice and drill
    await (
        bot_bubbles(page, rosa_id)
        .last.get_by_test_id("inline-button")
        .filter(has_text="Send now")
        .click()
    )

    # Ana (SMS, Spanish, 60629) and Luis (Telegram, Spanish, 60623) get it; Sam (60632) does not.
    # Everyone got the seeded drill first: it begins with the drill line, in Spanish too.
    for name in ("Ana", "Luis"):
        bubbles = phone_named(page, name).locator('[data-testid="bubble"][data-direction="out"]')
        await expect(
            bubbles.filter(has_text="ALERTA VERIFICADA").filter(has_text="Pulaski")
        ).to_have_count(1, timeout=15_000)
        await expect(bubbles.filter(has_text="SIMULACRO")).to_have_count(1)
    sam = phone_named(page, "Sam")
    await expect(sam.locator('[data-testid="bubble"]').filter(has_text="Pulaski")).to_have_count(0)
    # Once every delivery has ended, Rosa gets the summary with the delivery chart, shown.
    chart = rosa.get_by_test_id("photo")
    await expect(chart).to_have_count(1, timeout=15_000)
    assert await chart.evaluate("img => img.complete && img.naturalWidth > 100")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(ARTIFACTS / "simulator-alert.png"))


ARABIC = re.compile(r"[\u0600-\u06ff]")


async def direction(locator: Locator) -> str:
    return str(await locator.evaluate("e => getComputedStyle(e).direction"))


async def test_every_language_is_offered_and_an_arabic_phone_reads_right_to_left(
    demo: str, browser: Browser, tmp_path: Path
) -> None:
    content = load_content(ROOT / "config")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{demo}/sim")
    await expect(page.get_by_test_id("phone")).to_have_count(PERSONAS, timeout=15_000)

    # The set-up offers every language the bot speaks, each by its own name.
    select = page.get_by_test_id("add-phone").get_by_test_id("phone-language")
    await expect(select.locator("option")).to_have_count(len(content.languages))
    for code in content.languages:
        option = select.locator(f'option[value="{code}"]')
        await expect(option).to_have_text(content.language_name(code))
        assert await option.get_attribute("dir") == ("rtl" if content.is_rtl(code) else "ltr")

    sms = await add_phone(page, "sms", "Layla", language="ar")
    phone = page.locator(f'[data-phone-id="{sms}"]')
    header = phone.get_by_test_id("phone-language")
    await expect(header).to_have_text(content.language_name("ar"))
    # She joins (the bot answers in English), texts her language's own name to choose it,
    # then its word for RIGHTS, typed right to left.
    await type_as(page, sms, "JOIN 60629")
    await expect(bot_bubbles(page, sms)).to_have_count(1, timeout=10_000)
    await type_as(page, sms, content.language_name("ar"))
    await expect(bot_bubbles(page, sms)).to_have_count(2, timeout=10_000)
    composer = phone.get_by_test_id("composer")
    await composer.fill("حقوق")
    assert await direction(composer) == "rtl"
    await composer.press("Enter")
    summary = " ".join(content.rights_in("ar").summary_sms.split()[:2])
    rights = bot_bubbles(page, sms).filter(has_text=summary)
    await expect(rights).to_have_count(1, timeout=10_000)
    text = rights.get_by_test_id("bubble-text")
    assert ARABIC.search(await text.inner_text())
    # The log is re-rendered as messages come: assertions that retry, not one reading.
    await expect(text).to_have_css("direction", "rtl")
    mine = phone.locator('[data-testid="bubble"][data-direction="in"]').last
    await expect(mine.get_by_test_id("bubble-text")).to_have_css("direction", "rtl")
    # Each message takes its own direction: the English welcome still reads left to right.
    welcome = bot_bubbles(page, sms).first
    await expect(welcome).to_contain_text("60629")
    await expect(welcome.get_by_test_id("bubble-text")).to_have_css("direction", "ltr")
    # Once the bot stores her language, the phone reads as an Arabic phone does; the
    # simulator's own notes (times, segments) stay in the simulator's language.
    await expect(header).to_have_text(content.language_name("ar"), timeout=10_000)
    await expect(phone.get_by_test_id("conversation")).to_have_css("direction", "rtl")
    await expect(rights.get_by_test_id("segments")).to_have_css("direction", "ltr")
    await expect(rights.get_by_test_id("segments")).to_contain_text("UCS-2")

    picture = tmp_path / "arabic-phone.png"
    await phone.screenshot(path=str(picture))
    assert picture.stat().st_size > 10_000
    assert picture.read_bytes().startswith(b"\x89PNG")


async def test_a_workshop_rsvp_on_telegram_downloads_its_calendar_file(
    demo: str, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    await page.goto(f"{demo}/sim")
    # The seeded people are there, so the seeded workshop is too (it is scheduled first).
    await expect(page.get_by_test_id("phone")).to_have_count(PERSONAS, timeout=15_000)
    phone = await add_phone(page, "telegram", "Calendario")
    await type_as(page, phone, "/start")
    welcome = bot_bubbles(page, phone).first
    await expect(welcome).to_contain_text("/stop", timeout=10_000)
    await welcome.get_by_test_id("inline-button").filter(has_text="English").click()
    await expect(bot_bubbles(page, phone).filter(has_text="Language set")).to_have_count(
        1, timeout=10_000
    )

    await type_as(page, phone, "/workshops")
    listing = bot_bubbles(page, phone).filter(has_text="Know your rights at home and at work")
    await expect(listing).to_have_count(1, timeout=10_000)
    await listing.get_by_test_id("inline-button").filter(has_text="I'm coming to 1").click()
    link = page.locator(f'[data-phone-id="{phone}"] [data-testid="document-link"]')
    await expect(link).to_have_count(1, timeout=10_000)
    await expect(link).to_have_text(re.compile(r"workshop-\d+\.ics"))

    async with page.expect_download() as waiting:
        await link.click()
    download = await waiting.value
    assert re.fullmatch(r"workshop-\d+\.ics", download.suggested_filename)
    saved = Path(await download.path())
    calendar = icalendar.Calendar.from_ical(await asyncio.to_thread(saved.read_bytes))
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    assert str(events[0]["SUMMARY"]) == "Know your rights at home and at work"
    assert events[0].decoded("DTSTART") > datetime.now(UTC)

    # The file is served as a calendar, and only the files the bot sent that phone.
    async with httpx.AsyncClient(trust_env=False) as client:
        served = await client.get(str(await link.get_attribute("href")))
        assert served.headers["content-type"].startswith("text/calendar")
        assert served.headers["content-disposition"].startswith("attachment;")
        message_id = str(served.url).rsplit("/", 1)[1]
        for other in (f"{phone}/documents/{int(message_id) + 1000}", f"ana/documents/{message_id}"):
            assert (await client.get(f"{demo}/sim/api/phones/{other}")).status_code == 404

    # Telegram never names an SMS keyword: the RSVP is cancelled by its button.
    seat = bot_bubbles(page, phone).filter(has_text="See you at")
    await expect(seat).not_to_contain_text("RSVP NO")
    await seat.get_by_test_id("inline-button").filter(has_text="I can't come").click()
    await expect(bot_bubbles(page, phone).filter(has_text="you are not coming")).to_have_count(
        1, timeout=10_000
    )
    await type_as(page, phone, "/workshops")
    listings = bot_bubbles(page, phone).filter(has_text="Next know-your-rights workshops")
    await expect(listings).to_have_count(2, timeout=10_000)
    await expect(
        listings.last.get_by_test_id("inline-button").filter(has_text="I'm coming to 1")
    ).to_have_count(1)


async def test_the_header_and_suggestions_follow_what_the_bot_stores(
    demo: str, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{demo}/sim")
    await expect(page.get_by_test_id("phone")).to_have_count(PERSONAS, timeout=15_000)

    def header(phone_id: str, part: str) -> Locator:
        return page.locator(f'[data-phone-id="{phone_id}"] [data-testid="phone-{part}"]')

    def chips(phone_id: str) -> Locator:
        return page.locator(f'[data-phone-id="{phone_id}"] [data-testid="chip"]')

    # An SMS phone added with a ZIP suggests joining there, in the language it was added with.
    form = page.get_by_test_id("add-phone")
    await form.get_by_test_id("phone-kind").select_option("sms")
    await form.get_by_test_id("phone-zip").fill("60608")
    carmen = await add_phone(page, "sms", "Carmen")
    await expect(chips(carmen)).to_have_text(
        ["JOIN 60608", "RIGHTS", "WORKSHOPS", "HELP", "STOP", "ESPAÑOL"]
    )
    await chips(carmen).first.click()
    await expect(bot_bubbles(page, carmen)).to_have_count(1, timeout=10_000)
    await expect(header(carmen, "language")).to_have_text("English")
    await expect(header(carmen, "zone")).to_contain_text("60608", timeout=10_000)

    # She texts the Spanish name: the bot now answers her in Spanish, and the page says so.
    await type_as(page, carmen, "ESPAÑOL")
    await expect(bot_bubbles(page, carmen)).to_have_count(2, timeout=10_000)
    await expect(header(carmen, "language")).to_have_text("Español", timeout=10_000)
    await expect(chips(carmen)).to_have_text(
        ["ALTA 60608", "DERECHOS", "TALLERES", "AYUDA", "BAJA", "ENGLISH"]
    )
    # Her new zone follows too.
    await type_as(page, carmen, "60623")
    await expect(header(carmen, "zone")).to_contain_text("60623", timeout=10_000)
    await expect(chips(carmen).first).to_have_text("ALTA 60623")
    # And her STOP.
    await chips(carmen).filter(has_text="BAJA").click()
    await expect(header(carmen, "standing")).to_have_text(re.compile(r"\S"), timeout=10_000)
    assert await header(carmen, "standing").get_attribute("data-status") == "opted_out"

    # A Telegram phone added in English that chooses Español.
    pablo = await add_phone(page, "telegram", "Pablo")
    await type_as(page, pablo, "/start")
    welcome = bot_bubbles(page, pablo).first
    await expect(welcome).to_contain_text("/stop", timeout=10_000)
    await expect(header(pablo, "language")).to_have_text("English")
    await welcome.get_by_test_id("inline-button").filter(has_text="Español").click()
    await expect(header(pablo, "language")).to_have_text("Español", timeout=10_000)

    # The seeded: Maria's suggestions name her zone; the coordinator's are her commands.
    maria = str(await phone_named(page, "Maria").get_attribute("data-phone-id"))
    await expect(chips(maria).first).to_have_text("JOIN 60608")
    await expect(header(maria, "zone")).to_contain_text("60608")
    rosa = phone_named(page, "Rosa")
    await expect(rosa).to_have_count(1)
    await expect(rosa.get_by_test_id("coordinator-badge")).to_be_visible()
    await expect(rosa.get_by_test_id("chip")).to_have_text(
        ["/alert", "/reports", "/status", "/duty", "/workshop", "/coordinators", "/cancel"]
    )
    await rosa.get_by_test_id("chip").filter(has_text="/duty").click()
    rosa_id = str(await rosa.get_attribute("data-phone-id"))
    await expect(bot_bubbles(page, rosa_id)).to_have_count(2, timeout=10_000)


async def test_the_first_screen_shows_sms_telegram_and_the_coordinator(
    demo: str, browser: Browser
) -> None:
    """Also the README's picture: test-artifacts/simulator.png becomes docs/simulator.png."""
    page = await browser.new_page(viewport={"width": 1760, "height": 1000})
    await page.goto(f"{demo}/sim")
    await expect(page.get_by_test_id("phone")).to_have_count(PERSONAS, timeout=15_000)
    for phone in await page.get_by_test_id("phone").all():
        await expect(
            phone.locator('[data-testid="bubble"][data-direction="out"]')
        ).not_to_have_count(0, timeout=15_000)
    for name in ("Ana", "Luis", "Rosa"):
        await expect(phone_named(page, name)).to_be_in_viewport()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(ARTIFACTS / "simulator.png"))


async def test_an_sms_phone_calls_the_hotline_and_hears_its_rights_in_spanish(
    demo: str, browser: Browser
) -> None:
    content = load_content(ROOT / "config")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{demo}/sim")
    await expect(page.get_by_test_id("phone")).to_have_count(PERSONAS, timeout=15_000)
    caller = await add_phone(page, "sms", "Caller")
    phone = page.locator(f'[data-phone-id="{caller}"]')
    panel = phone.get_by_test_id("call-panel")
    await expect(panel).to_be_hidden()

    # The call takes the place of the messages; the bot's first words are the language menu.
    await phone.get_by_test_id("call-button").click()
    await expect(panel).to_be_visible()
    await expect(phone.get_by_test_id("composer")).to_be_hidden()
    lines = panel.get_by_test_id("call-line")
    english = lines.filter(has_text="For English, press 1.")
    await expect(english).to_have_count(1, timeout=10_000)
    await expect(english).to_have_attribute("lang", "en-US")
    await expect(english).to_have_attribute("dir", "auto")
    await expect(panel).to_have_attribute("data-state", "keys")

    # 2: the main menu in Spanish, said in Spanish.
    two = panel.locator('[data-testid="key"][data-key="2"]')
    await two.click()
    menu = lines.filter(has_text="Para conocer sus derechos, oprima 1")
    await expect(menu).to_have_count(1, timeout=10_000)
    await expect(menu).to_have_attribute("lang", "es-MX")

    # 1, typed on the keyboard while the keypad has the focus: the rights, read aloud.
    await expect(two).to_be_focused()
    await page.keyboard.press("1")
    first_words = " ".join(content.rights["es"].summary_sms.split()[:6])
    rights = lines.filter(has_text=first_words)
    await expect(rights).to_have_count(1, timeout=10_000)
    await expect(rights).to_have_attribute("lang", "es-MX")
    address = await phone.get_by_test_id("phone-address").inner_text()
    heard = await panel.inner_text()
    shows_the_number = address in heard or re.sub(r"\D", "", address) in re.sub(r"\s", "", heard)
    assert not shows_the_number, "the call panel shows the caller's number"

    await panel.get_by_test_id("call-hang-up").click()
    await expect(panel).to_have_attribute("data-state", "ended")
    await expect(panel.get_by_test_id("call-status")).to_have_text("Call ended")
    ended = panel.locator('[data-testid="call-event"][data-kind="hangup"]')
    await expect(ended).to_contain_text("Call ended")
    await expect(panel.get_by_test_id("keypad")).to_be_hidden()

    # Back to the messages; the phone can call again.
    await panel.get_by_test_id("call-close").click()
    await expect(panel).to_be_hidden()
    await expect(phone.get_by_test_id("composer")).to_be_visible()
    await expect(phone.get_by_test_id("call-button")).to_be_enabled()
