"""The telemetry bridge: a site's samples, alarm changes and command changes, published to its broker.

::

    bus ──every batch──▶ on_samples (inline; the site's points only)
                                   ├─ per point:  {prefix}/{site}/{equipment}/{point}
                                   │              {"value", "unit", "status", "time", "key"}
                                   └─ per device: {prefix}/{site}/devices/{device}
                                                  {"site", "device", "samples": [{"point", …}, …]}
    bus events "alarm"   (this site's) ──▶ {prefix}/{site}/alarms
    bus events "command" (this site's points) ──▶ {prefix}/{site}/commands
                                   │
                                   ▼
                         Link.publish ──▶ Outbox (durable) ──▶ broker

A sample's ``time`` is its own (the runtime clock's stamp, seconds since the
epoch, UTC) and its ``key`` is ``{point id}@{time}``: the same sample resent
after an outage or a crash has the same key, so a receiver counts it once.
The per-point topic is the point id under the prefix, which is
``{prefix}/{site}/{equipment}/{point}``. A device is the driver and the
device its binding names (``bacnet:1001``; ``virtual:{equipment}`` for a point
with no binding). On the hot path there is no pydantic and no logging: one
dict lookup, one small dict and one ``orjson.dumps`` a sample, and one message
a device of a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from openbms.drivers.mqtt.link import Link
from openbms.drivers.mqtt.outbox import Outbox, outbox_path
from openbms.errors import DriverError
from openbms.model.binding import parse_binding
from openbms.model.mqtt import MqttSettings
from openbms.model.sample import Sample
from openbms.model.site import SiteConfig
from openbms.runtime.bus import Bus, CallbackSubscription, EventSubscription
from openbms.runtime.clock import Clock

__all__ = ["BATCH_MAX", "Bridge", "start_bridge"]

log = logging.getLogger(__name__)

#: Samples in one per-device message at most (a bigger poll is sent as several).
BATCH_MAX = 500
_TOPIC_UNSAFE = re.compile(r"[/+#\x00]")


class _Point(NamedTuple):
    topic: str
    unit: str | None
    device: str


def _device(binding: str | None, equipment: str) -> str:
    if binding is None:
        return f"virtual:{equipment}"
    try:
        b = parse_binding(binding)
    except Exception:  # a bad binding is the configuration check's to report
        return f"virtual:{equipment}"
    return _TOPIC_UNSAFE.sub("_", f"{b.scheme}:{b.device}")


class Bridge:
    """Publishes the samples and events of one site through ``link``."""

    def __init__(self, site: SiteConfig, settings: MqttSettings, link: Link) -> None:
        if settings.bridge.per_device and settings.bridge.format == "sparkplug":
            raise DriverError("mqtt: bridge: format: sparkplug is not built yet for the bridge; "
                              "use format: json (the default)")
        self.site = site.site.id
        self.settings = settings
        self.link = link
        base = link.base
        self.device_base = f"{base}/devices/"
        self.alarms_topic = f"{base}/alarms"
        self.commands_topic = f"{base}/commands"
        self.points = self._points_of(site)
        self.published = 0  # samples handed to the outbox
        self.events = 0
        self.event_errors = 0  # events that could not be encoded
        self._sub: CallbackSubscription | None = None
        self._event_subs: list[EventSubscription] = []
        self._tasks: list[asyncio.Task[None]] = []

    def _points_of(self, site: SiteConfig) -> dict[str, _Point]:
        prefix = self.settings.prefix
        return {pid: _Point(f"{prefix}/{pid}", point.unit, _device(point.binding, equip.id))
                for pid, equip, point in site.points()}

    def follow(self, site: SiteConfig) -> None:
        """Bridge the points of ``site`` (a new configuration of the same site, same ``mqtt:``)."""
        self.points = self._points_of(site)

    # ------------------------------------------------------------------ samples (the hot path)

    def on_samples(self, batch: Sequence[Sample]) -> None:
        """Publish a batch of the site's samples: per point and/or one message a device."""
        points = self.points
        put = self.link.outbox.put
        bridge = self.settings.bridge
        per_point, qos, retain = bridge.per_point, bridge.qos, bridge.retain
        dumps = orjson.dumps
        groups: dict[str, list[dict[str, Any]]] | None = {} if bridge.per_device else None
        n = 0
        last_ts, ts_text = None, ""
        for point, ts, value, status in batch:
            p = points.get(point)
            if p is None:  # another site's
                continue
            n += 1
            if ts != last_ts:  # a poll's samples share their time: its text is made once
                last_ts, ts_text = ts, repr(ts)
            key = point + "@" + ts_text
            if per_point:
                put(p.topic, dumps({"value": value, "unit": p.unit, "status": status, "time": ts,
                                    "key": key}), qos, retain, key)
            if groups is not None:
                item = {"point": point, "value": value, "unit": p.unit, "status": status,
                        "time": ts, "key": key}
                group = groups.get(p.device)
                if group is None:
                    groups[p.device] = [item]
                else:
                    group.append(item)
        if groups:
            site = self.site
            for device, items in groups.items():
                for i in range(0, len(items), BATCH_MAX):
                    chunk = items[i:i + BATCH_MAX]
                    key = f"{device}@{chunk[0]['time']!r}+{len(chunk)}:{chunk[0]['point']}"
                    put(self.device_base + device,
                        dumps({"site": site, "device": device, "samples": chunk}), qos, False, key)
        self.published += n

    # ------------------------------------------------------------------ events

    async def _events(self, sub: EventSubscription, topic: str, mine: Any, key: Any) -> None:
        qos = self.settings.bridge.qos
        while True:
            _, payload = await sub.get()
            if not mine(payload):
                continue
            try:
                body = orjson.dumps(payload, default=str)
            except (TypeError, orjson.JSONEncodeError) as err:  # never ends the task
                self.event_errors += 1
                if self.event_errors == 1:
                    log.warning("mqtt bridge %s: an event on %s could not be sent as JSON (%s); "
                                "such events are counted in health, not logged again",
                                self.site, topic, err)
                continue
            self.events += 1
            self.link.publish(topic, body, qos=qos, key=key(payload))

    def _is_mine_alarm(self, payload: dict[str, Any]) -> bool:
        return payload.get("site") == self.site

    def _is_mine_command(self, payload: dict[str, Any]) -> bool:
        return str(payload.get("point", "")).startswith(self.site + "/")

    # ------------------------------------------------------------------ lifecycle

    def subscribe(self, bus: Bus) -> None:
        """Take the site's samples and events from ``bus`` from now on."""
        # Every sample, filtered by the points lookup the hot path makes anyway: a "*" subscriber
        # gets each published batch as it is, where a pattern costs the bus a routing per sample.
        self._sub = bus.subscribe_callback("*", self.on_samples, name=f"mqtt bridge {self.site}")
        bridge = self.settings.bridge
        wanted = []
        if bridge.alarms:
            wanted.append(("alarm", self.alarms_topic, self._is_mine_alarm,
                           lambda p: f"alarm:{p.get('alarm_id')}:{p.get('action')}@{p.get('ts')!r}"))
        if bridge.commands:
            wanted.append(("command", self.commands_topic, self._is_mine_command,
                           lambda p: f"command:{p.get('id')}:{p.get('status')}"))
        for event, topic, mine, key in wanted:
            sub = bus.subscribe_events(event)
            self._event_subs.append(sub)
            self._tasks.append(asyncio.create_task(self._events(sub, topic, mine, key),
                                                   name=f"mqtt bridge {self.site} {event}s"))

    def unsubscribe(self) -> None:
        """Take nothing more from the bus."""
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        for sub in self._event_subs:
            sub.close()
        self._event_subs.clear()
        for task in self._tasks:
            task.cancel()

    async def stop(self) -> None:
        """Unsubscribe, then stop the link (``offline``), then close the outbox (written)."""
        self.unsubscribe()
        tasks, self._tasks = self._tasks, []
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.link.stop()
        await self.link.outbox.close()

    def health(self) -> dict[str, Any]:
        """The link's health (connected, queued, dropped, last error) and the samples published."""
        return {**self.link.health(), "samples": self.published, "events": self.events,
                "event_errors": self.event_errors}


async def start_bridge(site: SiteConfig, data_dir: Path, clock: Clock, bus: Bus) -> Bridge:
    """The outbox, the link and the bridge of ``site`` (which has an ``mqtt:`` section), started
    and subscribed; a DriverError (bad settings, an outbox that cannot be opened) says what is
    wrong, and leaves nothing running."""
    settings = site.mqtt
    if settings is None:
        raise DriverError(f"site {site.site.id} has no mqtt: section")
    sid = site.site.id
    outbox = Outbox(outbox_path(data_dir, sid), settings.outbox, clock, name=sid)
    link = Link(sid, settings, outbox, clock)  # reads the secrets: fails before anything opens
    bridge = Bridge(site, settings, link)
    await outbox.open()
    try:
        await link.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await link.stop()
        await outbox.close()
        raise
    bridge.subscribe(bus)
    return bridge
