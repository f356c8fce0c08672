"""The MQTT driver: messages on subscribed topics become samples; writes are published.

::

    broker ──messages──▶ _on_message ──topic──▶ plain | JSON | Sparkplug B decoder
                                                      │ value, status, time
                                                      ▼
                           on_change(binding, value, status, ts) ──▶ driver manager ──▶ bus
                           (on_change.many(changes): a message's changes in one call)
    arbiter ──write──▶ write(binding, value) ──encode──▶ command topic (QoS 1)

One connection (aiomqtt) lives in a task that reconnects by itself with
exponential backoff (real seconds: it is network time, not building time);
while it is down, reads and confirmations raise ``DeviceUnreachable`` so the
manager marks the devices offline, and every point is published ``offline``
once when it is lost. A point whose messages stop for its ``expect`` seconds
(the injected clock's) is published ``stale`` with its last value, then
``offline`` after ``offline`` seconds. Sparkplug B deaths take their node's or
device's points offline.

A message's own time stamps its sample, but never rewrites or hides one: a time not after the
point's last message's, or older than ``max_age``, is refused; one more than ``AHEAD`` seconds
ahead of the clock is replaced by the clock's. ``read`` gives each point's last reported time, so
the manager's confirming polls publish nothing the messages did not.

Bad input never stops the driver: each malformed message is counted in
``errors`` by kind and logged through a rate limit (``openbms.logsafe``) naming
the topic and the field.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import aiomqtt

from openbms import logsafe
from openbms.drivers.base import ChangeCallback, DriverBase
from openbms.drivers.mqtt import sparkplug as sp
from openbms.drivers.mqtt.connect import LibraryLog, secret, tls_context
from openbms.drivers.mqtt.payload import (
    EARLIEST,
    SPARKPLUG_PREFIX,
    BadPayload,
    PointSpec,
    encode,
    extract,
    json_value,
    parse_time,
    plain_value,
    point_spec,
)
from openbms.drivers.mqtt.settings import PLACE, read_settings
from openbms.errors import BindingError, DeviceUnreachable, DriverError, WriteRefused
from openbms.model.binding import Binding
from openbms.model.sample import OFFLINE, OK, STALE, Reading, Value
from openbms.model.site import DriverSettings
from openbms.runtime.clock import Clock, WallClock
from openbms.runtime.tasks import cancel_and_wait

__all__ = ["ERROR_KINDS", "NOISE_LOGGER", "MQTTDriver"]

log = logging.getLogger(__name__)
#: Messages about what publishers send: rate-limited, as anyone with access to the broker may send.
NOISE_LOGGER = "openbms.drivers.mqtt.noise"
noise = logging.getLogger(NOISE_LOGGER)

#: What ``MQTTDriver.errors`` counts, and what a rate-limited summary calls each kind.
ERROR_KINDS = {"too_large": "MQTT messages over max_payload", "encoding": "MQTT payloads not UTF-8",
               "json": "MQTT payloads not JSON", "field": "MQTT messages without a point's field",
               "type": "MQTT values of a wrong type", "time": "MQTT messages with a bad time field",
               "protobuf": "MQTT payloads not Sparkplug B",
               "alias": "Sparkplug B metrics with an unknown alias",
               "handler": "MQTT messages openbms failed to handle"}
#: One message template per kind: the limiter logs the first of each kind, then a summary a minute.
_TEMPLATES = {kind: f"mqtt message on %s ({kind}): %s" for kind in ERROR_KINDS}
_LABELS = {(NOISE_LOGGER, _TEMPLATES[kind]): label for kind, label in ERROR_KINDS.items()}
#: ``on_change`` with the message's own time (None: the manager stamps it with the clock).
TimedChange = ChangeCallback
#: ``on_change.many``, when the callback has it: every change of one message in one call, as
#: (binding, value, status, ts) in the points' order (one bus batch a message instead of one a
#: point: a JSON message often carries a device's every value).
ManyChanges = Callable[[list[tuple[Binding, Value, str, float | None]]], None]
#: A message time this far (seconds) ahead of the clock is a publisher's fast clock: the value is
#: stamped with the clock instead (a future sample would hide every later one in the current-value
#: cache until its time came).
AHEAD = 5.0


_NOT_JSON = object()  # a message's parsed document when it was not JSON


class _Seen(Exception):
    """A retained message the point already took, sent again by the broker: nothing to do."""


@dataclass(slots=True, eq=False)
class _Point:
    binding: Binding
    spec: PointSpec
    emit: TimedChange
    value: Value = None
    status: str = STALE  # no message yet
    heard: float = 0.0  # clock.monotonic() of the last message (or of the subscription)
    sent: float = -1.0  # the last message's time (its own, or the clock's when it had none)
    past: float = -1.0  # the last Sparkplug historical metric's time (a backlog sent after a birth)
    at: float = 0.0  # clock.now() of the subscription, then the time of the last change reported
    echo: asyncio.Future[None] | None = None  # after a write: done at the next value
    many: ManyChanges | None = None  # the callback's batch form, when it has one


@dataclass(slots=True)
class _Node:
    """A Sparkplug B edge node: its points by (device, metric name); per device ("" for the
    node's own metrics) that some point binds, the aliases and data types of its last birth."""

    points: dict[tuple[str, str], list[_Point]] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)  # the devices some point binds
    aliases: dict[str, dict[int, str]] = field(default_factory=dict)
    datatypes: dict[str, dict[str, int]] = field(default_factory=dict)
    bd_seq: int | None = None


class MQTTDriver(DriverBase):
    """Points on an MQTT broker: subscribed topics in, command topics out."""

    name = "mqtt"
    batch_size = 1000

    def __init__(self, settings: DriverSettings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings or DriverSettings()
        self.clock: Clock = clock or WallClock()
        extra = dict(self.settings.model_extra or {})
        try:
            given = read_settings(extra)
        except ValueError as err:
            raise DriverError(str(err)) from None
        self.host: str = given["host"]
        self.port: int = given["port"]
        self.client_id: str = given["client_id"] or f"openbms-{random.getrandbits(32):08x}"
        self.keepalive: int = given["keepalive"]
        self.qos: int = given["qos"]
        self.max_payload: int = given["max_payload"]
        self.expect: float = given["expect"]
        self.offline_after: float = given["offline"]
        self.max_age: float = given["max_age"]
        self.reconnect_min: float = given["reconnect_min"]
        self.decoders: list[Any] = list(given["decoders"])
        self.username = secret(extra, "username", PLACE)
        self.password = secret(extra, "password", PLACE)
        self.tls = tls_context(extra, PLACE)
        #: Malformed messages by kind (see ERROR_KINDS); messages and samples taken.
        self.errors: dict[str, int] = dict.fromkeys(ERROR_KINDS, 0)
        self.messages = 0
        self.connects = 0
        self._topics: dict[str, list[_Point]] = {}
        self._nodes: dict[tuple[str, str], _Node] = {}
        self._points: dict[str, _Point] = {}  # by binding URI
        self._faults: dict[str, str] = {}  # binding URI → why it cannot be read
        self._filters: set[str] = set()
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._last_error = "not connected yet"
        #: What paho says went wrong in a connection attempt (a TLS alert: the broker refused the
        #: client certificate), which aiomqtt reports only as a timeout.
        self._library_log = LibraryLog(f"{__name__}.client")
        self._lost_logged = False
        self._short_logged = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect in the background (a broker that is not there yet is tried again and again);
        wait up to ``timeout`` for the first connection."""
        logsafe.guard(NOISE_LOGGER, logsafe.NoiseLimiter(labels=_LABELS))
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mqtt {self.host}:{self.port}")
            self._watch = asyncio.create_task(self._watchdog(), name="mqtt stale points")
        try:
            await asyncio.wait_for(self._connected.wait(), self.settings.timeout)
        except TimeoutError:
            log.warning("mqtt: broker %s:%d not reached yet (%s); trying again in the background",
                        self.host, self.port, self._last_error)

    async def stop(self) -> None:
        """Disconnect and stop reconnecting."""
        await cancel_and_wait(self._task, self._watch)  # again until they end (wait_for may drop one)
        self._task = self._watch = None
        self._client = None
        self._connected.clear()

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self._connected.is_set()

    def problems(self) -> list[str]:
        """What keeps the driver from its points, for the health check: no broker connection."""
        if self._task is None or self._connected.is_set():
            return []
        return [f"mqtt broker {self.host}:{self.port} not connected: {self._last_error}"]

    @property
    def last_error(self) -> str:
        """Why the last connection attempt failed or the last connection ended."""
        return self._last_error

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = self.reconnect_min
        up_since = 0.0
        short = 0  # connections in a row that ended before keepalive seconds
        while True:
            self._library_log.last = ""
            try:
                async with aiomqtt.Client(
                    self.host, self.port, identifier=self.client_id, username=self.username,
                    password=self.password, keepalive=self.keepalive, tls_context=self.tls,
                    timeout=self.settings.timeout, protocol=aiomqtt.ProtocolVersion.V311,
                    queue_type=self._inbox, logger=cast(logging.Logger, self._library_log),
                ) as client:
                    # From here subscribe() sends new filters itself; these are the ones before.
                    self._client = client
                    await self._send_subscriptions(client, set(self._filters))
                    self.connects += 1
                    self._connected.set()
                    up_since = loop.time()
                    if self._lost_logged:
                        log.warning("mqtt: broker %s:%d is back", self.host, self.port)
                        self._lost_logged = False
                    async for _ in client.messages:  # the inbox takes them: this waits for
                        pass                             # the connection to end
            except asyncio.CancelledError:
                raise
            except aiomqtt.MqttError as err:
                self._last_error = self._library_log.why(err)  # with why it timed out
            except Exception as err:  # a bug in handling must not end the connection task
                self._last_error = f"{type(err).__name__}: {err}"
                log.exception("mqtt: connection task failed; reconnecting")
            was_up = self._connected.is_set()
            self._client = None
            self._connected.clear()
            if was_up:
                self._lose()
                # The backoff starts again only after a connection that stayed up a while: two
                # clients with one client_id knock each other off at once, forever, otherwise.
                if loop.time() - up_since >= self.keepalive:
                    backoff, short = self.reconnect_min, 0
                else:
                    short += 1
                if short == 2 and not self._short_logged:  # once is a broker restart, say
                    self._short_logged = True
                    log.warning("mqtt: the connection to %s:%d ended %.1f s after it was made "
                                "(%s), twice in a row: another client may use the client_id %r "
                                "(the broker drops the older one); reconnecting with backoff",
                                self.host, self.port, loop.time() - up_since, self._last_error,
                                self.client_id)
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, float(self.settings.max_backoff))

    @property
    def _inbox(self) -> type[asyncio.Queue[aiomqtt.Message]]:
        """aiomqtt's message queue, replaced by a call: each message is handled as paho decodes it,
        without a queue, a task and a wait per message (they were most of the time per message)."""
        take = self._take

        class Inbox(asyncio.Queue[aiomqtt.Message]):
            def put_nowait(self, item: aiomqtt.Message) -> None:
                take(item)

        return Inbox

    def _take(self, message: aiomqtt.Message) -> None:
        try:
            self._on_message(message.topic.value, message.payload, message.retain)
        except Exception as err:  # raised into paho, it would drop the connection
            self._bad(message.topic.value, BadPayload("handler", f"{type(err).__name__}: {err}"))

    def _lose(self) -> None:
        """The broker is gone: every point offline, logged once."""
        if not self._lost_logged:
            log.warning("mqtt: lost the broker %s:%d (%s); its %d points are offline; reconnecting",
                        self.host, self.port, self._last_error, len(self._points))
            self._lost_logged = True
        for p in self._points.values():
            self._set(p, None, OFFLINE, None)

    # ------------------------------------------------------------------ subscriptions

    def _filter(self, spec: PointSpec) -> str:
        if spec.payload == "sparkplug":  # births, data and deaths of the node and its devices
            return f"spBv1.0/{spec.group}/+/{spec.node}/#"
        return spec.topic

    async def subscribe(self, device: str, bindings: Sequence[Binding],
                        on_change: ChangeCallback) -> bool:
        """Take messages for ``bindings`` from now on (and at every reconnection); the broker need
        not be up. A binding subscribed again (a new manager after a configuration change) takes
        the new callback. A binding that cannot be read is a ``fault`` reading naming the problem,
        logged once; the device's other points are not affected."""
        emit: TimedChange = on_change
        many: ManyChanges | None = getattr(on_change, "many", None)
        new: set[str] = set()
        now = self.clock.monotonic()
        for b in bindings:
            try:
                spec = point_spec(b, self.decoders, self.expect, self.offline_after)
            except BindingError as err:
                if self._faults.get(b.uri) != str(err):
                    log.warning("mqtt: %s", err)
                self._faults[b.uri] = str(err)
                continue
            self._faults.pop(b.uri, None)
            p = _Point(b, spec, emit, heard=now, at=self.clock.now(), many=many)
            old = self._points.get(b.uri)
            self._points[b.uri] = p
            if spec.payload == "sparkplug":
                node = self._nodes.setdefault((spec.group, spec.node), _Node())
                node.devices.add(spec.sp_device)
                self._place(node.points.setdefault((spec.sp_device, spec.field_text), []), p, old)
            else:
                self._place(self._topics.setdefault(spec.topic, []), p, old)
            f = self._filter(spec)
            if f not in self._filters:
                self._filters.add(f)
                new.add(f)
        client = self._client
        if new and client is not None:
            try:
                await self._send_subscriptions(client, new)
            except aiomqtt.MqttError as err:  # the reconnection subscribes them
                log.debug("mqtt: subscribe failed (%s); done again at reconnection", err)
        return True

    @staticmethod
    def _place(points: list[_Point], p: _Point, old: _Point | None) -> None:
        """Put ``p`` in a topic's (or metric's) list, in place of the same binding's ``old``."""
        if old is not None and old in points:
            p.value, p.status, p.sent, p.at = old.value, old.status, old.sent, old.at
            points[points.index(old)] = p
        else:
            points.append(p)

    async def retain(self, bindings: Iterable[Binding]) -> None:
        """Keep only ``bindings`` (a new configuration's): every other point is forgotten, and the
        topic filters no point needs any more are unsubscribed, so the broker stops sending what
        nothing reads. Without a connection they are just dropped: the next one subscribes only
        the filters still needed (a clean session)."""
        keep = {b.uri for b in bindings}
        for uri in [u for u in self._points if u not in keep]:
            self._forget(self._points.pop(uri))
        for uri in [u for u in self._faults if u not in keep]:
            del self._faults[uri]
        needed = {self._filter(p.spec) for p in self._points.values()}
        gone = sorted(self._filters - needed)
        if not gone:
            return
        self._filters &= needed
        client = self._client
        if client is None or not self._connected.is_set():
            return
        try:
            for i in range(0, len(gone), 500):
                await client.unsubscribe(gone[i:i + 500], timeout=self.settings.timeout)
        except aiomqtt.MqttError as err:  # a reconnection subscribes only what is needed
            log.debug("mqtt: unsubscribe failed (%s); the next connection does without them", err)

    def _forget(self, p: _Point) -> None:
        """Take ``p`` out of its topic's (or Sparkplug metric's) list."""
        spec = p.spec
        if p.echo is not None and not p.echo.done():
            p.echo.set_result(None)  # a read waiting for its answer reads it as it is
        if spec.payload == "sparkplug":
            key = (spec.group, spec.node)
            node = self._nodes.get(key)
            if node is None:
                return
            metric = (spec.sp_device, spec.field_text)
            points = node.points.get(metric)
            if points is not None and p in points:
                points.remove(p)
                if not points:
                    del node.points[metric]
            node.devices = {device for device, _ in node.points}
            for device in [d for d in node.aliases if d not in node.devices]:
                node.aliases.pop(device, None)
                node.datatypes.pop(device, None)
            if not node.points:
                del self._nodes[key]
        else:
            points = self._topics.get(spec.topic)
            if points is not None and p in points:
                points.remove(p)
                if not points:
                    del self._topics[spec.topic]

    async def _send_subscriptions(self, client: aiomqtt.Client, filters: set[str]) -> None:
        """SUBSCRIBE in packets of at most 500 topic filters."""
        ordered = sorted(filters)
        for i in range(0, len(ordered), 500):
            await client.subscribe([(f, self.qos) for f in ordered[i:i + 500]])

    def device_key(self, binding: Binding) -> str:
        try:
            return point_spec(binding, self.decoders).device
        except BindingError:
            return binding.device

    # ------------------------------------------------------------------ messages (the hot path)

    def _on_message(self, topic: str, payload: bytes | bytearray | Any,
                    retained: bool = False) -> None:
        self.messages += 1
        if not isinstance(payload, bytes | bytearray):
            payload = b""
        if len(payload) > self.max_payload:
            self._bad(topic, BadPayload("too_large", f"{len(payload)} bytes, more than max_payload "
                                        f"({self.max_payload})"))
            return
        points = self._topics.get(topic)
        if points is not None:
            self._on_value(topic, payload, points, retained)
        elif topic.startswith(SPARKPLUG_PREFIX):
            self._on_sparkplug(topic, payload, retained)

    def _bad(self, topic: str, err: BadPayload) -> None:
        self.errors[err.kind] = self.errors.get(err.kind, 0) + 1
        with logsafe.from_source(topic):
            noise.warning(_TEMPLATES.get(err.kind, "mqtt message on %s: %s"), topic, err)

    def _set(self, p: _Point, value: Value, status: str, ts: float | None,
             now: float | None = None) -> None:
        """``now``: the clock's time, when the caller has it (it is read once a message)."""
        p.value, p.status = value, status
        p.at = ts if ts is not None else self.clock.now() if now is None else now
        if p.echo is not None and status is OK:
            if not p.echo.done():
                p.echo.set_result(None)
            p.echo = None
        p.emit(p.binding, value, status, ts)

    def _when(self, p: _Point, ts: float | None, topic: str, what: str,
              retained: bool = False, now: float | None = None) -> float | None:
        """The time to stamp a message's value with (None: the clock's, when it arrived).

        A publisher never rewrites what was stored: a time not after the point's last message's is
        refused (a replay, a duplicate, out of order), and so is one older than ``max_age`` (it
        would back-fill history and make its rollups be recomputed); a time more than ``AHEAD``
        seconds ahead of the clock is counted and replaced by the clock's. BadPayload("time").
        A retained message is exempt from ``max_age``: it is the last value its publisher left
        (a slow sensor's current value), sent once per subscription, not a back-fill.
        """
        if now is None:
            now = self.clock.now()
        if ts is None:
            if now > p.sent:
                p.sent = now
            return None
        stamp = ts
        if ts > now + AHEAD:
            self._bad(topic, BadPayload("time", f"{what}: time {ts:.3f} is {ts - now:.0f} s ahead "
                                        "of the clock (a publisher's clock is fast?); stamped "
                                        "with the clock instead"))
            ts, stamp = None, now
        elif ts < now - self.max_age and not retained:
            raise BadPayload("time", f"{what}: time {ts:.3f} is {now - ts:.0f} s old, more than "
                             f"max_age ({self.max_age:g} s); not stored")
        if stamp <= p.sent:
            if retained:  # the broker sends it again at each subscription (a reconnection)
                if p.status is OK:
                    raise _Seen
                return None  # back after the connection was lost: its value, from now on
            raise BadPayload("time", f"{what}: time {stamp:.3f} is not after the point's last "
                             f"message ({p.sent:.3f}): a replay or out of order; not stored")
        p.sent = stamp
        return ts

    def _on_value(self, topic: str, payload: bytes | bytearray, points: list[_Point],
                  retained: bool = False) -> None:
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            self._bad(topic, BadPayload("encoding", "the payload is not UTF-8 text"))
            return
        doc: Any = None
        parsed = False
        now = self.clock.monotonic()
        wall = self.clock.now()  # once a message: the clock is read for every point otherwise
        batches: dict[ManyChanges, list[tuple[Binding, Value, str, float | None]]] = {}
        for p in points:
            spec = p.spec
            try:
                ts = None
                if spec.payload == "plain":
                    value = plain_value(text, spec.kind)
                else:
                    if not parsed:
                        parsed = True  # once per message, even when it is not JSON
                        try:
                            doc = json.loads(text)
                        except ValueError as err:
                            doc = _NOT_JSON
                            raise BadPayload("json", f"not JSON ({err})") from None
                        except RecursionError:  # "[[[[…": deeper than Python's stack
                            doc = _NOT_JSON
                            raise BadPayload("json", "JSON nested too deeply to read") from None
                    elif doc is _NOT_JSON:
                        continue  # counted once for the message, not once per point
                    raw = extract(doc, spec.field, spec.field_text)
                    if raw.__class__ is not float or spec.kind != "number":  # else it is the value
                        raw = json_value(raw, spec.kind, spec.field_text)
                    value = raw
                    if spec.time:
                        ts = parse_time(extract(doc, spec.time, ".".join(map(str, spec.time))),
                                        wall, ".".join(map(str, spec.time)))
                if ts is None:  # _when's own first step, without the call
                    if wall > p.sent:
                        p.sent = wall
                else:
                    ts = self._when(p, ts, topic, spec.field_text or "the value", retained, wall)
            except _Seen:
                continue
            except BadPayload as err:
                self._bad(topic, err)
                continue  # the topic's other points (a plain one, another field) may read it
            p.heard = now
            if p.many is None:
                self._set(p, value, OK, ts, wall)
                continue
            p.value, p.status = value, OK  # as _set does, the change reported below
            p.at = ts if ts is not None else wall
            if p.echo is not None:
                if not p.echo.done():
                    p.echo.set_result(None)
                p.echo = None
            changes = batches.get(p.many)
            if changes is None:
                changes = batches[p.many] = []
            changes.append((p.binding, value, OK, ts))
        for many, changes in batches.items():
            many(changes)

    def _on_sparkplug(self, topic: str, payload: bytes | bytearray, retained: bool = False) -> None:
        levels = topic.split("/")
        if len(levels) not in (4, 5):
            return
        node = self._nodes.get((levels[1], levels[3]))
        if node is None:
            return
        kind = levels[2]
        device = levels[4] if len(levels) == 5 else ""
        if kind not in ("NBIRTH", "NDATA", "NDEATH", "DBIRTH", "DDATA", "DDEATH"):
            return  # commands (ours or others'), STATE
        if device and device not in node.devices:
            return  # a device no point binds: nothing of it is kept
        try:
            msg = sp.parse(payload)
        except ValueError as err:
            self._bad(topic, BadPayload("protobuf", str(err)))
            return
        if kind == "NDEATH":
            seq = self._bd_seq(msg)
            if node.bd_seq is not None and seq is not None and seq != node.bd_seq:
                return  # the death of an earlier session: the node is already born again
            self._dead(node, None)
            return
        if kind == "DDEATH":
            self._dead(node, device)
            return
        birth = kind.endswith("BIRTH")
        if kind == "NBIRTH":  # a new session: its devices are born again, with new aliases
            node.bd_seq = self._bd_seq(msg)
            node.aliases.clear()
            node.datatypes.clear()
        if birth:  # replaced by every birth, so they hold no more than the last one
            aliases: dict[int, str] = {}
            types: dict[str, int] = {}
            if device in node.devices:
                node.aliases[device], node.datatypes[device] = aliases, types
        else:
            aliases = node.aliases.get(device) or {}
            types = node.datatypes.get(device) or {}
        now = self.clock.monotonic()
        sent = msg.timestamp / 1000.0 if msg.timestamp else None
        for m in msg.metrics:
            name = m.name
            if birth:
                if m.HasField("alias"):
                    aliases[m.alias] = name
                types[name] = m.datatype
            elif not name:
                found = aliases.get(m.alias)
                if found is None:
                    self._bad(topic, BadPayload("alias", f"metric alias {m.alias} was not in a "
                                                "birth certificate"))
                    continue
                name = found
            points = node.points.get((device, name))
            if not points:
                continue
            value = sp.metric_value(m, types.get(name))
            ts = m.timestamp / 1000.0 if m.timestamp else sent
            if ts is not None and not EARLIEST <= ts <= self.clock.now() + 86_400.0:
                self._bad(topic, BadPayload("time", f"metric {name!r}: timestamp {ts:.0f} is "
                                            "before 2000 or more than a day ahead of the clock"))
                ts = None
            for p in points:
                if m.is_historical and not birth and ts is not None:
                    self._historical(p, value, ts, topic, name)
                    continue
                if birth and ts is not None and ts <= p.sent:
                    p.heard = now  # a birth restating what was already heard: not a replay
                    continue
                try:
                    when = self._when(p, ts, topic, f"metric {name!r}", retained)
                except _Seen:
                    continue
                except BadPayload as err:
                    self._bad(topic, err)
                    continue
                p.heard = now
                self._set(p, value, OK, when)

    def _historical(self, p: _Point, value: Value, ts: float, topic: str, name: str) -> None:
        """A metric flagged ``is_historical``: data an edge node queued while it was away, sent
        after the births that gave the current values. Each is published with its own time for
        the history (the cache keeps the newer value), once: a time not after the last historical
        one is a replay; older than ``max_age`` is refused as for any message. The point's current
        value, status and last time stay the birth's."""
        if ts == p.sent:
            return  # the value a birth just restated (the newest of the backlog): reported
        if ts <= p.past:
            self._bad(topic, BadPayload("time", f"metric {name!r}: historical time {ts:.3f} is not "
                                        f"after the last one ({p.past:.3f}): a replay; not stored"))
            return
        if ts < self.clock.now() - self.max_age:
            self._bad(topic, BadPayload("time", f"metric {name!r}: historical time {ts:.3f} is "
                                        f"older than max_age ({self.max_age:g} s); not stored"))
            return
        p.past = ts
        p.emit(p.binding, value, OK, ts)

    @staticmethod
    def _bd_seq(msg: Any) -> int | None:
        for m in msg.metrics:
            if m.name == "bdSeq":
                value = sp.metric_value(m)
                return int(value) if isinstance(value, int | float) else None
        return None

    def _dead(self, node: _Node, device: str | None) -> None:
        for (dev, _metric), points in node.points.items():
            if device is None or dev == device:
                for p in points:
                    self._set(p, None, OFFLINE, None)

    # ------------------------------------------------------------------ staleness

    async def _watchdog(self) -> None:
        """Points without a message for ``expect`` seconds go stale, after ``offline`` offline."""
        while True:
            watched = [p for p in self._points.values() if p.spec.expect or p.spec.offline]
            step = min((p.spec.expect or p.spec.offline for p in watched), default=4.0) / 4
            await self.clock.sleep(max(step, 0.05))  # a quarter of the shortest silence allowed
            if not self._connected.is_set():
                continue  # all offline already, and the silence is not theirs
            now = self.clock.monotonic()
            for p in watched:
                quiet = now - p.heard
                if p.spec.offline and quiet >= p.spec.offline:
                    if p.status != OFFLINE:
                        self._set(p, None, OFFLINE, None)
                elif p.spec.expect and quiet >= p.spec.expect and p.status == OK:
                    self._set(p, p.value, STALE, None)

    # ------------------------------------------------------------------ reads and writes

    def _require_connection(self) -> aiomqtt.Client:
        client = self._client
        if client is None or not self._connected.is_set():
            raise DeviceUnreachable(f"mqtt broker {self.host}:{self.port} is not connected "
                                    f"({self._last_error})")
        return client

    async def read(self, device: str, bindings: Sequence[Binding]) -> list[Reading]:
        """The last message's value of each binding, with its status (stale before the first) and
        the time it was reported (``ts``: the manager does not publish it again, so a silent
        sensor's hour-old value never reappears as a fresh sample).

        Right after a write to a point, wait (up to half the timeout) for its next message: the
        arbiter's read-back then sees what the device reports after the command, not before it.
        """
        self._require_connection()
        waiting = [p for b in bindings if (p := self._points.get(b.uri)) and p.echo]
        if waiting:
            await asyncio.wait([p.echo for p in waiting if p.echo],
                               timeout=self.settings.timeout / 2)
            for p in waiting:  # one wait per write: a device that never answers is read as it is
                p.echo = None
        out = []
        for b in bindings:
            p = self._points.get(b.uri)
            if p is None:
                out.append(Reading(None, "fault", self._faults.get(b.uri, f"{b}: not subscribed")))
            elif p.status == OK:
                out.append(Reading(p.value, OK, None, p.at))
            else:
                out.append(Reading(p.value, p.status, None if p.value is not None else
                                   f"no message on {p.spec.topic} yet", p.at))
        return out

    async def confirm(self, device: str) -> None:
        """The broker connection is up (DeviceUnreachable when it is not)."""
        self._require_connection()

    async def write(self, binding: Binding, value: Value, priority: int | None) -> None:
        """Publish ``value`` (None: null, the release) to the point's command topic at QoS 1."""
        p = self._points.get(binding.uri)
        spec = p.spec if p is not None else point_spec(binding, self.decoders)
        if spec.payload == "sparkplug":
            topic, payload = self._sparkplug_command(spec, value)
        else:
            if not spec.command:
                raise WriteRefused(f"{binding}: no command topic: add ?command=TOPIC to the binding")
            if any(isinstance(step, int) for step in spec.field):
                raise WriteRefused(f"{binding}: a field with a list index ({spec.field_text}) "
                                   "cannot be written")
            topic, payload = spec.command, encode(spec, value)
        client = self._require_connection()
        if p is not None and value is not None:  # before publishing: the answer may be quick
            p.echo = asyncio.get_running_loop().create_future()
        try:
            await client.publish(topic, payload, qos=1, timeout=self.settings.timeout)
        except aiomqtt.MqttError as err:
            if p is not None:  # no command went out: the next read has no answer to wait for
                p.echo = None
            raise DeviceUnreachable(f"{binding}: publishing to {topic} failed: {err}") from err

    def _sparkplug_command(self, spec: PointSpec, value: Value) -> tuple[str, bytes]:
        node = self._nodes.get((spec.group, spec.node))
        datatype = (node.datatypes.get(spec.sp_device) or {}).get(spec.field_text) if node else None
        msg = sp.Payload(timestamp=int(self.clock.now() * 1000))
        try:
            sp.set_metric_value(msg.metrics.add(name=spec.field_text,
                                                timestamp=int(self.clock.now() * 1000)),
                                value, datatype)
        except ValueError as err:
            raise WriteRefused(f"mqtt://{spec.topic}#{spec.field_text}: {err}") from None
        if spec.sp_device:
            topic = f"spBv1.0/{spec.group}/DCMD/{spec.node}/{spec.sp_device}"
        else:
            topic = f"spBv1.0/{spec.group}/NCMD/{spec.node}"
        return topic, msg.SerializeToString()
