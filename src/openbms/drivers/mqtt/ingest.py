"""The central's connection to the broker: MQTT v5 subscriptions, shared ones among ingest workers.

::

    broker ──$share/{group}/{filter}──▶ one worker of the group per message ──▶ handler(topic, payload)
           ──{filter} (not shared)────▶ every worker (retained messages: site configurations)

A shared subscription (MQTT v5, ``$share/GROUP/FILTER``) hands each message to
one of the group's subscribers, so several ``openbms central`` processes split
the edges' traffic. Retained messages are never sent to a shared subscription
(MQTT v5, 4.8.2): what every worker must see is subscribed plainly.

The connection reconnects by itself with backoff (network time), logs a lost
broker once and its return once. ``session_expiry`` > 0 keeps the session (and
the QoS 1 messages the broker queues for it) across a worker's restart under
the same ``client_id``. ``handler`` runs on the event loop for each message and
must not block (the historian's ``ingest`` only appends). This module is the
only place the central touches aiomqtt.

Acknowledged when stored, not when received::

    PUBLISH mid ─▶ handler(topic, payload) ─▶ None: PUBACK now (nothing to keep, or kept already)
                                            └▶ a receipt ─▶ unacked (in arrival order)
    acker task: while the oldest unacked receipt says durable() ─▶ PUBACK it

A message's PUBACK waits until what it carried is committed (its receipt's
``durable()``), so a worker killed between receiving and writing has not
acknowledged it: the broker sends it again (to the same client id, when its
session is kept) and the write is idempotent on (point, time). The worker's
CONNECT says ``receive_maximum``: the broker sends at most that many messages
not yet acknowledged, and keeps the rest queued (backpressure when the history
falls behind). aiomqtt 2.5 has no manual acknowledgement of its own (aiomqtt
issue #345, PR #346 open): it is paho-mqtt 2's ``manual_ack_set`` and ``ack``
on the client aiomqtt wraps, set before it connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from openbms.drivers.mqtt.connect import LibraryLog, secret, tls_context

__all__ = ["Receipt", "SharedSubscriber", "shared"]

log = logging.getLogger(__name__)

#: Messages aiomqtt may hold for the handler; above ``receive_maximum``, so none is ever discarded
#: (aiomqtt discards past it, and paho would acknowledge the discarded one).
_QUEUED = 100_000
#: The largest Receive Maximum MQTT v5 allows (its default when a client says none).
RECEIVE_MAXIMUM = 65_535
#: Seconds between looks at the oldest unacknowledged receipt while some wait.
ACK_POLL = 0.02


class Receipt(Protocol):
    """What a handler returns for a message whose data is not yet durable."""

    def durable(self) -> bool:
        """Whether what the message carried is committed (its PUBACK may go)."""
        ...


def shared(group: str, topic_filter: str) -> str:
    """``$share/{group}/{topic_filter}``: a filter whose messages the group's subscribers split."""
    return f"$share/{group}/{topic_filter}"


class SharedSubscriber:
    """One MQTT v5 connection subscribed to ``filters`` (QoS 1), each message given to ``handler``.

    ``settings`` holds the broker's connection keys as a site's ``mqtt:`` has them (``host``,
    ``port``, ``username_env``/``_file``, ``password_env``/``_file``, ``tls``, ``ca_file``,
    ``cert_file``, ``key_file``, ``keepalive``, ``timeout``); a bad secret or TLS file raises
    DriverError here, before anything connects.
    """

    def __init__(self, settings: Mapping[str, Any], filters: Sequence[str],
                 handler: Callable[[str, bytes], Receipt | None], *, client_id: str | None = None,
                 session_expiry: int = 0, place: str = "central: broker",
                 reconnect_min: float = 0.5, reconnect_max: float = 30.0,
                 receive_maximum: int = RECEIVE_MAXIMUM) -> None:
        if not 1 <= receive_maximum <= RECEIVE_MAXIMUM:
            raise ValueError(f"receive_maximum must be 1 to {RECEIVE_MAXIMUM}, not {receive_maximum}")
        self.host = str(settings.get("host", "127.0.0.1"))
        self.port = int(settings.get("port", 1883))
        self.keepalive = int(settings.get("keepalive", 30))
        self.timeout = float(settings.get("timeout", 10.0))
        self.username = secret(settings, "username", place)
        self.password = secret(settings, "password", place)
        self.tls = tls_context(settings, place)
        self.filters = list(filters)
        self.handler = handler
        self.client_id = client_id or f"openbms-central-{random.getrandbits(32):08x}"
        self.session_expiry = session_expiry
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.receive_maximum = receive_maximum
        self.received = 0
        self.acked = 0  # PUBACKs sent (QoS 1 messages acknowledged)
        self.handler_errors = 0
        # (receipt, mid) of messages received on this connection, not yet acknowledged, in order
        self._unacked: deque[tuple[Receipt, int]] = deque()
        self._unacked_wake = asyncio.Event()
        self._draining = False  # stopping: messages are no longer taken
        self._none_unacked = asyncio.Event()  # set when the last one waiting is acknowledged
        self.connects = 0
        self.last_error: str | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lost_logged = False

    @property
    def connected(self) -> bool:
        """Whether the connection is up and subscribed."""
        return self._connected.is_set()

    async def start(self) -> None:
        """Connect in the background; wait up to ``timeout`` for the first subscription."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mqtt central {self.client_id}")
        try:
            await asyncio.wait_for(self._connected.wait(), self.timeout)
        except TimeoutError:
            log.warning("central: broker %s:%d not reached yet (%s); trying again in the "
                        "background", self.host, self.port, self.last_error or "no answer")

    async def stop(self, drain: float | None = None) -> None:
        """Stop taking messages, wait up to ``drain`` seconds (``timeout`` unless given) for those
        taken to be acknowledged (their writes committed), then disconnect. What is still not
        acknowledged, and what came meanwhile, the broker sends again to a kept session; a kept
        session keeps receiving at the broker until it expires."""
        if self._task is not None and self._unacked:
            self._draining = True
            self._none_unacked.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._none_unacked.wait(),
                                       self.timeout if drain is None else drain)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._connected.clear()
        self._draining = False

    def health(self) -> dict[str, Any]:
        """Connected, messages received and acknowledged, those waiting for their write before
        the acknowledgement, handler errors, connections made, the last error."""
        return {"connected": self.connected, "received": self.received, "acked": self.acked,
                "unacked": len(self._unacked), "handler_errors": self.handler_errors,
                "connects": self.connects, "last_error": self.last_error}

    async def _run(self) -> None:
        backoff = self.reconnect_min
        said = LibraryLog(__name__)
        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = self.receive_maximum
        if self.session_expiry > 0:
            props.SessionExpiryInterval = self.session_expiry
        while True:
            said.last = ""
            try:
                client = aiomqtt.Client(
                    self.host, self.port, identifier=self.client_id, username=self.username,
                    password=self.password, keepalive=self.keepalive, tls_context=self.tls,
                    timeout=self.timeout, protocol=aiomqtt.ProtocolVersion.V5,
                    clean_start=self.session_expiry <= 0, properties=props,
                    max_queued_incoming_messages=_QUEUED, logger=cast(logging.Logger, said),
                )
                # Before CONNECT: a kept session's unacknowledged messages come right after CONNACK.
                client._client.manual_ack_set(True)  # aiomqtt has no API for it
                async with client:
                    await client.subscribe([(f, 1) for f in self.filters])
                    self.connects += 1
                    self._connected.set()
                    if self._lost_logged:
                        log.warning("central: broker %s:%d is back", self.host, self.port)
                        self._lost_logged = False
                    backoff = self.reconnect_min
                    acker = asyncio.create_task(self._acker(client), name="mqtt central acks")
                    try:
                        await self._take(client)
                    finally:
                        acker.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await acker
                        # this connection's message ids mean nothing on the next one: the broker
                        # sends what was not acknowledged again (a kept session) or drops it
                        self._unacked.clear()
                        self._none_unacked.set()
            except aiomqtt.MqttError as err:
                self.last_error = said.why(err)
            except Exception as err:  # a bug here must not end the connection task for good
                self.last_error = f"{type(err).__name__}: {err}"
                log.exception("central: the broker connection task failed; reconnecting")
            self._connected.clear()
            if not self._lost_logged:
                log.warning("central: lost the broker %s:%d (%s); reconnecting", self.host,
                            self.port, self.last_error)
                self._lost_logged = True
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self.reconnect_max)

    async def _take(self, client: aiomqtt.Client) -> None:
        handler = self.handler
        paho = client._client  # for its ack(): see the docstring
        unacked = self._unacked
        async for message in client.messages:
            if self._draining:  # not taken, not acknowledged: the broker sends it again
                continue
            payload = message.payload
            self.received += 1
            receipt: Receipt | None = None
            try:
                receipt = handler(message.topic.value,
                                  bytes(payload) if isinstance(payload, bytes | bytearray) else b"")
            except Exception as err:  # a bug in one message's handling never ends the connection
                self.handler_errors += 1
                if self.handler_errors == 1:
                    log.exception("central: handling a message on %s failed (%s); such failures "
                                  "are counted in health, not logged again", message.topic.value,
                                  err)
            if message.qos == 0:
                continue
            if receipt is None and not unacked:  # acknowledgements keep the arrival order
                paho.ack(message.mid, message.qos)
                self.acked += 1
                continue
            unacked.append((receipt if receipt is not None else _DONE, message.mid))
            self._unacked_wake.set()

    async def _acker(self, client: aiomqtt.Client) -> None:
        """Acknowledge the oldest messages whose data is durable, in arrival order."""
        paho = client._client
        unacked = self._unacked
        wake = self._unacked_wake
        while True:
            while unacked and unacked[0][0].durable():
                paho.ack(unacked.popleft()[1], 1)
                self.acked += 1
                if not unacked:
                    self._none_unacked.set()
            if unacked:
                await asyncio.sleep(ACK_POLL)
            else:
                wake.clear()
                await wake.wait()


class _Done:
    """The receipt of a message with nothing left to write, behind others not yet acknowledged."""

    __slots__ = ()

    def durable(self) -> bool:
        return True


_DONE = _Done()
