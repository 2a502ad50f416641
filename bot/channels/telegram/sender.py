"""Delivery's Sender for Telegram: the real PTB `Bot`, errors classified by type and message."""

from __future__ import annotations

import logging
import os
import warnings
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.warnings import PTBUserWarning

from bot.channels.telegram.request import AiohttpRequest
from bot.core.text import for_telegram
from bot.core.vocabulary import Channel, SubscriberStatus
from bot.delivery.sender import Message, Outcome, Result
from bot.settings import Settings

log = logging.getLogger(__name__)
warnings.filterwarnings(
    "ignore", "Please use 'Bot.(sendMessage|sendPhoto|editMessageText)'", PTBUserWarning, __name__
)

CAPTION = 1024  # characters of a photo's caption

# BadRequest is a NetworkError: these messages mean the person is gone, not a glitch.
GONE = (
    "chat not found",
    "user is deactivated",
    "bot was blocked",
    "peer_id_invalid",
    "bot can't initiate",
)


def retry_after_seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    """Sends alerts and notices as plain text through PTB, never raising."""

    channel = Channel.TELEGRAM.value

    def __init__(self, settings: Settings, *, connections: int = 32, timeout: float = 15.0) -> None:
        if settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        # PTB's future behaviour: RetryAfter.retry_after as a timedelta, without a warning.
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        api = str(settings.telegram_api_url).rstrip("/")
        request = AiohttpRequest(connections=connections, timeout=timeout)
        self._request = request
        self.bot = Bot(
            settings.telegram_bot_token.get_secret_value(),
            base_url=f"{api}/bot",
            base_file_url=f"{api}/file/bot",
            request=request,
        )
        self.paid = settings.telegram_paid_broadcast

    async def send(self, message: Message) -> Outcome:
        try:
            # The raw API call: PTB still sends it and raises its own errors, but does not build
            # a Message object from the answer, which delivery does not need (measured: the
            # worker sends about a quarter more per CPU second). PTB warns that send_message
            # exists; that is the choice made here, so the warning is filtered above.
            if message.edits is not None:
                return await self._edit(message)
            if message.photo is not None:
                sent = await self.bot.do_api_request("sendPhoto", self._photo(message))
            else:
                sent = await self.bot.do_api_request("sendMessage", self._parameters(message))
        except RetryAfter as exc:
            return Outcome(
                Result.RATE_LIMITED, error="429", retry_after=retry_after_seconds(exc.retry_after)
            )
        except Forbidden as exc:
            return self._gone(exc)
        except BadRequest as exc:
            if any(phrase in str(exc).lower() for phrase in GONE):
                return self._gone(exc)
            return Outcome(Result.FAILED, error=f"bad_request:{_slug(exc)}")
        except TimedOut:
            # Ambiguous: the message may have gone out. Retrying risks a duplicate, which the
            # outbox accepts for in-flight sends; losing an alert it does not.
            return Outcome(Result.RETRY, error="timeout")
        except NetworkError:
            return Outcome(Result.RETRY, error="network")
        except TelegramError as exc:
            return Outcome(Result.RETRY, error=type(exc).__name__)
        except Exception as exc:
            # Never raise into the worker: an unknown failure is retried, and logged by type.
            log.warning("telegram send failed unexpectedly", extra={"error": type(exc).__name__})
            return Outcome(Result.RETRY, error=type(exc).__name__)
        return Outcome(Result.SENT, provider_id=str(sent["message_id"]))

    def _parameters(self, message: Message) -> dict[str, object]:
        parameters: dict[str, object] = {
            "chat_id": int(message.address),
            "text": for_telegram(message.text),  # too long is refused whole: cut instead
        }
        if message.buttons:
            parameters["reply_markup"] = InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(label, callback_data=data) for label, data in row]
                    for row in message.buttons
                ]
            )
        if self.paid:
            parameters["allow_paid_broadcast"] = True
        return parameters

    async def _edit(self, message: Message) -> Outcome:
        """A message already in the chat gets this text and these buttons (a report's card,
        as more reports corroborate it). The same content again is no failure."""
        assert message.edits is not None  # noqa: S101 (send() checked)
        parameters = self._parameters(message)
        parameters["message_id"] = int(message.edits)
        parameters.pop("allow_paid_broadcast", None)
        try:
            await self.bot.do_api_request("editMessageText", parameters)
        except BadRequest as exc:
            if "message is not modified" not in str(exc).lower():
                raise
        return Outcome(Result.SENT, provider_id=message.edits)

    def _photo(self, message: Message) -> dict[str, object]:
        """An image, uploaded, with the text as its caption (Telegram's limit: 1,024)."""
        assert message.photo is not None  # noqa: S101 (send() checked)
        parameters = self._parameters(message)
        parameters["caption"] = for_telegram(message.text)[:CAPTION]
        del parameters["text"]
        parameters["photo"] = InputFile(message.photo, filename="chart.png")
        return parameters

    def _gone(self, exc: TelegramError) -> Outcome:
        return Outcome(
            Result.UNREACHABLE,
            error=f"gone:{_slug(exc)}",
            subscriber_status=SubscriberStatus.BLOCKED.value,
        )

    async def close(self) -> None:
        # Bot.shutdown() does nothing for a Bot never initialize()d (we skip its getMe).
        await self._request.shutdown()


def _slug(exc: Exception) -> str:
    """A short, data-free label for an error (Telegram's descriptions hold no user data)."""
    return str(exc).lower().replace(" ", "_")[:40]
