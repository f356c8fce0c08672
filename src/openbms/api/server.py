"""uvicorn serving the API inside the caller's event loop, started and stopped like any component.

The runtime owns the process's signals (SIGTERM/SIGINT stop it gracefully),
so uvicorn must not install its own handlers; stopping the runtime stops the
server, which finishes the requests in flight.

What the connection says is taken from the API's settings
(``openbms.api.settings.ApiSettings``), not from uvicorn's defaults:

- ``X-Forwarded-For``/``-Proto`` are believed only from ``trusted_proxies``
  (uvicorn believes 127.0.0.1 by default, which let any local client, or a
  proxy that passes the header through, choose the address that login rate
  limits and the audit see);
- ``tls_cert``/``tls_key`` serve HTTPS, and every answer then carries
  ``Strict-Transport-Security``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Generator
from typing import Any

import uvicorn
from fastapi import FastAPI

from openbms.api.settings import ApiSettings
from openbms.service.protocols import Services

__all__ = ["ApiServer", "serve", "uvicorn_options"]


def uvicorn_options(settings: ApiSettings) -> dict[str, Any]:
    """uvicorn's connection options for ``settings``: proxies believed, TLS files, fixed headers."""
    options: dict[str, Any] = {
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
        # A WebSocket frame bigger than this is refused (close 1009) before it is buffered.
        "ws_max_size": settings.ws_max_frame_bytes,
    }
    if settings.tls:
        options["ssl_certfile"] = settings.tls_cert
        options["ssl_keyfile"] = settings.tls_key
        if settings.hsts_max_age:
            options["headers"] = [("strict-transport-security", f"max-age={settings.hsts_max_age}")]
    return options


def _check_tls(certfile: str, keyfile: str | None) -> None:
    """Load the pair once before serving, so a wrong file is named instead of uvicorn's 'PEM lib'."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, OSError) as err:
        raise RuntimeError(
            f"cannot use the TLS certificate {certfile} with the key {keyfile}: {err} "
            "(expected PEM files, the key matching the certificate and not encrypted)"
        ) from err


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the runtime handles signals


class ApiServer:
    """Serve ``app`` on ``host:port`` (0: any free port) in the running loop.

    Proxy trust and TLS come from ``settings``, by default the settings of the
    openbms app (``app.state.openbms.settings``); explicit ``options`` win.
    """

    def __init__(
        self,
        app: FastAPI,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        start_timeout: float = 30.0,
        settings: ApiSettings | None = None,
        **options: Any,
    ) -> None:
        if settings is None:
            settings = getattr(getattr(app.state, "openbms", None), "settings", None)
        for key, value in uvicorn_options(settings or ApiSettings()).items():
            options.setdefault(key, value)
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
        """The base URL, e.g. http://127.0.0.1:8080 (https:// with TLS)."""
        scheme = "https" if self.server.config.is_ssl else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start serving; raise if the app fails to start (a bad admin password, a port in use…)."""
        config = self.server.config
        if config.ssl_certfile:
            await asyncio.to_thread(_check_tls, str(config.ssl_certfile),
                                    str(config.ssl_keyfile) if config.ssl_keyfile else None)
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


async def serve(runtime: Services, host: str, port: int, settings: ApiSettings | None) -> ApiServer:
    """The API over ``runtime``, serving on ``host:port``: the front a Runtime is given (``api_front``).

    ``settings`` None: from the environment (``ApiSettings.from_env``).
    """
    from openbms.api.app import create_app  # the app imports the routes; the server module stays light

    server = ApiServer(create_app(runtime, settings=settings), host, port)
    await server.start()
    return server
