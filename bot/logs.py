"""Structured logs that cannot carry a phone number, chat id, location or message text.

Call sites log events and counts only. As a second line of defence, every record's message
has long digit runs masked, and exception messages are dropped from tracebacks (a provider
error or a database error can quote the data it choked on); the types and frames remain. A
library's record keeps its wording without its arguments: python-telegram-bot, for one, puts
a whole update (texts, first names) into a CRITICAL line when it cannot handle it.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from datetime import UTC, datetime
from types import TracebackType

# Phone numbers and chat ids: any run of 7+ digits, with the separators phones use.
_DIGITS = re.compile(r"\+?\d[\d\s().-]{5,}\d")
REDACTED = "[redacted]"

# Loggers of libraries that put tokens, numbers or bodies in their INFO/DEBUG lines
# (httpx logs request URLs, which carry the Telegram bot token).
QUIET = ("httpx", "httpcore", "telegram", "twilio", "aiosqlite", "apscheduler", "asyncio")
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def redact(text: str) -> str:
    return _DIGITS.sub(REDACTED, text)


class JSONFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, event, and the `extra` fields given."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            # RedactingFilter already turned the exception into a safe traceback.
            entry["error"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)

    def formatException(self, ei: ExcInfo) -> str:
        return format_exception_safely(ei[1])


def format_exception_safely(error: BaseException | None) -> str:
    """A traceback with the exception types and frames, without the exception messages."""
    if error is None:
        return ""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_tb(current.__traceback__))
        parts.append(f"{frames}{type(current).__module__}.{type(current).__qualname__}")
        current = current.__cause__ or current.__context__
    return "\n-- caused by --\n".join(reversed(parts))


class RedactingFilter(logging.Filter):
    """Masks digit runs in any record, whichever formatter prints it (pytest's too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and record.name.split(".", 1)[0] in QUIET:
            record.args = None  # the message's wording stays, with its %s unfilled
        elif record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = format_exception_safely(record.exc_info[1])
            record.exc_info = None
        return True


def configure(level: str = "INFO") -> None:
    """Logging for a bot process: JSON lines on stderr, redaction on every handler."""
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries(level)


def quiet_libraries(level: str) -> None:
    """Hold chatty libraries at WARNING or above, whatever our own level."""
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # uvicorn's access log records client addresses and paths; health checks flood it.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
