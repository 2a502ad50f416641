"""The Starlette app: the channels' webhook routes, /healthz and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot import __version__
from bot.metrics import Metrics
from bot.storage.db import Database
from bot.storage.migrate import check_current


class Component(Protocol):
    """Something the web app starts after binding and stops before exiting (a channel, a worker)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def create_web_app(
    db: Database, metrics: Metrics, routes: list[BaseRoute], components: Sequence[Component]
) -> Starlette:
    """Routes given by the channels plus health and metrics; components start in order, stop reversed."""

    async def healthz(_: Request) -> Response:
        if await db.ping():
            return JSONResponse({"status": "ok", "database": "ok", "version": __version__})
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)

    async def metrics_route(_: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        started: list[Component] = []
        try:
            await check_current(db)
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
