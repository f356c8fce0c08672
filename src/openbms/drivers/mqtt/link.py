"""A site's link to its broker (the site file's ``mqtt:``): one connection, fed by the outbox.

::

    publish(topic, payload, qos, retain, key) ──▶ Outbox (SQLite, durable) ──drain──▶ broker
                                                        ▲  in order, QoS 1 for a backlog,
                                                        │  at most ``outbox.rate`` a second
                                                        └── deleted after the PUBACK

    connect ──▶ Last Will  {prefix}/{site}/status  {"status": "offline"}         (retained)
            ──▶ publish    {prefix}/{site}/status  {"status": "online", time, version, …}
            ──▶ heartbeat: the same, every ``bridge.heartbeat`` seconds
    stop    ──▶ publish    {prefix}/{site}/status  {"status": "offline", time}   (retained)

    with a Sparkplug B edge node (``edge``; bridge ``format: sparkplug``, edge.py):
    connect ──▶ Last Will  spBv1.0/{group}/NDEATH/{site}  {bdSeq}  (instead of the status one)
            ──▶ NBIRTH and the DBIRTHs first (QoS 0), then the status, then the outbox
            ──▶ subscribed to spBv1.0/{group}/NCMD/{site}: Node Control/Rebirth → births again
    send    ──▶ each spBv1.0/… message gets the session's next ``seq`` as it goes; a DDATA
                queued before the session's births gets its metrics flagged ``is_historical``
    stop    ──▶ NDEATH {bdSeq}, then the status ``offline``

Everything the site sends goes through the outbox, connected or not: one path,
so order holds across an outage and a crash, and nothing is treated as sent
before it is on disk. The connection (aiomqtt) reconnects by itself with
exponential backoff in real seconds (network time, not building time); each
new connection resends from the oldest message without a PUBACK, with its
de-duplication key unchanged. A message the broker will not take (bigger than
its ``max_packet_size``: Mosquitto then drops the connection) would come first
again at every connection, and nothing after it would go: when a connection is
lost with a message first unacknowledged, that message is sent alone next time,
and after ``REJECT_AFTER`` more losses with it alone it is dropped, counted
(health's ``rejected``) and logged with its topic and size. Messages written while no connection was up (a
backlog) go out with QoS 1 and at most ``outbox.rate`` a second; once the
outbox has been emptied, messages go as fast as they come, with the QoS they
were given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import aiomqtt
import orjson
import paho.mqtt.client as mqtt

from openbms import __version__
from openbms.drivers.mqtt.connect import secret, tls_context
from openbms.drivers.mqtt.edge import EdgeNode
from openbms.drivers.mqtt.outbox import Message, Outbox
from openbms.model.mqtt import MqttSettings
from openbms.runtime.clock import Clock
from openbms.runtime.tasks import cancel_and_wait

__all__ = ["Link", "Pacer"]

log = logging.getLogger(__name__)

#: Messages a drain round takes from the outbox and has in flight at once (paho scans its
#: in-flight messages at each acknowledgement: a much bigger window costs more than it gains).
WINDOW = 300
#: Connections lost with one message sent alone and not acknowledged, after which the broker is
#: taken not to want it (too big for it) and the message is dropped.
REJECT_AFTER = 3


class Pacer:
    """At most ``rate`` a second, in bursts of at most ``burst`` (a token bucket on ``now``, a
    monotonic clock in seconds: network time, not building time)."""

    def __init__(self, rate: float, burst: float, now: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.now = now
        self.tokens = self.burst
        self.last = now()

    def allow(self, wanted: int) -> int:
        """How many of ``wanted`` may go now (taken from the bucket); 0: ``wait()`` first."""
        t = self.now()
        self.tokens = min(self.burst, self.tokens + (t - self.last) * self.rate)
        self.last = t
        allowed = min(wanted, int(self.tokens))
        self.tokens -= allowed
        return allowed

    def wait(self) -> float:
        """Seconds until one more may go."""
        return max(0.0, (1.0 - self.tokens) / self.rate)


class Link:
    """One site's connection to its broker, draining ``outbox``.

    ``publish`` is the one way out (the bridge, and command responses, use it).
    """

    def __init__(self, site: str, settings: MqttSettings, outbox: Outbox, clock: Clock, *,
                 edge: EdgeNode | None = None, reconnect_min: float = 0.5,
                 reconnect_max: float = 30.0) -> None:
        self.site = site
        #: The site as a Sparkplug B edge node (None: no Sparkplug B on this link).
        self.edge = edge
        self.rebirths = 0  # births sent again on a host's Node Control/Rebirth
        #: Sparkplug B messages queued before this outbox seq predate the session's births.
        self._births_at = 0
        self.settings = settings
        self.outbox = outbox
        self.clock = clock
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.base = f"{settings.prefix}/{site}"
        self.status_topic = f"{self.base}/status"
        self.client_id = settings.client_id or f"openbms-{site}-{random.getrandbits(32):08x}"
        values = settings.model_dump()
        self.username = secret(values, "username", "mqtt")
        self.password = secret(values, "password", "mqtt")
        self.tls = tls_context(values, "mqtt")
        self.connects = 0
        self.last_error: str | None = None
        self._connected = asyncio.Event()
        self._stopping = asyncio.Event()
        self._acked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lost_logged = False
        self._up_since = 0.0
        #: The window being sent and its publish handles (what was acknowledged when it broke).
        self._window: tuple[list[Message], list[Any]] | None = None
        self._suspect: int | None = None  # the seq first unacknowledged when connections broke
        self._strikes = 0  # how many times in a row

    # ------------------------------------------------------------------ the way out

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
                key: str = "") -> None:
        """Send a message through the outbox (on disk within one write; in order). Never blocks."""
        self.outbox.put(topic, payload, qos, retain, key)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect in the background (a broker not there yet is tried again and again); wait up
        to ``timeout`` for the first connection."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name=f"mqtt link {self.site}")
        try:
            await asyncio.wait_for(self._connected.wait(), self.settings.timeout)
        except TimeoutError:
            log.warning("mqtt link %s: broker %s:%d not reached yet (%s); queueing in the outbox "
                        "and trying again in the background", self.site, self.settings.host,
                        self.settings.port, self.last_error or "no answer")

    async def stop(self) -> None:
        """Say ``offline`` (retained) and disconnect; what is not sent stays in the outbox."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), self.settings.timeout + 1.0)
        except TimeoutError:
            await cancel_and_wait(task)  # again until it ends: wait_for may drop one cancellation
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._connected.clear()

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self._connected.is_set()

    def health(self) -> dict[str, Any]:
        """Connected, queued, dropped and the last error, with ``status`` and ``reasons``."""
        st = self.outbox.stats()
        reasons: list[str] = []
        if self._task is not None and not self.connected:
            reasons.append(f"mqtt broker {self.settings.host}:{self.settings.port} not connected"
                           f": {self.last_error or 'not yet'}; {st.queued + st.pending} messages "
                           "wait in the outbox")
        dropped = sum(st.dropped.values())
        if dropped:
            reasons.append(f"{dropped} outgoing messages dropped from the outbox (" + ", ".join(
                f"{k} {v}" for k, v in st.dropped.items() if v) + ")")
        if st.rejected:
            reasons.append(f"{st.rejected} outgoing messages dropped: the broker closed the "
                           "connection each time one was sent (bigger than its max_packet_size?)")
        if st.last_error:
            reasons.append(f"outbox writes failing: {st.last_error}")
        return {"status": "degraded" if reasons else "ok", "reasons": reasons,
                "connected": self.connected, "queued": st.queued, "pending": st.pending,
                "queued_bytes": st.bytes, "dropped": st.dropped, "sent": st.sent,
                "rejected": st.rejected,
                "connects": self.connects, "last_error": self.last_error}

    # ------------------------------------------------------------------ the connection

    def _status(self, status: str) -> bytes:
        st = self.outbox.stats()
        return orjson.dumps({"status": status, "site": self.site, "time": self.clock.now(),
                             "version": __version__, "queued": st.queued + st.pending,
                             "dropped": sum(st.dropped.values()) + st.rejected})

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = self.reconnect_min
        s = self.settings
        status_will = aiomqtt.Will(self.status_topic,
                                   orjson.dumps({"status": "offline", "site": self.site}),
                                   qos=1, retain=True)
        edge = self.edge
        while not self._stopping.is_set():
            will, bd_seq = status_will, 0
            try:
                if edge is not None:  # a new session, a new bdSeq (kept in the outbox's file)
                    bd_seq = await self.outbox.next_number("bdSeq")
                    will = aiomqtt.Will(edge.topic("NDEATH"), edge.death(bd_seq), qos=1)
                async with aiomqtt.Client(
                    s.host, s.port, identifier=self.client_id, username=self.username,
                    password=self.password, keepalive=s.keepalive, tls_context=self.tls,
                    timeout=s.timeout, will=will, protocol=aiomqtt.ProtocolVersion.V311,
                    max_inflight_messages=WINDOW,
                ) as client:
                    self._hook_acks(client)
                    if edge is not None:
                        await client.subscribe(edge.ncmd_topic, qos=0)
                        self._births(client, bd_seq)  # the session's first messages
                    await client.publish(self.status_topic, self._status("online"), qos=1,
                                         retain=True)
                    self.connects += 1
                    self._up_since = loop.time()
                    self._connected.set()
                    if self._lost_logged:
                        log.warning("mqtt link %s: broker %s:%d is back; sending %d queued "
                                    "messages", self.site, s.host, s.port, self.outbox.queued)
                        self._lost_logged = False
                    await self._session(client)
                    # Stopping: the retained status says so (a clean disconnect sends no will).
                    with contextlib.suppress(aiomqtt.MqttError):
                        if edge is not None:
                            await client.publish(edge.topic("NDEATH"), edge.death(bd_seq), qos=1)
                        await client.publish(self.status_topic, self._status("offline"), qos=1,
                                             retain=True)
            except asyncio.CancelledError:
                raise
            except aiomqtt.MqttError as err:
                self.last_error = str(err) or type(err).__name__
            except Exception as err:  # a bug must not end the link: log it, reconnect
                self.last_error = f"{type(err).__name__}: {err}"
                log.exception("mqtt link %s: connection task failed; reconnecting", self.site)
            was_up = self._connected.is_set()
            self._connected.clear()
            if self._stopping.is_set():
                return
            try:
                await self._after_loss()
            except Exception:  # a disk error: the window is sent again, as before
                log.exception("mqtt link %s: cannot record what the broker acknowledged", self.site)
            if was_up:
                if not self._lost_logged:
                    log.warning("mqtt link %s: lost the broker %s:%d (%s); queueing in the "
                                "outbox, reconnecting", self.site, s.host, s.port, self.last_error)
                    self._lost_logged = True
                if loop.time() - self._up_since >= s.keepalive:
                    backoff = self.reconnect_min
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self.reconnect_max)

    async def _after_loss(self) -> None:
        """After a lost connection: what the broker acknowledged of the window is done; the
        message first unacknowledged is a suspect, sent alone next time, and dropped once
        connections were lost ``REJECT_AFTER`` more times with it alone."""
        window, self._window = self._window, None
        if window is None:
            return
        batch, infos = window
        n = next((i for i, info in enumerate(infos) if not info.is_published()), len(infos))
        if n:
            await self.outbox.done(batch[n - 1].seq)
        if n >= len(infos):
            return
        head = batch[n]
        if n == 0 and head.seq == self._suspect:
            self._strikes += 1
        else:
            self._suspect, self._strikes = head.seq, 1
        if self._strikes > REJECT_AFTER:
            self._suspect, self._strikes = None, 0
            await self.outbox.reject(head.seq)
            log.warning("mqtt link %s: dropped a message the broker would not take (it closed the "
                        "connection each of the %d times it was sent alone): %d bytes on %s; the "
                        "broker's max_packet_size is smaller?", self.site, REJECT_AFTER,
                        len(head.payload), head.topic)

    async def _session(self, client: aiomqtt.Client) -> None:
        """Drain, beat and watch the connection until it ends (raises) or the link stops."""
        tasks = [asyncio.create_task(self._drain(client), name=f"mqtt drain {self.site}"),
                 asyncio.create_task(self._heartbeat(client), name=f"mqtt heartbeat {self.site}"),
                 asyncio.create_task(self._watch(client), name=f"mqtt watch {self.site}"),
                 asyncio.create_task(self._stopping.wait(), name=f"mqtt stop {self.site}")]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]

    def _births(self, client: aiomqtt.Client, bd_seq: int) -> None:
        """Publish the edge node's NBIRTH and DBIRTHs (QoS 0, as Sparkplug B has them), ``seq``
        from 0. Straight through paho, as ``_send`` does: nothing of a window can come between."""
        edge = self.edge
        assert edge is not None
        paho = client._client
        self._births_at = self.outbox.last_seq + 1
        for topic, payload in edge.births(bd_seq, self.clock.now()):
            info = paho.publish(topic, payload, 0, False)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise aiomqtt.MqttCodeError(info.rc, "Could not publish a Sparkplug B birth")

    async def _watch(self, client: aiomqtt.Client) -> None:
        """Returns (raises) when the connection ends: aiomqtt tells it through the messages. A
        Sparkplug B host's rebirth request (NCMD ``Node Control/Rebirth``) sends the births again
        (the same bdSeq, ``seq`` from 0)."""
        edge = self.edge
        async for message in client.messages:
            if (edge is not None and message.topic.value == edge.ncmd_topic
                    and isinstance(message.payload, bytes) and edge.is_rebirth(message.payload)):
                self.rebirths += 1
                self._births(client, edge.bd_seq)

    async def _heartbeat(self, client: aiomqtt.Client) -> None:
        every = self.settings.bridge.heartbeat
        while True:
            await asyncio.sleep(every)
            await client.publish(self.status_topic, self._status("online"), qos=1, retain=True)

    async def _drain(self, client: aiomqtt.Client) -> None:
        """Send the outbox in order; delete what the broker acknowledged."""
        outbox = self.outbox
        rate = self.settings.outbox.rate
        backlog = outbox.queued > 0  # written while no connection was up
        cursor = 0
        pacer = Pacer(rate, burst=min(float(WINDOW), rate))
        while True:
            if not outbox.available(cursor):
                if backlog:
                    backlog = False
                    log.info("mqtt link %s: the outbox is empty again", self.site)
                await outbox.wait(cursor)
            batch = await outbox.take(cursor, WINDOW)
            if not batch:
                continue
            if batch[0].seq == self._suspect:
                batch = batch[:1]  # alone: whether the broker takes it
            if backlog:  # at most `rate` messages a second
                allowed = pacer.allow(len(batch))
                if not allowed:
                    await asyncio.sleep(pacer.wait())
                    continue
                batch = batch[:allowed]
            await self._send(client, batch, 1 if backlog else 0)
            cursor = batch[-1].seq
            if self._suspect is not None and self._suspect <= cursor:
                self._suspect, self._strikes = None, 0  # it was taken
            await outbox.done(cursor)

    async def _send(self, client: aiomqtt.Client, batch: list[Message], qos_floor: int) -> None:
        """Publish ``batch`` in order and wait until the broker has acknowledged all of it.

        Through aiomqtt's paho client directly (as aiomqtt's own ``publish`` does, without its
        task, event and pending-call bookkeeping per message: most of the time of a small
        message); the acknowledgements come through ``_hook_acks``. Raises MqttError (the
        connection ends, and the next one resends from the oldest unacknowledged).
        """
        paho = client._client
        infos: list[Any] = []
        self._window = (batch, infos)  # what _after_loss looks at if the connection breaks
        edge = self.edge
        sparkplug = edge.prefix if edge is not None else None
        births_at = self._births_at
        for m in batch:
            payload = m.payload
            if sparkplug is not None and m.topic.startswith(sparkplug):
                assert edge is not None
                if m.seq < births_at and "/DDATA/" in m.topic:  # older than the births' values
                    payload = edge.historical(payload)
                payload = edge.stamp(payload)  # this session's seq
            info = paho.publish(m.topic, payload, max(m.qos, qos_floor), m.retain)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
            infos.append(info)
        acked = self._acked
        # ``timeout`` is for silence, not for the window: on a slow uplink a window of device
        # batches takes longer than that to send while each acknowledgement does not (a deadline
        # for the window made the link reconnect and resend the same window forever).
        while not (infos[-1].is_published() and all(i.is_published() for i in infos)):
            acked.clear()
            try:
                await asyncio.wait_for(acked.wait(), self.settings.timeout)
            except TimeoutError:
                # What the broker took is not sent again by the next connection.
                done = next((n for n, i in enumerate(infos) if not i.is_published()), len(infos))
                if done:
                    await self.outbox.done(batch[done - 1].seq)
                # A slow broker, not one that refuses the message: no suspect (a connection it
                # closes is what counts against a message).
                self._window = None
                raise aiomqtt.MqttError(f"no acknowledgement within {self.settings.timeout:g} "
                                        "s") from None
        self._window = None

    def _hook_acks(self, client: aiomqtt.Client) -> None:
        """Wake ``_send`` at every acknowledgement (paho calls on_publish on the event loop)."""
        paho = client._client
        inner = paho.on_publish
        assert inner is not None, "aiomqtt sets paho's on_publish"
        acked = self._acked

        def on_publish(*args: Any) -> None:
            inner(*args)
            acked.set()

        paho.on_publish = on_publish
