"""The outage test of issue 16: the bridge publishing every second, the broker stopped, openbms
killed with SIGKILL during the outage and started again, the broker back: every sample the
outbox took up to the broker's return is received, exactly once by its de-duplication key, in
order per point.

Scaled for CI (2 000 points, a 20 s outage). The issue's full run (10 000 points, 60 s) is::

    OPENBMS_MQTT_OUTAGE_POINTS=10000 OPENBMS_MQTT_OUTAGE_SECONDS=60 \\
        .venv/bin/pytest -q tests/integration/test_mqtt_outage.py
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiomqtt

from tests.fixtures.services import MosquittoBroker, persistent_mosquitto_server
from tests.integration.mqtt_helpers import until

ROOT = Path(__file__).resolve().parents[2]
POINTS = int(os.environ.get("OPENBMS_MQTT_OUTAGE_POINTS", "2000"))
OUTAGE = float(os.environ.get("OPENBMS_MQTT_OUTAGE_SECONDS", "20"))


class Child:
    """An openbms process bridging POINTS points a second; ``queued`` are the times of the samples
    its outbox confirmed (on disk)."""

    def __init__(self, data: Path, broker: MosquittoBroker) -> None:
        self.queued: list[float] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.mqtt_bridge_child", str(data),
             str(broker.port), str(POINTS), "1.0"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
            text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            word, _, rest = line.strip().partition(" ")
            if word == "ready":
                self.ready.set()
            elif word == "queued":
                self.queued.append(float(rest))

    def end(self, sig: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


class Subscriber:
    """A persistent QoS 1 subscriber (its session lives in the broker through the outage) that
    reconnects by itself; every sample key it receives, in order."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.broker = broker
        self.keys: list[tuple[str, float]] = []
        self.connected = False
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(self.broker.host, self.broker.port,
                                          identifier="outage-subscriber", clean_session=False,
                                          timeout=2) as client:
                    await client.subscribe("openbms/hq/devices/#", qos=1)
                    self.connected = True
                    async for m in client.messages:
                        for s in json.loads(m.payload)["samples"]:  # type: ignore[arg-type]
                            point, _, ts = s["key"].partition("@")
                            assert point == s["point"] and float(ts) == s["time"]
                            self.keys.append((point, s["time"]))
            except aiomqtt.MqttError:
                self.connected = False
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def _stop(broker: MosquittoBroker) -> None:
    await asyncio.to_thread(broker.stop)


async def test_every_sample_queued_in_an_outage_with_a_crash_is_received_once_in_order(tmp_path):
    with persistent_mosquitto_server() as broker:
        subscriber = Subscriber(broker)
        children: list[Child] = []
        try:
            await until(lambda: subscriber.connected, what="the subscriber connected")
            first = Child(tmp_path, broker)
            children.append(first)
            await until(first.ready.is_set, within=60, what="openbms started")
            await until(lambda: len(subscriber.keys) >= 2 * POINTS, within=30, what="live samples")
            await _stop(broker)
            down, before_outage = time.monotonic(), len(first.queued)
            await asyncio.sleep(OUTAGE / 2)
            before_kill = len(first.queued)
            first.end(signal.SIGKILL)  # kill -9 while the broker is away
            assert len(first.queued) >= before_kill
            second = Child(tmp_path, broker)  # the same data folder: the same outbox
            children.append(second)
            await until(second.ready.is_set, within=60, what="openbms started again")
            await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - down)))
            # Everything queued up to the broker's return: before, during and across the crash.
            queued = [ts for c in children for ts in c.queued]
            during = len(queued) - before_outage
            await asyncio.to_thread(broker.start)
            # The second process reconnects by itself (its backoff: at most 30 s) and drains.
            expected = {(f"hq/eq-{i // 100}/p{i}", ts) for i in range(POINTS) for ts in queued}
            await until(lambda: expected <= set(subscriber.keys), within=180,
                        what=f"every sample queued up to the broker's return received "
                             f"({len(expected)})")
            second.end(signal.SIGTERM)
            later = {ts for ts in second.queued if ts not in set(queued)}  # live, after the outage
        finally:
            await subscriber.stop()
            for child in children:
                child.end(signal.SIGKILL)
    # The outage produced samples (not a vacuous run); how many depends on how fast the second
    # process starts on a loaded machine (9 of 20 s once in a run beside other suites).
    assert during >= 3
    # Exactly once by key: the receiver de-duplicates resends (a message sent but not yet
    # acknowledged when openbms was killed comes again with the same key). Besides what was
    # confirmed and the live samples after the outage, at most the one second the kill
    # interrupted (on disk, not yet confirmed).
    extra = {ts for _point, ts in set(subscriber.keys) - expected} - later
    assert len(extra) <= 1
    # In order per point: the first arrival of each key comes in the samples' time order.
    firsts: dict[str, list[float]] = {}
    seen: set[tuple[str, float]] = set()
    for key in subscriber.keys:
        if key not in seen:
            seen.add(key)
            firsts.setdefault(key[0], []).append(key[1])
    assert len(firsts) == POINTS
    assert all(times == sorted(times) for times in firsts.values())
