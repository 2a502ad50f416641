"""Generated input at the real handlers over the fakes (issue 16, done-when): SMS bodies from
any keyboard, Telegram texts and forged button data. No 500, no silence (an answer, or a
silence the carrier rules call for), no error in the log, no handling failure counted.
Bounded: a fixed number of examples, no shrinking time limit beyond hypothesis' own."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sim.fake_twilio import HELP_KEYWORDS, OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS
from tests.conftest import Bot
from tests.support import metrics

pytestmark = pytest.mark.once  # parsing and answering: the PostgreSQL pass adds nothing

# What people in a raid type: keywords and ZIP codes in any case, with the marks and digits of
# other keyboards around them, emoji, and anything else.
PIECES = st.sampled_from(
    [
        "JOIN", "STOP", "stop", "ALTA", "BAJA", "HELP", "AYUDA", "RIGHTS", "DERECHOS", "REPORT",
        "RSVP", "RSVP NO", "LANG", "ESPAÑOL", "60629", "60623", "90210", "6062", "1", "7",
        "\u200f", "\u200b", "\ufeff", "\u202e", "\u0666\u0660\u0666\u0662\u0669",
        "\u1369\u136a", "99999999999999999999", "🚨", "cancel my RSVP", "agents at the corner",
        "¿", "\n", " ",
    ]
)  # fmt: skip
BODIES = st.one_of(
    st.lists(st.one_of(PIECES, st.text(max_size=12)), min_size=0, max_size=6).map("".join),
    st.text(max_size=200),
)
PHONES = st.sampled_from([f"+1312555{n:04d}" for n in range(3000, 3008)])
SETTINGS = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,  # the same examples every run: CI is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def carrier_silence(bot: Bot, phone: str, body: str) -> bool:
    """A silence the rules call for: Twilio answers its own keywords, and nothing reaches a
    number it blocks (the bot's replies included)."""
    word = body.strip().upper()
    return (
        phone in bot.twilio.opted_out or word in OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS | HELP_KEYWORDS
    )


@pytest.fixture
def quiet_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog


@SETTINGS
@given(phone=PHONES, body=BODIES)
async def test_any_sms_gets_an_answer_never_a_500(
    bot: Bot, quiet_log: pytest.LogCaptureFixture, phone: str, body: str
) -> None:
    result = await bot.twilio.text(phone, body)
    assert result.status == 200, result.status
    assert result.replies or carrier_silence(bot, phone, body)
    assert all(len(reply) <= 1600 for reply in result.replies)
    errors = [r for r in quiet_log.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert 'rrbot_handler_errors_total{channel="sms"}' not in await metrics(bot)


@settings(SETTINGS, max_examples=40)
@given(
    text=BODIES.filter(lambda t: t.strip() != ""),
    data=st.one_of(st.text(max_size=70), st.from_regex(r"[a-z]{1,3}:[0-9a-z:]{0,30}")),
)
async def test_any_telegram_text_or_button_gets_an_answer(
    bot: Bot, quiet_log: pytest.LogCaptureFixture, text: str, data: str
) -> None:
    user = 74100
    bot.telegram.add_user(user)
    had = len(bot.telegram.messages_to(user))
    await bot.telegram.send_text(user, text)
    await bot.telegram.wait_for(user, had + 1)
    [answer] = bot.telegram.messages_to(user)[-1:]
    answers = len(bot.telegram.callback_answers)
    await bot.telegram.press(user, answer.message_id, data)
    await bot.telegram.wait_callback_answers(answers + 1)
    errors = [r for r in quiet_log.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert 'rrbot_handler_errors_total{channel="telegram"}' not in await metrics(bot)
