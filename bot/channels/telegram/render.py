"""Replies as Telegram messages: choices become inline buttons, two to a row."""

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
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])
