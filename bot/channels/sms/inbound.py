"""Reading Twilio's inbound SMS form: who (E.164), what they asked, and Twilio's own opt-out word."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import phonenumbers

from bot.core.content import TOPIC_KEYS, Content
from bot.core.conversation import Inbound
from bot.core.keywords import parse_text
from bot.core.vocabulary import Channel

DEFAULT_REGION = "US"
# Twilio's opt-out keywords for long codes: the whole message, any case. Advanced Opt-Out
# names its own (and says so in OptOutType); without it, these are the ones that block.
TWILIO_OPT_OUT = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
TWILIO_OPT_IN = ("START", "UNSTOP", "YES")  # Twilio's defaults; TWILIO_OPT_IN_KEYWORDS adds


def normalize_number(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """A phone number in E.164 (+13125550123), or None when it is not a valid number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def read_inbound(
    form: Mapping[str, str], content: Content, opt_in_keywords: Sequence[str] = TWILIO_OPT_IN
) -> Inbound | None:
    """The conversation's view of one inbound SMS; None if the sender is not a valid number."""
    address = normalize_number(form.get("From", ""))
    if address is None:
        return None
    body = form.get("Body", "")
    request = parse_text(body, content.language_names, len(TOPIC_KEYS), content.language_words)
    # Twilio matches its keywords against the whole message, trimmed, in any case; with
    # Advanced Opt-Out it also tells us which kind it matched.
    word = body.strip().upper()
    kind = form.get("OptOutType", "").upper()
    return Inbound(
        channel=Channel.SMS,
        address=address,
        request=request,
        # With Advanced Opt-Out, Twilio has already replied to STOP, START and HELP.
        provider_answered=bool(kind),
        provider_opt_out=kind == "STOP" or (not kind and word in TWILIO_OPT_OUT),
        provider_opt_in=kind == "START" or (not kind and word in opt_in_keywords),
        text=body.strip(),
    )
