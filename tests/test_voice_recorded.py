"""The hotline in a language no Twilio voice speaks: the network's own recordings, <Play>ed
from config/voice/<code>/ (bot/core/phone.py), fetched by the fake Twilio as Twilio would.

Haitian Creole stands in for any such language here (traps.md: no voice was seen for it);
Spanish keeps its voice and gets one recording, which replaces only that prompt."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.core import phone
from bot.core.content import TOPIC_KEYS, ContentError, load_content
from bot.core.vocabulary import Channel, SubscriberStatus
from bot.settings import PROJECT_ROOT
from bot.sim.fake_voice import VoiceCall
from tests.conftest import Bot, Worker
from tests.support import eventually

CALLER = "+13125550143"
FALLBACK = "+18554357693"
CONFIG = PROJECT_ROOT / "config"


def silence(path: Path) -> None:
    """A tenth of a second of 8 kHz silence: a real WAV file, as a network would record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\0\0" * 800)


def recorded_config(folder: Path, *, leave_out: tuple[str, ...] = ()) -> Path:
    """config/ with Haitian Creole recorded (every prompt but `leave_out`) and Spanish's
    main menu recorded beside its voice."""
    config = folder / "config"
    shutil.copytree(CONFIG, config)
    voice_yaml = config / "voice.yaml"
    text = voice_yaml.read_text(encoding="utf-8")
    text = text.replace(
        "es: {language: es-MX, voice: Polly.Mia}",
        "es: {language: es-MX, voice: Polly.Mia, recorded: true}",
    )
    voice_yaml.write_text(text + "  ht: {recorded: true}\n", encoding="utf-8")
    codes = [*load_content(CONFIG).voices, "ht"]
    for key in phone.required("ht", codes, TOPIC_KEYS):
        if key not in leave_out:
            silence(config / "voice" / "ht" / f"{key}.wav")
    silence(config / "voice" / "es" / "menu.wav")
    return config


@pytest.fixture
def bot_env(tmp_path: Path) -> dict[str, str]:
    return {"CONFIG_DIR": str(recorded_config(tmp_path))}


def played(call: VoiceCall, since: int = 0) -> list[str]:
    """The recordings heard since `since`, as language/file."""
    return [
        "/".join(h.text.split("?")[0].rsplit("/", 2)[-2:])
        for h in call.heard[since:]
        if h.kind == "play"
    ]


async def haitian(bot: Bot) -> VoiceCall:
    """A call that has chosen Haitian Creole, on the language menu's second page."""
    call = await bot.twilio.call(CALLER)
    await call.press("9")
    digit = phone.menu_digit("ht", list(bot.services.content.voices))
    assert played(call)[-2:] == ["ht/choose.wav", f"ht/press-{digit}.wav"]
    await call.press(str(digit))
    return call


async def test_a_recorded_language_is_offered_and_its_rights_are_played(bot: Bot) -> None:
    call = await haitian(bot)
    assert played(call)[-1] == "ht/menu.wav"
    chosen = at = len(call.heard)
    await call.press("1")
    assert played(call, at) == ["ht/summary.wav", "ht/topics.wav"]
    at = len(call.heard)
    await call.press("12")
    assert played(call, at) == ["ht/topic-locate.wav", "ht/topics.wav"]
    assert [h for h in call.heard[chosen:] if h.kind == "say"] == []  # nothing spoken
    assert call.errors == [] and set(call.statuses) == {200}  # every <Play> fetched as audio


async def test_a_report_in_a_recorded_language_goes_to_a_person(bot: Bot) -> None:
    """No speech recognition for the language: 2 rings the volunteers (here none, so the
    fallback line), with its recorded words."""
    bot.twilio.names[FALLBACK] = "the fallback line"
    call = await haitian(bot)
    at = len(call.heard)
    await call.press("2")
    assert played(call, at) == ["ht/fallback.wav"]
    dialed = [h.text for h in call.heard if h.kind == "dial"]
    assert dialed == ["the fallback line"]
    assert call.errors == []


async def test_alerts_by_text_from_a_recorded_language(bot: Bot, worker: Worker) -> None:
    call = await haitian(bot)
    at = len(call.heard)
    await call.press("4")
    await call.press("90210")
    await call.press("60629")
    assert played(call, at) == [
        "ht/alerts-zip.wav",
        "ht/outside.wav",
        "ht/alerts-zip.wav",
        "ht/alerts-done.wav",
        "ht/menu.wav",
    ]
    row = await bot.services.directory.get(Channel.SMS, CALLER)
    assert row is not None and (row.language, row.zone, row.status) == (
        "ht",
        "60629",
        SubscriberStatus.ACTIVE,
    )

    async def texts() -> list[str]:
        return [sms.body for sms in bot.twilio.inbox(CALLER)]

    [confirmation, *_] = await eventually(texts)
    assert "STOP" in confirmation


async def test_a_recording_replaces_only_its_own_prompt_beside_a_voice(bot: Bot) -> None:
    call = await bot.twilio.call(CALLER)
    await call.press("2")
    assert played(call)[-1] == "es/menu.wav"
    await call.press("1")
    assert call.heard[-1].kind == "say" and call.heard[-1].language == "es-MX"
    assert "Para En casa, oprima 1." in call.said[-1]


async def test_only_loaded_recordings_are_served(bot: Bot) -> None:
    async with httpx.AsyncClient(base_url=bot.url) as client:
        good = await client.get("/twilio/voice/audio/ht/menu.wav")
        assert good.status_code == 200 and good.headers["content-type"] == "audio/wav"
        assert good.content[:4] == b"RIFF"
        for path in (
            "/twilio/voice/audio/ht/menu.mp3",  # not the file's ending
            "/twilio/voice/audio/en/menu.wav",  # English has no recordings
            "/twilio/voice/audio/ht/..%2F..%2Fresources.yaml",
            "/twilio/voice/audio/ht/voice.yaml",
        ):
            assert (await client.get(path)).status_code == 404, path


def test_a_recorded_language_missing_a_prompt_stops_start_up_naming_it(tmp_path: Path) -> None:
    config = recorded_config(tmp_path, leave_out=("topic-home", "fallback"))
    with pytest.raises(ContentError) as caught:
        load_content(config)
    assert "config/voice/ht/ lacks fallback, topic-home" in str(caught.value)
    assert "rrbot content script ht" in str(caught.value)


def test_a_recording_with_an_unknown_name_is_refused(tmp_path: Path) -> None:
    config = recorded_config(tmp_path)
    silence(config / "voice" / "ht" / "manu.wav")
    with pytest.raises(ContentError, match="no prompt is called manu"):
        load_content(config)


def test_the_script_lists_each_file_with_its_words_in_the_language() -> None:
    result = CliRunner().invoke(cli, ["content", "script", "ht"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    content = load_content(CONFIG)
    for key in ("choose", "menu", "topics", "topic-home", "fallback", "alerts-done"):
        assert f"{key}.mp3" in result.output
    menu = phone.text(content, "ht", "menu").split(".")[0]
    assert menu in result.output
    assert "draft" in result.output
