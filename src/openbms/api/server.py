"""uvicorn serving the API inside the caller's event loop, started and stopped like any component.

The runtime owns the process's signals (SIGTERM/SIGINT stop it gracefully),
so uvicorn must not install its own handlers; stopping the runtime stops the
server, which finishes the requests in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from typing import Any

import uvicorn
from fastapi import FastAPI

__all__ = ["ApiServer"]


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the runtime handles signals


class ApiServer:
    """Serve ``app`` on ``host:port`` (0: any free port) in the running loop."""

    def __init__(
        self,
        app: FastAPI,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        start_timeout: float = 30.0,
        **options: Any,
    ) -> None:
        options.setdefault("log_config", None)  # logging is configured by openbms, not uvicorn
        options.setdefault("lifespan", "on")
        self.server = _EmbeddedServer(uvicorn.Config(app, host=host, port=port, **options))
        self._task: asyncio.Task[None] | None = None
        self.app = app
        self.host = host
        self.start_timeout = start_timeout

    @property
    def port(self) -> int:
        """The port listened on (the real one when 0 was asked)."""
        for server in self.server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.server.config.port

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:8080."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start serving; raise if the app fails to start (a bad admin password, a port in use…)."""
        self._task = asyncio.create_task(self._serve(), name="api server")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while not self.server.started:
            if self._task.done():
                self._task.result()
                self._task = None
                ctx = getattr(self.app.state, "openbms", None)
                cause = getattr(ctx, "startup_error", None)
                where = f"{self.host}:{self.server.config.port}"
                raise RuntimeError(f"the API did not start on {where}: {cause or 'see the log'}") from cause
            if loop.time() > deadline:
                await self.stop()
                raise TimeoutError(f"the API did not start within {self.start_timeout} s")
            await asyncio.sleep(0.01)

    async def _serve(self) -> None:
        # uvicorn calls sys.exit() when the app fails to start: that must not end the runtime's loop.
        with contextlib.suppress(SystemExit):
            await self.server.serve()

    async def stop(self) -> None:
        """Stop accepting, finish the requests in flight, run the app's shutdown. Safe to call twice."""
        if self._task is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
