"""The content in config/: complete, SMS-sized in every language, and extendable by a file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.core.content import TOPIC_KEYS, ContentError, is_real_zip, load_content
from bot.core.content_check import check
from bot.core.i18n import coverage
from bot.core.segments import MAX_SEGMENTS, count_segments
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.once  # files in config/ only: the PostgreSQL pass adds nothing

CONFIG = PROJECT_ROOT / "config"
CONTENT = load_content(CONFIG)


def test_english_and_spanish_come_first_and_carry_every_topic() -> None:
    assert CONTENT.languages[:2] == ["en", "es"]
    for code in CONTENT.languages:
        assert set(CONTENT.rights[code].topics) == set(TOPIC_KEYS), code


@pytest.mark.parametrize("code", sorted(CONTENT.rights))
def test_every_sms_rights_text_fits_four_segments_as_it_is_sent(code: str) -> None:
    texts = CONTENT.sms_rights(code)
    assert set(texts) == {"summary", "menu", *TOPIC_KEYS}
    assert all(CONTENT.network.hotline in texts[key] for key in ("summary", *TOPIC_KEYS))
    for key, text in texts.items():
        count = count_segments(text)
        assert count.segments <= MAX_SEGMENTS, (code, key, count)


@pytest.mark.parametrize("code", sorted(CONTENT.rights))
def test_every_language_passes_the_content_check(code: str) -> None:
    """Its own text for every topic, English's key points in both texts, SMS in budget,
    every interface string translated (the same check `rrbot content check` prints)."""
    (result,) = [r for r in check(CONTENT, coverage(CONFIG / "locale")) if r.code == code]
    assert result.problems == []


def test_the_spanish_sms_summary_says_what_english_does() -> None:
    """The points English's SMS summary makes, Spanish's makes too (it once dropped the
    judge's warrant, "do not lie", "am I free to go?" and the disclaimer)."""
    english, spanish = CONTENT.rights["en"], CONTENT.rights["es"]
    assert (
        set(spanish.summary_points)
        == set(english.summary_points)
        >= {"judge", "lie", "free", "advice"}
    )
    sms = " ".join(spanish.summary_sms.split())
    for words in spanish.summary_points.values():
        assert words.casefold() in sms.casefold()


def test_the_check_names_what_a_language_lacks(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    path = config / "rights/es.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["topics"]["notario"]
    del data["summary"]["points"]["advice"]
    data["summary"]["sms"] = data["summary"]["sms"].replace("¿Puedo irme?", "¿Me puedo ir?")
    data["topics"]["home"]["sms"] = "Ñ " + data["topics"]["home"]["sms"] * 2
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    content = load_content(config)
    (spanish,) = [r for r in check(content, coverage(config / "locale")) if r.code == "es"]
    problems = "\n".join(spanish.problems)
    assert "notario: missing, falls back to English" in problems
    assert "summary: point 'advice' missing" in problems
    assert "summary: the sms text lacks point 'free'" in problems
    assert "home: SMS is" in problems

    result = CliRunner().invoke(app, ["content", "check", "--config", str(config)])
    assert result.exit_code == 1
    assert "notario: missing" in result.output
    clean = CliRunner().invoke(app, ["content", "check", "--config", str(CONFIG)])
    assert clean.exit_code == 0, clean.output


def test_the_core_rights_are_in_every_language() -> None:
    english = " ".join(t.telegram for t in CONTENT.rights["en"].topics.values()).lower()
    for phrase in ("remain silent", "warrant", "judge", "sign", "lawyer", "badge"):
        assert phrase in english
    spanish = " ".join(t.telegram for t in CONTENT.rights["es"].topics.values()).lower()
    for phrase in ("silencio", "orden", "juez", "firme", "abogado", "placa"):
        assert phrase in spanish


def test_zones_are_real_illinois_zip_codes_including_the_suburbs() -> None:
    zones = CONTENT.zones.names
    assert len(zones) > 80
    assert all(is_real_zip(z) for z in zones)
    for town_zip in ("60804", "60402", "60160", "60085", "60120", "60505"):  # Cicero … Aurora
        assert town_zip in zones
    assert "90210" not in zones


def test_a_new_language_is_a_file_and_missing_parts_fall_back_to_english(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    (config / "rights/so.yaml").write_text(
        "language: so\nname: Soomaali\nkeywords: [SOOMAALI, SOMALI]\nwords: {rights: [XUQUUQ]}\n"
        "summary:\n  telegram: Xuquuqdaada.\n  sms: Xuquuqdaada.\n"
        "topics:\n  home: {title: Guriga, telegram: Albaabka ha furin., sms: Albaabka ha furin.}\n",
        encoding="utf-8",
    )
    content = load_content(config)
    assert "so" in content.languages and content.language_name("so") == "Soomaali"
    assert content.language_names["SOMALI"] == "so"
    assert content.topic("so", "home").title == "Guriga"
    assert content.topic("so", "car") == content.topic("en", "car")
    # No catalogue for Somali yet: interface strings stay English, no crash.
    assert content.lang("so").gettext("Know your rights") == "Know your rights"
    # The check says what is missing: the other topics, the key points, the strings.
    (somali,) = [r for r in check(content, coverage(config / "locale")) if r.code == "so"]
    assert "car: missing, falls back to English" in somali.problems
    assert any(p.startswith("interface:") for p in somali.problems)


def test_a_broken_content_file_names_itself(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    (config / "rights/es.yaml").write_text("language: es\nname: Español\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"es\.yaml"):
        load_content(config)


def test_config_is_read_again_only_when_a_file_in_it_changes(tmp_path: Path) -> None:
    """Every process and test builds its services from config/; an unchanged folder is read
    once, and an edited file (a network fixing its hotline number) is seen at the next load."""
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    first = load_content(config)
    assert load_content(config) is first
    path = config / "resources.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["network"]["hotline"] = "(312) 555-0199 ext 2"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    edited = load_content(config)
    assert edited is not first
    assert edited.network.hotline == "(312) 555-0199 ext 2"
