"""The telemetry bridge: a site's samples, alarm changes and command changes, published to its broker.

::

    bus ──every batch──▶ on_samples (inline; the site's points only)
                                   ├─ per point:  {prefix}/{site}/{equipment}/{point}
                                   │              {"value", "unit", "status", "time", "key"}
                                   └─ per device: {prefix}/{site}/devices/{device}
                                                  {"site", "device", "samples": [{"point", …}, …]}
                                      or Sparkplug B (format: sparkplug; edge.py):
                                                  spBv1.0/{group}/DDATA/{site}/{device}
                                                  (DBIRTH after its death, DDEATH when every
                                                  sample of a device's poll is offline)
    bus events "alarm"   (this site's) ──▶ {prefix}/{site}/alarms
    bus events "command" (this site's points) ──▶ {prefix}/{site}/commands
    start, and a new configuration (follow) ──▶ {prefix}/{site}/config (retained)
                                                  {"site", "hash", "version", "config"}
                                   │
                                   ▼
                         Link.publish ──▶ Outbox (durable) ──▶ broker

The configuration message is for a central openbms (docs/multi-site.md): the
site file's content as JSON (``config``), its SHA-256 (``hash``, of the
canonical JSON) and ``version``, the runtime clock's time when it was sent; it
is sent at start and when ``follow`` brings a configuration of another hash.

A sample's ``time`` is its own (the runtime clock's stamp, seconds since the
epoch, UTC) and its ``key`` is ``{point id}@{time}``: the same sample resent
after an outage or a crash has the same key, so a receiver counts it once.
The per-point topic is the point id under the prefix, which is
``{prefix}/{site}/{equipment}/{point}``. A device is the driver and the
device its binding names (``bacnet:1001``; ``virtual:{equipment}`` for a point
with no binding). On the hot path there is no pydantic and no logging: one
dict lookup, one small dict and one ``orjson.dumps`` a sample, and one message
a device of a batch (Sparkplug B: one metric a sample, by alias, and the point's last
value kept for the births).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from openbms.drivers.mqtt.edge import DATATYPE_OF_KIND, EdgeMetric, EdgeNode, alias_of
from openbms.drivers.mqtt.link import Link
from openbms.drivers.mqtt.outbox import Outbox, outbox_path
from openbms.errors import DriverError
from openbms.model.binding import parse_binding
from openbms.model.mqtt import MqttSettings
from openbms.model.sample import OFFLINE, Sample
from openbms.model.site import SiteConfig
from openbms.runtime.bus import Bus, CallbackSubscription, EventSubscription
from openbms.runtime.clock import Clock

__all__ = ["BATCH_MAX", "Bridge", "edge_node", "site_document", "start_bridge"]

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


def site_document(site: SiteConfig, version: float) -> tuple[str, bytes]:
    """The configuration message of ``site``: its content hash and the JSON payload
    ``{"site", "hash", "version", "config"}`` (``config`` as the site file's model, its defaults
    left out; ``SiteConfig.model_validate`` reads it back)."""
    config = site.model_dump(mode="json", exclude_defaults=True)
    digest = hashlib.sha256(orjson.dumps(config, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return digest, orjson.dumps({"site": site.site.id, "hash": digest, "version": version,
                                 "config": config})


def edge_node(site: SiteConfig, settings: MqttSettings) -> EdgeNode | None:
    """The site's Sparkplug B edge node when its bridge sends per-device batches as Sparkplug B:
    group ``bridge.group``, else the prefix when it is one topic level, else the site id."""
    bridge = settings.bridge
    if not (bridge.per_device and bridge.format == "sparkplug"):
        return None
    sid = site.site.id
    group = bridge.group or (settings.prefix if "/" not in settings.prefix else sid)
    return EdgeNode(group, sid)


class Bridge:
    """Publishes the samples and events of one site through ``link`` (Sparkplug B batches
    through ``link.edge``, when it has one)."""

    def __init__(self, site: SiteConfig, settings: MqttSettings, link: Link) -> None:
        self.edge = link.edge
        self.site = site.site.id
        self.settings = settings
        self.link = link
        base = link.base
        self.device_base = f"{base}/devices/"
        self.alarms_topic = f"{base}/alarms"
        self.commands_topic = f"{base}/commands"
        self.config_topic = f"{base}/config"
        self.config_hash: str | None = None  # of the configuration last announced
        self.points = self._points_of(site)
        if self.edge is not None:
            self.edge.define(self._metrics_of(site))
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

    def _metrics_of(self, site: SiteConfig) -> list[tuple[str, EdgeMetric]]:
        return [(_device(point.binding, equip.id),
                 EdgeMetric(pid, f"{equip.id}/{point.name}", alias_of(pid),
                            DATATYPE_OF_KIND.get(point.kind, DATATYPE_OF_KIND["number"]), point.unit))
                for pid, equip, point in site.points()]

    def follow(self, site: SiteConfig) -> None:
        """Bridge the points of ``site`` (a new configuration of the same site, same ``mqtt:``).
        Sparkplug B: a device whose metrics changed is born again (DBIRTH), one gone dies
        (DDEATH), through the outbox in order."""
        self.points = self._points_of(site)
        self.announce(site)
        edge = self.edge
        if edge is None:
            return
        before = set(edge.devices)
        changed = edge.define(self._metrics_of(site))
        now = self.link.clock.now()
        qos = self.settings.bridge.qos
        for device in sorted(changed):
            if device not in edge.devices:
                if device in before:
                    self.link.publish(edge.topic("DDEATH", device), edge.device_death(now), qos=qos,
                                      key=f"{device}@{now!r}:death")
            elif device not in edge.dead:
                self.link.publish(edge.topic("DBIRTH", device), edge.birth(device, now), qos=qos,
                                  key=f"{device}@{now!r}:birth")

    def announce(self, site: SiteConfig) -> None:
        """Publish the site's configuration (retained) unless it is the one last announced
        (``bridge: config: false``: never)."""
        if not self.settings.bridge.config:
            return
        digest, payload = site_document(site, self.link.clock.now())
        if digest == self.config_hash:
            return
        self.config_hash = digest
        self.link.publish(self.config_topic, payload, qos=self.settings.bridge.qos, retain=True,
                          key=f"config@{digest}")

    # ------------------------------------------------------------------ samples (the hot path)

    def on_samples(self, batch: Sequence[Sample]) -> None:
        """Publish a batch of the site's samples: per point and/or one message a device."""
        points = self.points
        put = self.link.outbox.put
        bridge = self.settings.bridge
        per_point, qos, retain = bridge.per_point, bridge.qos, bridge.retain
        dumps = orjson.dumps
        edge = self.edge
        if edge is not None:
            self._sparkplug(batch, edge)
            if not per_point:
                return
        groups: dict[str, list[dict[str, Any]]] | None = (
            {} if bridge.per_device and edge is None else None)
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
        if edge is None:
            self.published += n

    def _sparkplug(self, batch: Sequence[Sample], edge: EdgeNode) -> None:
        """A device's samples of a batch as one DDATA (a DDEATH when all are offline, a DBIRTH
        instead when the device was dead)."""
        points = self.points
        last = edge.last
        groups: dict[str, list[Sample]] = {}
        for sample in batch:
            p = points.get(sample[0])
            if p is None:  # another site's
                continue
            last[sample[0]] = (sample[2], sample[1])
            group = groups.get(p.device)
            if group is None:
                groups[p.device] = [sample]
            else:
                group.append(sample)
        if not groups:
            return
        put = self.link.outbox.put
        qos = self.settings.bridge.qos
        now = self.link.clock.now()
        n = 0
        for device, samples in groups.items():
            n += len(samples)
            first = samples[0]
            if all(s[3] == OFFLINE for s in samples):
                if device not in edge.dead:
                    edge.dead.add(device)
                    put(edge.topic("DDEATH", device), edge.device_death(now), qos, False,
                        f"{device}@{first[1]!r}:death")
                continue
            if device in edge.dead:  # back: a birth with every metric's last value (these too)
                edge.dead.discard(device)
                put(edge.topic("DBIRTH", device), edge.birth(device, now), qos, False,
                    f"{device}@{first[1]!r}:birth")
                continue
            topic = edge.topic("DDATA", device)
            for i in range(0, len(samples), BATCH_MAX):
                chunk = samples[i:i + BATCH_MAX]
                put(topic, edge.data(chunk, now), qos, False,
                    f"{device}@{chunk[0][1]!r}+{len(chunk)}:{chunk[0][0]}")
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
        try:
            await self.link.stop()
        finally:  # the outbox is closed (its rows written) even when the link fails to stop
            await self.link.outbox.close()

    def health(self) -> dict[str, Any]:
        """The link's health (connected, queued, dropped, last error) and the samples published;
        with Sparkplug B, its group, node, bdSeq, rebirths and values sent null (not their type)."""
        out = {**self.link.health(), "samples": self.published, "events": self.events,
               "event_errors": self.event_errors}
        edge = self.edge
        if edge is not None:
            out["sparkplug"] = {"group": edge.group, "node": edge.node, "bd_seq": edge.bd_seq,
                                "rebirths": self.link.rebirths, "value_errors": edge.value_errors}
        return out


async def start_bridge(site: SiteConfig, data_dir: Path, clock: Clock, bus: Bus) -> Bridge:
    """The outbox, the link and the bridge of ``site`` (which has an ``mqtt:`` section), started
    and subscribed; a DriverError (bad settings, an outbox that cannot be opened) says what is
    wrong, and leaves nothing running."""
    settings = site.mqtt
    if settings is None:
        raise DriverError(f"site {site.site.id} has no mqtt: section")
    sid = site.site.id
    outbox = Outbox(outbox_path(data_dir, sid), settings.outbox, clock, name=sid)
    # Reads the secrets: fails before anything opens.
    link = Link(sid, settings, outbox, clock, edge=edge_node(site, settings))
    bridge = Bridge(site, settings, link)
    await outbox.open()
    # Subscribed before the link waits (up to ``timeout``) for the broker: what the site polls
    # meanwhile is queued too, not only kept in its own history (the outbox takes it offline).
    bridge.subscribe(bus)
    bridge.announce(site)
    try:
        await link.start()
    except BaseException:
        bridge.unsubscribe()
        with contextlib.suppress(Exception):
            await link.stop()
        await outbox.close()
        raise
    return bridge
