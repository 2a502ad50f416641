from __future__ import annotations

import pytest

from bot.core.segments import count_segments

pytestmark = pytest.mark.once  # SMS segment counting: no database


def test_gsm7_single_and_multipart_boundaries() -> None:
    assert count_segments("a" * 160).segments == 1
    assert count_segments("a" * 161).segments == 2
    assert count_segments("a" * 306).segments == 2
    assert count_segments("a" * 307).segments == 3
    assert count_segments("hola").encoding == "GSM-7"


def test_extension_characters_cost_two_septets() -> None:
    count = count_segments("€" * 80)
    assert (count.encoding, count.units, count.segments) == ("GSM-7", 160, 1)
    assert count_segments("€" * 81).segments == 2


def test_spanish_accents_force_ucs2_and_are_reported() -> None:
    count = count_segments("Información")
    assert count.encoding == "UCS-2" and count.non_gsm == ("ó",)
    assert count_segments("ó" * 70).segments == 1
    assert count_segments("ó" * 71).segments == 2
    assert count_segments("ó" * 134).segments == 2
    assert count_segments("ó" * 135).segments == 3
    # ñ, é, ¿ and ¡ are in the GSM-7 alphabet: no UCS-2 for them.
    assert count_segments("¿Señor? ¡Café!").encoding == "GSM-7"


def test_emoji_take_two_ucs2_units() -> None:
    assert count_segments("🙂").units == 2


def test_an_escape_pair_is_never_split_across_segments() -> None:
    # 152 plain characters then "€": the pair does not fit the first segment's last septet.
    count = count_segments("a" * 152 + "€" + "a" * 10)
    assert (count.units, count.segments) == (164, 2)
    assert count_segments("a" * 152 + "€" + "a" * 152).segments == 3
