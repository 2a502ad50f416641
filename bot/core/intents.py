"""What a person asked for, whatever the channel: the words of the conversation."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Intent(StrEnum):
    """One thing a person can ask the bot, by keyword, command or button."""

    SUBSCRIBE = "subscribe"  # JOIN / START / /start, maybe with a language and a ZIP
    STOP = "stop"  # STOP and the other carrier opt-out words (the whole message), /stop
    STOP_QUESTION = "stop_question"  # a message that begins with one and goes on: asked
    HELP = "help"  # HELP / AYUDA / /help: what this is, the hotline, how to stop
    RIGHTS = "rights"  # RIGHTS / DERECHOS / /rights: the summary and the topic menu
    RIGHTS_TOPIC = "rights_topic"  # a topic by key (button) or by its menu number (SMS)
    LANGUAGE_MENU = "language_menu"  # LANG / IDIOMA / /language
    SET_LANGUAGE = "set_language"  # a language's own name, or a button
    ZONE_PROMPT = "zone_prompt"  # /zone: asks for a ZIP code
    SET_ZONE = "set_zone"  # a bare ZIP code
    WORKSHOPS = "workshops"  # WORKSHOPS / TALLERES / /workshops
    RSVP = "rsvp"  # RSVP 2 / ASISTIR 2 (NO to cancel), or a workshop's button
    REPORT = "report"  # REPORT / REPORTAR / /report (SMS: with the report's text)
    REPORT_ACTION = "report_action"  # a report's buttons: skip, send, outcome:ID
    VERIFY = "verify"  # VERIFY / VERIFICAR 60629 / /verify: is it true? confirmed alerts near
    DRILLS = "drills"  # DRILLS OFF / DRILLS ON (SIMULACROS NO / SI): drills or not
    MENU = "menu"  # anything else: the short menu, never silence


@dataclass(frozen=True)
class Request:
    """A parsed message: the intent, its argument, and the language its keyword was in."""

    intent: Intent
    arg: str | None = None
    keyword_language: str | None = None
    # The keyword or command as received (folded), for the consent record.
    keyword: str | None = None
