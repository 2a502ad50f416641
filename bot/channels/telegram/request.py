"""A python-telegram-bot request class on aiohttp, for broadcasts.

PTB's default (httpx) spends most of a broadcast's CPU in its connection pool: measured here,
about 4.9 ms of CPU a message at 128 in flight against 0.4 ms through aiohttp. This class
plugs into PTB's documented extension point (`BaseRequest.do_request`), so PTB still builds
the requests, parses the answers and raises its own errors (RetryAfter, Forbidden, ...).
It sends what delivery needs: parameters as JSON, and the odd upload (a chart) as a form.
"""

from __future__ import annotations

import aiohttp
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

JSON_HEADERS = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """PTB requests over one aiohttp session with a bounded connection pool."""

    def __init__(self, connections: int = 32, timeout: float = 15.0) -> None:
        self.connections = connections
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self.timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        await self.initialize()
        assert self._session is not None  # noqa: S101 (initialize made it)
        data: bytes | aiohttp.FormData | None = None
        headers = None
        if request_data is not None and request_data.contains_files:
            data = upload(request_data)  # an alert's delivery chart to its composer
        elif request_data is not None:
            # A JSON body, as the Bot API accepts: cheaper to build than a form (no boundary,
            # no percent-encoding of the text).
            data, headers = request_data.json_payload, JSON_HEADERS
        try:
            async with self._session.request(method, url, data=data, headers=headers) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            # Ambiguous, as with httpx's read timeout: the message may have gone out.
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp: {type(exc).__name__}") from exc


def upload(request_data: RequestData) -> aiohttp.FormData:
    """A request with files as multipart/form-data: the parameters JSON-encoded, as PTB's
    own requests send them, and each file as a part of its own."""
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, part in request_data.multipart_data.items():
        filename, content, *kind = part
        body = content if isinstance(content, bytes) else content.read()
        form.add_field(name, body, filename=filename, content_type=kind[0] if kind else None)
    return form
