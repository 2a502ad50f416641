"""Replies as Telegram messages: choices become inline buttons, two to a row (three when
there are many short ones: eighteen languages stay six rows)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.telegram.buttons import for_request
from bot.core.conversation import Reply


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.choices:
        return None
    buttons = [
        InlineKeyboardButton(choice.label, callback_data=for_request(choice.request).pack())
        for choice in reply.choices
    ]
    short = len(buttons) > 8 and all(len(choice.label) <= 12 for choice in reply.choices)
    width = 3 if short else 2
    return InlineKeyboardMarkup([buttons[i : i + width] for i in range(0, len(buttons), width)])
