"""Sign-offs in Telegram: what needs a second person's yes besides alerts (bot.core.signoffs):
a workshop announcement, and an admin removing a coordinator or inviting an admin. The request
goes to everyone who may decide, with Agree and Refuse; the first decision wins, every other
request then says who decided, and the one who asked is told (with the link, for an invite).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.channels.telegram.buttons import Agree, CoordinatorButton, Refuse
from bot.channels.telegram.coordinator.approvals import settle
from bot.channels.telegram.coordinator.turn import Feature, Turn, packed
from bot.core.content import Content
from bot.core.coordinators import Coordinators
from bot.core.errors import Explained
from bot.core.i18n import N_, Lang
from bot.core.signoffs import Decision, SignOff, SignOffs
from bot.core.vocabulary import SignOffAction, SignOffStatus
from bot.core.workshops import Announcement, Workshops

Said = Callable[[Lang], str]


def ref(sign_off_id: int) -> str:
    return f"signoff:{sign_off_id}"


class SignOffsFeature(Feature):
    buttons = (Agree, Refuse)

    def __init__(
        self,
        signoffs: SignOffs,
        coordinators: Coordinators,
        content: Content,
        workshops: Workshops | None = None,
    ) -> None:
        self.signoffs = signoffs
        self.coordinators = coordinators
        self.content = content
        self.workshops = workshops

    async def ask(self, turn: Turn, sign_off: SignOff) -> int:
        """Everyone who may decide gets the request, in their language. How many."""
        what = await self._what(sign_off)
        asker = turn.me.label

        def rendering(language: str | None) -> tuple[str, tuple[tuple[tuple[str, str], ...], ...]]:
            lang = self.content.speaking(language)
            text = lang.gettext("{name} asks you to agree: {what}").format(
                name=asker, what=what(lang)
            )
            rows = [
                [
                    (lang.gettext("Agree"), Agree(sign_off.id)),
                    (lang.gettext("Refuse"), Refuse(sign_off.id)),
                ]
            ]
            return text, packed(rows)

        deciders = await self.signoffs.deciders(sign_off)
        if not deciders:
            return 0
        return await self.coordinators.notify(rendering, to=deciders, ref=ref(sign_off.id))

    async def button(self, turn: Turn, button: CoordinatorButton) -> None:
        if not isinstance(button, Agree | Refuse):
            await turn.stale()
            return
        _ = turn._
        grant = isinstance(button, Agree)
        try:
            decision = await self.signoffs.decide(button.sign_off, turn.me.actor(), grant=grant)
        except Explained as exc:  # decided already, lapsed, not theirs to decide, or void
            await turn.answer(exc.say(_))
            await turn.close_keyboard(_("Not done: {reason}").format(reason=exc.say(_)))
            return
        await turn.answer()
        await turn.close_keyboard(_("Agreed") if grant else _("Refused"))
        done, told = self._outcome(turn, decision)
        await turn.say(done(turn.lang))
        line = N_("Agreed by {name}") if grant else N_("Refused by {name}")
        await settle(turn, self.coordinators, self.content, ref(button.sign_off), line)
        await self.coordinators.notify(
            lambda language: (told(self.content.speaking(language)), ()),
            to=[decision.sign_off.requested_by],
        )

    async def _what(self, sign_off: SignOff) -> Said:
        subject = sign_off.subject
        if sign_off.action is SignOffAction.ANNOUNCE and self.workshops is not None:
            workshop = await self.workshops.one(subject)
            workshops = self.workshops
            return lambda lang: lang.gettext(
                "announce workshop #{id} to its zones: {title}, {when}, {place}."
            ).format(
                id=subject,
                title=workshop.title(lang.code),
                when=workshops.when(workshop.starts_at, lang.code),
                place=workshop.place,
            )
        if sign_off.action is SignOffAction.REMOVE:
            name = next((c.label for c in await self.coordinators.all() if c.id == subject), "")
            return lambda lang: lang.gettext("remove coordinator #{id} ({name}).").format(
                id=subject, name=name
            )
        return lambda lang: lang.gettext("invite one new admin.")

    def _outcome(self, turn: Turn, decision: Decision) -> tuple[Said, Said]:
        """What the decider reads, and what the one who asked is told."""
        sign_off, me = decision.sign_off, turn.me.label
        if sign_off.status is SignOffStatus.DENIED:
            return (
                lambda lang: lang.gettext("Refused: nothing was done."),
                lambda lang: lang.gettext("{name} refused your request: nothing was done.").format(
                    name=me
                ),
            )
        if sign_off.action is SignOffAction.REMOVE:
            return (
                lambda lang: lang.gettext("Agreed: coordinator #{id} is removed.").format(
                    id=sign_off.subject
                ),
                lambda lang: lang.gettext("{name} agreed: coordinator #{id} is removed.").format(
                    name=me, id=sign_off.subject
                ),
            )
        if isinstance(decision.result, Announcement):
            n = decision.result.queued
            return (
                lambda lang: lang.ngettext(
                    "Agreed: the announcement of workshop #{id} goes to {n} person.",
                    "Agreed: the announcement of workshop #{id} goes to {n} people.",
                    n,
                ).format(id=sign_off.subject, n=n),
                lambda lang: lang.ngettext(
                    "{name} agreed: the announcement of workshop #{id} goes to {n} person.",
                    "{name} agreed: the announcement of workshop #{id} goes to {n} people.",
                    n,
                ).format(name=me, id=sign_off.subject, n=n),
            )
        link = f"https://t.me/{turn.context.bot.username}?start=inv_{decision.result}"
        return (
            lambda lang: lang.gettext("Agreed: the invite link goes to the admin who asked."),
            lambda lang: lang.gettext(
                "{name} agreed to your invite for one admin, valid 24 hours and once. "
                "Send them this link privately:\n{link}"
            ).format(name=me, link=link),
        )
