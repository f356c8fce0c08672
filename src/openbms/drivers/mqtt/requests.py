"""Command/response over MQTT: the transport (one broker connection per site), and a client.

::

    client ──PUBLISH {prefix}/{site}/command/{name}/request──▶ broker ──▶ RequestServer
              (MQTT v5: response topic, correlation data,          │ Request(name, payload,
               user property authorization: Bearer …)              │   correlation, response_topic,
                                                                   ▼   user_properties)
                                                              handler(request) → response bytes
                                                                   │  (the API decides everything:
                                                                   │   openbms.api.mqtt_commands)
    client ◀── the request's response topic, its correlation data ─┘  or, for an MQTT 3.1.1
               {prefix}/{site}/command/{name}/response                client, this topic (the
                                                                       correlation id is in the JSON)

This module knows topics and MQTT v5 properties, nothing of what a request
means: the handler (registered by the API through the service layer) gets the
bytes and answers bytes. The connection reconnects by itself with backoff and
subscribes again each time (QoS 1). At most ``concurrency`` requests are
handled at once; the rest wait in aiomqtt's queue.

Responses go through a store-and-forward outbox when the server has a data
folder (``data_dir``): ``DATA/mqtt-responses-{site}.db``, an ``Outbox`` of its
own (the site's ``mqtt: outbox:`` bounds)::

    handler's answer ──put (topic, body, QoS 1, MQTT v5 properties: correlation data)──▶ outbox
    each connection ──▶ drains it in order on this (v5) connection; a row is deleted after
    its PUBACK; a broker away (or a crash) keeps it for the next connection

Not the bridge's outbox: that one is sent on an MQTT 3.1.1 connection (no
properties), and a response must not wait behind hours of telemetry backlog.
Without a data folder a response is published directly on this connection (and
one the broker cannot take now is lost, counted in ``failed``). ``publish``
replaces both (a test's or a tool's own way out).

The same connection carries what else a site listens to or announces on its
broker: ``listen`` maps more topic filters to what handles their messages (Home
Assistant's commands on ``{prefix}/{site}/+/+/set``), and :meth:`RequestServer.announce`
keeps a set of retained messages (Home Assistant's discovery configs): published
at each connection, changes and removals (an empty retained message) published
when the set changes. A site that only announces (``commands`` off) passes no
handler: its request topic is not subscribed.

``Requester`` is the other side (the ``openbms mqtt command`` CLI, tests and the
benchmark): one MQTT v5 connection that sends requests with a response topic
and correlation data of its own and waits for each answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from openbms.drivers.mqtt.connect import secret, tls_context
from openbms.drivers.mqtt.outbox import Outbox
from openbms.errors import DriverError
from openbms.model.mqtt import MqttSettings
from openbms.runtime.clock import Clock, WallClock
from openbms.runtime.tasks import cancel_and_wait

__all__ = ["Listener", "Publish", "Request", "RequestServer", "Requester", "request_filter",
           "response_topic", "responses_path"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Request:
    """One request as it arrived: the command's name (the topic's level before ``request``), its
    payload, and what MQTT v5 carried with it (None/empty from an MQTT 3.1.1 client)."""

    topic: str
    name: str
    payload: bytes
    correlation: bytes | None = None
    response_topic: str | None = None
    user_properties: tuple[tuple[str, str], ...] = ()


#: Requests waiting for a free slot; beyond them aiomqtt drops (and logs) what arrives (a flood
#: must not grow memory without bound).
_QUEUED = 10_000

#: ``publish(topic, payload, correlation data)``: how a response leaves (the connection's own
#: publish by default; the outbox later).
Publish = Callable[[str, bytes, bytes | None], Awaitable[None]]
Handler = Callable[[Request], Awaitable[bytes]]
#: ``listener(topic, payload)``: a message on one of the ``listen`` filters (it answers nothing).
Listener = Callable[[str, bytes], Awaitable[None]]


def request_filter(prefix: str, site: str) -> str:
    """The subscription of a site's requests: ``{prefix}/{site}/command/+/request``."""
    return f"{prefix}/{site}/command/+/request"


def responses_path(data_dir: Path, site: str) -> Path:
    """The outbox file of ``site``'s command responses in the data folder."""
    return Path(data_dir) / f"mqtt-responses-{site}.db"


def _properties(correlation: bytes | None) -> bytes | None:
    """A response's MQTT v5 properties as the outbox keeps them (their wire encoding)."""
    if correlation is None:
        return None
    props = Properties(PacketTypes.PUBLISH)
    props.CorrelationData = correlation
    return bytes(props.pack())


def _unpacked(data: bytes | None) -> Properties | None:
    if not data:
        return None
    props = Properties(PacketTypes.PUBLISH)
    props.unpack(data)
    return props


def response_topic(prefix: str, site: str, name: str) -> str:
    """Where a response goes when the request named no response topic."""
    return f"{prefix}/{site}/command/{name}/response"


def _connection(settings: MqttSettings, place: str) -> tuple[str | None, str | None, ssl.SSLContext | None]:
    values = settings.model_dump()
    return (secret(values, "username", place), secret(values, "password", place),
            tls_context(values, place))


def _no_delay(client: aiomqtt.Client) -> None:
    """Send small packets at once (TCP_NODELAY). paho leaves Nagle's algorithm on: a PUBACK
    followed by a response then waited for the broker's delayed ACK, 40 ms a step, and a round
    trip took 90 ms instead of a few."""
    with contextlib.suppress(AttributeError, OSError):
        sock = client._client.socket()
        if isinstance(sock, socket.socket):  # ssl.SSLSocket too
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _user_properties(props: Any) -> tuple[tuple[str, str], ...]:
    found = getattr(props, "UserProperty", None) or ()
    return tuple((str(k), str(v)) for k, v in found)


class RequestServer:
    """A site's command requests: subscribed on its own connection, each handed to ``handler``
    and the answer published back (no ``handler``: no requests taken). The connection also
    delivers the ``listen`` filters' messages and keeps the retained messages of :meth:`announce`."""

    def __init__(self, settings: MqttSettings, site: str, handler: Handler | None, *,
                 publish: Publish | None = None, listen: Mapping[str, Listener] | None = None,
                 data_dir: Path | None = None, clock: Clock | None = None,
                 reconnect_min: float = 0.5, max_backoff: float = 30.0) -> None:
        self.settings = settings
        self.site = site
        self.handler = handler
        #: The responses' store-and-forward outbox (None: no data folder, published directly).
        self.outbox = (Outbox(responses_path(data_dir, site), settings.outbox, clock or WallClock(),
                              name=f"{site} responses")
                       if data_dir is not None and handler is not None else None)
        self.publish: Publish = publish or (self._queue if self.outbox is not None else self._publish)
        self.filter = request_filter(settings.prefix, site)
        self.listen: dict[str, Listener] = dict(listen or {})
        #: The retained messages announced (topic → payload), published at each connection.
        self.announced: dict[str, bytes] = {}
        self._unannounce: set[str] = set()  # topics to clear (empty retained) when connected
        #: Retained messages published (announcements and removals), since the start.
        self.announcements = 0
        self._prefix_levels = settings.prefix.count("/") + 1
        self.client_id = (f"{settings.client_id}-commands" if settings.client_id
                          else f"openbms-{site}-commands-{random.getrandbits(32):08x}")[:128]
        place = f"site {site}: mqtt"
        self._username, self._password, self._tls = _connection(settings, place)
        self.reconnect_min = reconnect_min
        self.max_backoff = max_backoff
        #: Requests taken, answered, and answers that could not be published (counters);
        #: responses sent from the outbox (acknowledged by the broker).
        self.sent = 0
        self.received = 0
        self.answered = 0
        self.failed = 0
        #: Retained requests and commands the broker replayed, not executed.
        self.retained = 0
        self._slots = asyncio.Semaphore(settings.commands.concurrency)
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._work: set[asyncio.Task[None]] = set()
        self._last_error = "not connected yet"
        self._lost_logged = False
        self._announcing = asyncio.Lock()
        self._drains: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the responses' outbox (a DriverError when it cannot be), connect in the
        background; wait up to the settings' ``timeout`` for the subscription."""
        if self._task is None and self.outbox is not None:
            await self.outbox.open()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mqtt commands {self.site}")
        try:
            await asyncio.wait_for(self._connected.wait(), self.settings.timeout)
        except TimeoutError:
            log.warning("site %s: mqtt commands: broker %s:%d not reached yet (%s); trying again "
                        "in the background", self.site, self.settings.host, self.settings.port,
                        self._last_error)

    async def stop(self) -> None:
        """Stop taking requests, let those being handled finish (up to ``timeout``), disconnect."""
        if self._work:
            await asyncio.wait(set(self._work), timeout=self.settings.timeout)
        await cancel_and_wait(self._task, *self._work)  # again until they end (wait_for may drop one)
        self._task = None
        self._work.clear()
        self._client = None
        self._connected.clear()
        if self.outbox is not None:
            await self.outbox.close()  # what is not sent stays in it for the next start

    @property
    def connected(self) -> bool:
        """Whether the subscription is up."""
        return self._connected.is_set()

    def problems(self) -> list[str]:
        """What keeps requests from arriving (for health): no broker connection."""
        if self._task is None or self._connected.is_set():
            return []
        return [f"mqtt commands of site {self.site}: broker {self.settings.host}:"
                f"{self.settings.port} not connected: {self._last_error}"]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = self.reconnect_min
        up_since: float | None = None
        s = self.settings
        while True:
            try:
                async with aiomqtt.Client(
                    s.host, s.port, identifier=self.client_id, username=self._username,
                    password=self._password, keepalive=s.keepalive, tls_context=self._tls,
                    timeout=s.timeout, protocol=aiomqtt.ProtocolVersion.V5,
                    max_queued_incoming_messages=_QUEUED,
                ) as client:
                    _no_delay(client)
                    filters = ([self.filter] if self.handler is not None else []) + list(self.listen)
                    for topic_filter in filters:
                        await client.subscribe(topic_filter, qos=1)
                    await self._announce_on(client, None)
                    self._client = client
                    self._connected.set()
                    up_since = loop.time()
                    if self._lost_logged:
                        log.warning("site %s: mqtt commands: broker %s:%d is back", self.site,
                                    s.host, s.port)
                        self._lost_logged = False
                    if self.outbox is not None:
                        drain = asyncio.create_task(self._drain(client),
                                                    name=f"mqtt responses {self.site}")
                        self._drains.add(drain)
                        drain.add_done_callback(self._drains.discard)
                    async for message in client.messages:
                        # The slot first: a coroutine made before a wait that stop() cancels
                        # would be dropped never awaited.
                        await self._slots.acquire()  # the rest wait in aiomqtt's queue
                        work = self._work_for(message)
                        if work is None:
                            self._slots.release()
                            continue
                        task = asyncio.create_task(work)
                        self._work.add(task)
                        task.add_done_callback(self._work.discard)
            except asyncio.CancelledError:
                await cancel_and_wait(*self._drains)
                raise
            except aiomqtt.MqttError as err:
                self._last_error = str(err) or type(err).__name__
            except Exception as err:  # a bug here must not end the connection task for good
                self._last_error = f"{type(err).__name__}: {err}"
                log.exception("site %s: mqtt commands: connection task failed; reconnecting",
                              self.site)
            await cancel_and_wait(*self._drains)  # the next connection drains from the oldest
            if self._connected.is_set() and not self._lost_logged:
                log.warning("site %s: mqtt commands: lost the broker %s:%d (%s); reconnecting",
                            self.site, s.host, s.port, self._last_error)
                self._lost_logged = True
            self._client = None
            self._connected.clear()
            # The waits start again from the shortest only after a connection that held (a
            # keepalive's worth): one dropped as soon as it is up (the client id taken over by
            # another client, a broker at its limit) is tried again ever more slowly.
            if up_since is not None and loop.time() - up_since >= s.keepalive:
                backoff = self.reconnect_min
            up_since = None
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self.max_backoff)

    # ------------------------------------------------------------------ retained announcements

    async def announce(self, messages: Sequence[tuple[str, bytes]],
                       previous: Sequence[str] = ()) -> None:
        """Keep ``messages`` (topic, payload) announced, retained: those new or changed are
        published now if connected (else at the next connection), and the topics announced
        before but not now (with ``previous``: another connection's) get an empty retained
        message, which deletes a retained message. Published again at each connection."""
        now = dict(messages)
        async with self._announcing:
            gone = (set(self.announced) | set(previous)) - set(now)
            changed = {t: p for t, p in now.items() if self.announced.get(t) != p}
            self.announced = now
            self._unannounce = (self._unannounce | gone) - set(now)
            client = self._client
            if client is None:
                return
            try:
                await self._announce_on(client, changed, locked=True)
            except aiomqtt.MqttError as err:  # sent again when the connection is back
                log.debug("site %s: mqtt: announcements not sent: %s", self.site, err)

    async def _announce_on(self, client: aiomqtt.Client, messages: Mapping[str, bytes] | None, *,
                           locked: bool = False) -> None:
        """Publish the removals waiting and ``messages`` (None: every announced one)."""
        if not locked:
            async with self._announcing:
                await self._announce_on(client, messages, locked=True)
            return
        timeout = self.settings.timeout
        if messages is None:
            messages = dict(self.announced)
        for topic in sorted(self._unannounce):
            await client.publish(topic, b"", qos=1, retain=True, timeout=timeout)
            self._unannounce.discard(topic)
            self.announcements += 1
        for topic, payload in messages.items():
            await client.publish(topic, payload, qos=1, retain=True, timeout=timeout)
            self.announcements += 1

    # ------------------------------------------------------------------ one request

    def _work_for(self, message: aiomqtt.Message) -> Coroutine[Any, Any, None] | None:
        """What handles ``message``: the request handler or the listener of its filter; nothing
        for a retained message (the broker replays it at each subscription: a request or a Home
        Assistant command someone published with the retain flag would run again at every
        reconnection, over what operators did since)."""
        if message.retain:
            self.retained += 1
            if self.retained == 1:
                log.warning("site %s: mqtt: a retained message on %s was not executed: commands "
                            "and requests are taken as they are sent, never replayed (publish "
                            "them without the retain flag; clear it with an empty retained "
                            "message); such messages are counted, not logged again", self.site,
                            message.topic.value)
            return None
        if self.handler is not None and message.topic.matches(self.filter):
            return self._answer(message)
        for topic_filter, listener in self.listen.items():
            if message.topic.matches(topic_filter):
                return self._hear(listener, message)
        return None

    async def _hear(self, listener: Listener, message: aiomqtt.Message) -> None:
        try:
            self.received += 1
            payload = message.payload
            if isinstance(payload, str):
                payload = payload.encode()
            elif not isinstance(payload, bytes | bytearray):
                payload = b""
            try:
                await listener(message.topic.value, bytes(payload))
            except Exception:  # a listener handles what it is sent: this is a bug
                log.exception("site %s: mqtt: the message on %s was not handled", self.site,
                              message.topic.value)
        finally:
            self._slots.release()

    def _request(self, message: aiomqtt.Message) -> Request:
        topic = message.topic.value
        levels = topic.split("/")
        name = levels[self._prefix_levels + 2] if len(levels) == self._prefix_levels + 4 else ""
        payload = message.payload
        if isinstance(payload, str):
            payload = payload.encode()
        elif not isinstance(payload, bytes | bytearray):
            payload = b""
        props = message.properties
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        answer_to = getattr(props, "ResponseTopic", None) if props is not None else None
        return Request(topic, name, bytes(payload), bytes(correlation) if correlation else None,
                       str(answer_to) if answer_to else None,
                       _user_properties(props) if props is not None else ())

    def _answer_topic(self, request: Request) -> str:
        """The request's response topic, if it is one a response may go to: under the site's own
        ``{prefix}/{site}/command/``, without wildcards, and neither a request topic nor one
        this server listens to (openbms would take its own answer as a request, or as a Home
        Assistant command). Anything else (another site's topics, telemetry, ``homeassistant/…``)
        would let any client make openbms publish there with the site's login: the default
        ``…/command/{name}/response`` is used instead."""
        wanted = request.response_topic
        own = f"{self.settings.prefix}/{self.site}/command/"
        if wanted and wanted.startswith(own) and not any(c in wanted for c in "+#\x00"):
            topic = aiomqtt.Topic(wanted)
            if not topic.matches(self.filter) and not any(topic.matches(f) for f in self.listen):
                return wanted
        return response_topic(self.settings.prefix, self.site, request.name or "unknown")

    async def _answer(self, message: aiomqtt.Message) -> None:
        try:
            self.received += 1
            request = self._request(message)
            assert self.handler is not None  # only requests are answered (_work_for)
            try:
                body = await self.handler(request)
            except Exception:  # the handler answers every error itself: this is a bug
                log.exception("site %s: mqtt commands: the request on %s was not answered",
                              self.site, request.topic)
                return
            try:
                await self.publish(self._answer_topic(request), body, request.correlation)
                self.answered += 1
            except (aiomqtt.MqttError, DriverError) as err:
                self.failed += 1
                log.debug("site %s: mqtt commands: the response to %s was not sent: %s",
                          self.site, request.topic, err)
        finally:
            self._slots.release()

    async def _queue(self, topic: str, payload: bytes, correlation: bytes | None) -> None:
        """A response into the outbox (QoS 1, its correlation data kept with it)."""
        assert self.outbox is not None
        key = f"response:{correlation.hex() if correlation else ''}@{topic}"
        self.outbox.put(topic, payload, 1, False, key, _properties(correlation))

    async def _drain(self, client: aiomqtt.Client) -> None:
        """Send the queued responses in order on this connection, each deleted after its PUBACK.
        A publish that fails is tried again from the oldest not acknowledged (the connection
        ending cancels this; the next one starts again from the oldest)."""
        outbox = self.outbox
        assert outbox is not None
        timeout = self.settings.timeout
        cursor = 0
        while True:
            try:
                await outbox.wait(cursor)
                for m in await outbox.take(cursor, 100):
                    await client.publish(m.topic, m.payload, qos=1, retain=m.retain,
                                         properties=_unpacked(m.props), timeout=timeout)
                    await outbox.done(m.seq)
                    cursor = m.seq
                    self.sent += 1
            except aiomqtt.MqttError as err:  # the rows wait; a lost connection cancels this
                log.debug("site %s: mqtt commands: responses wait in the outbox: %s", self.site,
                          err)
                cursor = 0
                await asyncio.sleep(self.reconnect_min)

    async def _publish(self, topic: str, payload: bytes, correlation: bytes | None) -> None:
        client = self._client
        if client is None:
            raise DriverError(f"not connected to {self.settings.host}:{self.settings.port}")
        props = None
        if correlation is not None:
            props = Properties(PacketTypes.PUBLISH)
            props.CorrelationData = correlation
        await client.publish(topic, payload, qos=1, properties=props, timeout=self.settings.timeout)


class Requester:
    """An MQTT v5 client of a site's command/response (async context manager).

    Each request names ``{prefix}/{site}/command/{name}/response`` as its response topic (the
    one topic a site's ACL lets it answer on: ``docs/examples/mosquitto.acl``) and carries
    correlation data of this client's own, which pairs the answer with it among the answers to
    other clients.
    """

    def __init__(self, host: str, port: int, prefix: str, site: str, *,
                 username: str | None = None, password: str | None = None,
                 tls: ssl.SSLContext | None = None, timeout: float = 5.0) -> None:
        self.prefix, self.site, self.timeout = prefix, site, timeout
        self._tag = f"{random.getrandbits(64):016x}"
        self._client = aiomqtt.Client(host, port, identifier=f"openbms-cli-{self._tag}",
                                      username=username, password=password, tls_context=tls,
                                      timeout=timeout, protocol=aiomqtt.ProtocolVersion.V5)
        self._waiting: dict[bytes, asyncio.Future[bytes]] = {}
        self._subscribed: set[str] = set()
        self._reader: asyncio.Task[None] | None = None
        self._count = 0

    async def __aenter__(self) -> Requester:
        try:
            await self._client.__aenter__()
        except aiomqtt.MqttError as err:
            raise DriverError(str(err) or type(err).__name__) from None
        _no_delay(self._client)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._reader is not None:
                self._reader.cancel()
                try:
                    await self._reader
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise  # the task closing this one is cancelled too: not swallowed
        finally:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._client.__aexit__(None, None, None)

    async def _read(self) -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            async for message in self._client.messages:
                props = message.properties
                correlation = getattr(props, "CorrelationData", None) if props is not None else None
                future = self._waiting.pop(bytes(correlation), None) if correlation else None
                if future is not None and not future.done():
                    payload = message.payload
                    future.set_result(payload if isinstance(payload, bytes) else
                                      str(payload or "").encode())
        for future in self._waiting.values():  # the connection ended
            if not future.done():
                future.set_exception(DriverError("lost the broker connection"))

    async def ask(self, name: str, payload: bytes, *, correlation: bytes | None = None,
                  user_properties: Sequence[tuple[str, str]] = ()) -> bytes:
        """Send a request ``name`` and wait for its response's payload (``TimeoutError`` after
        the client's ``timeout``; ``DriverError`` when the broker goes away)."""
        answers = response_topic(self.prefix, self.site, name)
        try:
            if answers not in self._subscribed:
                await self._client.subscribe(answers, qos=1)
                self._subscribed.add(answers)
            self._count += 1
            key = correlation or f"{self._tag}-{self._count}".encode()
            future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            self._waiting[key] = future
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = answers
            props.CorrelationData = key
            if user_properties:
                props.UserProperty = list(user_properties)
            await self._client.publish(f"{self.prefix}/{self.site}/command/{name}/request", payload,
                                       qos=1, properties=props)
        except aiomqtt.MqttError as err:
            raise DriverError(str(err) or type(err).__name__) from None
        try:
            async with asyncio.timeout(self.timeout):
                return await future
        finally:
            self._waiting.pop(key, None)
