"""Review of the command/response connection (drivers/mqtt/requests.py, owned by another session):
a defect proven here (the test failed before the fix)."""

from __future__ import annotations

import asyncio
import gc
import warnings

import aiomqtt

from openbms.drivers.mqtt.requests import Request, RequestServer
from openbms.model.mqtt import MqttSettings
from tests.fixtures.services import MosquittoBroker
from tests.integration.mqtt_helpers import until


async def test_stopping_with_a_request_waiting_for_a_slot_leaves_no_unawaited_coroutine(
        mosquitto: MosquittoBroker) -> None:
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port, prefix="rv", timeout=1.0,
                            commands={"enabled": True, "concurrency": 1})
    release = asyncio.Event()

    async def slow(request: Request) -> bytes:
        await release.wait()
        return b"{}"

    server = RequestServer(settings, "hq", slow)
    await server.start()
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        for i in range(2):
            await client.publish("rv/hq/command/read/request", b'{"id": "%d"}' % i, qos=1)
    await until(lambda: server.received == 1, what="the first request taken")
    waiters = lambda: len(getattr(server._slots, "_waiters", None) or ())  # noqa: E731
    await until(lambda: waiters() == 1, what="the second request waiting for the slot")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await server.stop()
        gc.collect()
    never = [w for w in caught if "never awaited" in str(w.message)]
    assert not never, never[0].message
