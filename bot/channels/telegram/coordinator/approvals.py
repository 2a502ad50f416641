"""Approvals in Telegram: with the two-person rule on, a draft goes to every other coordinator
with Approve and Reject; the first decision wins, and every request then says who decided.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram.error import TelegramError

from bot.channels.telegram.buttons import Approve, CoordinatorButton, Reject
from bot.channels.telegram.coordinator.turn import Feature, Packed, Turn, packed
from bot.core.alerts import Alert, AlertError, Alerts
from bot.core.alerts import Preview as Cost
from bot.core.content import Content
from bot.core.coordinators import Coordinators
from bot.core.i18n import N_, Lang
from bot.core.text import for_telegram

log = logging.getLogger(__name__)

Describe = Callable[[Lang, Alert, Cost, int], tuple[str, list[str]]]
"""The composer's description of a draft (its type, zones, texts, expiry and reach)."""


class ApprovalsFeature(Feature):
    """The Approve and Reject buttons, and asking for them."""

    buttons = (Approve, Reject)

    def __init__(
        self, alerts: Alerts, coordinators: Coordinators, content: Content, describe: Describe
    ) -> None:
        self.alerts = alerts
        self.coordinators = coordinators
        self.content = content
        self.describe = describe

    async def button(self, turn: Turn, button: CoordinatorButton) -> None:
        if isinstance(button, Approve | Reject):
            await self._decide(turn, button)
        else:
            await turn.stale()

    async def ask(self, turn: Turn, alert: Alert) -> None:
        """The other coordinators get the preview with Approve and Reject, through the
        outbox, each in their language."""
        cost = await self.alerts.preview(alert.id)
        author = turn.me.label

        def rendering(language: str | None) -> tuple[str, Packed]:
            lang = self.content.speaking(language)
            head = lang.gettext("{name} asks you to approve #{id} before it goes out.").format(
                name=author, id=alert.id
            )
            rows = [
                [
                    (lang.gettext("Approve"), Approve(alert.id)),
                    (lang.gettext("Reject"), Reject(alert.id)),
                ]
            ]
            card, more = self.describe(lang, alert, cost, 3600)
            if more:
                names = ", ".join(block.split("\n", 1)[0].strip("[]") for block in more)
                card += "\n\n" + lang.gettext("Texts not shown here: {languages}").format(
                    languages=names
                )
            return head + "\n\n" + card, packed(rows)

        await self.coordinators.notify(rendering, exclude=turn.me.id, ref=f"alert:{alert.id}")

    async def _decide(self, turn: Turn, button: Approve | Reject) -> None:
        _ = turn._
        approve = isinstance(button, Approve)
        try:
            if approve:
                alert = await self.alerts.approve(button.alert, turn.me.actor())
            else:
                alert = await self.alerts.reject(button.alert, turn.me.actor())
        except AlertError as exc:
            await turn.answer(exc.say(_))
            await turn.close_keyboard(
                (_("Not approved: {reason}") if approve else _("Not rejected: {reason}")).format(
                    reason=exc.say(_)
                )
            )
            return
        await turn.answer()
        me = turn.me.label
        if approve:
            await turn.close_keyboard(_("Approved"))
            await turn.say(
                turn.n_(
                    "Approved: sending #{id} to {people} person.",
                    "Approved: sending #{id} to {people} people.",
                    alert.recipients,
                ).format(id=alert.id, people=alert.recipients)
            )

            def told(lang: Lang) -> str:
                return lang.ngettext(
                    "#{id} was approved by {name} and is being sent to {people} person.",
                    "#{id} was approved by {name} and is being sent to {people} people.",
                    alert.recipients,
                ).format(id=alert.id, name=me, people=alert.recipients)
        else:
            await turn.close_keyboard(_("Rejected"))
            await turn.say(_("Rejected #{id}: nothing was sent.").format(id=alert.id))

            def told(lang: Lang) -> str:
                return lang.gettext("#{id} was rejected by {name}: nothing was sent.").format(
                    id=alert.id, name=me
                )

        line = N_("Approved by {name}") if approve else N_("Rejected by {name}")
        await settle(turn, self.coordinators, self.content, f"alert:{alert.id}", line)
        if alert.created_by is not None:
            await self.coordinators.notify(
                lambda language: (told(self.content.speaking(language)), ()),
                to=[alert.created_by],
            )


async def settle(
    turn: Turn, coordinators: Coordinators, content: Content, ref: str, line: str
) -> None:
    """A request in every other coordinator's chat loses its buttons and says who decided
    (`line`, a msgid with {name}), in that coordinator's language: nobody is left pressing a
    button of something already decided (the press would be refused, but it misleads)."""
    chats = {chat: cid for cid, chat in (await coordinators.telegram_ids()).items()}
    languages = {c.id: c.language for c in await coordinators.all()}
    for notice in await coordinators.notices(ref):
        viewer = chats.get(notice.chat_id)
        if viewer is None or viewer == turn.me.id:
            continue  # the one who pressed had their keyboard closed already
        said = content.speaking(languages.get(viewer)).gettext(line).format(name=turn.me.label)
        try:
            await turn.context.bot.edit_message_text(
                for_telegram(f"{notice.text}\n\n→ {said}"),
                chat_id=notice.chat_id,
                message_id=notice.message_id,
                reply_markup=None,
            )
        except TelegramError as exc:  # deleted, or too old to edit: nothing to mislead
            log.info("request not settled", extra={"error": type(exc).__name__})
