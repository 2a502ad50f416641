"""Reading Twilio's inbound SMS form: who (E.164), what they asked, and Twilio's own opt-out word."""

from __future__ import annotations

from collections.abc import Mapping

import phonenumbers

from bot.core.content import TOPIC_KEYS, Content
from bot.core.conversation import Inbound
from bot.core.keywords import parse_text
from bot.core.vocabulary import Channel

DEFAULT_REGION = "US"


def normalize_number(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """A phone number in E.164 (+13125550123), or None when it is not a valid number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def read_inbound(form: Mapping[str, str], content: Content) -> Inbound | None:
    """The conversation's view of one inbound SMS; None if the sender is not a valid number."""
    address = normalize_number(form.get("From", ""))
    if address is None:
        return None
    names = {content.language_name(code): code for code in content.languages}
    request = parse_text(form.get("Body", ""), names, len(TOPIC_KEYS))
    return Inbound(
        channel=Channel.SMS,
        address=address,
        request=request,
        # With Advanced Opt-Out, Twilio has already replied to STOP, START and HELP.
        provider_answered=bool(form.get("OptOutType")),
        text=form.get("Body", "").strip(),
    )
