"""The coordinator console's router: checks the coordinator once, then dispatches a command,
a button or a message to the feature that owns it (or to the coordinator's active flow).

To anyone who is not a coordinator these commands and buttons do not exist: they get the
ordinary menu, and nothing about coordinators lands in the audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from typing import TypeVar

from telegram import Update
from telegram.ext import ContextTypes

from bot.channels.telegram.buttons import CoordinatorButton, KeepFlow, SwitchFlow
from bot.channels.telegram.coordinator.turn import Feature, Turn
from bot.core.content import Content
from bot.core.coordinators import Coordinators
from bot.core.flows import Flows

Context = ContextTypes.DEFAULT_TYPE
Fallback = Callable[[Update, Context], Awaitable[None]]
OWN_COMMANDS = ("cancel", "skip")
K = TypeVar("K")


class Console:
    """Every coordinator feature behind one entry point per kind of update."""

    def __init__(
        self,
        coordinators: Coordinators,
        flows: Flows,
        content: Content,
        features: Sequence[Feature],
        fallback: Fallback,
    ) -> None:
        self.coordinators = coordinators
        self.flows = flows
        self.content = content
        self.fallback = fallback
        self.features = list(features)
        self._commands = _one_owner((name, f) for f in self.features for name in f.commands)
        self._buttons = _one_owner((kind, f) for f in self.features for kind in f.buttons)
        self._flows = {f.flow: f for f in self.features if f.flow is not None}

    @property
    def commands(self) -> tuple[str, ...]:
        return (*self._commands, *OWN_COMMANDS)

    async def turn(self, update: Update, context: Context) -> Turn | None:
        """The turn of a coordinator in a private chat; None for anyone else."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None or chat.type != "private":
            return None
        me = await self.coordinators.by_telegram(user.id)
        if me is None:
            return None
        if me.language is None and user.language_code:
            # Until they choose with /language, their app's language, kept so that what
            # reaches them through the outbox (cards, approvals) reads like their screens.
            code = self.content.supported(user.language_code)
            await self.coordinators.set_language(me.id, code)
            me = replace(me, language=code)
        return Turn(update, context, me, self.content.speaking(me.language), self.flows)

    # --- entry points --------------------------------------------------------------------

    async def command(self, update: Update, context: Context) -> None:
        message = update.effective_message
        turn = await self.turn(update, context)
        if turn is None or message is None or message.text is None:
            await self.fallback(update, context)
            return
        words = message.text.split()
        name = words[0].lstrip("/").split("@", 1)[0].lower()
        if name == "cancel":
            ended = await self.flows.end(turn.me.id)
            await turn.say(turn._("Cancelled.") if ended else turn._("Nothing to cancel."))
            return
        if name == "skip":
            flow = await self.flows.active(turn.me.id)
            if flow is None or flow.kind not in self._flows:
                await turn.say(turn._("Nothing to skip."))
                return
            await self._flows[flow.kind].step(turn, flow, None)
            return
        await self._commands[name].command(turn, name, words[1:])

    async def text(self, update: Update, context: Context) -> bool:
        """A coordinator's text belongs to their active flow; False lets the ordinary
        handler answer (no flow, or not a coordinator)."""
        message = update.effective_message
        if message is None or not message.text:
            return False
        turn = await self.turn(update, context)
        if turn is None:
            return False
        flow = await self.flows.active(turn.me.id)
        if flow is None or flow.kind not in self._flows:
            return False
        await self._flows[flow.kind].step(turn, flow, message.text)
        return True

    async def button(self, update: Update, context: Context, button: CoordinatorButton) -> None:
        turn = await self.turn(update, context)
        if turn is None:
            # A forged or stale coordinator button from anyone else: the ordinary menu.
            query = update.callback_query
            if query is not None:
                await query.answer()
            await self.fallback(update, context)
            return
        if isinstance(button, SwitchFlow | KeepFlow):
            await self._switch(turn, button)
            return
        feature = self._buttons.get(type(button))
        if feature is None:
            await turn.stale()
            return
        await feature.button(turn, button)

    async def help(self, update: Update, context: Context) -> bool:
        """A coordinator's /help: their commands (after the subscriber's help)."""
        turn = await self.turn(update, context)
        if turn is None:
            return False
        lines = [turn._("Coordinator commands:")]
        for feature in self.features:
            lines += feature.help(turn)
        lines.append(turn._("/cancel ends what you are in the middle of; /skip skips a step."))
        await turn.say("\n".join(lines))
        return True

    async def language_chosen(self, update: Update, context: Context, code: str) -> None:
        """A coordinator chose a language (/language): their screens follow it."""
        turn = await self.turn(update, context)
        if turn is not None and code in self.content.languages:
            await self.coordinators.set_language(turn.me.id, code)

    # --- one flow at a time --------------------------------------------------------------

    async def _switch(self, turn: Turn, button: SwitchFlow | KeepFlow) -> None:
        active = await self.flows.active(turn.me.id)
        if active is None or active.token != button.flow:
            await turn.stale()
            return
        if isinstance(button, KeepFlow):
            await turn.answer()
            await turn.close_keyboard(turn._("Kept."))
            await self._flows[active.kind].resume(turn, active)
            return
        starting = self._flows.get(button.kind)
        if starting is None:  # a kind this bot does not run (no workshops, say)
            await turn.stale()
            return
        await turn.answer()
        await self.flows.end(turn.me.id, active.token)
        await turn.close_keyboard(turn._("Dropped."))
        await starting.begin(turn, button.subject)


def _one_owner(claims: Iterable[tuple[K, Feature]]) -> dict[K, Feature]:
    """Each command and button kind belongs to one feature: a second claim is a bug in the
    list of features, found at start-up rather than by whichever was registered last."""
    owners: dict[K, Feature] = {}
    for key, feature in claims:
        if key in owners:
            raise ValueError(
                f"{key!r} is claimed by {type(owners[key]).__name__} and {type(feature).__name__}"
            )
        owners[key] = feature
    return owners
