"""Every language the config carries, end to end over the fakes: chosen by its SMS keywords
and by its Telegram button, its rights summary and every topic in it, and an alert that
reaches a subscriber of each language in their own words. Adding a language file adds it to
every test here."""

from __future__ import annotations

import asyncio
import shutil
from datetime import time
from pathlib import Path

import pytest

from bot.core.alerts import AlertDraft
from bot.core.audit import Actor
from bot.core.content import DEFAULT_LANGUAGE, TOPIC_KEYS, ContentError, load_content
from bot.core.intents import Intent
from bot.core.keywords import parse_text
from bot.core.parse import ParseError, clock
from bot.core.segments import count_segments, gsm_fold
from bot.core.templates import fill
from bot.core.text import LRI, PDI
from bot.core.vocabulary import AlertKind, Channel, SubscriberStatus
from bot.settings import PROJECT_ROOT
from tests.conftest import Bot, Worker
from tests.support import buttons, press, say
from tests.test_alerts import finished

# Languages are words and rendering above the storage, which the other tests cover on
# PostgreSQL: run once, on SQLite.
pytestmark = pytest.mark.once

CONTENT = load_content(PROJECT_ROOT / "config")
OTHERS = [code for code in CONTENT.languages if code != DEFAULT_LANGUAGE]


def phone(i: int) -> str:
    return f"+1312555{2000 + i:04d}"


async def sms(bot: Bot, number: str, body: str) -> list[str]:
    result = await bot.twilio.text(number, body)
    assert result.status == 200
    return result.replies


async def test_every_language_by_sms_keyword_with_its_rights_and_every_topic(bot: Bot) -> None:
    for i, code in enumerate(OTHERS):
        rights, number = CONTENT.rights[code], phone(i)
        # "JOIN 60629 POLSKI": the sign-up and the language in one message.
        [confirmation, *_] = await sms(bot, number, f"JOIN 60629 {rights.keywords[0]}")
        # The carrier confirmation, in the language, still names the carriers' words.
        helps = ("HELP", *rights.words.get("help", ()))
        assert "STOP" in confirmation and any(w in confirmation for w in helps), code
        row = await bot.services.directory.get(Channel.SMS, number)
        assert row is not None, code
        assert (row.language, row.zone, row.status) == (code, "60629", SubscriberStatus.ACTIVE)
        # Every keyword and the own name switch to it at any time, from any language.
        for word in (*rights.keywords, rights.name):
            await sms(bot, number, "ENGLISH")
            assert (await bot.services.directory.get(Channel.SMS, number)).language == "en"  # type: ignore[union-attr]
            await sms(bot, number, word)
            row = await bot.services.directory.get(Channel.SMS, number)
            assert row is not None and row.language == code, (code, word)
        texts = CONTENT.sms_rights(code)
        assert await sms(bot, number, "RIGHTS") == [texts["summary"], texts["menu"]], code
        own_word = rights.words["rights"][0]
        assert (await sms(bot, number, own_word))[0] == texts["summary"], (code, own_word)
        for n, key in enumerate(TOPIC_KEYS, start=1):
            assert await sms(bot, number, str(n)) == [texts[key]], (code, key)


async def test_every_language_by_telegram_button_with_its_rights(bot: Bot) -> None:
    user = 31000
    bot.telegram.add_user(user, language_code="en")
    await say(bot, user, "/start")
    for code in OTHERS:
        rights = CONTENT.rights[code]
        [menu] = await say(bot, user, "/language")
        names = buttons(menu)
        assert set(names) == {CONTENT.language_name(c) for c in CONTENT.languages}
        assert len(menu.reply_markup["inline_keyboard"]) <= 6  # type: ignore[index]
        await press(bot, user, menu, rights.name)
        row = await bot.services.directory.get(Channel.TELEGRAM, str(user))
        assert row is not None and row.language == code, code
        [summary] = await say(bot, user, "/rights")
        first_line = rights.summary_telegram.splitlines()[0]
        assert CONTENT.directed(code, first_line) in summary.text, code
        assert list(buttons(summary)) == [CONTENT.topic(code, k).title for k in TOPIC_KEYS]


async def test_telegram_language_code_preselects_the_language_at_start(bot: Bot) -> None:
    cases = {"es-MX": "es", "pl": "pl", "zh-TW": "zh-Hant", "zh-hans": "zh-Hans", "fa": "fa-AF"}
    cases |= {"pt-BR": "pt", "prs": "fa-AF", "yue": "zh-Hant", "fil": "tl", "xx": "en"}
    present = {tag: code for tag, code in cases.items() if code in CONTENT.rights}
    for tag, code in present.items():
        assert CONTENT.supported(tag) == code, tag
    user = 32000
    tag, code = [(t, c) for t, c in present.items() if c != "en"][-1]
    bot.telegram.add_user(user, language_code=tag)
    await say(bot, user, "/start 60629")
    row = await bot.services.directory.get(Channel.TELEGRAM, str(user))
    assert row is not None and row.language == code


def test_each_languages_own_words_and_multiword_names_parse() -> None:
    def parse(body: str):  # type: ignore[no-untyped-def]
        return parse_text(body, CONTENT.language_names, len(TOPIC_KEYS), CONTENT.language_words)

    for code in OTHERS:
        rights = CONTENT.rights[code]
        for word in rights.keywords:
            request = parse(f"  {word.lower()}! ")
            assert (request.intent, request.arg) == (Intent.SET_LANGUAGE, code), word
            assert parse(f"LANG {word}").arg == code
            assert parse(f"JOIN 60629 {word}").keyword_language == code
        for kind, intent in (("rights", Intent.RIGHTS), ("help", Intent.HELP)):
            for word in rights.words.get(kind, ()):
                request = parse(word)
                assert request.intent is intent, (code, word)
                shared = [
                    c for c in CONTENT.languages if word in CONTENT.rights[c].words.get(kind, ())
                ]
                # A word two languages share (حقوق) answers in the sender's own language.
                assert request.keyword_language == (code if len(shared) == 1 else None)
    # The universal keywords keep working whatever the language, and STOP stays STOP.
    assert parse("STOP").intent is Intent.STOP
    assert parse("\u200fSTOP\u200f").intent is Intent.STOP


async def test_an_alert_reaches_a_subscriber_of_each_language_in_it(
    bot: Bot, worker: Worker
) -> None:
    people = []
    for i, code in enumerate(CONTENT.languages):
        number, user = phone(100 + i), 33000 + i
        await sms(bot, number, f"JOIN 60629 {(CONTENT.rights[code].keywords or ('ENGLISH',))[0]}")
        bot.telegram.add_user(user, language_code=code)
        await say(bot, user, f"/start {code}_60629")
        people.append((code, number, user))
    await asyncio.sleep(0.1)
    texts = {code: f"agents seen at 26th and Pulaski [{code}]" for code in CONTENT.languages}
    draft = AlertDraft(AlertKind.ALERT, ("60629",), texts)
    sent = await bot.services.alerts.send_now(draft, Actor.operator())
    await finished(bot, sent.id)
    for code, number, user in people:
        heading = CONTENT.lang(code).gettext("VERIFIED ALERT")
        got_sms = [s.body for s in bot.twilio.inbox(number) if "Pulaski" in s.body]
        got_telegram = [m.text for m in bot.telegram.messages_to(user) if "Pulaski" in m.text]
        for got in (got_sms, got_telegram):
            assert len(got) == 1, code
            bare = got[0].replace(LRI, "").replace(PDI, "")
            assert f"[{code}]" in bare and gsm_fold(heading.split()[0]) in gsm_fold(bare), code
        if CONTENT.rights[code].sms_plain:
            # The bot's own words go by SMS without accents (GSM-7); Telegram keeps them.
            assert count_segments(got_sms[0]).encoding == "GSM-7", code
            assert heading.split()[0] in got_telegram[0], code
        if CONTENT.rights[code].rtl:
            # Latin runs keep their order inside right-to-left text.
            assert f"{LRI}agents seen at 26th and Pulaski{PDI}" in got_sms[0]


def test_every_language_fills_every_alert_template_in_its_own_words() -> None:
    values = {"place": "26th and Pulaski", "what": "2 vans"}
    for name in ("sighting", "confirmed", "update", "correction", "all_clear", "rumor"):
        texts = fill(CONTENT, name, values, time(15, 40), lambda _code: "Little Village")
        assert set(texts) == set(CONTENT.languages), name  # nobody falls back to English
        for code, text in texts.items():
            assert "{" not in text and "}" not in text, (name, code)
            if "{place}" in CONTENT.alert_templates[name][code]:
                assert "26th and Pulaski" in text, (name, code)
            if "{time}" in CONTENT.alert_templates[name][code]:
                assert CONTENT.clock_time(code, time(15, 40)) in text, (name, code)
            own = CONTENT.alert_templates[name][code].split("{")[0].strip()
            assert own in text, (name, code)
    # Times as each language writes them, with no character that would make an SMS UCS-2.
    assert CONTENT.clock_time("en", time(15, 40)) == "3:40 PM"
    assert CONTENT.clock_time("es", time(15, 40)) == "3:40 p.m."
    assert CONTENT.clock_time("pl", time(15, 40)) == "15:40"


def test_a_template_with_an_unknown_slot_names_the_file_and_the_slot(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    path = config / "alerts.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("seen at {place}", "seen at {lugar}", 1),
        encoding="utf-8",
    )
    with pytest.raises(ContentError, match=r"alerts\.yaml: templates\.sighting\.en: .*'lugar'"):
        load_content(config)


def test_a_coordinator_types_a_time_as_they_say_it() -> None:
    now = time(10, 11, 12)
    typed = {"15:40": time(15, 40), "3:40 pm": time(15, 40), "3pm": time(15), "9.05": time(9, 5)}
    typed |= {"12 a.m.": time(0), "12pm": time(12), "now": time(10, 11), "ahora": time(10, 11)}
    for text, meant in typed.items():
        assert clock(text, now) == meant, text
    for text in ("25:00", "3:70", "13pm", "half past", "٣:٤٠"):
        with pytest.raises(ParseError):
            clock(text, now)
