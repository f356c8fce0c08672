"""A broker that takes the command connection and then drops it at once (another client with the
same client id, a broker at its connection limit) is tried again with growing waits, not every
half second for ever (two warnings a second in the log, a connection storm on the broker)."""

from __future__ import annotations

import asyncio
import itertools

from tests.fixtures.waiting import eventually

from openbms.drivers.mqtt.requests import RequestServer
from openbms.model.mqtt import MqttSettings

MIN = 0.05


async def _packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One MQTT control packet: its type byte and its body."""
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first, await reader.readexactly(length)


async def test_a_connection_dropped_as_soon_as_it_is_up_is_retried_with_growing_waits():
    loop = asyncio.get_running_loop()
    connected: list[float] = []

    async def accept_then_drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first, _ = await _packet(reader)  # CONNECT
            assert first >> 4 == 1
            writer.write(bytes([0x20, 0x03, 0x00, 0x00, 0x00]))  # CONNACK v5: accepted
            first, body = await _packet(reader)  # SUBSCRIBE (packet id, properties, one filter)
            assert first >> 4 == 8
            writer.write(bytes([0x90, 0x04, body[0], body[1], 0x00, 0x01]))  # SUBACK: QoS 1
            await writer.drain()
            connected.append(loop.time())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()  # dropped at once, as a broker taking the client id elsewhere does

    broker = await asyncio.start_server(accept_then_drop, "127.0.0.1", 0)
    port = broker.sockets[0].getsockname()[1]
    settings = MqttSettings(host="127.0.0.1", port=port, timeout=2.0, keepalive=60,
                            commands={"enabled": True})

    async def handler(request: object) -> bytes:
        return b"{}"

    server = RequestServer(settings, "hq", handler, reconnect_min=MIN, max_backoff=60.0)
    try:
        await server.start()
        await eventually(lambda: len(connected) >= 6, "six connections", within=60)
    finally:
        await server.stop()
        broker.close()
        await broker.wait_closed()
    gaps = [b - a for a, b in itertools.pairwise(connected)]
    # Each wait doubles (less its 20 % jitter): 0.05, 0.1, 0.2, 0.4, 0.8 s and on; a lower
    # bound only (a loaded machine makes the gaps longer, never shorter). Before: ~0.05 s each.
    assert gaps[4] >= MIN * 2 ** 4 * 0.8, gaps
