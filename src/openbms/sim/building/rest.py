"""The emulated building's REST face: zone thermostats behind the emulated vendor cloud.

::

    Building ──publish() after each step──▶ ThermostatService (openbms.sim.thermostats)
      vav-n1/zone-t, zone-rh                  T-100  temperature, humidity   ──webhook on a change──▶
      vav-c2/zone-t, zone-rh                  T-101                           (the URLs registered)
      vav-s3/zone-t, zone-rh                  T-102

Each thermostat hangs in one zone and reads that zone's air: its temperature
(to 0.1 °C) and humidity (to 1 %RH), as a wall thermostat's display rounds
them. A change of a shown value is a change of the vendor's device, so the
service sends its signed webhooks. Setpoints and modes written to the
thermostats are kept by the vendor's service and steer nothing: the zones are
controlled over BACnet. Auth is OAuth2 client credentials (``client_id``,
``client_secret``), and the service answers 429 over ``rate_limit`` requests
a second.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass

from openbms.sim.building.building import Building
from openbms.sim.thermostats import Thermostat, ThermostatService, serve_thermostats

__all__ = ["CLIENT_ID", "CLIENT_SECRET_ENV", "THERMOSTAT_ZONES", "WEBHOOK_SECRET_ENV", "BuildingThermostats",
           "ThermostatAccount", "account_from_env"]

_log = logging.getLogger(__name__)

#: Vendor device id → the zone it hangs in (one a floor, on different façades).
THERMOSTAT_ZONES: dict[str, str] = {"T-100": "n1", "T-101": "c2", "T-102": "s3"}
#: The demo's account at the emulated vendor: its client id, and the environment variables the
#: secrets are passed in (the demo site's ``drivers: rest:`` reads them there; never in a file in git).
CLIENT_ID = "openbms-demo"
CLIENT_SECRET_ENV = "OPENBMS_DEMO_THERMOSTAT_SECRET"
WEBHOOK_SECRET_ENV = "OPENBMS_DEMO_WEBHOOK_SECRET"


@dataclass(frozen=True, slots=True)
class ThermostatAccount:
    """The vendor service's port (0: a free one) and the one client it admits."""

    client_secret: str
    webhook_secret: bytes
    client_id: str = CLIENT_ID
    port: int = 0


def account_from_env(port: int = 0) -> ThermostatAccount:
    """The account whose secrets are in ``CLIENT_SECRET_ENV`` and ``WEBHOOK_SECRET_ENV``;
    ``ValueError`` naming the variable that is not set."""
    missing = [name for name in (CLIENT_SECRET_ENV, WEBHOOK_SECRET_ENV) if not os.environ.get(name)]
    if missing:
        raise ValueError(f"the thermostats' secrets are read from the environment: set "
                         f"{' and '.join(missing)} (the demo site's drivers: rest: reads the same variables)")
    return ThermostatAccount(os.environ[CLIENT_SECRET_ENV], os.environ[WEBHOOK_SECRET_ENV].encode(),
                             port=port)


class BuildingThermostats:
    """The zones' thermostats served as a vendor's REST API on ``host:port`` (0: a free port)."""

    def __init__(self, building: Building, *, client_id: str, client_secret: str, webhook_secret: bytes,
                 host: str = "127.0.0.1", port: int = 0, rate_limit: int = 10,
                 zones: dict[str, str] | None = None) -> None:
        self.building = building
        self.host, self.port = host, port
        self.zones = dict(zones or THERMOSTAT_ZONES)
        self.service = ThermostatService([Thermostat(vid) for vid in self.zones], client_id=client_id,
                                      client_secret=client_secret, rate_limit=rate_limit,
                                      webhook_secret=webhook_secret)
        self.url = ""
        self._stack: contextlib.AsyncExitStack | None = None
        self._update(notify=False)

    def _readings(self, vid: str) -> tuple[float, float]:
        zone = self.zones[vid]
        return (round(float(self.building.get(f"vav-{zone}/zone-t")), 1),
                float(round(float(self.building.get(f"vav-{zone}/zone-rh")))))

    def _update(self, notify: bool) -> None:
        for vid, t in self.service.devices.items():
            temperature, humidity = self._readings(vid)
            if (temperature, humidity) == (t.temperature, t.humidity):
                continue
            if notify:
                self.service.set_readings(vid, temperature=temperature, humidity=humidity)
            else:
                t.temperature, t.humidity = temperature, humidity

    def publish(self) -> None:
        """Copy the zones' air into their thermostats; a changed one sends its webhooks."""
        self._update(notify=self._stack is not None)

    def register_webhook(self, url: str) -> None:
        """Send changes to ``url`` (as ``POST /webhooks {url}`` does, for the demo's own API)."""
        if url not in self.service.webhook_urls:
            self.service.webhook_urls.append(url)

    async def start(self) -> None:
        """Serve on ``host:port``; ``OSError`` when it cannot (the port is taken)."""
        if self._stack is not None:
            return
        stack = contextlib.AsyncExitStack()
        stack.push_async_callback(self.service.aclose)  # after the server: its webhooks drained
        try:
            self.url = await stack.enter_async_context(serve_thermostats(self.service, self.host, self.port))
        except BaseException:
            await stack.aclose()
            raise
        self.port = int(self.url.rsplit(":", 1)[1])
        self._stack = stack

    async def stop(self) -> None:
        """Stop serving (webhooks under way are sent first)."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    @property
    def running(self) -> bool:
        return self._stack is not None
