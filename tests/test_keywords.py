from __future__ import annotations

import pytest

from bot.core.intents import Intent
from bot.core.keywords import fold, parse_text

pytestmark = pytest.mark.once  # keyword parsing: no database

NAMES = {"English": "en", "Español": "es"}


def parse(body: str):  # type: ignore[no-untyped-def]
    return parse_text(body, NAMES, 6)


@pytest.mark.parametrize(
    ("body", "intent", "language"),
    [
        ("JOIN", Intent.SUBSCRIBE, "en"),
        ("start", Intent.SUBSCRIBE, "en"),
        ("Subscribe.", Intent.SUBSCRIBE, "en"),
        ("unstop", Intent.SUBSCRIBE, "en"),
        ("¡Alta!", Intent.SUBSCRIBE, "es"),
        ("unirse", Intent.SUBSCRIBE, "es"),
        *[
            (word, Intent.STOP, "en")
            for word in (
                "STOP",
                "stopall",
                "Unsubscribe",
                "cancel",
                "END",
                "quit",
                "revoke",
                "optout",
            )
        ],
        ("baja", Intent.STOP, "es"),
        ("PARAR", Intent.STOP, "es"),
        ("help", Intent.HELP, "en"),
        ("INFO", Intent.HELP, "en"),
        ("ayuda", Intent.HELP, "es"),
        ("rights", Intent.RIGHTS, "en"),
        ("Derechos", Intent.RIGHTS, "es"),
        ("workshops", Intent.WORKSHOPS, "en"),
        ("TALLERES", Intent.WORKSHOPS, "es"),
        ("report", Intent.REPORT, "en"),
        ("reportar", Intent.REPORT, "es"),
        ("REPORTE", Intent.REPORT, "es"),
        ("lang", Intent.LANGUAGE_MENU, "en"),
        ("idioma", Intent.LANGUAGE_MENU, "es"),
    ],
)
def test_contract_keywords(body: str, intent: Intent, language: str) -> None:
    request = parse(f"  {body} ")
    assert request.intent is intent
    assert request.keyword_language == language


def test_a_zip_after_join_or_alone_sets_the_zone() -> None:
    assert parse("JOIN 60629").arg == "60629"
    assert parse("alta 60623").keyword_language == "es"
    alone = parse(" 60629. ")
    assert (alone.intent, alone.arg) == (Intent.SET_ZONE, "60629")


def test_a_language_by_its_own_name_with_or_without_accents() -> None:
    for body in ("ESPAÑOL", "espanol", "Spanish", "LANG español", "idioma espanol"):
        request = parse(body)
        assert (request.intent, request.arg) == (Intent.SET_LANGUAGE, "es"), body
    assert parse("english").arg == "en"


def test_menu_numbers_pick_topics_and_other_text_gets_the_menu() -> None:
    assert (parse("3").intent, parse("3").arg) == (Intent.RIGHTS_TOPIC, "3")
    assert parse("7").intent is Intent.MENU
    assert parse("hello there").intent is Intent.MENU
    assert parse("").intent is Intent.MENU
    # An opt-out word opts out as the whole message only, as at the carrier; a message that
    # begins with one and goes on is asked about (issue 16, point 3).
    assert parse("STOP").intent is Intent.STOP and parse("cancel.").intent is Intent.STOP
    assert parse("STOP please").intent is Intent.STOP_QUESTION
    assert parse("cancel my RSVP").intent is Intent.STOP_QUESTION


@pytest.mark.parametrize(
    "body", ["\u200fSTOP\u200f", "S\u200bTOP", "\ufeffstop", "\u202eSTOP\u202c", "\u2066STOP"]
)
def test_invisible_marks_do_not_hide_an_opt_out(body: str) -> None:
    assert parse(body).intent is Intent.STOP


@pytest.mark.parametrize(
    ("body", "zip_code"),
    [
        ("\u0666\u0660\u0666\u0662\u0669", "60629"),  # Arabic-Indic
        ("\u06f6\u06f0\u06f6\u06f2\u06f9", "60629"),  # Persian
        ("\u096c\u0966\u096c\u0968\u096f", "60629"),  # Devanagari
        ("JOIN \u0666\u0660\u0666\u0662\u0669", "60629"),
        ("\u200fJOIN \u0666\u0660\u0666\u0662\u0669\u200f", "60629"),
    ],
)
def test_digits_of_other_scripts_are_read_as_the_zip_they_mean(body: str, zip_code: str) -> None:
    assert parse(body).arg == zip_code


def test_digits_that_are_no_decimal_digits_are_no_zip_and_no_crash() -> None:
    ethiopic = "\u1369\u136a\u136b\u136c\u136d"  # ፩፪፫፬፭: numbers, not decimal digits
    joined = parse(f"JOIN {ethiopic}")
    assert (joined.intent, joined.arg) == (Intent.SUBSCRIBE, None)
    assert parse(ethiopic).intent is Intent.MENU
    assert parse("\u1369").intent is Intent.MENU  # "1" in Ethiopic: no topic, no int()
    assert parse("99999999999999999999").intent is Intent.MENU


def test_fold_strips_accents_case_and_punctuation() -> None:
    assert fold(" ¿Derechos? ") == "DERECHOS"
    assert fold("Español!") == "ESPANOL"
