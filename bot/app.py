"""Composition root: everything is built here from a `Settings`, nothing at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from bot import logs
from bot.channels.sms.webhook import PATH as SMS_PATH
from bot.channels.sms.webhook import SmsWebhook
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.handlers import TelegramHandlers
from bot.core.content import Content, load_content
from bot.core.conversation import Conversation
from bot.core.subscribers import SubscriberDirectory
from bot.metrics import Metrics
from bot.settings import Settings
from bot.storage.crypto import Vault, dev_key
from bot.storage.db import Database
from bot.web import Component, create_web_app

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """The process's long-lived objects, shared by the channels and the CLI."""

    settings: Settings
    db: Database
    vault: Vault
    content: Content
    conversation: Conversation
    directory: SubscriberDirectory
    metrics: Metrics


def build_vault(settings: Settings) -> Vault:
    if settings.data_key is not None:
        return Vault.from_setting(settings.data_key.get_secret_value())
    return Vault.from_setting(dev_key(settings.var_dir))


def build_services(settings: Settings, *, clock: Clock = utcnow) -> Services:
    sqlite_path = settings.sqlite_path
    if sqlite_path is not None:
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    vault = build_vault(settings)
    db = Database.from_url(settings.async_database_url)
    content = load_content(settings.config_dir)
    return Services(
        settings=settings,
        db=db,
        vault=vault,
        content=content,
        conversation=Conversation(db, vault, content, clock),
        directory=SubscriberDirectory(db, vault, clock),
        metrics=Metrics(),
    )


def build_web(services: Services) -> Starlette:
    """The web app with every enabled channel; its lifespan starts and stops them."""
    settings = services.settings
    routes: list[BaseRoute] = []
    components: list[Component] = []
    if settings.telegram_enabled:
        handlers = TelegramHandlers(
            services.conversation, services.directory, services.content, services.metrics
        )
        telegram = TelegramChannel(settings, handlers, services.metrics)
        routes += telegram.routes()
        components.append(telegram)
    if settings.sms_enabled and settings.twilio_auth_token is not None:
        sms = SmsWebhook(
            services.conversation,
            services.content,
            services.metrics,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            public_url=settings.public(SMS_PATH),
        )
        routes += sms.routes()
    if not (settings.telegram_enabled or settings.sms_enabled):
        log.warning(
            "no channel configured: set TELEGRAM_BOT_TOKEN and/or the TWILIO_* settings "
            "(see config/settings.example.env)"
        )
    return create_web_app(services.db, services.metrics, routes, components)


def uvicorn_config(app: Starlette, settings: Settings) -> uvicorn.Config:
    # log_config=None keeps our redacting JSON logging; uvicorn handles SIGINT and SIGTERM
    # by running the lifespan's shutdown, which stops the channels in order.
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def serve(settings: Settings) -> None:
    """Run the web app and the channels until SIGINT or SIGTERM."""
    logs.configure(settings.log_level)
    services = build_services(settings)
    uvicorn.Server(uvicorn_config(build_web(services), settings)).run()
