"""The emulated building's MQTT sensors: each zone's CO2 and people counter, published to a broker.

::

    Building.air ──every `every` simulated s──▶ sensors/zone-c1/co2        {"co2": 612, "ts": 1744009260.0}
     (co2, occupants)                           sensors/zone-c1/occupancy  12
                                                …one pair per zone

Two payload forms, as two kinds of real sensor send them: CO2 as JSON with
the sensor's own timestamp (the emulator's clock), the people counter as a
plain number. A zone whose CO2 is not a number sends no CO2 message (its
point goes stale, as a failed sensor's). A publish goes out every ``every`` simulated seconds, but never
more often than every ``min_period`` real seconds, so a fast demo clock does
not flood the broker (15 zones × 2 messages at most 10 times a second).

One connection (aiomqtt, MQTT 3.1.1, QoS 0, not retained) lives in a task
that reconnects by itself: losing the broker is logged once, its return
once, and the waits grow from ``reconnect_min`` to ``reconnect_max`` real
seconds. Nothing here touches openbms: the sensors reach it only through the
broker, as a field device would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
from types import TracebackType

from openbms.runtime.clock import Clock, clock_rate
from openbms.runtime.tasks import cancel_and_wait
from openbms.sim.building.building import Building

__all__ = ["MqttSensors", "sensor_topics"]

_log = logging.getLogger(__name__)


def sensor_topics(zone: str, prefix: str = "sensors") -> tuple[str, str]:
    """The CO2 (JSON) and occupancy (plain) topics of a zone (``c1`` → ``sensors/zone-c1/…``)."""
    return f"{prefix}/zone-{zone}/co2", f"{prefix}/zone-{zone}/occupancy"


class MqttSensors:
    """Publishes each zone's CO2 and occupants to ``host:port`` while started."""

    def __init__(self, building: Building, clock: Clock, host: str = "127.0.0.1", port: int = 1883, *,
                 every: float = 60.0, min_period: float = 0.1, prefix: str = "sensors",
                 timeout: float = 3.0, reconnect_min: float = 0.5, reconnect_max: float = 10.0) -> None:
        if not every > 0 or not min_period >= 0:
            raise ValueError(f"every must be above 0 and min_period 0 or more (got {every}, {min_period})")
        self.building, self.clock = building, clock
        self.host, self.port = host, int(port)
        self.every, self.min_period = float(every), float(min_period)
        self.prefix, self.timeout = prefix, float(timeout)
        self.reconnect_min, self.reconnect_max = float(reconnect_min), float(reconnect_max)
        self.topics = [sensor_topics(z, prefix) for z in building.layout.ids]
        self.published = 0  # messages handed to the client
        self.connections = 0
        self.connected = False
        self._task: asyncio.Task[None] | None = None

    @property
    def period(self) -> float:
        """Simulated seconds between publishes: ``every``, or more when the clock runs fast."""
        return max(self.every, self.min_period * clock_rate(self.clock))

    def messages(self) -> list[tuple[str, bytes]]:
        """One publish: (topic, payload) per zone and quantity, read from the building now."""
        air = self.building.air
        ts = round(self.clock.now(), 3)
        out: list[tuple[str, bytes]] = []
        co2s = [float(c) for c in air.co2]
        counts = [int(n) for n in air.occupants]
        for (co2_topic, occ_topic), co2, people in zip(self.topics, co2s, counts, strict=True):
            if math.isfinite(co2):  # else nothing, as a failed sensor (round(nan) would end the task)
                out.append((co2_topic, json.dumps({"co2": round(co2), "ts": ts}).encode()))
            out.append((occ_topic, str(int(people)).encode()))
        return out

    async def _publish_forever(self, client: object) -> None:
        publish = client.publish  # type: ignore[attr-defined]
        due = self.clock.now()
        while True:
            for topic, payload in self.messages():
                await publish(topic, payload, qos=0)
                self.published += 1
            due += self.period
            now = self.clock.now()
            if due < now:  # behind (a slow machine, a suspended laptop): no burst to catch up
                due = now
            await self.clock.sleep(due - now)

    async def run(self) -> None:
        """Connect, publish, and reconnect whenever the broker goes away, until cancelled."""
        import aiomqtt

        wait = self.reconnect_min
        lost = False
        ident = f"openbms-sim-sensors-{random.getrandbits(32):08x}"
        while True:
            try:
                async with aiomqtt.Client(self.host, self.port, identifier=ident, timeout=self.timeout,
                                          protocol=aiomqtt.ProtocolVersion.V311) as client:
                    self.connected = True
                    self.connections += 1
                    wait = self.reconnect_min
                    if lost:
                        _log.info("emulated MQTT sensors: connected to %s:%d again", self.host, self.port)
                        lost = False
                    await self._publish_forever(client)
            except aiomqtt.MqttError as err:
                self.connected = False
                if not lost:
                    _log.warning("emulated MQTT sensors: broker %s:%d unreachable (%s); retrying",
                                 self.host, self.port, err)
                    lost = True
                await asyncio.sleep(wait)
                wait = min(wait * 2.0, self.reconnect_max)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start publishing in the background (connecting, and reconnecting, by itself)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="openbms-sim-mqtt-sensors")

    async def stop(self) -> None:
        """Stop publishing and disconnect."""
        task, self._task = self._task, None
        # A cancellation that comes with a publish's completion is dropped by aiomqtt's wait_for
        # (Python 3.11), and the task publishes on: cancel again until it has ended.
        await cancel_and_wait(task)
        self.connected = False

    async def __aenter__(self) -> MqttSensors:
        self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()
