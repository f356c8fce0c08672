"""The site as a Sparkplug B edge node: the bridge's per-device batches in Sparkplug B (``mqtt:
bridge: per_device: true, format: sparkplug``).

::

    group  = bridge.group (default: the prefix when it is one topic level, else the site id)
    node   = the site id                     device = the bridge's device (bacnet:1001, virtual:ahu-1)
    metric = {equipment}/{point}              alias  = 56 bits of the point id's BLAKE2b (stable)

    connect (Last Will: NDEATH {bdSeq})  ──▶ NBIRTH {bdSeq, Node Control/Rebirth}  seq 0
                                         ──▶ DBIRTH per live device, every metric:  seq 1, 2, …
                                             name, alias, datatype, last value (null if none),
                                             timestamp, property engUnit (the point's unit)
                                         ──▶ the outbox in order (DDATA, DDEATH, DBIRTH;
                                             DDATA queued before the births: is_historical)
    a poll batch of a device            ──▶ DDATA: metrics by alias, each with its sample's time
    every sample of a device offline    ──▶ DDEATH (once); its next data: DBIRTH, then DDATA
    NCMD Node Control/Rebirth = true    ──▶ NBIRTH (same bdSeq) and the DBIRTHs again, seq 0
    stop                                ──▶ NDEATH {bdSeq}

A message's ``seq`` belongs to the MQTT session that sends it, not to the
moment it was made: DDATA, DDEATH and DBIRTH go through the outbox without one,
and the link adds it as it sends (``stamp``: a protobuf field appended to the
payload's bytes; field order does not matter to a parser). So after an outage
the new session's NBIRTH and DBIRTHs come first and the backlog follows,
numbered in that session, their metrics flagged ``is_historical`` (what was
queued before a session's births is older than the values the births carry:
history for a host, not current values). Aliases do not depend on the session either (a hash
of the point id), so a batch queued before a reconfiguration or a restart still
names its metrics rightly when it is sent. ``bdSeq`` is kept in the outbox file
(``Outbox.next_number``): a new connection, even of a new process, uses the
next one, so a Last Will of an earlier session that arrives late names another
bdSeq than the session it would end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openbms.drivers.mqtt import sparkplug as sp
from openbms.model.sample import OFFLINE, Value

__all__ = ["NAMESPACE", "REBIRTH", "EdgeMetric", "EdgeNode", "alias_of"]

NAMESPACE = "spBv1.0"
#: The node control metric a host sets true to ask for the births again.
REBIRTH = "Node Control/Rebirth"
_BOOLEAN, _DOUBLE, _INT32, _UINT64, _STRING = 11, 10, 3, 8, 12
#: Sparkplug B data type a point kind is published as.
DATATYPE_OF_KIND = {"number": _DOUBLE, "bool": _BOOLEAN, "enum": _INT32}


def alias_of(point_id: str) -> int:
    """A point's metric alias: the same in every session and every configuration."""
    return int.from_bytes(hashlib.blake2b(point_id.encode(), digest_size=7).digest(), "big")


@dataclass(frozen=True, slots=True)
class EdgeMetric:
    """One point as a metric of its device."""

    point: str  # the point id, site/equipment/point
    name: str  # equipment/point
    alias: int
    datatype: int
    unit: str | None


def _seq_field(seq: int) -> bytes:
    """The payload's ``seq`` (field 3, a varint) as bytes to append."""
    return b"\x18" + (bytes((seq,)) if seq < 0x80 else bytes((seq & 0x7F | 0x80, seq >> 7)))


def _fill(m: Any, value: Value, datatype: int) -> bool:
    """Set ``m``'s value; False (and a null metric) when ``value`` does not fit ``datatype``."""
    if value is None:
        m.is_null = True
        return True
    try:
        if datatype == _DOUBLE:
            if value.__class__ is bool or isinstance(value, str):
                raise ValueError
            m.double_value = value
        else:
            sp.set_metric_value(m, value, datatype)
    except (ValueError, TypeError, OverflowError):
        m.is_null = True
        return False
    return True


class EdgeNode:
    """One site's Sparkplug B edge node: its devices' metrics, their last values, which are dead,
    and the session's ``seq``. Builds payloads; publishes nothing (the bridge queues them in the
    outbox, the link sends births, stamps ``seq`` and listens for rebirth commands)."""

    def __init__(self, group: str, node: str) -> None:
        self.group = group
        self.node = node
        self.prefix = f"{NAMESPACE}/{group}/"
        self.ncmd_topic = self.topic("NCMD")
        self.devices: dict[str, list[EdgeMetric]] = {}
        self.metrics: dict[str, EdgeMetric] = {}  # by point id
        self.last: dict[str, tuple[Value, float]] = {}  # point id → (value, time) last published
        self.dead: set[str] = set()  # devices whose DDEATH was queued, not born since
        self.seq = 0  # the next message's
        self.bd_seq = 0  # the session's (its Last Will's)
        self.value_errors = 0  # values that did not fit their metric's type (sent null)
        self.collisions = 0  # points whose alias another point of the node has (sent by name)

    def topic(self, kind: str, device: str | None = None) -> str:
        """``spBv1.0/{group}/{kind}/{node}[/{device}]``."""
        base = f"{self.prefix}{kind}/{self.node}"
        return base if device is None else f"{base}/{device}"

    def define(self, metrics: Iterable[tuple[str, EdgeMetric]]) -> set[str]:
        """Take the site's points as (device, metric); the devices whose metrics changed."""
        before = self.devices
        devices: dict[str, list[EdgeMetric]] = {}
        seen: dict[int, str] = {}
        for device, metric in metrics:
            if seen.setdefault(metric.alias, metric.point) != metric.point:  # 2**-56: never, but
                self.collisions += 1                                         # not wrong if so
                metric = EdgeMetric(metric.point, metric.name, -1, metric.datatype, metric.unit)
            devices.setdefault(device, []).append(metric)
        self.devices = devices
        self.metrics = {m.point: m for ms in devices.values() for m in ms}
        self.last = {p: v for p, v in self.last.items() if p in self.metrics}
        self.dead &= set(devices)
        return {d for d in set(before) | set(devices) if before.get(d) != devices.get(d)}

    # ------------------------------------------------------------------ the session (the link)

    def stamp(self, payload: bytes) -> bytes:
        """``payload`` with the session's next ``seq`` (0–255, wrapping)."""
        seq = self.seq
        self.seq = (seq + 1) & 0xFF
        return payload + _seq_field(seq)

    def death(self, bd_seq: int) -> bytes:
        """The NDEATH payload of session ``bd_seq`` (the Last Will, and sent at a clean stop)."""
        msg = sp.Payload()
        self._bd(msg, bd_seq)
        return msg.SerializeToString()

    def births(self, bd_seq: int, now: float) -> list[tuple[str, bytes]]:
        """A session's first messages, ``seq`` stamped from 0: the NBIRTH and each live device's
        DBIRTH with its last values."""
        self.bd_seq = bd_seq
        self.seq = 0
        msg = sp.Payload(timestamp=int(now * 1000))
        self._bd(msg, bd_seq)
        rebirth = msg.metrics.add(name=REBIRTH, datatype=_BOOLEAN, timestamp=int(now * 1000))
        rebirth.boolean_value = False
        out = [(self.topic("NBIRTH"), self.stamp(msg.SerializeToString()))]
        for device in self.devices:
            if device not in self.dead:
                out.append((self.topic("DBIRTH", device), self.stamp(self.birth(device, now))))
        return out

    @staticmethod
    def historical(payload: bytes) -> bytes:
        """``payload`` with every metric flagged ``is_historical``: its values are older than the
        births the session sent (queued before them), for a host's history, not its current
        values."""
        msg = sp.parse(payload)
        for m in msg.metrics:
            m.is_historical = True
        return msg.SerializeToString()

    def is_rebirth(self, payload: bytes) -> bool:
        """Whether an NCMD payload asks for a rebirth (``Node Control/Rebirth`` true)."""
        try:
            msg = sp.parse(payload)
        except ValueError:
            return False
        return any(m.name == REBIRTH and sp.metric_value(m) is True for m in msg.metrics)

    @staticmethod
    def _bd(msg: Any, bd_seq: int) -> None:
        m = msg.metrics.add(name="bdSeq", datatype=_UINT64)
        m.long_value = bd_seq

    # ------------------------------------------------------------------ payloads (the bridge)

    def birth(self, device: str, now: float) -> bytes:
        """A DBIRTH of ``device`` (no ``seq``): every metric with its name, alias, datatype, unit
        and last value (null when none was published yet)."""
        msg = sp.Payload(timestamp=int(now * 1000))
        last = self.last
        for metric in self.devices.get(device, ()):
            m = msg.metrics.add(name=metric.name, datatype=metric.datatype)
            if metric.alias >= 0:
                m.alias = metric.alias
            if metric.unit:
                m.properties.keys.append("engUnit")
                m.properties.values.add(type=_STRING, string_value=metric.unit)
            seen = last.get(metric.point)
            if seen is None:
                m.is_null = True
                continue
            value, ts = seen
            m.timestamp = int(ts * 1000)
            if not _fill(m, value, metric.datatype):
                self.value_errors += 1
        return msg.SerializeToString()

    def data(self, samples: Sequence[tuple[str, float, Value, str]], now: float) -> bytes:
        """A DDATA (no ``seq``) of one device's samples: metrics by alias, each with its time."""
        msg = sp.Payload(timestamp=int(now * 1000))
        add = msg.metrics.add
        metrics = self.metrics
        for point, ts, value, status in samples:
            metric = metrics[point]
            if metric.alias >= 0:
                m = add(alias=metric.alias, timestamp=int(ts * 1000))
            else:
                m = add(name=metric.name, timestamp=int(ts * 1000))
            if not _fill(m, None if status == OFFLINE else value, metric.datatype):
                self.value_errors += 1
        return msg.SerializeToString()

    def device_death(self, now: float) -> bytes:
        """A DDEATH payload (no ``seq``)."""
        return sp.Payload(timestamp=int(now * 1000)).SerializeToString()
