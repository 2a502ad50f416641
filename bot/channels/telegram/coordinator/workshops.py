"""Workshops in Telegram: /workshop sets one up step by step (a flow), /workshop list shows
the upcoming ones to cancel, /workshop move moves one (everyone coming is told)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from bot.channels.telegram.buttons import (
    CancelWorkshop,
    CoordinatorButton,
    SaveWorkshop,
    WorkshopChoice,
)
from bot.channels.telegram.coordinator.signoffs import SignOffsFeature
from bot.channels.telegram.coordinator.turn import Feature, Rows, Turn
from bot.core.content import Content
from bot.core.errors import Explained
from bot.core.flows import Flow
from bot.core.parse import ParseError, local_time, number, zone_list
from bot.core.vocabulary import FlowKind
from bot.core.workshops import DEFAULT_MINUTES, WorkshopError, WorkshopPlan, Workshops


class Step(StrEnum):
    """The set-up's steps, in order."""

    TITLE = "title"
    TITLE_ES = "title_es"
    START = "start"
    PLACE = "place"
    ZONES = "zones"
    CAPACITY = "capacity"
    CONFIRM = "confirm"  # the summary, and how to save it


ORDER = list(Step)


class WorkshopsFeature(Feature):
    commands = ("workshop",)
    buttons = (SaveWorkshop, CancelWorkshop)
    flow = FlowKind.WORKSHOP

    def __init__(self, workshops: Workshops, content: Content, signoffs: SignOffsFeature) -> None:
        self.workshops = workshops
        self.content = content
        self.signoffs = signoffs  # asks a second coordinator to agree to an announcement

    def help(self, turn: Turn) -> list[str]:
        return [
            turn._("/workshop sets up a workshop; /workshop list shows the upcoming ones"),
            turn._("/workshop move ID YYYY-MM-DD HH:MM [new place] moves one"),
        ]

    async def command(self, turn: Turn, name: str, args: list[str]) -> None:
        if args and args[0].lower() == "list":
            await self._list(turn)
        elif args and args[0].lower() == "move":
            await self._move(turn, args[1:])
        elif await turn.may_start(FlowKind.WORKSHOP):
            await self.begin(turn)

    async def begin(self, turn: Turn, subject: int = 0) -> None:
        flow = await turn.flows.start(turn.me.id, FlowKind.WORKSHOP, Step.TITLE)
        await self.resume(turn, flow)

    async def resume(self, turn: Turn, flow: Flow) -> None:
        _ = turn._
        step = Step(flow.step)
        if step is Step.CONFIRM:
            await self._confirm(turn, flow)
            return
        prompts = {
            Step.TITLE: _("New workshop. Its title in English? (/cancel to stop)"),
            Step.TITLE_ES: _("Its title in Spanish? (/skip to use the English one)"),
            Step.START: _("When does it start? YYYY-MM-DD HH:MM, network time."),
            Step.PLACE: _("Where? An address or an online link."),
            Step.ZONES: _("Which zones does it serve? ZIP codes separated by commas, or all."),
            Step.CAPACITY: _("How many seats? (/skip for no limit)"),
        }
        await turn.say(prompts[step])

    async def step(self, turn: Turn, flow: Flow, text: str | None) -> None:
        _ = turn._
        step = Step(flow.step)
        value = (text or "").strip()
        data: dict[str, object] = {}
        if step is Step.TITLE:
            if not value:
                await self.resume(turn, flow)  # the English title cannot be skipped
                return
            data["title"] = value
        elif step is Step.TITLE_ES:
            data["title_es"] = value or None
        elif step is Step.START:
            try:
                data["start"] = local_time(value, self.workshops.timezone).isoformat()
            except ParseError as exc:
                await turn.say(exc.say(_))
                return
        elif step is Step.PLACE:
            data["place"] = value or None
        elif step is Step.ZONES:
            try:
                zones = zone_list(
                    value or "all", lambda z: self.content.zones.name_of(z) is not None
                )
            except ParseError as exc:
                await turn.say(exc.say(_))
                return
            data["zones"] = list(zones)
        elif step is Step.CAPACITY:
            if value and not value.isdigit():
                await turn.say(_("A number of seats, or /skip for no limit."))
                return
            data["capacity"] = int(value) if value else None
        else:
            await self.resume(turn, flow)
            return
        saved = await turn.flows.save(flow.at(ORDER[ORDER.index(step) + 1], **data))
        if saved is not None:
            await self.resume(turn, saved)

    async def _confirm(self, turn: Turn, flow: Flow) -> None:
        _ = turn._
        d = flow.data
        code = turn.lang.code
        start = datetime.fromisoformat(str(d["start"]))
        summary = _("{title}: {when}, {place}. Zones: {zones}. Seats: {seats}.").format(
            title=d["title"],
            when=self.workshops.when(start, code),
            place=d.get("place") or "-",
            zones=", ".join(d["zones"]),
            seats=d.get("capacity") or _("no limit"),
        )
        t = flow.token
        now = self.workshops.clock()
        quiet = self.workshops.after_quiet(now) != now
        if quiet:
            announce = _("Schedule, announce in the morning")
        else:
            announce = _("Schedule and announce now")
        rows: Rows = [
            [
                (_("Schedule"), SaveWorkshop(t, WorkshopChoice.SCHEDULE)),
                (announce, SaveWorkshop(t, WorkshopChoice.ANNOUNCE)),
            ],
            [
                *(
                    [(_("Announce now, even at night"), SaveWorkshop(t, WorkshopChoice.NOW))]
                    if quiet
                    else []
                ),
                (_("Cancel"), SaveWorkshop(t, WorkshopChoice.DROP)),
            ],
        ]
        await turn.say(summary, rows)

    async def button(self, turn: Turn, button: CoordinatorButton) -> None:
        if isinstance(button, CancelWorkshop):
            await self._cancel(turn, button.workshop)
            return
        if not isinstance(button, SaveWorkshop):
            await turn.stale()
            return
        flow = await turn.flow(FlowKind.WORKSHOP, button.flow)
        if flow is None or flow.step != Step.CONFIRM:
            await turn.stale()
            return
        if await turn.finish(flow):
            await turn.answer()
            await self._save(turn, flow, button.choice)

    async def _save(self, turn: Turn, flow: Flow, choice: WorkshopChoice) -> None:
        _ = turn._
        if choice is WorkshopChoice.DROP:
            await turn.close_keyboard(_("Cancelled."))
            return
        d = flow.data
        titles = {
            "en": str(d["title"]),
            **({"es": str(d["title_es"])} if d.get("title_es") else {}),
        }
        try:
            added = await self.workshops.add(
                WorkshopPlan(
                    titles=titles,
                    starts_at=datetime.fromisoformat(str(d["start"])),
                    minutes=DEFAULT_MINUTES,
                    place=str(d.get("place") or ""),
                    languages=tuple(self.content.languages),
                    zones=tuple(d["zones"]),
                    capacity=d.get("capacity"),
                ),
                turn.me.actor(),
            )
        except WorkshopError as exc:
            await turn.close_keyboard()
            await turn.say(_("Not scheduled: {reason}").format(reason=exc.say(_)))
            return
        text = _("Workshop #{id} is scheduled.").format(id=added.id)
        if choice is WorkshopChoice.SCHEDULE:
            await turn.close_keyboard(_("Scheduled"))
        else:
            quiet = choice is not WorkshopChoice.NOW
            try:
                announced = await self.workshops.announce(
                    added.id, turn.me.actor(), quiet_hours=quiet
                )
            except Explained as exc:
                await turn.close_keyboard(_("Scheduled"))
                await turn.say(text + " " + _("Not announced: {reason}").format(reason=exc.say(_)))
                return
            if announced.waiting is not None:
                await turn.close_keyboard(_("Scheduled; the announcement waits for approval"))
                await turn.say(
                    text + " " + _("Its announcement waits for a second coordinator to agree.")
                )
                await self.signoffs.ask(turn, announced.waiting)
                return
            told = announced.queued
            if announced.due > self.workshops.clock():
                note = turn.n_(
                    "The announcement goes to {n} person at {time}, after the quiet hours.",
                    "The announcement goes to {n} people at {time}, after the quiet hours.",
                    told,
                ).format(n=told, time=self.workshops.when(announced.due, turn.lang.code))
            else:
                note = turn.n_(
                    "The announcement goes to {n} person now.",
                    "The announcement goes to {n} people now.",
                    told,
                ).format(n=told)
            text += " " + note
            await turn.close_keyboard(_("Scheduled and announced"))
        await turn.say(text)

    async def _list(self, turn: Turn) -> None:
        _ = turn._
        upcoming = await self.workshops.upcoming(10)
        if not upcoming:
            await turn.say(_("No workshops are scheduled."))
            return
        code = turn.lang.code
        lines = [
            f"#{w.id} {w.title(code)}: {self.workshops.when(w.starts_at, code)}, {w.place} "
            f"({w.going}{'/' + str(w.capacity) if w.capacity else ''})"
            for w in upcoming
        ]
        rows: Rows = [[(_("Cancel #{id}").format(id=w.id), CancelWorkshop(w.id))] for w in upcoming]
        lines.append(_("To move one: /workshop move ID YYYY-MM-DD HH:MM [new place]"))
        await turn.say("\n".join(lines), rows)

    async def _move(self, turn: Turn, args: list[str]) -> None:
        """`/workshop move ID YYYY-MM-DD HH:MM [new place]`: everyone coming is told."""
        _ = turn._
        try:
            workshop_id = number(args[0])
            if workshop_id is None:
                raise ValueError("no workshop number")
            start = local_time(" ".join(args[1:3]), self.workshops.timezone)
        except (IndexError, ValueError):
            await turn.say(
                _("Say /workshop move ID YYYY-MM-DD HH:MM, and a new place if it changes.")
            )
            return
        place = " ".join(args[3:]) or None
        try:
            told = await self.workshops.move(workshop_id, start, turn.me.actor(), place)
        except WorkshopError as exc:
            await turn.say(exc.say(_))
            return
        await turn.say(
            turn.n_(
                "Workshop #{id} is moved; {n} person is told.",
                "Workshop #{id} is moved; {n} people are told.",
                told,
            ).format(id=workshop_id, n=told)
        )

    async def _cancel(self, turn: Turn, workshop_id: int) -> None:
        _ = turn._
        try:
            told = await self.workshops.cancel(workshop_id, turn.me.actor())
        except WorkshopError as exc:
            await turn.answer(exc.say(_))
            await turn.close_keyboard()
            return
        await turn.answer()
        await turn.close_keyboard(_("Cancelled #{id}").format(id=workshop_id))
        await turn.say(
            turn.n_(
                "Workshop #{id} is cancelled; {n} person is told.",
                "Workshop #{id} is cancelled; {n} people are told.",
                told,
            ).format(id=workshop_id, n=told)
        )
