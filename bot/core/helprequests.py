"""Help requests: someone an alert asked to check in replied "2, I need help" (issue 19).

A help request is a report with `help_for` (the alert): its card reaches the coordinators on
duty without the person's identity, it escalates like any report, and a coordinator can relay
a question or, when the person wrote by SMS and the hotline has a number, press "Call back":
Twilio rings the coordinator's own hotline phone (registered with /hotline phone), and once
they press 1, the person, both seeing only the hotline's number. Nobody sees the other's
number; the call is deleted at Twilio once it has ended (TWILIO_DELETE_MESSAGES).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.audit import Actor, record
from bot.core.errors import Explained
from bot.core.escalation import Escalation
from bot.core.i18n import N_
from bot.core.reporting import AWAIT_ANSWER, OPEN
from bot.core.vocabulary import Channel, ReportStatus
from bot.storage.db import Session
from bot.storage.models import ReportRow
from bot.storage.reports import ReportRows

CallBackPort = Callable[[str, int], Awaitable[str | None]]
"""Ring a coordinator's phone (the number) about help request N, then the person: None once
Twilio has the call, else the error (the voice channel's `CallBack`)."""


class HelpError(Explained):
    """A call-back that cannot be made, in words a coordinator can act on."""


class HelpRequests(Escalation):
    """The call-back of a help request; `Reports` adds the rest of what coordinators do."""

    call_back_via: CallBackPort | None = None  # set by the app when the hotline has a number
    phone_of: Callable[[int], Awaitable[str | None]] | None = None  # a coordinator's phone

    async def help_request(
        self,
        session: Session,
        channel: str,
        address: str,
        language: str,
        zone: str | None,
        alert_id: int,
    ) -> ReportRow:
        """Someone answered alert `alert_id`'s check-in "2, I need help": a help request,
        submitted at once (its card reaches the coordinators on duty for the zone, without
        who it is); their next message (where they are, what they need) goes onto it."""
        row = await self._new(session, channel, address, language, zone, ReportStatus.NEW)
        row.help_for = alert_id
        self._await(row, AWAIT_ANSWER)
        await self._submitted(session, row)
        return row

    async def call_back(self, report_id: int, by: Actor) -> None:
        """Have Twilio ring `by`'s hotline phone, then the person who asked for help."""
        if self.call_back_via is None or self.phone_of is None:
            raise HelpError(N_("call-backs need the hotline: a Twilio number (TWILIO_FROM_NUMBER)"))
        if by.coordinator_id is None or (phone := await self.phone_of(by.coordinator_id)) is None:
            raise HelpError(N_("first give your phone for hotline calls: /hotline phone NUMBER"))
        async with self.db.transaction() as session:
            if await self._callee(session, report_id) is None:
                raise HelpError(
                    N_("#{id} cannot be called back: only an open help request sent by SMS can"),
                    id=report_id,
                )
            record(session, by, "report.call_back", f"report:{report_id}", self.clock())
        error = await self.call_back_via(phone, report_id)
        if error is not None:
            raise HelpError(
                N_("the call could not be placed ({error}); try again, or send a question"),
                error=error,
            )

    async def callee(self, report_id: int) -> str | None:
        """The number to connect a call-back to: only while the help request is open and
        came by SMS (for the voice channel, when the coordinator has accepted the call)."""
        async with self.db.transaction() as session:
            return await self._callee(session, report_id)

    async def _callee(self, session: Session, report_id: int) -> str | None:
        row = await ReportRows(session).get(report_id)
        if (
            row is None
            or row.help_for is None
            or row.channel != Channel.SMS
            or row.status not in OPEN
        ):
            return None
        return self.reporter(row)
