"""The Starlette app: the channels' webhook routes, /healthz and /metrics, behind a body limit."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.metrics import Metrics
from bot.storage.crypto import Vault
from bot.storage.db import Database
from bot.storage.keycheck import check_ready

MAX_BODY = 64 * 1024  # bytes: a Twilio form or a Telegram update is a few KB


class TooLarge(Exception):
    """A request body went past MAX_BODY while it was being read."""


class BodyLimit:
    """Refuses a body over `limit` bytes with 413 before reading it: at once when its
    Content-Length says so, else as soon as the bytes read pass the limit (a chunked or
    lying body), so a 256 MB POST costs at most `limit` bytes of memory."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():  # (isdigit: only ASCII digits count here too)
                await _plain(400, "bad request")(scope, receive, send)
                return
            if int(declared) > self.limit:
                await _plain(413, "payload too large")(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise TooLarge
            return message

        await self.app(scope, limited, send)


def _plain(status: int, text: str) -> Response:
    return Response(text, status_code=status, media_type="text/plain")


async def _too_large(_: Request, __: Exception) -> Response:
    return _plain(413, "payload too large")


class Component(Protocol):
    """Something the web app starts after binding and stops before exiting (a channel, a worker)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def create_web_app(
    db: Database,
    metrics: Metrics,
    routes: list[BaseRoute],
    components: Sequence[Component],
    *,
    vault: Vault,
    metrics_token: str | None = None,
) -> Starlette:
    """Routes given by the channels plus health and metrics; components start in order, stop
    reversed. /metrics answers only with `metrics_token` as a bearer token (404 without one
    set): its counts are the network's activity, and its version would name what to attack."""
    expected = f"Bearer {metrics_token}".encode() if metrics_token else None

    async def healthz(_: Request) -> Response:
        # Up or not, and nothing else: no version for a scanner to match against advisories.
        if await db.ping():
            return JSONResponse({"status": "ok", "database": "ok"})
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)

    async def metrics_route(request: Request) -> Response:
        if expected is None:
            return Response("Not Found", status_code=404)
        given = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(given, expected):
            return Response(
                "Unauthorized",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        started: list[Component] = []
        try:
            await check_ready(db, vault)
            for component in components:
                await component.start()
                started.append(component)
            yield
        finally:
            for component in reversed(started):
                await component.stop()
            await db.close()

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_route, methods=["GET"]),
            *routes,
        ],
        # Inside Starlette's error handling: a body found too large while a route reads it
        # is answered 413 by the exception handler, not 500.
        middleware=[Middleware(BodyLimit)],
        exception_handlers={TooLarge: _too_large},
        lifespan=lifespan,
    )
