"""Command responses go through a store-and-forward outbox: one answered while the broker is away
reaches the client after the broker is back, with its MQTT v5 correlation data; the rows survive
a restart of the server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from openbms.drivers.mqtt.requests import Request, RequestServer, responses_path
from openbms.model.mqtt import MqttSettings
from tests.fixtures.services import MosquittoBroker, persistent_mosquitto_server
from tests.integration.mqtt_helpers import until

ANSWERS = "openbms/hq/command/read/response"


@asynccontextmanager
async def session(broker: MosquittoBroker) -> AsyncIterator[aiomqtt.Client]:
    """The client's MQTT v5 connection with a session the broker keeps for an hour (its QoS 1
    subscription gets what is published while it is away)."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    async with aiomqtt.Client(broker.host, broker.port, identifier="test-client",
                              protocol=aiomqtt.ProtocolVersion.V5, clean_start=False,
                              properties=props, timeout=2) as client:
        yield client


async def _request(client: aiomqtt.Client, correlation: bytes) -> None:
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = ANSWERS
    props.CorrelationData = correlation
    await client.publish("openbms/hq/command/read/request", b'{"points": ["ahu-1/sat"]}', qos=1,
                         properties=props)


async def _answered_while_the_broker_is_away(broker: MosquittoBroker, data: Path | None) -> \
        tuple[RequestServer, list[tuple[bytes, bytes | None]]]:
    taken, answer = asyncio.Event(), asyncio.Event()

    async def handler(request: Request) -> bytes:
        taken.set()
        await answer.wait()
        return b'{"ok": true, "answer": "%s"}' % request.correlation

    settings = MqttSettings(port=broker.port, timeout=2, commands={"enabled": True})
    server = RequestServer(settings, "hq", handler, data_dir=data, reconnect_min=0.05,
                           max_backoff=0.2)
    await server.start()
    got: list[tuple[bytes, bytes | None]] = []
    try:
        async with session(broker) as client:
            await client.subscribe(ANSWERS, qos=1)
            await _request(client, b"corr-1")
            await taken.wait()
        broker.stop()  # the request is being handled: its answer comes while the broker is away
        await until(lambda: not server.connected, what="the server lost the broker")
        answer.set()
        assert server.outbox is not None
        await until(lambda: server.outbox.stats().queued == 1, what="the answer kept on disk")
        broker.start()
        await until(lambda: server.connected, within=20, what="the server reconnected")
        async with session(broker) as client:
            async def read() -> None:
                async for m in client.messages:
                    correlation = getattr(m.properties, "CorrelationData", None)
                    got.append((bytes(m.payload), correlation))  # type: ignore[arg-type]

            reader = asyncio.create_task(read())
            try:
                await until(lambda: got or server.failed, within=20, what="the response")
                await until(lambda: server.sent or server.failed, what="its acknowledgement")
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
    finally:
        await server.stop()
    return server, got


async def test_a_response_made_while_the_broker_is_away_arrives_after_it_with_its_correlation(
        tmp_path):
    with persistent_mosquitto_server() as broker:
        server, got = await _answered_while_the_broker_is_away(broker, tmp_path)
    assert got == [(b'{"ok": true, "answer": "corr-1"}', b"corr-1")]
    assert server.sent == 1 and server.failed == 0
    assert responses_path(tmp_path, "hq").exists()


async def test_responses_not_sent_are_kept_for_the_next_start(tmp_path):
    """Queued while no broker is there; a new server (a restart) on the same data folder sends
    them, with their correlation data, once the broker is up."""
    with persistent_mosquitto_server() as broker:
        settings = MqttSettings(port=broker.port, timeout=1, commands={"enabled": True})

        async def handler(request: Request) -> bytes:
            return b"{}"

        first = RequestServer(settings, "hq", handler, data_dir=tmp_path, reconnect_min=0.05,
                              max_backoff=0.2)
        async with session(broker) as client:
            await client.subscribe(ANSWERS, qos=1)
        broker.stop()
        await first.start()  # no broker: it tries in the background
        for n in range(3):
            await first.publish(ANSWERS, b'{"n": %d}' % n, b"c%d" % n)
        assert first.outbox is not None
        await first.outbox.flush()
        await first.stop()

        broker.start()
        again = RequestServer(settings, "hq", handler, data_dir=tmp_path, reconnect_min=0.05,
                              max_backoff=0.2)
        got: list[tuple[bytes, bytes | None]] = []
        await again.start()
        try:
            async with session(broker) as client, asyncio.timeout(20):
                async for m in client.messages:
                    got.append((bytes(m.payload),  # type: ignore[arg-type]
                                getattr(m.properties, "CorrelationData", None)))
                    if len(got) == 3:
                        break
            await until(lambda: again.sent == 3, what="the acknowledgements")  # rows deleted
        finally:
            await again.stop()
    assert got == [(b'{"n": 0}', b"c0"), (b'{"n": 1}', b"c1"), (b'{"n": 2}', b"c2")]
