"""The content in config/: complete, SMS-sized in every language, and extendable by a file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.core.content import TOPIC_KEYS, ContentError, is_real_zip, load_content
from bot.core.segments import MAX_SEGMENTS, count_segments
from bot.settings import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "config"
CONTENT = load_content(CONFIG)


def test_english_and_spanish_carry_every_topic() -> None:
    assert CONTENT.languages[:2] == ["en", "es"]
    for code in ("en", "es"):
        assert set(CONTENT.rights[code].topics) == set(TOPIC_KEYS)


@pytest.mark.parametrize("code", sorted(CONTENT.rights))
def test_every_sms_rights_text_fits_four_segments_with_the_hotline(code: str) -> None:
    lang = CONTENT.lang(code)
    hotline = " " + lang.gettext("Hotline {hotline}").format(hotline=CONTENT.network.hotline)
    menu = ", ".join(f"{n} {CONTENT.topic(code, k).title}" for n, k in enumerate(TOPIC_KEYS, 1))
    summary = lang.gettext("{summary} Reply {menu}.")
    texts = {"summary": summary.format(summary=CONTENT.rights[code].summary_sms, menu=menu)}
    texts |= {key: CONTENT.topic(code, key).sms for key in TOPIC_KEYS}
    for key, text in texts.items():
        count = count_segments(text + hotline)
        assert count.segments <= MAX_SEGMENTS, (code, key, count)


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


def test_every_interface_string_has_a_spanish_translation() -> None:
    from babel.messages.pofile import read_po

    with (CONFIG / "locale/es/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle)
    missing = [m.id for m in catalog if m.id and not m.string]
    assert missing == []


def test_a_new_language_is_a_file_and_missing_parts_fall_back_to_english(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    (config / "rights/pl.yaml").write_text(
        "language: pl\nname: Polski\nsummary:\n  telegram: Masz prawa.\n  sms: Masz prawa.\n"
        "topics:\n  home: {title: W domu, telegram: Nie otwieraj drzwi., sms: Nie otwieraj drzwi.}\n",
        encoding="utf-8",
    )
    content = load_content(config)
    assert "pl" in content.languages and content.language_name("pl") == "Polski"
    assert content.topic("pl", "home").title == "W domu"
    assert content.topic("pl", "car") == content.topic("en", "car")
    # No catalogue for Polish yet: interface strings stay English, no crash.
    assert content.lang("pl").gettext("Know your rights") == "Know your rights"


def test_a_broken_content_file_names_itself(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    (config / "rights/es.yaml").write_text("language: es\nname: Español\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"es\.yaml"):
        load_content(config)
