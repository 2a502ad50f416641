"""Typed settings from the environment (12-factor); every name is part of the contract in design.md."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.core.vocabulary import ApprovalMode
from bot.storage.crypto import KeyError_, Vault
from bot.storage.db import tls_options

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class TelegramMode(StrEnum):
    """How updates reach the bot: it asks (polling) or Telegram posts them (webhook)."""

    POLLING = "polling"
    WEBHOOK = "webhook"


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable and never its value."""


NonNegativeRate = Annotated[float, Field(ge=0)]


LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


class Settings(BaseSettings):
    """Everything the bot reads from its environment, validated once at start-up."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    # A secret: a PostgreSQL URL carries the database's password.
    database_url: SecretStr = SecretStr("sqlite:///var/bot.sqlite3")
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: AnyHttpUrl = AnyHttpUrl("https://api.telegram.org")
    telegram_mode: TelegramMode = TelegramMode.POLLING
    telegram_webhook_secret: SecretStr | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_url: AnyHttpUrl = AnyHttpUrl("https://api.twilio.com")
    # Delete every message at Twilio once handled (inbound) or final (outbound): Twilio
    # otherwise keeps From, To and Body of each (bot/delivery/deletions.py).
    twilio_delete_messages: bool = True
    public_url: AnyHttpUrl | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_key: SecretStr | None = None
    # Bearer token /metrics requires (Prometheus' `bearer_token`); unset: /metrics answers 404.
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    timezone: str = "America/Chicago"
    telegram_rate: NonNegativeRate = 30
    telegram_chat_rate: NonNegativeRate = 1
    twilio_rate: NonNegativeRate = 1
    # A bot with Telegram's paid broadcasts turned on may send up to 1,000 messages a second.
    telegram_paid_broadcast: bool = False
    # Seconds a worker holds claimed deliveries; a dead worker's are resent after this.
    delivery_lease: float = Field(default=60, gt=0)
    # Two-person rule for alerts: auto = on once the network has two coordinators.
    alert_approval: ApprovalMode = ApprovalMode.AUTO
    # Community reports: how long their text and the link to the reporter are kept, how
    # many one sender may file an hour, and how long one waits for a coordinator.
    report_retention_days: int = Field(default=30, ge=1, le=3650)
    # Retention of the rest (bot/core/retention.py): a STOPped or blocked number's cipher
    # (its blind index stays, so the opt-out holds); whom deliveries and notices went to;
    # RSVPs after their workshop; consent records (each subscriber's latest is kept; four
    # years by default, the TCPA's limitation period).
    optout_retention_days: int = Field(default=30, ge=1, le=3650)
    delivery_retention_days: int = Field(default=30, ge=1, le=3650)
    rsvp_retention_days: int = Field(default=30, ge=1, le=3650)
    consent_retention_days: int = Field(default=1461, ge=1, le=3650)
    reports_per_hour: int = Field(default=3, ge=1, le=100)
    report_expiry_hours: float = Field(default=12, gt=0, le=24 * 7)
    # An unclaimed report goes to every coordinator after this, the admins after twice
    # that, the hotline volunteers on duty after three times.
    report_escalate_minutes: float = Field(default=10, gt=0, le=24 * 60)
    # VERIFY: how far back it looks for confirmed activity, in hours.
    verify_hours: int = Field(default=6, ge=1, le=72)
    # Workshops: reminder offsets before the start (hours, comma-separated), and the quiet
    # hours (local, HH-HH) during which announcements wait.
    workshop_reminders: str = "24,2"
    quiet_hours: str = "21-8"
    # The keywords that lift Twilio's block after a STOP: Twilio's defaults, plus any set in
    # the account's Advanced Opt-Out (ALTA, JOIN, ...). The first is the one the bot names.
    twilio_opt_in_keywords: str = "START,UNSTOP,YES"

    @field_validator("public_url")
    @classmethod
    def _https(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        # Webhooks carry numbers and message text, and their signatures can be replayed by
        # whoever reads them on the way: https, except on this machine (the demo, tests).
        if value is not None and value.scheme != "https" and value.host not in LOOPBACK:
            raise ValueError("must be https (http only on 127.0.0.1 or localhost)")
        return value

    @field_validator("twilio_opt_in_keywords")
    @classmethod
    def _keywords(cls, value: str) -> str:
        words = [w.strip() for w in value.split(",")]
        if not words or not all(w and w.isalnum() for w in words):
            raise ValueError("one-word keywords, comma-separated, like START,UNSTOP,YES")
        return value

    @property
    def opt_in_keywords(self) -> tuple[str, ...]:
        """The TWILIO_OPT_IN_KEYWORDS in upper case, in order."""
        return tuple(w.strip().upper() for w in self.twilio_opt_in_keywords.split(","))

    @field_validator("workshop_reminders")
    @classmethod
    def _hours_list(cls, value: str) -> str:
        try:
            hours = [float(part) for part in value.split(",") if part.strip()]
        except ValueError:
            raise ValueError("hours before the start, comma-separated, like 24,2") from None
        if not hours or any(h <= 0 or h > 24 * 14 for h in hours):
            raise ValueError("hours before the start, comma-separated, like 24,2")
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        start, sep, end = value.partition("-")
        if not (sep and start.strip().isdigit() and end.strip().isdigit()) or not (
            0 <= int(start) <= 23 and 0 <= int(end) <= 23
        ):
            raise ValueError("local hours like 21-8 (from 21:00 to 08:00)")
        return value

    @property
    def reminder_offsets(self) -> tuple[timedelta, ...]:
        return tuple(
            timedelta(hours=float(part))
            for part in self.workshop_reminders.split(",")
            if part.strip()
        )

    @property
    def quiet(self) -> tuple[int, int]:
        start, _, end = self.quiet_hours.partition("-")
        return int(start), int(end)

    config_dir: Path = PROJECT_ROOT / "config"
    var_dir: Path = PROJECT_ROOT / "var"
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: SecretStr) -> SecretStr:
        scheme = value.get_secret_value().split(":", 1)[0].split("+", 1)[0]
        if scheme not in {"sqlite", "postgres", "postgresql"}:
            raise ValueError("must start with sqlite:/// or postgresql://")
        if scheme != "sqlite":
            try:
                tls_options(async_database_url(value.get_secret_value()))
            except ValueError as exc:  # never the URL itself: it may hold a password
                reason = str(exc).removeprefix("DATABASE_URL: ")
                raise ValueError(reason if "sslmode" in reason else "is not a URL") from None
        return value

    @field_validator("data_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        # Named, never shown: the message holds no part of the value.
        if value is None:
            return None
        try:
            Vault.from_setting(value.get_secret_value())  # the one parser of DATA_KEY
        except KeyError_:
            raise ValueError(
                "each comma-separated key must be a Fernet key (32 url-safe base64-encoded"
                " bytes); `rrbot keygen` makes one"
            ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not an IANA time zone such as America/Chicago") from exc
        return value

    @field_validator("twilio_from_number")
    @classmethod
    def _e164_sender(cls, value: str | None) -> str | None:
        if value and not (value.startswith("+") and value[1:].isdigit()):
            raise ValueError("must be an E.164 number such as +13125550100")
        return value or None

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.telegram_enabled and self.telegram_mode is TelegramMode.WEBHOOK:
            if self.public_url is None:
                raise ValueError("PUBLIC_URL is required when TELEGRAM_MODE=webhook")
            if not self.telegram_webhook_secret:
                raise ValueError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_MODE=webhook")
        postgres = not self.database_url.get_secret_value().startswith("sqlite")
        if postgres and self.data_key is None:
            # No silent development key where several processes share the database: each
            # would make its own, and none could read what another wrote.
            raise ValueError(
                "DATA_KEY is required with PostgreSQL: every process (web, workers, the CLI)"
                " must use the same key; make one with `rrbot keygen`"
            )
        if bool(self.twilio_account_sid) != bool(self.twilio_auth_token):
            raise ValueError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set together")
        if self.sms_enabled:
            if not (self.twilio_from_number or self.twilio_messaging_service_sid):
                raise ValueError(
                    "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID is required for SMS"
                )
            if self.public_url is None:
                raise ValueError("PUBLIC_URL is required for SMS (Twilio signatures use it)")
        return self

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None and bool(
            self.telegram_bot_token.get_secret_value()
        )

    @property
    def sms_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def public(self, path: str) -> str:
        """The externally visible URL of one of our routes, as a provider calls it."""
        if self.public_url is None:
            raise SettingsError("PUBLIC_URL is not set")
        return str(self.public_url).rstrip("/") + path

    @property
    def async_database_url(self) -> str:
        """DATABASE_URL with the async driver this project uses (Heroku's postgres:// too)."""
        return async_database_url(self.database_url.get_secret_value())

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, resolved against the project when relative; None for PostgreSQL."""
        url = self.database_url.get_secret_value()
        if not url.startswith("sqlite"):
            return None
        path = urlsplit(url).path
        # sqlite:///relative and sqlite:////absolute, as SQLAlchemy reads them.
        raw = path[1:] if path.startswith("/") else path
        if raw in {"", ":memory:"}:
            return None
        return Path(raw)


def async_database_url(url: str) -> str:
    """A DATABASE_URL with the async driver this project uses (Heroku's postgres:// too)."""
    scheme, rest = url.split(":", 1)
    if scheme.split("+", 1)[0] == "sqlite":
        return "sqlite+aiosqlite:" + rest
    return "postgresql+asyncpg:" + rest


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from `environ` (the process environment by default), or fail naming the bad variable."""
    import os

    source = dict(os.environ if environ is None else environ)
    values = {key.lower(): value for key, value in source.items() if key.lower() in _FIELDS}
    # An empty variable means "unset", as in most .env files and PaaS dashboards.
    values = {key: value for key, value in values.items() if value != ""}
    try:
        # model_validate reads only `values`: the mapping is the single source, so tests inject it.
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


_FIELDS = set(Settings.model_fields)


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "_".join(str(part) for part in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name else message)
    return "Bad settings: " + "; ".join(problems)
