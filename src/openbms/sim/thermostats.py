"""An emulated vendor cloud for thermostats: the REST shape the reference systems describe.

::

    POST /oauth/token              client credentials (form or HTTP Basic) → {access_token, expires_in}
    GET  /devices/{id}/status      {id, temperature, setpoint, mode, humidity, fan, unit, online}
    POST /devices/{id}/setpoint    {value, unit}   (unit C or F; refused outside min..max setpoint)
    POST /devices/{id}/mode        {mode}          (off, heat, cool, auto)
    GET  /devices/{id}/schedule    {monday: [{time, setpoint}, …], …}
    PUT  /devices/{id}/schedule    the same shape
    POST /webhooks                 {url}: where it POSTs {device, status, ts} on a change,
                                   signed ``X-Signature: sha256=HEX`` (HMAC-SHA256 of the body)

Every ``/devices`` request is signed in one of three ways: an OAuth2 access
token (``Authorization: Bearer``, valid ``token_ttl`` seconds), a fixed bearer
token, or ``X-API-Key``. A client sending more than ``rate_limit`` requests in
a second is answered 429 with ``Retry-After``. Tests steer it from the same
process: ``limit_next`` (the next requests answer 429), ``fail`` (5xx),
``hold`` (a device's requests wait for an event: slow, without a timer),
``revoke_tokens`` (every issued token answers 401), and ``requests`` counts
what it was asked. ``serve_thermostats`` runs it with uvicorn on a free
loopback port; ``python -m openbms.sim.thermostats`` runs it on its own.

It is a separate building: it imports nothing of openbms's core and reaches
openbms only over HTTP, as a vendor's cloud would.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["Thermostat", "ThermostatService", "serve_thermostats", "sign"]

log = logging.getLogger(__name__)

MODES = ("off", "heat", "cool", "auto")
SIGNATURE_HEADER = "X-Signature"


def sign(secret: bytes, body: bytes) -> str:
    """The webhook signature header's value for ``body``: ``sha256=`` and the HMAC in hex."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _default_schedule() -> dict[str, list[dict[str, Any]]]:
    day = [{"time": "07:00", "setpoint": 21.0}, {"time": "18:00", "setpoint": 17.0}]
    return {d: [dict(e) for e in day] for d in ("monday", "tuesday", "wednesday", "thursday",
                                                "friday", "saturday", "sunday")}


@dataclass
class Thermostat:
    """One emulated thermostat (temperatures in °C)."""

    id: str
    temperature: float = 21.5
    setpoint: float = 21.0
    mode: str = "heat"
    humidity: float = 45.0
    fan: str = "auto"
    online: bool = True
    min_setpoint: float = 5.0
    max_setpoint: float = 35.0
    schedule: dict[str, list[dict[str, Any]]] = field(default_factory=_default_schedule)

    def status(self) -> dict[str, Any]:
        """The body of ``GET /devices/{id}/status``."""
        return {"id": self.id, "temperature": self.temperature, "setpoint": self.setpoint,
                "mode": self.mode, "humidity": self.humidity, "fan": self.fan, "unit": "C",
                "online": self.online,
                "limits": {"min_setpoint": self.min_setpoint, "max_setpoint": self.max_setpoint}}


def _problem(status: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status, headers=headers or None)


class ThermostatService:
    """The vendor's state and its switches; ``app`` is the ASGI application serving it."""

    def __init__(self, devices: list[Thermostat] | None = None, *, client_id: str = "openbms",
                 client_secret: str = "s3cret", api_keys: tuple[str, ...] = (),
                 bearer_tokens: tuple[str, ...] = (), token_ttl: float = 3600.0,
                 rate_limit: int = 0, retry_after: int = 1, webhook_secret: bytes = b"",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.devices = {d.id: d for d in (devices or [Thermostat(f"T-{100 + i}") for i in range(3)])}
        self.client_id, self.client_secret = client_id, client_secret
        self.api_keys, self.bearer_tokens = set(api_keys), set(bearer_tokens)
        self.token_ttl = token_ttl
        self.rate_limit, self.retry_after = rate_limit, retry_after
        self.webhook_secret = webhook_secret
        self.webhook_urls: list[str] = []
        self.clock = clock
        self.tokens: dict[str, float] = {}  # access token → when it expires (self.clock)
        #: (method, path, status) of every request answered, in order.
        self.requests: list[tuple[str, str, int]] = []
        self.webhooks_sent: list[tuple[str, int]] = []  # (url, status or 0 when it failed)
        self._limited = 0  # the next requests that answer 429
        self._failing: dict[str | None, tuple[int, int | None]] = {}  # device|None → (status, left)
        self._held: dict[str, asyncio.Event] = {}
        self._window = (0.0, 0)  # (second it counts, requests in it)
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None  # the webhooks' (made at the first)
        self.app = Starlette(routes=[
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/devices/{id}/status", self._status, methods=["GET"]),
            Route("/devices/{id}/setpoint", self._setpoint, methods=["POST"]),
            Route("/devices/{id}/mode", self._mode, methods=["POST"]),
            Route("/devices/{id}/schedule", self._schedule, methods=["GET", "PUT"]),
            Route("/webhooks", self._webhooks, methods=["POST"]),
        ])
        self.app.add_middleware(_Recorder, service=self)

    # ------------------------------------------------------------------ switches for tests

    def limit_next(self, count: int, retry_after: int | None = None) -> None:
        """The next ``count`` device requests answer 429 with ``Retry-After``."""
        self._limited = count
        if retry_after is not None:
            self.retry_after = retry_after

    def fail(self, device: str | None = None, status: int = 503, count: int | None = None) -> None:
        """Requests for ``device`` (None: every device) answer ``status``; ``count`` times, or
        until ``recover``."""
        self._failing[device] = (status, count)

    def recover(self) -> None:
        """No more failures, and every held device answers."""
        self._failing.clear()
        for event in self._held.values():
            event.set()
        self._held.clear()

    def hold(self, device: str) -> asyncio.Event:
        """Requests for ``device`` wait until the returned event is set (a slow device)."""
        event = self._held[device] = asyncio.Event()
        return event

    def revoke_tokens(self) -> None:
        """Every access token issued so far answers 401 (as after a key rotation)."""
        self.tokens.clear()

    def count(self, path_part: str, method: str | None = None) -> int:
        """How many requests whose path holds ``path_part`` were answered."""
        return sum(1 for m, p, _ in self.requests if path_part in p and method in (None, m))

    async def change(self, device: str, **values: Any) -> None:
        """Change a thermostat's values as its room would (temperature, humidity…); webhooks fire."""
        t = self.devices[device]
        for key, value in values.items():
            setattr(t, key, value)
        self._notify(t)

    def set_readings(self, device: str, **values: Any) -> None:
        """``change`` for a caller that is not a coroutine (the building emulator's step), in the
        service's event loop."""
        t = self.devices[device]
        for key, value in values.items():
            setattr(t, key, value)
        self._notify(t)

    # ------------------------------------------------------------------ auth and limits

    def _authorised(self, request: Request) -> bool:
        key = request.headers.get("x-api-key")
        if key is not None:
            return key in self.api_keys
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        if token in self.bearer_tokens:
            return True
        expires = self.tokens.get(token)
        return expires is not None and self.clock() < expires

    def _gate(self, request: Request) -> Response | None:
        """A refusal every device request meets first: auth, rate limit, failure switches."""
        if not self._authorised(request):
            return _problem(401, "missing, unknown or expired credentials",
                            **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if self._limited > 0:
            self._limited -= 1
            return _problem(429, "rate limit exceeded", **{"Retry-After": str(self.retry_after)})
        if self.rate_limit:
            second = float(int(self.clock()))
            start, n = self._window
            n = n + 1 if start == second else 1
            self._window = (second, n)
            if n > self.rate_limit:
                return _problem(429, "rate limit exceeded", **{"Retry-After": str(self.retry_after)})
        device = request.path_params.get("id")
        for key in (device, None):
            if key in self._failing:
                status, left = self._failing[key]
                if left is not None:
                    if left <= 1:
                        del self._failing[key]
                    else:
                        self._failing[key] = (status, left - 1)
                return _problem(status, "the vendor's service is failing (emulated)")
        if device not in self.devices:
            return _problem(404, f"no device {device!r}")
        return None

    async def _wait_if_held(self, request: Request) -> None:
        event = self._held.get(request.path_params.get("id", ""))
        if event is not None:
            await event.wait()

    # ------------------------------------------------------------------ routes

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        scheme, _, basic = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                client_id, _, client_secret = base64.b64decode(basic).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if client_id != self.client_id or not hmac.compare_digest(
                str(client_secret or ""), self.client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = self.clock() + self.token_ttl
        return JSONResponse({"access_token": token, "token_type": "Bearer",
                             "expires_in": self.token_ttl})

    async def _status(self, request: Request) -> Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        await self._wait_if_held(request)
        return JSONResponse(self.devices[request.path_params["id"]].status())

    async def _body(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _problem(400, "the body is not JSON")
        if not isinstance(body, dict):
            return _problem(400, "the body is not a JSON object")
        return body

    async def _setpoint(self, request: Request) -> Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        await self._wait_if_held(request)
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        t = self.devices[request.path_params["id"]]
        value, unit = body.get("value"), body.get("unit", "C")
        if not isinstance(value, int | float) or isinstance(value, bool) or unit not in ("C", "F"):
            return _problem(400, "expected {value: number, unit: C|F}")
        celsius = (value - 32) / 1.8 if unit == "F" else float(value)
        if not t.min_setpoint <= celsius <= t.max_setpoint:
            return _problem(422, f"setpoint {celsius:g} °C outside {t.min_setpoint:g}..{t.max_setpoint:g}")
        t.setpoint = round(celsius, 2)
        self._notify(t)
        return JSONResponse(t.status())

    async def _mode(self, request: Request) -> Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        await self._wait_if_held(request)
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        if body.get("mode") not in MODES:
            return _problem(400, f"expected {{mode: {'|'.join(MODES)}}}")
        t = self.devices[request.path_params["id"]]
        t.mode = body["mode"]
        self._notify(t)
        return JSONResponse(t.status())

    async def _schedule(self, request: Request) -> Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        t = self.devices[request.path_params["id"]]
        if request.method == "PUT":
            body = await self._body(request)
            if isinstance(body, Response):
                return body
            t.schedule = body
        return JSONResponse(t.schedule)

    async def _webhooks(self, request: Request) -> Response:
        if not self._authorised(request):
            return _problem(401, "missing, unknown or expired credentials")
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        url = body.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return _problem(400, "expected {url: http(s)://…}")
        self.webhook_urls.append(url)
        return JSONResponse({"url": url}, status_code=201)

    # ------------------------------------------------------------------ webhooks

    def _notify(self, t: Thermostat) -> None:
        if not self.webhook_urls:
            return
        body = json.dumps({"device": t.id, "status": t.status(), "ts": time.time()}).encode()
        for url in self.webhook_urls:
            task = asyncio.get_running_loop().create_task(self._post(url, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, body: bytes) -> None:
        # One client for every webhook: a new one costs about 0.1 s of the event loop (its TLS
        # context), and in the demo that loop is openbms's own.
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0)
        headers = {"content-type": "application/json",
                   SIGNATURE_HEADER: sign(self.webhook_secret, body)}
        try:
            answer = await self._client.post(url, content=body, headers=headers)
            self.webhooks_sent.append((url, answer.status_code))
        except httpx.HTTPError as err:
            log.debug("webhook to %s failed: %s", url, err)
            self.webhooks_sent.append((url, 0))

    async def aclose(self) -> None:
        """Close the webhooks' HTTP client (after ``drain``)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def drain(self) -> None:
        """Wait until every webhook under way has been sent."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class _Recorder:
    """Counts every request with its answer's status (what tests compare)."""

    def __init__(self, app: Any, service: ThermostatService) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.service.requests.append((scope["method"], scope["path"], status))


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # whoever runs the event loop handles signals


@contextlib.asynccontextmanager
async def serve_thermostats(service: ThermostatService, host: str = "127.0.0.1",
                            port: int = 0) -> AsyncIterator[str]:
    """Serve ``service`` on ``host:port`` (0: a free port) in this event loop; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    config = uvicorn.Config(service.app, log_level="warning", lifespan="off", access_log=False)
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the emulated thermostat service did not start")
            await asyncio.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        service.recover()
        server.should_exit = True
        await task
        await service.drain()
        await service.aclose()
        sock.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m openbms.sim.thermostats``: serve three thermostats until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--devices", type=int, default=3, help="thermostats T-100, T-101, …")
    parser.add_argument("--client-id", default="openbms")
    parser.add_argument("--client-secret", default="s3cret")
    parser.add_argument("--api-key", action="append", default=[])
    parser.add_argument("--token-ttl", type=float, default=3600.0)
    parser.add_argument("--rate-limit", type=int, default=10, help="requests per second (0: none)")
    parser.add_argument("--webhook-url", action="append", default=[])
    parser.add_argument("--webhook-secret", default="", help="the shared secret signing webhooks")
    args = parser.parse_args(argv)
    service = ThermostatService([Thermostat(f"T-{100 + i}") for i in range(args.devices)],
                                client_id=args.client_id, client_secret=args.client_secret,
                                api_keys=tuple(args.api_key), token_ttl=args.token_ttl,
                                rate_limit=args.rate_limit,
                                webhook_secret=args.webhook_secret.encode())
    service.webhook_urls.extend(args.webhook_url)

    async def run() -> None:
        async with serve_thermostats(service, args.host, args.port) as url:
            print(f"thermostats {', '.join(service.devices)} at {url}", flush=True)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
