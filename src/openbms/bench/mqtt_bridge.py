"""The telemetry bridge's throughput: samples delivered to a subscriber through Mosquitto.

A Mosquitto started on a free loopback port; one site of 10 000 points on 100
devices (100 points each) whose ``mqtt:`` section bridges per device (JSON,
QoS 1, one message a device poll), built through the ``Assembly`` with its
outbox in a temporary folder. The subscriber is ``mosquitto_sub`` (QoS 1), a
separate process, so the figures count what a consumer received, not what
openbms handed to its socket. Figures:

- ``mqtt.bridge_samples_per_s``: every device's poll published on the bus
  round after round (a batch a device, as the driver manager publishes them),
  from the first publish until the subscriber has received every message.
- ``mqtt.backlog_drain_samples_per_s``: the same rounds published while the
  broker could not be reached (the site's link pointed at a closed port) and
  the process stopped, so the samples wait on disk in the outbox; then openbms
  starts again against the broker: from that start until the subscriber has
  received them all (the outbox read back from its SQLite file, as after a
  crash during an outage).

Targets on 2 cores: 100 000 samples/s each. ``openbms bench mqtt`` calls
``figures``.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from openbms.bench import Figure
from openbms.bench.broker import HoldingBroker
from openbms.model.sample import Sample
from openbms.model.site import SiteConfig
from openbms.runtime.clock import WallClock
from openbms.service.assembly import Assembly
from openbms.sim.mosquitto import free_port

__all__ = ["figures", "run"]

DEVICES = 100
PER_DEVICE = 100
SITE = "bench"
#: Polls of every device a run publishes (each phase): quick, and the full run.
QUICK_ROUNDS, FULL_ROUNDS = 20, 100
#: Messages the outbox may hold before the publisher waits (what a real poll cycle would not reach).
AHEAD = 20 * DEVICES


def _site(port: int) -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": SITE, "timezone": "UTC"},
        "mqtt": {"port": port, "timeout": 1,
                 "bridge": {"per_point": False, "per_device": True, "qos": 1},
                 "outbox": {"rate": 1_000_000}},
        "equipment": [
            {"id": f"eq-{d}", "type": "sensor",
             "points": [{"name": f"p{i}", "unit": "degC", "binding": f"sim://dev-{d}/p{i}"}
                        for i in range(PER_DEVICE)]}
            for d in range(DEVICES)]})


class _Subscriber:
    """``mosquitto_sub`` at QoS 1, exiting after ``count`` messages; ``subscribed`` once its
    SUBACK came."""

    def __init__(self, port: int, count: int) -> None:
        program = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
        # Line-buffered (stdbuf): its SUBACK line must reach us before any message is sent.
        line_buffered = [stdbuf, "-oL"] if (stdbuf := shutil.which("stdbuf")) else []
        self.count = count
        self.received = 0
        self.subscribed = threading.Event()
        self.process = subprocess.Popen(
            [*line_buffered, program, "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-d", "-C", str(count),
             "-F", "%l", "-t", f"openbms/{SITE}/devices/#"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if "SUBACK" in line:
                self.subscribed.set()
            elif line.strip().isdigit():
                self.received += 1

    def wait(self, timeout: float) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"the subscriber received {self.received} of {self.count} messages "
                               f"within {timeout:g} s") from None
        finally:
            self._reader.join(10)
            if self.process.stdout is not None:
                self.process.stdout.close()


async def _until(event: threading.Event, seconds: float, what: str) -> None:
    if not await asyncio.to_thread(event.wait, seconds):
        raise RuntimeError(f"{what} not within {seconds:g} s")


def _ids() -> list[list[str]]:
    return [[f"{SITE}/eq-{d}/p{i}" for i in range(PER_DEVICE)] for d in range(DEVICES)]


async def _publish(assembly: Assembly, rounds: int, clock: WallClock) -> None:
    """``rounds`` polls of every device, a bus batch a device; waits while the outbox is far behind."""
    outbox = assembly.bridges[SITE].link.outbox
    devices = _ids()
    for r in range(rounds):
        ts = clock.now()
        for ids in devices:
            assembly.bus.publish([Sample(pid, ts, float(r)) for pid in ids])
        await asyncio.sleep(0)
        while True:  # a real poll cycle would not get this far ahead of the broker, nor of the disk
            pending = outbox.stats().pending  # waiting for the disk: past max_pending_mb, dropped
            if pending + outbox.queued <= AHEAD or (
                    pending <= AHEAD and not assembly.bridges[SITE].link.connected):
                break
            await asyncio.sleep(0.005)


async def _bridge(port: int, data: Path, rounds: int) -> float:
    clock = WallClock()
    assembly = Assembly([_site(port)], clock, data_dir=data)
    await assembly.start_site_services(None)
    try:
        sub = _Subscriber(port, rounds * DEVICES)
        await _until(sub.subscribed, 10, "the subscriber's SUBACK")
        start = time.perf_counter()
        await _publish(assembly, rounds, clock)
        await asyncio.to_thread(sub.wait, 120)
        elapsed = time.perf_counter() - start
    finally:
        await assembly.stop()
    return rounds * DEVICES * PER_DEVICE / elapsed


async def _drain(port: int, data: Path, rounds: int) -> float:
    clock = WallClock()
    away = Assembly([_site(free_port())], clock, data_dir=data)  # nobody listens: an outage
    await away.start_site_services(None)
    try:
        await _publish(away, rounds, clock)
        await away.bridges[SITE].link.outbox.flush()
    finally:
        await away.stop()
    sub = _Subscriber(port, rounds * DEVICES)
    await _until(sub.subscribed, 10, "the subscriber's SUBACK")
    start = time.perf_counter()
    back = Assembly([_site(port)], clock, data_dir=data)
    await back.start_site_services(None)
    try:
        await asyncio.to_thread(sub.wait, 300)
        elapsed = time.perf_counter() - start
    finally:
        await back.stop()
    return rounds * DEVICES * PER_DEVICE / elapsed


def figures(quick: bool) -> Iterator[Figure]:
    """``mqtt.bridge_samples_per_s`` and ``mqtt.backlog_drain_samples_per_s``."""
    rounds = QUICK_ROUNDS if quick else FULL_ROUNDS
    with tempfile.TemporaryDirectory(prefix="openbms-bench-bridge-") as folder:
        base = Path(folder)
        with HoldingBroker(base / "broker", free_port()) as broker:
            yield ("mqtt.bridge_samples_per_s",
                   round(asyncio.run(_bridge(broker.port, base / "live", rounds))), "samples/s")
            yield ("mqtt.backlog_drain_samples_per_s",
                   round(asyncio.run(_drain(broker.port, base / "drain", rounds))), "samples/s")


def run(quick: bool = False) -> Iterator[Figure]:
    """The bridge's figures alone (``openbms bench mqtt`` runs them with the driver's)."""
    yield from figures(quick)
