"""Each site's command/response connection (``mqtt: commands: enabled``), and who answers it.

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
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence

from openbms.drivers.mqtt.connect import secret, tls_context
from openbms.drivers.mqtt.requests import Publish, Request, Requester, RequestServer
from openbms.errors import DriverError, OpenBMSError
from openbms.model.mqtt import MqttSettings
from openbms.model.site import SiteConfig
from openbms.service.protocols import CommandRequest, CommandRequestHandler

__all__ = ["CommandLinks", "unavailable"]

log = logging.getLogger(__name__)


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

    def __init__(self, publish: Publish | None = None) -> None:
        self.handler: CommandRequestHandler | None = None
        self._publish = publish
        self._servers: dict[str, tuple[MqttSettings, RequestServer]] = {}

    def serve(self, handler: CommandRequestHandler | None) -> None:
        """Answer requests with ``handler`` from now on (None: each gets ``unavailable``)."""
        self.handler = handler

    @property
    def servers(self) -> dict[str, RequestServer]:
        """The running connections by site id."""
        return {site: server for site, (_s, server) in self._servers.items()}

    async def apply(self, sites: Sequence[SiteConfig]) -> None:
        """Run a connection for each site with ``mqtt.commands.enabled``: start new ones, restart
        those whose ``mqtt:`` settings changed, stop the others."""
        wanted = {s.site.id: s.mqtt for s in sites if s.mqtt is not None and s.mqtt.commands.enabled}
        for site in [s for s in self._servers if wanted.get(s) != self._servers[s][0]]:
            _settings, server = self._servers.pop(site)
            await server.stop()
        for site, settings in wanted.items():
            if site in self._servers or settings is None:
                continue
            try:
                server = RequestServer(settings, site, functools.partial(self._answer, site),
                                       publish=self._publish)
            except DriverError as err:  # a secret or TLS file that cannot be read
                raise OpenBMSError(str(err)) from None
            self._servers[site] = (settings, server)
            await server.start()
            log.info("site %s: command requests on %s:%d, %s", site, settings.host, settings.port,
                     server.filter)

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
