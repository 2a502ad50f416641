"""What every coordinator feature works with: one update from one coordinator, in their language.

A `Turn` carries the update, the coordinator, their language and the flows, and says things
back: a message with typed buttons, a short answer to a pressed button, or a line that
replaces a keyboard once its choice is made (so no finished action keeps live buttons).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.channels.telegram.buttons import CoordinatorButton, KeepFlow, SwitchFlow
from bot.core.coordinators import Coordinator
from bot.core.flows import Flow, Flows
from bot.core.i18n import N_, Lang
from bot.core.text import for_telegram
from bot.core.vocabulary import FlowKind

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
FLOW_NAMES = {
    FlowKind.ALERT: N_("composing an alert"),
    FlowKind.WORKSHOP: N_("setting up a workshop"),
    FlowKind.RELAY: N_("writing a question for a reporter"),
}
Rows = Sequence[Sequence[tuple[str, CoordinatorButton]]]
"""Rows of (label, button)."""
Packed = tuple[tuple[tuple[str, str], ...], ...]
"""Rows of (label, callback data), as a notice through the outbox keeps them."""


def packed(rows: Rows) -> Packed:
    return tuple(tuple((label, button.pack()) for label, button in row) for row in rows if row)


def keyboard(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    """Packed rows (a card core rendered, or `packed(rows)`) as Telegram's keyboard."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


@dataclass
class Turn:
    """One update from a coordinator, being answered."""

    update: Update
    context: Context
    me: Coordinator
    lang: Lang
    flows: Flows

    def _(self, message: str) -> str:
        return self.lang.gettext(message)

    def n_(self, singular: str, plural: str, n: int) -> str:
        return self.lang.ngettext(singular, plural, n)

    async def say(self, text: str, rows: Rows = ()) -> Message | None:
        return await self.show(text, packed(rows))

    async def show(self, text: str, rows: Sequence[Sequence[tuple[str, str]]]) -> Message | None:
        """`say`, with buttons already packed (a report's card)."""
        chat = self.update.effective_chat
        if chat is None:
            return None
        return await chat.send_message(for_telegram(text), reply_markup=keyboard(rows))

    async def answer(self, text: str | None = None) -> None:
        """Answer the pressed button (Telegram stops its spinner); `text` shows briefly."""
        query = self.update.callback_query
        if query is not None:
            try:
                await query.answer(text)
            except TelegramError as exc:  # too old to answer: nothing is lost
                log.info("callback answer refused", extra={"error": type(exc).__name__})

    async def close_keyboard(self, line: str | None = None) -> None:
        """The pressed message loses its buttons; `line` is added saying what was done. Only
        when the press came from one of its buttons: forged data leaves a live keyboard be."""
        query = self.update.callback_query
        message = query.message if query is not None else None
        if query is None or not isinstance(message, Message) or message.reply_markup is None:
            return
        shown = {b.callback_data for row in message.reply_markup.inline_keyboard for b in row}
        if query.data not in shown:
            return
        try:
            if line and message.text:
                await message.edit_text(
                    for_telegram(f"{message.text}\n\n→ {line}"), reply_markup=None
                )
            else:
                await message.edit_reply_markup(reply_markup=None)
        except TelegramError as exc:  # deleted, too old, or unchanged: the keyboard is moot
            log.info("keyboard not closed", extra={"error": type(exc).__name__})

    async def stale(self) -> None:
        """A button of a finished, replaced or foreign flow: a short answer, nothing else."""
        await self.answer(self._("That button is from an earlier step; it no longer applies."))
        await self.close_keyboard()  # a real keyboard gone stale goes; forged data changes none

    async def finish(self, flow: Flow) -> bool:
        """End `flow` to act on its outcome. False (and a short answer) if it had already
        ended: a double tap acts once, since only one of two concurrent ends finds the row."""
        if await self.flows.end(self.me.id, flow.token) is None:
            await self.stale()
            return False
        return True

    async def may_start(self, kind: FlowKind, subject: int = 0) -> bool:
        """Whether a `kind` flow may start now; with another one active, asks to drop it
        (and the button remembers `subject`, so the new flow starts where it was asked)."""
        active = await self.flows.active(self.me.id)
        if active is None:
            return True
        await self.say(
            self._("You are {doing}. Drop it and start anew?").format(
                doing=self._(FLOW_NAMES[active.kind])
            ),
            [
                [
                    (self._("Drop it and start"), SwitchFlow(active.token, kind, subject)),
                    (self._("Keep it"), KeepFlow(active.token)),
                ]
            ],
        )
        return False

    async def flow(self, kind: FlowKind, token: int | None = None) -> Flow | None:
        """The coordinator's active flow, if it is of `kind` (and has `token`, if given)."""
        flow = await self.flows.active(self.me.id)
        if flow is None or flow.kind is not kind or (token is not None and flow.token != token):
            return None
        return flow


class Feature:
    """One coordinator feature: the commands, the buttons and the flow it answers."""

    commands: ClassVar[tuple[str, ...]] = ()
    buttons: ClassVar[tuple[type[CoordinatorButton], ...]] = ()
    flow: ClassVar[FlowKind | None] = None

    async def command(self, turn: Turn, name: str, args: list[str]) -> None:
        raise NotImplementedError

    async def button(self, turn: Turn, button: CoordinatorButton) -> None:
        raise NotImplementedError

    async def begin(self, turn: Turn, subject: int = 0) -> None:
        """Start this feature's flow (after any earlier one was dropped), about `subject`
        where the flow is about something (a report's number)."""
        raise NotImplementedError

    async def step(self, turn: Turn, flow: Flow, text: str | None) -> None:
        """The coordinator's text for the flow's current step (None: /skip)."""
        raise NotImplementedError

    async def resume(self, turn: Turn, flow: Flow) -> None:
        """Say again what the flow's current step asks."""
        raise NotImplementedError

    def help(self, turn: Turn) -> list[str]:
        """Lines for the coordinator's /help."""
        return []
