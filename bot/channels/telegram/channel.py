"""The PTB `Application`, its start and stop, and `POST /telegram/webhook`."""

from __future__ import annotations

import hmac
import json
import logging
import os

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application, ApplicationBuilder

from bot.channels.telegram.handlers import TelegramHandlers, bot_commands
from bot.metrics import Metrics
from bot.settings import Settings, TelegramMode

log = logging.getLogger(__name__)

PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
CONCURRENT_UPDATES = 64
"""Updates handled at once: a viral sign-up burst waits on the database, not on Telegram."""


class TelegramChannel:
    """Owns the PTB Application: started and stopped by the web app's lifespan."""

    def __init__(self, settings: Settings, handlers: TelegramHandlers, metrics: Metrics) -> None:
        if settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.settings = settings
        self.metrics = metrics
        # PTB's future behaviour: RetryAfter.retry_after as a timedelta, without a warning.
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        self.content = handlers.content
        self.mode = settings.telegram_mode
        api = str(settings.telegram_api_url).rstrip("/")
        builder = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(f"{api}/bot")
            .base_file_url(f"{api}/file/bot")
            .concurrent_updates(CONCURRENT_UPDATES)
        )
        if self.mode is TelegramMode.WEBHOOK:
            builder = builder.updater(None)
        self.application: Application = builder.build()  # type: ignore[type-arg]
        handlers.register(self.application)
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
        elif app.updater is not None:
            await app.updater.start_polling(allowed_updates=Update.ALL_TYPES, timeout=10)
        await app.start()
        log.info("telegram started", extra={"mode": str(self.mode)})

    async def stop(self) -> None:
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
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
            update = Update.de_json(data, self.application.bot)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("telegram webhook: unreadable update")
            return Response("bad request", status_code=400, media_type="text/plain")
        # Queued, not awaited: Telegram wants its 200 fast, and retries otherwise.
        await self.application.update_queue.put(update)
        return Response(status_code=200)
