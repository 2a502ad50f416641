"""Refusals the core explains: a message id and its values, shown in the reader's language."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

# What stops a task or the process rather than fails a handling: never caught as a failure.
STOPPING = (KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError)


def is_failure(exc: BaseException) -> bool:
    """Whether `exc` is a handling that failed, to answer and count: every Exception, and the
    BaseExceptions native libraries raise (a Rust panic is a BaseException), not a stop."""
    return not isinstance(exc, STOPPING)


class Explained(ValueError):
    """Something that cannot be done or read. `message` is a msgid (marked with N_ where it
    is written) and `values` fill it; `str()` is the English text, for logs and the CLI."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message.format(**values))
        self.message = message
        self.values = values

    def say(self, gettext: Callable[[str], str]) -> str:
        """The text in the language of `gettext` (values that are msgids are translated)."""
        values = {
            k: gettext(v) if isinstance(v, str) and k.endswith("_said") else v
            for k, v in self.values.items()
        }
        return gettext(self.message).format(**values)
