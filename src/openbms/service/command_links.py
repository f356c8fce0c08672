"""Each site's command/response connection (``mqtt: commands:`` and/or ``homeassistant:``
``enabled``), and who answers it.

::

    site with mqtt.commands.enabled ──▶ RequestServer (drivers/mqtt/requests.py: the connection,
                                            │            topics, MQTT v5 properties)
                                            ▼ Request
                                  CommandLinks._answer ──▶ handler (the API's, registered with
                                            │                serve_command_requests when it starts)
                                            │           └─▶ none (openbms run --no-api, or before
                                            ▼                the API started): an ``unavailable`` error
                                      response bytes ──▶ published by the RequestServer

The service layer owns the connections (they start with the process and follow
configuration changes); what a request means, who may send it and what it does
is the API's (``openbms.api.mqtt_commands``): the service imports no API.

Home Assistant (``mqtt: homeassistant: enabled``) uses the same connection, so
a site with it has one even with ``commands`` off (then no request topic is
subscribed)::

    apply / a configuration change ──▶ discovery configs ──▶ RequestServer.announce
                                       (retained, QoS 1;      (new and changed ones; an empty
                                        drivers/mqtt/          retained message for a point
                                        homeassistant.py)      gone; all again at each connection)

    {prefix}/{site}/{equipment}/{point}/set ──▶ CommandLinks._homeassistant
        decode_command (ON/OFF, a number, a state's label) ──▶ a CommandRequest named
        ``homeassistant/set`` (no request topic can name it), JSON {"id", "point", "value"} or
        {"id", "point", "refused"}, with the token of ``homeassistant.token_env|token_file``
        ──▶ the same handler as requests: permission, arbiter at ``homeassistant.priority``,
            rate limits, audit ──▶ nothing is published back (Home Assistant sees the state
            the bridge publishes); a refusal is logged once per point per minute.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from openbms import __version__
from openbms.drivers.mqtt.connect import secret, tls_context
from openbms.drivers.mqtt.homeassistant import CommandRefused, decode_command, discovery
from openbms.drivers.mqtt.requests import Publish, Request, Requester, RequestServer
from openbms.errors import DriverError, OpenBMSError
from openbms.model.mqtt import HomeAssistantSettings, MqttSettings
from openbms.model.site import Point, SiteConfig
from openbms.runtime.clock import Clock
from openbms.service.protocols import CommandRequest, CommandRequestHandler

__all__ = ["HOMEASSISTANT_COMMAND", "CommandLinks", "unavailable"]

log = logging.getLogger(__name__)

#: The name of the request a Home Assistant command becomes (two topic levels: no client's
#: request on ``{prefix}/{site}/command/{name}/request`` can carry it).
HOMEASSISTANT_COMMAND = HomeAssistantSettings.COMMAND

#: Seconds between two log lines about the refused commands of one point (real time: it bounds
#: the log, not building behaviour).
REFUSAL_LOG_S = 60.0


@dataclass(frozen=True, slots=True)
class _HomeAssistant:
    """What a site's Home Assistant commands need: its points and the token they use."""

    points: dict[tuple[str, str], Point]
    token: str | None
    topic_levels: int  # of {prefix}/{site}/{equipment}/{point}/set
    token_file: str | None = None  # read again at each command: a token rotated there is used
    place: str = ""  # of the setting, for messages


def unavailable(payload: bytes, why: str) -> bytes:
    """The error response to a request nothing can answer, with the request's ``id`` if it has one."""
    cid = None
    try:
        doc = json.loads(payload) if len(payload) <= 1 << 20 else None
        if isinstance(doc, dict) and isinstance(doc.get("id"), str) and len(doc["id"]) <= 128:
            cid = doc["id"]
    except (ValueError, RecursionError):
        pass
    return json.dumps({"id": cid, "ok": False,
                       "error": {"code": "unavailable", "message": why, "field": None}}).encode()


class CommandLinks:
    """The sites' request connections and the handler that answers them."""

    def __init__(self, publish: Publish | None = None,
                 monotonic: Callable[[], float] = time.monotonic, *,
                 data_dir: Path | None = None, clock: Clock | None = None) -> None:
        self.handler: CommandRequestHandler | None = None
        self._publish = publish
        #: Where each site's responses wait for the broker (None: published directly).
        self._data_dir, self._clock = data_dir, clock
        self._servers: dict[str, tuple[MqttSettings, RequestServer]] = {}
        self._homeassistant: dict[str, _HomeAssistant] = {}
        #: Real seconds (the log's pace, not building time).
        self.monotonic = monotonic
        self._logged: dict[str, float] = {}  # point id → when its last refusal was logged
        self._ids = itertools.count(1)
        # Unguessable: a client's own request id can never be taken for (and answered as) one of
        # Home Assistant's commands, which the handler would then not execute.
        self._id_prefix = f"homeassistant-{secrets.token_hex(8)}-"
        #: Home Assistant commands received, and refused (by openbms: payload, role, limits).
        self.homeassistant_commands = 0
        self.homeassistant_refused = 0

    def serve(self, handler: CommandRequestHandler | None) -> None:
        """Answer requests with ``handler`` from now on (None: each gets ``unavailable``)."""
        self.handler = handler

    @property
    def servers(self) -> dict[str, RequestServer]:
        """The running connections by site id."""
        return {site: server for site, (_s, server) in self._servers.items()}

    async def apply(self, sites: Sequence[SiteConfig]) -> None:
        """Run a connection for each site with ``mqtt.commands.enabled`` or
        ``mqtt.homeassistant.enabled``: start new ones, restart those whose ``mqtt:`` settings
        changed, stop the others; announce each site's Home Assistant entities as its
        configuration now has them (and clear those of points gone)."""
        configs = {s.site.id: s for s in sites if s.mqtt is not None and (
            s.mqtt.commands.enabled or s.mqtt.homeassistant.enabled)}
        wanted = {site: cfg.mqtt for site, cfg in configs.items()}
        previous: dict[str, list[str]] = {}
        for site in [s for s in self._servers if wanted.get(s) != self._servers[s][0]]:
            _settings, server = self._servers.pop(site)
            previous[site] = list(server.announced)
            still = configs.get(site)
            if server.announced and (still is None or still.mqtt is None
                                     or not still.mqtt.homeassistant.enabled):
                await server.announce([])  # Home Assistant off here: its entities deleted
            await server.stop()
        homeassistant = {}
        for site, cfg in configs.items():  # every secret read before anything starts
            settings = cfg.mqtt
            assert settings is not None
            if settings.homeassistant.enabled:
                homeassistant[site] = self._homeassistant_of(cfg, settings)
        self._homeassistant = homeassistant
        for site, cfg in configs.items():
            settings = cfg.mqtt
            assert settings is not None
            entities = discovery(cfg, __version__)
            running = self._servers.get(site)
            if running is not None:
                await running[1].announce(entities)
                continue
            listen = ({f"{settings.prefix}/{site}/+/+/set": functools.partial(self._homeassistant_set,
                                                                               site)}
                      if settings.homeassistant.enabled else None)
            handler = functools.partial(self._answer, site) if settings.commands.enabled else None
            try:
                server = RequestServer(settings, site, handler, publish=self._publish, listen=listen,
                                       data_dir=self._data_dir, clock=self._clock)
            except DriverError as err:  # a secret or TLS file that cannot be read
                raise OpenBMSError(str(err)) from None
            await server.announce(entities, previous.get(site, ()))
            self._servers[site] = (settings, server)
            try:
                await server.start()
            except DriverError as err:  # the responses' outbox is locked or cannot be read
                raise OpenBMSError(str(err)) from None
            log.info("site %s: mqtt on %s:%d: %s", site, settings.host, settings.port, ", ".join(
                ([f"command requests on {server.filter}"] if handler else [])
                + ([f"{len(entities)} Home Assistant entities, their commands on "
                    f"{next(iter(listen))}"] if listen else [])))

    @staticmethod
    def _homeassistant_of(cfg: SiteConfig, settings: MqttSettings) -> _HomeAssistant:
        site = cfg.site.id
        try:
            token = secret(settings.homeassistant.model_dump(), "token",
                           f"site {site}: mqtt: homeassistant")
        except DriverError as err:
            raise OpenBMSError(str(err)) from None
        if not token:
            log.warning("site %s: mqtt: homeassistant: no token_env or token_file: the entities are "
                        "announced, Home Assistant's commands are refused", site)
        if not (settings.bridge.enabled and settings.bridge.per_point):
            log.warning("site %s: mqtt: homeassistant: the entities read their state from the "
                        "bridge's per-point messages, and mqtt.bridge is off or has per_point: "
                        "false: Home Assistant will show no values", site)
        return _HomeAssistant({(eq.id, p.name): p for eq in cfg.equipment for p in eq.points},
                              token or None, settings.prefix.count("/") + 5,
                              settings.homeassistant.token_file,
                              f"site {site}: mqtt: homeassistant")

    @staticmethod
    async def _token(ha: _HomeAssistant) -> str | None:
        """The token a command uses: ``token_file`` read again (an operator rotates the token
        there: the next command uses the new one, no restart), else the one read at start; a file
        that cannot be read now keeps the last one, with a WARNING."""
        if not ha.token_file:
            return ha.token
        try:
            token = await asyncio.to_thread(secret, {"token_file": ha.token_file}, "token", ha.place)
        except DriverError as err:
            log.warning("%s (the token read before is used)", err)
            return ha.token
        return token or None

    async def stop(self) -> None:
        """Stop every connection."""
        while self._servers:
            _site, (_settings, server) = self._servers.popitem()
            await server.stop()

    def client(self, site: str, timeout: float = 10.0) -> Requester:
        """A client of ``site``'s command/response on its broker, with its credentials (an async
        context manager; for the benchmark and tools, which import no driver)."""
        settings = self._servers[site][0]
        values, place = settings.model_dump(), f"site {site}: mqtt"
        return Requester(settings.host, settings.port, settings.prefix, site,
                         username=secret(values, "username", place),
                         password=secret(values, "password", place),
                         tls=tls_context(values, place), timeout=timeout)

    def problems(self) -> list[str]:
        """Connections that are down, for health."""
        return [p for _s, server in self._servers.values() for p in server.problems()]

    async def _homeassistant_set(self, site: str, topic: str, payload: bytes) -> None:
        """A Home Assistant command: decoded, then answered by the handler as a write request
        would be; a refusal is logged (once per point per minute)."""
        ha = self._homeassistant.get(site)
        levels = topic.split("/")
        if ha is None or len(levels) != ha.topic_levels:
            return
        equipment, name = levels[-3], levels[-2]
        pid = f"{site}/{equipment}/{name}"
        self.homeassistant_commands += 1
        body: dict[str, object] = {"id": f"{self._id_prefix}{next(self._ids)}",
                                   "point": f"{equipment}/{name}"}
        point = ha.points.get((equipment, name))
        if point is not None:  # an unknown point: the handler refuses it (unknown_point)
            try:
                body["value"] = decode_command(point, payload)
            except CommandRefused as err:
                body["refused"] = str(err)
        handler = self.handler
        if handler is None:
            self._refused(pid, "unavailable", "this openbms runs without its API (openbms run "
                                              "--no-api, or it is starting)", ha)
            return
        token = await self._token(ha)
        answer = await handler(CommandRequest(
            site, HOMEASSISTANT_COMMAND, orjson.dumps(body), topic, None,
            f"Bearer {token}" if token else None))
        try:
            doc = orjson.loads(answer)
        except orjson.JSONDecodeError:
            doc = {"ok": False, "error": {"code": "internal", "message": "no JSON answer"}}
        if not doc.get("ok"):
            error = doc.get("error") or {}
            self._refused(pid, str(error.get("code")), str(error.get("message")), ha)

    def _refused(self, pid: str, code: str, message: str, ha: _HomeAssistant) -> None:
        self.homeassistant_refused += 1
        now = self.monotonic()
        last = self._logged.get(pid)
        if last is not None and now - last < REFUSAL_LOG_S:
            return
        if len(self._logged) > 10_000:  # bounded: forget what is older than a minute
            self._logged = {k: t for k, t in self._logged.items() if now - t < REFUSAL_LOG_S}
        self._logged[pid] = now
        hint = "" if ha.token or ha.token_file else (
            " (no mqtt.homeassistant.token_env or token_file is set)")
        log.warning("%s: a command from Home Assistant was refused: %s: %s%s; nothing was written "
                    "(such refusals of this point are logged once a minute)", pid, code, message,
                    hint)

    async def _answer(self, site: str, request: Request) -> bytes:
        handler = self.handler
        if handler is None:
            return unavailable(request.payload, "this openbms runs without its API (openbms run "
                                                "--no-api, or it is starting): commands over MQTT "
                                                "are not answered")
        authorization = next((v for k, v in request.user_properties if k.lower() == "authorization"),
                             None)
        return await handler(CommandRequest(site, request.name, request.payload, request.topic,
                                            request.correlation, authorization))
