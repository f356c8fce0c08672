"""A message the broker will not take (bigger than its max_packet_size: Mosquitto closes the
connection) is dropped, counted and said, and the messages after it go: it came first again at
every connection, and the site's telemetry stopped behind it for good."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from openbms.drivers.mqtt.link import REJECT_AFTER, Link
from openbms.drivers.mqtt.outbox import Outbox, outbox_path
from openbms.model.mqtt import MqttSettings
from openbms.runtime.clock import ManualClock
from tests.fixtures.services import MOSQUITTO, MosquittoBroker, free_port
from tests.integration.mqtt_helpers import until


@pytest.fixture
def small_broker() -> Iterator[MosquittoBroker]:
    """A Mosquitto that takes packets of at most 2 000 bytes."""
    if not MOSQUITTO.exists():
        pytest.fail(f"no {MOSQUITTO} (apt-get install mosquitto mosquitto-clients)")
    base = Path(tempfile.mkdtemp(prefix="openbms-mqtt-"))
    broker = MosquittoBroker(base, free_port())
    broker.config.write_text(broker.config.read_text() + "max_packet_size 2000\n")
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(base, ignore_errors=True)


async def test_a_message_too_big_for_the_broker_is_dropped_and_the_rest_go(
        small_broker: MosquittoBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    b = small_broker
    settings = MqttSettings(host=b.host, port=b.port, prefix="bms", timeout=3, keepalive=60)
    outbox = Outbox(outbox_path(tmp_path, "hq"), settings.outbox, ManualClock(), name="hq")
    await outbox.open()
    link = Link("hq", settings, outbox, ManualClock(), reconnect_min=0.02, reconnect_max=0.1)
    got: list[tuple[str, int]] = []
    async with aiomqtt.Client(b.host, b.port, identifier="test-reader") as reader:
        await reader.subscribe("bms/hq/ahu-1/#", qos=1)

        async def read() -> None:
            async for message in reader.messages:
                got.append((str(message.topic), len(message.payload)))  # type: ignore[arg-type]

        reading = asyncio.create_task(read())
        try:
            # Queued before the link starts (a backlog), and again once it is connected (live).
            for topic, size in [("a", 10), ("big", 5000), ("b", 10)]:
                link.publish(f"bms/hq/ahu-1/{topic}", b"x" * size, key=topic)
            await link.start()
            await until(lambda: ("bms/hq/ahu-1/b", 10) in got, within=60,
                        what="the message after the big one")
            link.publish("bms/hq/ahu-1/big-live", b"y" * 3000, key="big-live")
            link.publish("bms/hq/ahu-1/c", b"z" * 10, key="c")
            await until(lambda: ("bms/hq/ahu-1/c", 10) in got, within=60,
                        what="the message after the live big one")
            health = link.health()
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            await link.stop()
            await outbox.close()
    # At least once: a message whose acknowledgement the closing broker swallowed comes again.
    assert list(dict.fromkeys(got)) == [
        ("bms/hq/ahu-1/a", 10), ("bms/hq/ahu-1/b", 10), ("bms/hq/ahu-1/c", 10)]
    assert health["rejected"] == 2 and health["queued"] == 0 and health["status"] == "degraded"
    assert any("the broker closed the connection" in r for r in health["reasons"])
    dropped = [r.getMessage() for r in caplog.records if "would not take" in r.getMessage()]
    assert len(dropped) == 2 and "5000 bytes on bms/hq/ahu-1/big" in dropped[0]
    assert f"each of the {REJECT_AFTER} times" in dropped[0]
