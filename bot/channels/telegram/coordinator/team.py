"""The team in Telegram: /coordinators lists it; admins invite (one-time links, 24 hours) and
remove; `/start inv_CODE` redeems an invite. /duty says which zones' reports come to you."""

from __future__ import annotations

from babel.dates import get_day_names
from telegram import Update

from bot.channels.telegram.buttons import CoordinatorButton, Invite, Remove
from bot.channels.telegram.coordinator.signoffs import SignOffsFeature
from bot.channels.telegram.coordinator.turn import Context, Feature, Turn
from bot.core.content import Content
from bot.core.coordinators import CoordinatorError, Coordinators
from bot.core.errors import Explained
from bot.core.hotline import Hotline, HotlineError, Volunteer
from bot.core.i18n import N_
from bot.core.parse import ALL_ZONES, ParseError, weekly_shift, zone_list
from bot.core.signoffs import SignOff
from bot.core.vocabulary import Role

ROLE_NAMES = {Role.ADMIN: N_("admin"), Role.COORDINATOR: N_("coordinator")}


class TeamFeature(Feature):
    commands = ("coordinators",)
    buttons = (Invite, Remove)

    def __init__(
        self, coordinators: Coordinators, content: Content, signoffs: SignOffsFeature
    ) -> None:
        self.coordinators = coordinators
        self.content = content
        self.signoffs = signoffs  # removing and making admins: a second admin agrees

    def help(self, turn: Turn) -> list[str]:
        return [turn._("/coordinators lists the team (admins invite and remove)")]

    async def command(self, turn: Turn, name: str, args: list[str]) -> None:
        _ = turn._
        everyone = await self.coordinators.all()
        lines = [_("Coordinators:")] + [
            f"#{c.id} {c.label} · {_(ROLE_NAMES[c.role])}" for c in everyone
        ]
        if not turn.me.is_admin:
            await turn.say("\n".join(lines))
            return
        rows: list[list[tuple[str, CoordinatorButton]]] = [
            [
                (_("Invite a coordinator"), Invite(Role.COORDINATOR)),
                (_("Invite an admin"), Invite(Role.ADMIN)),
            ]
        ]
        rows += [
            [(_("Remove #{id}").format(id=c.id), Remove(c.id))]
            for c in everyone
            if c.id != turn.me.id
        ]
        await turn.say("\n".join(lines), rows)

    async def button(self, turn: Turn, button: CoordinatorButton) -> None:
        _ = turn._
        if not turn.me.is_admin:
            await turn.answer(_("Only an admin can do that."))
            return
        if isinstance(button, Invite):
            try:
                invited = await self.coordinators.invite(button.role, turn.me.actor())
            except Explained as exc:
                await turn.answer(exc.say(_))
                return
            await turn.answer()
            if isinstance(invited, SignOff):
                await self._asked(turn, invited)
                return
            link = f"https://t.me/{turn.context.bot.username}?start=inv_{invited}"
            await turn.say(
                _(
                    "Invite for one {role}, valid 24 hours and once. Send them this link privately:\n{link}"
                ).format(role=_(ROLE_NAMES[button.role]), link=link)
            )
        elif isinstance(button, Remove):
            try:
                asked = await self.coordinators.remove(button.coordinator, turn.me.actor())
            except Explained as exc:
                await turn.answer(exc.say(_))
                return
            await turn.answer()
            if asked is not None:
                await self._asked(turn, asked)
                return
            await turn.close_keyboard(_("Removed #{id}.").format(id=button.coordinator))
        else:
            await turn.stale()

    async def _asked(self, turn: Turn, sign_off: SignOff) -> None:
        """A second admin must agree: the request goes to them, and the admin hears so."""
        _ = turn._
        await self.signoffs.ask(turn, sign_off)
        await turn.say(_("A second admin must agree: the request went to the other admins."))

    async def redeem(self, update: Update, context: Context, code: str) -> None:
        """`/start inv_CODE`: join as a coordinator, or hear why the code does not work."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        lang = self.content.speaking(user.language_code)
        _ = lang.gettext
        try:
            joined = await self.coordinators.redeem(code, user.id, label=_("coordinator"))
        except CoordinatorError as exc:
            await chat.send_message(exc.say(_))
            return
        await chat.send_message(
            _(
                "Welcome, coordinator #{id}. /alert composes an alert, /status follows them, "
                "/coordinators lists the team, /help lists every command."
            ).format(id=joined.id)
        )


class DutyFeature(Feature):
    commands = ("duty",)

    def __init__(self, coordinators: Coordinators, content: Content) -> None:
        self.coordinators = coordinators
        self.content = content

    def help(self, turn: Turn) -> list[str]:
        return [turn._("/duty on [ZIP codes] or /duty off: whether new reports come to you")]

    async def command(self, turn: Turn, name: str, args: list[str]) -> None:
        _ = turn._
        me = turn.me
        if not args or args[0].lower() not in ("on", "off"):
            covered = ", ".join(me.duty_zones) or _("every zone")
            state = _("on duty for {zones}").format(zones=covered) if me.on_duty else _("off duty")
            await turn.say(
                _("You are {state}. /duty on [ZIP codes] or /duty off.").format(state=state)
            )
            return
        on = args[0].lower() == "on"
        zones: tuple[str, ...] = ()  # no zones (or all): every zone
        if on and args[1:]:
            try:
                zones = zone_list(
                    " ".join(args[1:]), lambda z: self.content.zones.name_of(z) is not None
                )
            except ParseError as exc:
                await turn.say(exc.say(_))
                return
            if zones == (ALL_ZONES,):
                zones = ()
        await self.coordinators.set_duty(me.id, on, zones, me.actor())
        if on:
            text = _("On duty: new reports for {zones} come to you.").format(
                zones=", ".join(zones) or _("every zone")
            )
        else:
            text = _("Off duty: new reports go to the others (to everyone if nobody is on duty).")
        await turn.say(text)


class HotlineFeature(Feature):
    """/hotline: a coordinator's own phone on the hotline, and whether it rings now."""

    commands = ("hotline",)

    def __init__(self, hotline: Hotline) -> None:
        self.hotline = hotline

    def help(self, turn: Turn) -> list[str]:
        return [turn._("/hotline on or off: whether hotline calls ring your phone")]

    async def command(self, turn: Turn, name: str, args: list[str]) -> None:
        _ = turn._
        me = turn.me
        word = args[0].lower() if args else ""
        mine = await self.hotline.mine(me.id)
        if word == "phone" and args[1:]:
            try:
                await self.hotline.register(me.id, " ".join(args[1:]), me.label, me.actor())
            except HotlineError as exc:
                await turn.say(exc.say(_))
                return
            await turn.say(
                _(
                    "Your phone is on the hotline and on duty: calls ring it. It is kept "
                    "encrypted and never shown. You may delete your message with the number."
                )
            )
        elif word == "shift" and mine is not None and args[1:]:
            await self._shift(turn, mine, args[1:])
        elif word in ("on", "off") and mine is not None:
            await self.hotline.set_duty(mine.id, word == "on", me.actor())
            await turn.say(
                _("On duty: hotline calls ring your phone.")
                if word == "on"
                else _("Off duty: hotline calls no longer ring your phone.")
            )
        elif mine is None:
            await turn.say(
                _(
                    "Your phone is not on the hotline. /hotline phone NUMBER adds it (kept "
                    "encrypted, never shown); then /hotline on or /hotline off."
                )
            )
        else:
            state = _("on duty") if mine.on_duty else _("off duty")
            lines = [
                _("Your phone is on the hotline, {state}. /hotline on or /hotline off.").format(
                    state=state
                )
            ]
            if mine.shifts:
                lines.append(_("Weekly shifts: {shifts}").format(shifts=self._shifts(turn, mine)))
            await turn.say("\n".join(lines))

    async def _shift(self, turn: Turn, mine: Volunteer, words: list[str]) -> None:
        _ = turn._
        if [w.lower() for w in words] == ["clear"]:
            await self.hotline.set_shifts(mine.id, [], turn.me.actor())
            await turn.say(_("No weekly shifts now."))
            return
        try:
            shift = weekly_shift(" ".join(words))
        except ParseError as exc:
            await turn.say(exc.say(_))
            return
        shifts = [*mine.shifts, shift] if shift not in mine.shifts else list(mine.shifts)
        updated = await self.hotline.set_shifts(mine.id, shifts, turn.me.actor())
        await turn.say(
            _(
                "Weekly shifts: {shifts}. Calls ring your phone in them, on duty or not. "
                "/hotline shift clear removes them."
            ).format(shifts=self._shifts(turn, updated))
        )

    @staticmethod
    def _shifts(turn: Turn, volunteer: Volunteer) -> str:
        days = get_day_names("abbreviated", locale=turn.lang.code.replace("-", "_"))
        return ", ".join(
            f"{days[day]} {start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
            for day, start, end in volunteer.shifts
        )
