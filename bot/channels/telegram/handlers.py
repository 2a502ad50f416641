"""Telegram handlers: parse the update into a request, call the core, render the replies."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, tzinfo

from telegram import BotCommand, ChatMember, ChatMemberUpdated, InputFile, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import Forbidden, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.telegram.buttons import CallbackData, CoordinatorButton, request_of
from bot.channels.telegram.coordinator import Console, TeamFeature, build_console
from bot.channels.telegram.inbox import handling_failed
from bot.channels.telegram.render import keyboard
from bot.channels.telegram.sender import retry_after_seconds
from bot.core.alerts import Alerts
from bot.core.content import TOPIC_KEYS, Content
from bot.core.conversation import Conversation, Inbound, Reply
from bot.core.coordinators import Coordinators
from bot.core.flows import Flows
from bot.core.hotline import Hotline
from bot.core.i18n import N_
from bot.core.intents import Intent, Request
from bot.core.keywords import parse_text
from bot.core.reports import Reports
from bot.core.subscribers import SubscriberDirectory
from bot.core.text import CAPTION_LIMIT, cut, for_telegram
from bot.core.vocabulary import Channel, SubscriberStatus
from bot.core.workshops import Workshops
from bot.delivery.pacing import Pacer
from bot.metrics import Metrics

log = logging.getLogger(__name__)

COMMANDS: dict[str, Intent] = {
    "start": Intent.SUBSCRIBE,
    "stop": Intent.STOP,
    "help": Intent.HELP,
    "rights": Intent.RIGHTS,
    "language": Intent.LANGUAGE_MENU,
    "zone": Intent.ZONE_PROMPT,
    "workshops": Intent.WORKSHOPS,
    "report": Intent.REPORT,
    "verify": Intent.VERIFY,
}

Context = ContextTypes.DEFAULT_TYPE
REPLY_ATTEMPTS = 4  # a reply that meets a 429 waits as told and tries again


def start_payload(args: list[str], content: Content) -> Request:
    """`/start es_60629` (a deep link): a language code, a ZIP code, or both, in any order."""
    language: str | None = None
    zip_code: str | None = None
    for part in "_".join(args).replace("-", "_").split("_"):
        if len(part) == 5 and part.isdigit():
            zip_code = part
        elif part.lower() in content.languages:
            language = part.lower()
    return Request(Intent.SUBSCRIBE, zip_code, keyword_language=language, keyword="/start")


class TelegramHandlers:
    """The bot's handlers, with the services they hand over to."""

    def __init__(
        self,
        conversation: Conversation,
        directory: SubscriberDirectory,
        content: Content,
        metrics: Metrics,
        *,
        coordinators: Coordinators | None = None,
        alerts: Alerts | None = None,
        reports: Reports | None = None,
        workshops: Workshops | None = None,
        flows: Flows | None = None,
        timezone: tzinfo = UTC,
        pacer: Pacer | None = None,
        hotline: Hotline | None = None,
    ) -> None:
        self.conversation = conversation
        self.directory = directory
        self.content = content
        self.metrics = metrics
        self.pacer = pacer
        self.console: Console | None
        self.team: TeamFeature | None
        self.console, self.team = (
            build_console(
                coordinators,
                flows,
                alerts,
                content,
                self.other,
                timezone=timezone,
                reports=reports,
                workshops=workshops,
                hotline=hotline,
            )
            if coordinators is not None and alerts is not None and flows is not None
            else (None, None)
        )

    def register(self, application: Application) -> None:  # type: ignore[type-arg]
        """All handlers, in order: the first matching handler of group 0 wins."""
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        groups = (filters.ChatType.GROUPS) & filters.UpdateType.MESSAGE
        # Blocking and unblocking arrive as my_chat_member updates, never as messages.
        application.add_handler(
            ChatMemberHandler(self.membership, ChatMemberHandler.MY_CHAT_MEMBER)
        )
        application.add_handler(CommandHandler(list(COMMANDS), self.command, filters=private))
        if self.console is not None:
            # Checked against the coordinator list on every use; anyone else gets the menu.
            application.add_handler(
                CommandHandler(list(self.console.commands), self.console.command, filters=private)
            )
        # Every button, the subscriber's and the coordinator's: parsed once, then routed.
        application.add_handler(CallbackQueryHandler(self.button))
        application.add_handler(
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, self.text)
        )
        # Unknown commands, stickers, photos, voice in a private chat: the menu, never silence.
        application.add_handler(MessageHandler(private, self.other))
        # In a group, answer only when addressed, and only to say we work in private.
        application.add_handler(
            MessageHandler(
                groups & (filters.COMMAND | filters.Entity(MessageEntity.MENTION)), self.group
            )
        )
        application.add_error_handler(self.error)

    async def command(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message is None or message.text is None:
            return
        name = message.text.split()[0].lstrip("/").split("@", 1)[0].lower()
        intent = COMMANDS[name]
        args = context.args or []
        invite = intent is Intent.SUBSCRIBE and args and args[0].startswith("inv_")
        if invite and self.team is not None:
            # An admin's invite link: join the coordinators (not the subscribers).
            await self.team.redeem(update, context, args[0].removeprefix("inv_"))
            return
        if intent is Intent.SUBSCRIBE:
            request = start_payload(args, self.content)
        elif intent is Intent.VERIFY:
            # `/verify 60629`; `/verify` alone checks the subscriber's own zone.
            request = Request(intent, " ".join(args) or None, keyword=f"/{name}")
        else:
            request = Request(intent, keyword=f"/{name}")
        await self._answer(update, context, request)
        if intent is Intent.HELP and self.console is not None:
            await self.console.help(update, context)

    async def text(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message is None or message.text is None:
            return
        if self.console is not None and await self.console.text(update, context):
            return
        request = parse_text(
            message.text, self.content.language_names, len(TOPIC_KEYS), self.content.language_words
        )
        await self._answer(update, context, request, text=message.text)

    async def other(self, update: Update, context: Context) -> None:
        message = update.effective_message
        photo = message.photo[-1].file_id if message is not None and message.photo else None
        await self._answer(update, context, Request(Intent.MENU), photo=photo)

    async def button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None:
            return
        button = CallbackData.parse(query.data)
        if isinstance(button, CoordinatorButton) and self.console is not None:
            await self.console.button(update, context, button)
            return
        request = request_of(button) if button is not None else None
        chat = update.effective_chat
        if request is None:
            # Stale, forged or not ours: a short answer, and nothing changes.
            user = update.effective_user
            lang = self.content.speaking(user.language_code if user else None)
            await query.answer(lang.gettext("That button no longer works."))
            if chat is not None and chat.type == ChatType.PRIVATE and button is not None:
                await self.other(update, context)  # a coordinator's button: the menu
            return
        await query.answer()
        if chat is None or chat.type != ChatType.PRIVATE:
            return
        if request.intent is Intent.SET_LANGUAGE and self.console is not None and request.arg:
            await self.console.language_chosen(update, context, request.arg)
        await self._answer(update, context, request)

    async def group(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message is None:
            return
        username = context.bot.username
        text = message.text or ""
        addressed = message.text is not None and (
            (
                text.startswith("/")
                and ("@" not in text.split()[0] or f"@{username}" in text.split()[0])
            )
            or f"@{username}".lower() in text.lower()
        )
        if not addressed:
            return
        user = update.effective_user
        lang = self.content.speaking(user.language_code if user else None)
        await message.reply_text(
            lang.gettext(
                "I only answer in private chats, to keep your messages private: write to @{username}."
            ).format(username=username)
        )

    async def membership(self, update: Update, context: Context) -> None:
        change: ChatMemberUpdated | None = update.my_chat_member
        if change is None or change.chat.type != ChatType.PRIVATE:
            return
        if change.new_chat_member.status in (ChatMember.BANNED, ChatMember.LEFT):
            changed = await self.directory.mark(
                Channel.TELEGRAM,
                str(change.chat.id),
                SubscriberStatus.BLOCKED,
                via="telegram:blocked",
            )
            log.info("telegram user blocked the bot", extra={"known": changed})

    async def _answer(
        self,
        update: Update,
        context: Context,
        request: Request,
        *,
        text: str | None = None,
        photo: str | None = None,
    ) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        started = time.perf_counter()
        self.metrics.inbound.labels(channel="telegram", intent=request.intent).inc()
        user = update.effective_user
        inbound = Inbound(
            channel=Channel.TELEGRAM,
            address=str(chat.id),
            request=request,
            client_language=user.language_code if user else None,
            text=text,
            photo=photo,
        )
        replies = await self.conversation.handle(inbound)
        for reply in replies:
            await self._send(context, chat.id, reply)
        self.metrics.replies.labels(channel="telegram").inc(len(replies))
        self.metrics.handle_seconds.labels(channel="telegram").observe(
            time.perf_counter() - started
        )
        log.info(
            "telegram answered", extra={"intent": str(request.intent), "replies": len(replies)}
        )

    async def _send(self, context: Context, chat_id: int, reply: Reply) -> None:
        """A direct reply: ahead of any broadcast, and again after a 429."""
        if self.pacer is not None:
            await self.pacer.jump_queue()
        for attempt in range(REPLY_ATTEMPTS):
            try:
                if reply.attachment is not None:
                    await context.bot.send_document(
                        chat_id,
                        InputFile(reply.attachment.content, filename=reply.attachment.filename),
                        caption=cut(reply.text, CAPTION_LIMIT, utf16=True),
                        reply_markup=keyboard(reply),
                    )
                else:
                    await context.bot.send_message(
                        chat_id, for_telegram(reply.text), reply_markup=keyboard(reply)
                    )
                return
            except RetryAfter as exc:
                if attempt == REPLY_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(retry_after_seconds(exc.retry_after))

    async def error(self, update: object, context: Context) -> None:
        error = context.error
        chat = update.effective_chat if isinstance(update, Update) else None
        if isinstance(error, Forbidden) and chat is not None and chat.type == ChatType.PRIVATE:
            # 403 on send: they blocked the bot (or deleted their account). Send nothing more.
            await self.directory.mark(
                Channel.TELEGRAM, str(chat.id), SubscriberStatus.BLOCKED, via="telegram:403"
            )
            log.info("telegram user unreachable (403): marked blocked")
            return
        self.metrics.errors.labels(channel="telegram").inc()
        if not isinstance(error, Forbidden):
            # The inbox tries the update again, and sets it aside after the third failure (a
            # 403 would only be refused again).
            handling_failed(error)
        # The type and frames only (bot.logs drops exception messages): never the update.
        log.error("telegram handler failed", exc_info=error)


def bot_commands(content: Content) -> dict[str | None, list[BotCommand]]:
    """The command menu per language code (None is the default), for setMyCommands."""
    menus: dict[str | None, list[BotCommand]] = {}
    descriptions = {
        "start": N_("Sign up for verified alerts"),
        "rights": N_("Know your rights"),
        "help": N_("Help and hotline"),
        "language": N_("Change language"),
        "zone": N_("Change your ZIP code"),
        "workshops": N_("Upcoming workshops"),
        "report": N_("Report enforcement activity"),
        "verify": N_("Is it true? Check a rumor"),
        "stop": N_("Stop messages"),
    }
    for code in content.languages:
        lang = content.lang(code)
        commands = [BotCommand(name, lang.gettext(text)) for name, text in descriptions.items()]
        menus[None if code == "en" else code] = commands
    return menus
