"""The Starlette app: the channels' webhook routes, /healthz and /metrics."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.metrics import Metrics
from bot.storage.crypto import Vault
from bot.storage.db import Database
from bot.storage.keycheck import check_ready


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
        lifespan=lifespan,
    )
