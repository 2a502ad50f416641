"""Button data: every kind packs and parses back, within Telegram's 64 bytes; anything else
parses to None; subscribers' old keyboards still mean what they meant."""

from __future__ import annotations

import pytest

from bot.channels.telegram import buttons as b
from bot.channels.telegram.buttons import CallbackData
from bot.core.cards import CardAction
from bot.core.intents import Intent, Request
from bot.core.vocabulary import AlertKind, FlowKind, Role

pytestmark = pytest.mark.once  # button data: no database

BIG = 2**31 - 1  # the largest flow token

EVERY_KIND = [
    b.Rights(),
    b.Rights("home"),
    b.Language("es"),
    b.ZonePrompt(),
    b.Help(),
    b.ReportStep("outcome:123456"),
    b.Rsvp("no 2"),
    b.WorkshopList(),
    b.StartReport(),
    b.PickKind(BIG, AlertKind.ALL_CLEAR),
    b.PickOriginal(BIG, 999_999),
    b.PickExpiry(BIG, 12),
    b.Preview(BIG, b.PreviewChoice.EXPIRY),
    b.PickText(BIG, "es"),
    b.PickTemplate(BIG, "all_clear"),
    b.Approve(999_999),
    b.Reject(999_999),
    b.Agree(999_999),
    b.Refuse(999_999),
    b.Card(999_999, CardAction.NOT_CONFIRMED),
    b.DuplicateOf(999_999, 999_998),
    b.SaveWorkshop(BIG, b.WorkshopChoice.ANNOUNCE),
    b.CancelWorkshop(999_999),
    b.Invite(Role.COORDINATOR),
    b.Remove(999_999),
    b.SwitchFlow(BIG, FlowKind.WORKSHOP),
    b.KeepFlow(BIG),
]


def test_every_kind_of_button_is_listed_here() -> None:
    assert {type(button) for button in EVERY_KIND} == set(CallbackData._kinds.values())


@pytest.mark.parametrize("button", EVERY_KIND, ids=lambda button: button.prefix)
def test_a_button_packs_within_64_bytes_and_parses_back(button: CallbackData) -> None:
    data = button.pack()
    assert len(data.encode()) <= 64
    assert CallbackData.parse(data) == button


@pytest.mark.parametrize(
    ("data", "meaning"),
    [
        ("rights", Request(Intent.RIGHTS)),
        ("rights:home", Request(Intent.RIGHTS_TOPIC, "home")),
        ("lang", Request(Intent.LANGUAGE_MENU)),
        ("lang:es", Request(Intent.SET_LANGUAGE, "es")),
        ("zone", Request(Intent.ZONE_PROMPT)),
        ("help", Request(Intent.HELP)),
        ("report:outcome:12", Request(Intent.REPORT_ACTION, "outcome:12")),
        ("rsvp:no:2", Request(Intent.RSVP, "no:2")),
    ],
)
def test_a_subscribers_keyboard_from_before_still_means_the_same(
    data: str, meaning: Request
) -> None:
    button = CallbackData.parse(data)
    assert button is not None and b.request_of(button) == meaning
    assert b.for_request(meaning).pack() == data


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "c:kind:alert",  # the old coordinator scheme
        "ak:12",  # a field missing
        "ak:12:nonsense",  # not an alert kind
        "ak:-1:alert",
        "ak:1:alert:extra:fields",
        "aa:1e3",
        "aa:" + "9" * 13,
        "help:something",
        "ws:1:announce" + " " * 60,  # over 64 bytes
        "\x00\xff",
    ],
)
def test_anything_else_parses_to_none(data: str | None) -> None:
    assert CallbackData.parse(data) is None


def test_packing_refuses_data_over_64_bytes() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        b.PickText(1, "x" * 60).pack()


@pytest.mark.parametrize(
    "data",
    [
        "aa:99999999999999999999",
        "aa:2147483648",
        "aa:\u0666",
        "aa:-1",
        "aa:1e3",
        "aa: 7",
        "r:abc:claim",
    ],
)
def test_a_number_no_table_could_hold_or_not_in_ascii_digits_is_no_button(data: str) -> None:
    assert CallbackData.parse(data) is None  # answered as stale: never an overflow or a 500


def test_the_largest_id_a_table_holds_still_packs() -> None:
    assert CallbackData.parse(b.Approve(2**31 - 1).pack()) == b.Approve(2**31 - 1)
