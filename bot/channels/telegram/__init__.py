"""Telegram through python-telegram-bot: handlers, rendering, polling or webhook."""

NEVER_LOG = ("chat.id", "from.id", "message.text", "callback_query.data", "contact", "location")
"""Parts of a Telegram update that identify or quote a person: never logged."""
