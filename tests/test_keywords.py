from __future__ import annotations

import pytest

from bot.core.intents import Intent
from bot.core.keywords import fold, parse_text

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
    assert parse("STOP please").intent is Intent.STOP


def test_fold_strips_accents_case_and_punctuation() -> None:
    assert fold(" ¿Derechos? ") == "DERECHOS"
    assert fold("Español!") == "ESPANOL"
