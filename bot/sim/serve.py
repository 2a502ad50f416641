"""Run an ASGI app with uvicorn as a task of the current event loop, on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

__all__ = ["RunningServer", "bind", "serve"]


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the host's signal handlers alone and says when it is up."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self.exit_requested = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # Set even when startup fails, so that serve() never waits forever; it then checks
        # ``started``. An event here spares serve() from polling ``started``.
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()

    async def main_loop(self) -> None:
        # uvicorn polls should_exit every 0.1 s; waiting on an event lets stop() act at once.
        # on_tick(0) still refreshes the Date header and applies uvicorn's own exit rules.
        while not await self.on_tick(0):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self.exit_requested.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn 0.54's shutdown sleeps a fixed 0.1 s after asking connections to close, then
        # polls them every 0.1 s: three servers per test paid 0.3 s for nothing. Same steps,
        # same graceful timeout and cancellation, polled every 5 ms.
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                while (  # noqa: ASYNC110 (uvicorn's state has no event to wait on)
                    self.server_state.connections or self.server_state.tasks
                ) and not self.force_exit:
                    await asyncio.sleep(0.005)
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn 0.54 swaps SIGINT/SIGTERM handlers for the whole process while it serves and
        # re-raises captured signals on exit; a fake inside a test or the demo must not do that.
        yield


@dataclass
class RunningServer:
    """A started server: its base URL and how to stop it."""

    url: str
    port: int
    _server: _QuietServer
    _task: asyncio.Task[None]

    async def stop(self) -> None:
        """Ask uvicorn to exit and wait until it has closed its connections."""
        self._server.should_exit = True
        self._server.exit_requested.set()
        await self._task


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket, so a caller knows the port (and URL) before the app is built."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # An explicit IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when
    # the protocol says TCP, and without it every response stalls ~40 ms on delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    lifespan: Literal["auto", "on", "off"] = "off",
    sock: socket.socket | None = None,
) -> RunningServer:
    """Start ``app`` in the running loop and return once it accepts connections."""
    # Binding here rather than inside uvicorn turns "address in use" into an OSError for the
    # caller; uvicorn itself would call sys.exit() inside the task.
    if sock is None:
        sock = bind(host, port)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        # None keeps uvicorn from running dictConfig over the host process's logging setup.
        log_config=None,
        access_log=False,
        lifespan=lifespan,
        ws="none",
        # A request left hanging (a long poll whose client vanished) must not stall stop().
        timeout_graceful_shutdown=2,
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="sim-uvicorn")
    waiter = asyncio.create_task(server.ready.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not server.started:
        try:
            await task  # re-raises whatever broke startup
        finally:
            sock.close()
        raise RuntimeError("uvicorn did not start")
    bound_port = int(server.servers[0].sockets[0].getsockname()[1])
    url_host = f"[{host}]" if ":" in host else host
    return RunningServer(
        url=f"http://{url_host}:{bound_port}", port=bound_port, _server=server, _task=task
    )
