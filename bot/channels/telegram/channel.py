"""The PTB `Application`, its start and stop, and `POST /telegram/webhook`.

Updates reach the Application only through the inbox (`bot.channels.telegram.inbox`): each is
stored before Telegram is told it arrived, by the offset in polling mode and by the 200 in
webhook mode, so no mode has PTB's Updater.
"""

from __future__ import annotations

import hmac
import logging
import os

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.channels.telegram.handlers import TelegramHandlers, bot_commands
from bot.channels.telegram.inbox import Feed, Poller
from bot.channels.tls import client_context
from bot.core.inbox import Inbox
from bot.metrics import Metrics
from bot.settings import Settings, TelegramMode

log = logging.getLogger(__name__)

PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


class TelegramChannel:
    """Owns the PTB Application: started and stopped by the web app's lifespan."""

    def __init__(
        self, settings: Settings, handlers: TelegramHandlers, metrics: Metrics, inbox: Inbox
    ) -> None:
        if settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.settings = settings
        self.metrics = metrics
        # PTB's future behaviour: RetryAfter.retry_after as a timedelta, without a warning.
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        self.content = handlers.content
        self.mode = settings.telegram_mode
        api = str(settings.telegram_api_url).rstrip("/")
        # No Updater: it confirms updates to Telegram before they are handled (or stored).
        builder = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(f"{api}/bot")
            .base_file_url(f"{api}/file/bot")
            # PTB's defaults (256 connections, 1 for getUpdates), with the process's one TLS
            # context rather than a CA bundle loaded for each client.
            .request(HTTPXRequest(256, httpx_kwargs={"verify": client_context()}))
            .get_updates_request(HTTPXRequest(1, httpx_kwargs={"verify": client_context()}))
            .updater(None)
        )
        self.application: Application = builder.build()  # type: ignore[type-arg]
        handlers.register(self.application)
        self.feed = Feed(self.application, inbox, metrics)
        self.poller = (
            Poller(self.application.bot, self.feed, allowed_updates=Update.ALL_TYPES)
            if self.mode is TelegramMode.POLLING
            else None
        )
        secret = settings.telegram_webhook_secret
        self._secret = secret.get_secret_value().encode() if secret else b""

    async def start(self) -> None:
        app = self.application
        await app.initialize()
        for language, commands in bot_commands(self.content).items():
            await app.bot.set_my_commands(commands, language_code=language)
        if self.mode is TelegramMode.WEBHOOK:
            await app.bot.set_webhook(
                self.settings.public(PATH),
                secret_token=self._secret.decode(),
                allowed_updates=Update.ALL_TYPES,
            )
        await app.start()
        # What a crash left is queued first, ahead of anything received from now on.
        await self.feed.start()
        if self.poller is not None:
            await self.poller.start()
        log.info("telegram started", extra={"mode": str(self.mode)})

    async def stop(self) -> None:
        app = self.application
        if self.poller is not None:
            await self.poller.stop()
        await self.feed.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        log.info("telegram stopped")

    def routes(self) -> list[Route]:
        if self.mode is not TelegramMode.WEBHOOK:
            return []
        return [Route(PATH, self.receive, methods=["POST"])]

    async def receive(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not self._secret or not hmac.compare_digest(given, self._secret):
            self.metrics.rejected.labels(route=PATH).inc()
            log.warning("telegram webhook refused: wrong secret token")
            return Response("forbidden", status_code=403, media_type="text/plain")
        try:
            data = await request.json()
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past reading
            data = None
        if not isinstance(data, dict) or type(data.get("update_id")) is not int:
            log.warning("telegram webhook: not an update")
            return Response("bad request", status_code=400, media_type="text/plain")
        # Stored before the 200, handled after it: Telegram wants its answer fast, and an
        # update PTB cannot parse is stored too (and set aside) rather than refused.
        try:
            await self.feed.receive([data])
        except Exception as exc:
            log.error(
                "telegram webhook: could not store the update", extra={"error": type(exc).__name__}
            )
            # Telegram sends it again later.
            return Response("unavailable", status_code=503, media_type="text/plain")
        return Response(status_code=200)
