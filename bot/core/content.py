"""What a network edits in config/: know-your-rights texts, its directory, its zones, its strings.

Why one module over 500 lines: everything in config/ is loaded and validated here at start-up,
with one set of error messages that name the file and the field, and the `Content` it returns
is the one object every layer reads (languages, rights, templates, how a text goes out by SMS
or Telegram in each language). bot/core/content_check.py reports on it; templates.py fills it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import string
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any

import yaml
import zipcodes
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time

from bot.core import phone
from bot.core.i18n import Lang, load_catalogues
from bot.core.intents import Intent
from bot.core.keywords import KEYWORDS, fold
from bot.core.segments import gsm_fold
from bot.core.text import isolated
from bot.core.vocabulary import OutsideArea

DEFAULT_LANGUAGE = "en"
TOPIC_KEYS = (
    "home",
    "street",
    "car",
    "work",
    "detained",
    "plan",
    "record",
    "court",
    "places",
    "illinois",
    "notario",
    "locate",
)
"""The know-your-rights topics, in menu order; SMS numbers them from 1."""

TEMPLATE_SLOTS = ("place", "zone", "time", "what")
"""What an alert template of config/alerts.yaml may leave to fill, in braces."""

WORD_INTENTS = {
    "rights": Intent.RIGHTS,
    "help": Intent.HELP,
    "workshops": Intent.WORKSHOPS,
    "report": Intent.REPORT,
    "verify": Intent.VERIFY,
}
"""What a language's own `words:` may stand for, beside the universal English keywords."""

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it: five times quicker on 18 languages."""


class ContentError(ValueError):
    """A file in config/ is missing or malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Topic:
    """One know-your-rights topic: a button label, a full text and an SMS text."""

    key: str
    title: str
    telegram: str
    sms: str
    source: str = ""
    # The key points this text carries, each with the words that carry it in its language.
    points: dict[str, str] = field(default_factory=dict)
    spoken: str = ""  # read aloud on the hotline where the SMS text reads badly so

    @property
    def voice(self) -> str:
        return self.spoken or self.sms


@dataclass(frozen=True)
class Rights:
    """The know-your-rights content in one language (general information, not legal advice)."""

    language: str
    name: str
    summary_telegram: str
    summary_sms: str
    topics: dict[str, Topic]
    summary_points: dict[str, str] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()  # SMS words that choose this language, beside its name
    words: dict[str, tuple[str, ...]] = field(default_factory=dict)  # WORD_INTENTS keys
    telegram_codes: tuple[str, ...] = ()  # Telegram language_code values that mean it
    rtl: bool = False
    # The bot's own SMS texts drop accents and stay GSM-7 (the language reads well so).
    sms_plain: bool = False
    reviewed_by: dict[str, str] = field(default_factory=dict)  # native, lawyer: who checked
    locale: str = ""  # a Babel locale for times and dates (es_US: 3:46 p.m.); "": the code
    summary_spoken: str = ""  # the summary read aloud on the hotline, where not the SMS one

    @property
    def voice_summary(self) -> str:
        return self.summary_spoken or self.summary_sms

    @property
    def draft(self) -> bool:
        """Not yet read by a native speaker and a lawyer."""
        return not (self.reviewed_by.get("native") and self.reviewed_by.get("lawyer"))


@dataclass(frozen=True)
class Resource:
    """An entry in the network's directory: who, what they help with, how to reach them."""

    name: str
    what: dict[str, str]
    phone: str | None = None
    website: str | None = None


@dataclass(frozen=True)
class Network:
    """The program as carriers and people know it."""

    name: str
    short_name: str
    hotline: str
    hotline_name: dict[str, str]  # by language, English required
    contact: str
    alert_frequency: dict[str, str]  # by language, English required
    # Where the hotline forwards a caller no volunteer answers (default: the hotline above).
    fallback_line: str = ""

    def in_language(self, texts: dict[str, str], language: str) -> str:
        return texts.get(language) or texts[DEFAULT_LANGUAGE]


NEAR_KM = 4.0
"""How far a sighting's warning reaches beyond its own ZIP code: the neighbouring zones."""


@functools.cache
def _centres(state: str) -> dict[str, tuple[float, float]]:
    return {
        entry["zip_code"]: (float(entry["lat"]), float(entry["long"]))
        for entry in zipcodes.list_all()  # type: ignore[no-untyped-call]
        if entry["state"] == state and entry["lat"] and entry["long"]
    }


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class Zones:
    """The network's area: the ZIP codes it serves and the names people know them by."""

    area: dict[str, str]
    state: str
    names: dict[str, str]
    outside: OutsideArea = OutsideArea.REFUSE

    def name_of(self, zip_code: str) -> str | None:
        return self.names.get(zip_code)

    def area_name(self, language: str) -> str:
        return self.area.get(language) or self.area[DEFAULT_LANGUAGE]

    def neighbours(self, zip_code: str, km: float = NEAR_KM) -> list[str]:
        """The network's other zones whose centre lies within `km` of this one's, nearest
        first (ZIP centroids from the zipcodes package's data)."""
        centres = _centres(self.state)
        here = centres.get(zip_code)
        if here is None:
            return []
        near = [
            (_km(here, centres[other]), other)
            for other in self.names
            if other != zip_code and other in centres
        ]
        return [other for distance, other in sorted(near) if distance <= km]


@dataclass(frozen=True)
class Recording:
    """A prompt a network recorded (config/voice/<code>/<key>.mp3): the file, its type, and
    a fingerprint of its bytes that changes the URL Twilio caches it under."""

    path: Path
    media_type: str
    version: str


@dataclass(frozen=True)
class Voice:
    """How the hotline speaks a language: Twilio <Say>'s BCP-47 tag and voice, and the
    prompts recorded for it (bot/core/phone.py); with no tag, only recordings."""

    language: str | None  # en-US, es-MX, cmn-CN; None: no voice, every prompt recorded
    voice: str | None = None  # Polly.Joanna; None: Twilio's default for the tag
    recordings: dict[str, Recording] = field(default_factory=dict)

    @property
    def speaks(self) -> bool:
        """Twilio can speak (and hear) the language: <Say> and speech recognition."""
        return self.language is not None


@dataclass(frozen=True)
class Content:
    """Everything loaded from config/, validated once at start-up."""

    rights: dict[str, Rights]
    network: Network
    resources: list[Resource]
    zones: Zones
    catalogues: dict[str, Any] = field(repr=False)
    # Alert templates by alert type, then language (config/alerts.yaml, optional).
    alert_templates: dict[str, dict[str, str]] = field(default_factory=dict)
    # The hotline's voices by language, in its menu's order (config/voice.yaml, optional).
    voices: dict[str, Voice] = field(default_factory=dict)

    @property
    def topic_keys(self) -> tuple[str, ...]:
        """The know-your-rights topics in menu order (TOPIC_KEYS)."""
        return TOPIC_KEYS

    @property
    def languages(self) -> list[str]:
        """Languages the bot offers: those with know-your-rights content, English and Spanish
        first, then the others in the order of their files."""
        first = [code for code in (DEFAULT_LANGUAGE, "es") if code in self.rights]
        return first + [code for code in self.rights if code not in first]

    @functools.cached_property
    def language_names(self) -> dict[str, str]:
        """Every word that chooses a language by SMS (its own name, its keywords), to its code."""
        names: dict[str, str] = {}
        for code, rights in self.rights.items():
            for name in (rights.name, *rights.keywords):
                names.setdefault(name, code)
        return names

    @functools.cached_property
    def language_words(self) -> dict[str, tuple[Intent, str | None]]:
        """Each language's own words for RIGHTS, HELP, ... (folded) to the intent and the
        language; a word two languages share (حقوق) names no language."""
        words: dict[str, tuple[Intent, str | None]] = {}
        for code, rights in self.rights.items():
            for kind, items in rights.words.items():
                for word in items:
                    folded = fold(word)
                    seen = words.get(folded)
                    if seen is not None and seen[1] != code:
                        words[folded] = (seen[0], None)
                    else:
                        words[folded] = (WORD_INTENTS[kind], code)
        return words

    def is_rtl(self, code: str) -> bool:
        return code in self.rights and self.rights[code].rtl

    def sms_plain(self, code: str) -> bool:
        return code in self.rights and self.rights[code].sms_plain

    def language_name(self, code: str) -> str:
        return self.rights[code].name if code in self.rights else code

    def supported(self, code: str | None) -> str:
        """`code` if we speak it, else English. Regional and script tags find their language
        (es-MX -> es, zh-TW -> zh-Hant, fa -> fa-AF): first a language file's telegram_codes,
        then the code itself, then its first part."""
        if not code:
            return DEFAULT_LANGUAGE
        tag = code.replace("_", "-").lower()
        own = {lang.lower(): lang for lang in self.rights}
        by_telegram = {
            alias.lower(): lang for lang, r in self.rights.items() for alias in r.telegram_codes
        }
        base = tag.split("-", 1)[0]
        for candidate in (tag, base):
            if candidate in by_telegram:
                return by_telegram[candidate]
            if candidate in own:
                return own[candidate]
        return DEFAULT_LANGUAGE

    def speaking(self, code: str | None) -> Lang:
        """The language to answer someone who prefers `code` in (English if we lack it)."""
        return self.lang(self.supported(code))

    def lang(self, code: str) -> Lang:
        from babel.support import NullTranslations

        return Lang(code, self.catalogues.get(code) or NullTranslations())

    def topic(self, language: str, key: str) -> Topic:
        """A rights topic in `language`, or in English where that language lacks it."""
        own = self.rights.get(language)
        if own is not None and key in own.topics:
            return own.topics[key]
        return self.rights[DEFAULT_LANGUAGE].topics[key]

    def rights_in(self, language: str) -> Rights:
        return self.rights.get(language) or self.rights[DEFAULT_LANGUAGE]

    def sms_out(self, language: str, text: str) -> str:
        """An SMS of the bot's own in `language` as it leaves: without accents where the
        language reads well so (it then costs GSM-7 segments, not UCS-2 ones), and with its
        Latin runs isolated in a right-to-left language."""
        if self.sms_plain(language):
            text = gsm_fold(text)
        return self.directed(language, text)

    def out(self, channel: str, language: str, text: str) -> str:
        """A text of the bot's own as `channel` sends it in `language` (sms_out, directed)."""
        return self.sms_out(language, text) if channel == "sms" else self.directed(language, text)

    def day_time(self, language: str, moment: datetime) -> str:
        """A day and time as `language` writes them: "Sat 9 Jan at 10:00 AM", "sáb 9 ene a
        las 10:00 a.m." (the moment in the time zone it is to be read in)."""
        locale = self.rights_in(language).locale or DEFAULT_LANGUAGE
        day = format_date(moment, "EEE d MMM", locale=locale)
        at = self.clock_time(language, moment.time())
        return self.lang(language).gettext("{day} at {time}").format(day=day, time=at)

    def directed(self, language: str, text: str) -> str:
        """`text` as it reads in `language`: in a right-to-left one, with its Latin runs (a ZIP
        code, "I-200", a keyword) isolated so that they keep their order."""
        return isolated(text) if self.is_rtl(language) else text

    def clock_time(self, language: str, at: time) -> str:
        """A time as `language` writes it: 3:46 PM, 3:46 p.m. (Spanish in the U.S.), 15:46."""
        rights = self.rights_in(language)
        written = format_time(at, "short", locale=rights.locale or DEFAULT_LANGUAGE)
        # CLDR puts a narrow no-break space before PM: one such character makes an SMS UCS-2.
        return written.replace("\u202f", " ").replace("\u00a0", " ")

    def hotline_line(self, language: str) -> str:
        return self.lang(language).gettext("Hotline {hotline}").format(hotline=self.network.hotline)

    def sms_rights(self, language: str) -> dict[str, str]:
        """The rights texts by SMS as they are sent, by what they answer: "summary" (RIGHTS),
        "menu" (the message after it that numbers the topics), each topic key (its number)."""
        own = self.rights_in(language)
        hotline = self.hotline_line(language)
        menu = ", ".join(
            f"{number} {self.topic(language, key).title}"
            for number, key in enumerate(TOPIC_KEYS, start=1)
        )
        texts = {
            "summary": f"{own.summary_sms} {hotline}",
            "menu": self.lang(language)
            .gettext("Reply a number for more: {menu}")
            .format(menu=menu),
        }
        texts |= {key: f"{self.topic(language, key).sms} {hotline}" for key in TOPIC_KEYS}
        return {what: self.sms_out(language, text) for what, text in texts.items()}


def load_content(config_dir: Path) -> Content:
    """Everything in config_dir, loaded and checked; loaded again only when a file changes.

    Every `build_services` calls this (the web and worker processes, each CLI command, the
    demo's reset, each test's bot), and reading 18 languages and their catalogues takes about
    half a second; the Content it returns is immutable, so one per unchanged folder is enough.
    """
    return _load_content(config_dir.resolve(), _fingerprint(config_dir))


def _fingerprint(config_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Each file under config_dir with its size and modification time, in name order."""
    files = []
    for path in sorted(config_dir.rglob("*")):
        with contextlib.suppress(OSError):
            status = path.stat()
            if path.is_file():
                files.append((str(path), status.st_size, status.st_mtime_ns))
    return tuple(files)


@functools.lru_cache(maxsize=8)
def _load_content(config_dir: Path, fingerprint: tuple[tuple[str, int, int], ...]) -> Content:
    del fingerprint  # part of the cache key only
    rights = {}
    for path in sorted((config_dir / "rights").glob("*.yaml")):
        item = _rights(path)
        rights[item.language] = item
    if DEFAULT_LANGUAGE not in rights:
        raise ContentError(f"config/rights/{DEFAULT_LANGUAGE}.yaml is required (the fallback)")
    missing = [key for key in TOPIC_KEYS if key not in rights[DEFAULT_LANGUAGE].topics]
    if missing:
        raise ContentError(f"config/rights/en.yaml lacks topics: {', '.join(missing)}")
    network, resources = _resources(config_dir / "resources.yaml")
    return Content(
        rights=rights,
        network=network,
        resources=resources,
        zones=_zones(config_dir / "zones.yaml"),
        catalogues=load_catalogues(config_dir / "locale"),
        alert_templates=_templates(config_dir / "alerts.yaml"),
        voices=_voices(config_dir / "voice.yaml", set(rights)),
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 (a safe loader)
    except (OSError, yaml.YAMLError) as exc:
        raise ContentError(f"config/{path.parent.name}/{path.name}: {exc}") from None
    if not isinstance(data, dict):
        raise ContentError(f"{path.name}: expected a mapping at the top")
    return data


def _field(data: dict[str, Any], path: Path, *keys: str) -> Any:
    value: Any = data
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise ContentError(f"{path.name}: missing {'.'.join(keys)}")
        value = value[key]
    return value


def _text(data: dict[str, Any], path: Path, *keys: str) -> str:
    value = _field(data, path, *keys)
    if not isinstance(value, str) or not value.strip():
        raise ContentError(f"{path.name}: {'.'.join(keys)} must be non-empty text")
    return value.strip()


def _rights(path: Path) -> Rights:
    data = _read(path)
    code = _text(data, path, "language")
    if code != path.stem:
        raise ContentError(f"{path.name}: language is {code!r}, the file name says {path.stem!r}")
    topics = {}
    for key in data.get("topics") or {}:
        if key not in TOPIC_KEYS:
            raise ContentError(
                f"{path.name}: unknown topic {key!r} (known: {', '.join(TOPIC_KEYS)})"
            )
        topics[key] = Topic(
            key=key,
            title=_text(data, path, "topics", key, "title"),
            telegram=_text(data, path, "topics", key, "telegram"),
            sms=_text(data, path, "topics", key, "sms"),
            source=str(data["topics"][key].get("source") or "").strip(),
            points=_points(data["topics"][key], path, f"topics.{key}"),
            spoken=str(data["topics"][key].get("voice") or "").strip(),
        )
    words: dict[str, tuple[str, ...]] = {}
    for kind, items in (data.get("words") or {}).items():
        if kind not in WORD_INTENTS:
            raise ContentError(f"{path.name}: words.{kind} (known: {', '.join(WORD_INTENTS)})")
        words[kind] = _words(items, path, f"words.{kind}", (WORD_INTENTS[kind], code))
    keywords = _words(data.get("keywords") or [], path, "keywords")
    direction = str(data.get("direction") or "ltr")
    if direction not in ("ltr", "rtl"):
        raise ContentError(f"{path.name}: direction must be ltr or rtl")
    reviewed = data.get("reviewed_by") or {}
    if not isinstance(reviewed, dict):
        raise ContentError(f"{path.name}: reviewed_by must have native: and lawyer:")
    return Rights(
        language=code,
        name=_text(data, path, "name"),
        summary_telegram=_text(data, path, "summary", "telegram"),
        summary_sms=_text(data, path, "summary", "sms"),
        summary_points=_points(data["summary"], path, "summary"),
        topics=topics,
        keywords=keywords,
        words=words,
        telegram_codes=tuple(str(c) for c in data.get("telegram_codes") or ()),
        rtl=direction == "rtl",
        sms_plain=bool(data.get("sms_plain", False)),
        reviewed_by={str(k): str(v or "").strip() for k, v in reviewed.items()},
        locale=_locale(data.get("locale") or code.replace("-", "_"), path),
        summary_spoken=str(data["summary"].get("voice") or "").strip(),
    )


def _locale(name: str, path: Path) -> str:
    try:
        Locale.parse(name)
    except (ValueError, UnknownLocaleError):
        raise ContentError(f"{path.name}: locale {name!r} is no locale Babel knows") from None
    return name


def _points(section: dict[str, Any], path: Path, where: str) -> dict[str, str]:
    points = section.get("points") or {}
    if not isinstance(points, dict) or not all(
        isinstance(v, str) and v.strip() for v in points.values()
    ):
        raise ContentError(f"{path.name}: {where}.points maps each point to the words for it")
    return {str(k): v.strip() for k, v in points.items()}


def _words(
    items: Any, path: Path, where: str, meaning: tuple[Intent, str] | None = None
) -> tuple[str, ...]:
    """A list of SMS words; none may stand for another keyword (STOP stays STOP)."""
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, list) or not all(isinstance(w, str) and fold(w) for w in items):
        raise ContentError(f"{path.name}: {where} must be a list of words")
    clash = [w for w in items if fold(w) in KEYWORDS and KEYWORDS[fold(w)] != meaning]
    if clash:
        raise ContentError(f"{path.name}: {where}: {clash[0]!r} is already a keyword")
    return tuple(items)


def _resources(path: Path) -> tuple[Network, list[Resource]]:
    data = _read(path)
    network = Network(
        name=_text(data, path, "network", "name"),
        short_name=_text(data, path, "network", "short_name"),
        hotline=_text(data, path, "network", "hotline"),
        hotline_name=_translated(data, path, "hotline_name"),
        contact=_text(data, path, "network", "contact"),
        alert_frequency=_translated(data, path, "alert_frequency"),
        fallback_line=str(
            data["network"].get("fallback_line") or data["network"]["hotline"]
        ).strip(),
    )
    resources = [
        Resource(
            name=str(item["name"]),
            what={str(k): str(v) for k, v in (item.get("what") or {}).items()},
            phone=item.get("phone"),
            website=item.get("website"),
        )
        for item in data.get("resources") or []
    ]
    return network, resources


def _translated(data: dict[str, Any], path: Path, key: str) -> dict[str, str]:
    """`key` (English) and its `key_<lang>` translations under `network:`."""
    texts = {DEFAULT_LANGUAGE: _text(data, path, "network", key)}
    for name, value in _field(data, path, "network").items():
        if name.startswith(f"{key}_") and isinstance(value, str):
            texts[name.removeprefix(f"{key}_")] = value.strip()
    return texts


def _templates(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    templates = _read(path).get("templates") or {}
    loaded: dict[str, dict[str, str]] = {}
    for kind, texts in templates.items():
        loaded[str(kind)] = {}
        for lang, text in (texts or {}).items():
            flat = " ".join(str(text).split())
            try:
                slots = {
                    name for _, name, _, _ in string.Formatter().parse(flat) if name is not None
                }
            except ValueError as exc:
                raise ContentError(f"{path.name}: templates.{kind}.{lang}: {exc}") from None
            unknown = slots - set(TEMPLATE_SLOTS)
            if unknown:
                raise ContentError(
                    f"{path.name}: templates.{kind}.{lang}: unknown slot {sorted(unknown)[0]!r} "
                    f"(slots: {', '.join(TEMPLATE_SLOTS)})"
                )
            loaded[str(kind)][str(lang)] = flat
        if loaded[str(kind)] and DEFAULT_LANGUAGE not in loaded[str(kind)]:
            raise ContentError(f"{path.name}: templates.{kind} needs English (the fallback)")
    return loaded


def _voices(path: Path, languages: set[str]) -> dict[str, Voice]:
    """The hotline's languages and their voices: English and Spanish first, then the file's
    order; a language the bot has no rights file for is refused by name, and so is one
    marked `recorded: true` whose recordings under config/voice/<code>/ are incomplete."""
    if not path.exists():
        return {}
    voices: dict[str, Voice] = {}
    for code, spec in (_read(path).get("voices") or {}).items():
        if code not in languages:
            raise ContentError(f"{path.name}: voices.{code}: no config/rights/{code}.yaml")
        spec = spec if isinstance(spec, dict) else {}
        tag = str(spec.get("language") or "").strip() or None
        recorded = spec.get("recorded") is True
        if tag is None and not recorded:
            raise ContentError(
                f"{path.name}: voices.{code} needs language: (a BCP-47 tag) or recorded: true"
            )
        if tag is not None and "-" not in tag and tag != "arb":
            # Twilio warns (13512) on a bare "en": <Say> wants a full tag.
            raise ContentError(f"{path.name}: voices.{code}: {tag!r} is no full BCP-47 tag")
        recordings = _recordings(path.parent / "voice" / str(code)) if recorded else {}
        voices[str(code)] = Voice(tag, str(spec.get("voice") or "") or None, recordings)
    first = [code for code in (DEFAULT_LANGUAGE, "es") if code in voices]
    ordered = {code: voices[code] for code in [*first, *(c for c in voices if c not in first)]}
    for code, voice in ordered.items():
        unknown = set(voice.recordings) - phone.known(TOPIC_KEYS)
        if unknown:
            raise ContentError(
                f"config/voice/{code}/: no prompt is called {', '.join(sorted(unknown))} "
                f"(`rrbot content script {code}` lists them)"
            )
        if voice.speaks:
            continue
        missing = [
            key
            for key in phone.required(code, list(ordered), TOPIC_KEYS)
            if key not in voice.recordings
        ]
        if missing:
            raise ContentError(
                f"config/voice/{code}/ lacks {', '.join(missing)} (no voice speaks {code}: "
                f"every prompt must be recorded; `rrbot content script {code}` gives the words)"
            )
    return ordered


def _recordings(folder: Path) -> dict[str, Recording]:
    """The audio files in a language's folder, by prompt key."""
    found: dict[str, Recording] = {}
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        media_type = phone.AUDIO_TYPES.get(path.suffix.lower())
        if media_type is None or not path.is_file():
            continue
        if path.stem in found:
            raise ContentError(f"config/voice/{folder.name}/: two recordings of {path.stem}")
        version = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        found[path.stem] = Recording(path.resolve(), media_type, version)
    return found


def _zones(path: Path) -> Zones:
    data = _read(path)
    area = {DEFAULT_LANGUAGE: _text(data, path, "area")}
    for key, value in data.items():
        if key.startswith("area_") and isinstance(value, str):
            area[key.removeprefix("area_")] = value
    names: dict[str, str] = {}
    for entry in _field(data, path, "zones"):
        zip_code = str(entry.get("zip", "")).strip()
        if not (len(zip_code) == 5 and zip_code.isdigit()):
            raise ContentError(f"{path.name}: {zip_code!r} is not a five-digit ZIP code")
        names[zip_code] = str(entry.get("name") or zip_code)
    try:
        outside = OutsideArea(str(data.get("outside_area", OutsideArea.REFUSE)))
    except ValueError:
        choices = ", ".join(o.value for o in OutsideArea)
        raise ContentError(f"{path.name}: outside_area must be one of {choices}") from None
    return Zones(area=area, state=_text(data, path, "state"), names=names, outside=outside)


def is_real_zip(zip_code: str) -> bool:
    """Whether a five-digit string is a ZIP code the Postal Service uses (offline data)."""
    try:
        return bool(zipcodes.is_real(zip_code))  # type: ignore[no-untyped-call]
    except (TypeError, ValueError):
        return False
