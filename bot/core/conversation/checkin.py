"""A check-in's answers: an alert may end "Reply 1 if you are safe, 2 if you need help".

A bare 1 or 2 from someone such an alert went to in the last CHECK_IN_WINDOW answers it
(otherwise it is a rights topic's number, as always). 1 is counted. 2 is counted and opens a
help request: a report with `help_for`, whose card reaches the coordinators without the
person's identity; their next message goes onto it. Once answered, 1 means a topic again,
and a 2 after a 1 still asks for help (things change).
"""

from __future__ import annotations

from datetime import timedelta

from bot.core.conversation.messages import Reply
from bot.core.conversation.turn import BaseTurn
from bot.core.i18n import N_
from bot.core.vocabulary import CheckInAnswer
from bot.storage.checkins import CheckInRows

CHECK_IN_WINDOW = timedelta(hours=24)  # after the alert's approval
DIGITS = {"1": CheckInAnswer.SAFE, "2": CheckInAnswer.HELP}

SAFE_THANKS = N_(
    "Thank you, we are glad you are safe. If that changes, reply 2 or call the hotline {hotline}."
)
HELP_TAKEN = N_(
    "We have told the network's volunteers; one will contact you soon. If you can, reply with "
    "where you are (cross streets, not a home address) and what you need. Hotline {hotline}."
)


class CheckInAnswers(BaseTurn):
    async def check_in(self) -> list[Reply] | None:
        """The answer to a check-in, or None when this message answers none."""
        answer = DIGITS.get((self.request.arg or "").strip())
        if answer is None or self.row is None or not self.active:
            return None
        rows = CheckInRows(self.session)
        alert = await rows.asked(self.row.id, self.now - CHECK_IN_WINDOW)
        if alert is None:
            return None
        before = await rows.answer_of(alert.id, self.row.id)
        if before is not None and (before.answer == CheckInAnswer.HELP or answer == before.answer):
            return None  # answered: the digit means what it always does
        await rows.record(alert.id, self.row.id, answer, self.now)
        hotline = self.content.network.hotline
        if answer is CheckInAnswer.SAFE:
            return [Reply(self._(SAFE_THANKS).format(hotline=hotline))]
        if self.c.reports is not None:
            await self.c.reports.help_request(
                self.session,
                self.inbound.channel,
                self.inbound.address,
                self.lang.code,
                self.row.zone,
                alert.id,
            )
        return [Reply(self._(HELP_TAKEN).format(hotline=hotline))]
