"""Workshops: the ones coming up, and an RSVP to one of them."""

from __future__ import annotations

from bot.core.conversation.messages import Attachment, Choice, Reply
from bot.core.conversation.turn import BaseTurn
from bot.core.intents import Intent, Request
from bot.core.segments import count_segments
from bot.core.workshops import Rsvp, calendar_file

SMS_WORKSHOPS = 2  # workshops an SMS lists (Telegram lists a few more, with buttons)
MAX_SMS_SEGMENTS = 4


class WorkshopAnswers(BaseTurn):
    """Answers to WORKSHOPS and RSVP (and RSVP NO)."""

    async def workshops(self) -> list[Reply]:
        _ = self._
        workshops = self.c.workshops
        listed = await workshops.listed(self.session, self.row) if workshops else []
        if workshops is None or not listed:
            return [
                Reply(
                    _("No workshops are scheduled right now. Call {hotline} to ask.").format(
                        hotline=self.content.network.hotline
                    )
                )
            ]
        code = self.lang.code
        if self.sms:
            # Two at most, one line each, and one only if two would take over 4 segments.
            for shown in range(min(SMS_WORKSHOPS, len(listed)), 0, -1):
                lines = [
                    f"{n}. {w.title(code)}: {workshops.when(w.starts_at, code)}, {w.place}"
                    + (" " + _("(full)") if w.full else "")
                    for n, w in enumerate(listed[:shown], start=1)
                ]
                lines.append(_("Reply RSVP and the number to save a seat."))
                text = "\n".join(lines)
                if count_segments(text).segments <= MAX_SMS_SEGMENTS:
                    break
            return [Reply(text)]
        lines = [_("Next know-your-rights workshops:")]
        for number, workshop in enumerate(listed, start=1):
            given = ", ".join(self.content.language_name(c) for c in workshop.languages)
            full = " " + _("(full)") if workshop.full else ""
            lines.append(
                f"{number}. {workshop.title(code)}: {workshops.when(workshop.starts_at, code)}, "
                f"{workshop.place} ({given}){full}"
            )
            if workshop.description(code):
                lines.append(f"   {workshop.description(code)}")
        # One button per workshop: to come, or, for one they are coming to, to cancel.
        going = await workshops.attending(self.session, self.row, listed)
        choices = tuple(
            Choice(
                _("I can't come to {number}").format(number=n),
                Request(Intent.RSVP, f"no {n}"),
            )
            if w.id in going
            else Choice(_("I'm coming to {number}").format(number=n), Request(Intent.RSVP, str(n)))
            for n, w in enumerate(listed, start=1)
        )
        return [Reply("\n".join(lines), choices)]

    async def rsvp(self) -> list[Reply]:
        _ = self._
        workshops = self.c.workshops
        words = (self.request.arg or "").lower().split()
        numbers = [int(w) for w in words if w.isdigit()]
        if workshops is None or not numbers:
            return await self.workshops()
        if self.row is None or not self.active:
            return [
                Reply(
                    _("Sign up first to get reminders: text JOIN and your ZIP code.")
                    if self.sms
                    else _("Sign up first to get reminders: /start.")
                )
            ]
        going = not ({"no", "not", "cancel"} & set(words))
        result, workshop = await workshops.rsvp(self.session, self.row, numbers[0], going)
        code = self.lang.code
        if result is Rsvp.UNKNOWN or (workshop is None and result is not Rsvp.FULL):
            return await self.workshops()
        if result is Rsvp.FULL:
            text = _("That workshop is full.")
            if workshop is not None:
                text += " " + _("The next one with seats: {title}, {when}.").format(
                    title=workshop.title(code), when=workshops.when(workshop.starts_at, code)
                )
            return [Reply(text)]
        assert workshop is not None  # noqa: S101 (GOING and NOT_GOING name the workshop)
        if result is Rsvp.NOT_GOING:
            return [
                Reply(
                    _("Noted: you are not coming to {title}. Its reminders are off.").format(
                        title=workshop.title(code)
                    )
                )
            ]
        values = {
            "number": numbers[0],
            "title": workshop.title(code),
            "when": workshops.when(workshop.starts_at, code),
            "place": workshop.place,
        }
        if self.sms:
            text = _(
                "See you at {title}, {when}, at {place}. We will remind you the day before "
                "and 2 hours before. RSVP NO {number} if you cannot come."
            )
            return [Reply(text.format(**values))]
        # Telegram: a button to cancel, and the calendar file (an SMS can carry neither).
        text = _(
            "See you at {title}, {when}, at {place}. We will remind you the day before "
            "and 2 hours before."
        )
        return [
            Reply(
                text.format(**values),
                (Choice(_("I can't come"), Request(Intent.RSVP, f"no {numbers[0]}")),),
                attachment=Attachment(f"workshop-{workshop.id}.ics", calendar_file(workshop, code)),
            )
        ]
