"""``mqtt``: JSON messages → samples on the bus through the MQTT driver, and the bridge's and
command/response's figures.

``mqtt.ingest_samples_per_s``: 100 devices × 100 points. A load process
(``python -m openbms.sim.mqtt_load``, a gateway at full speed) publishes one
JSON message a device a round, ``{"p0": 20.01, …, "p99": 20.1}`` (100 fields,
about 1.6 KB), at QoS 1 to a Mosquitto of the benchmark's own on a free
loopback port. openbms reads them as in ``openbms run``: the site's
``mqtt://bench/dev-D#pI`` bindings, the driver the ``Assembly`` builds, and
its driver manager publishing each sample on the bus, where the benchmark
counts them. A retained message a device first gives every point a value
(every subscription made); the clock runs from the load's start to the last
sample. The broker, the load and openbms share the machine's cores.

``mqtt.bridge_samples_per_s``, ``mqtt.backlog_drain_samples_per_s``
(``openbms.bench.mqtt_bridge``) and ``mqtt.command_rtt_p50_ms``/``_p99_ms``
(``openbms.bench.mqtt_command``) follow when those modules are there.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from openbms.bench import Figure
from openbms.bench.broker import HoldingBroker
from openbms.bench.counting import BusCounter
from openbms.model.site import SiteConfig
from openbms.runtime.clock import WallClock
from openbms.service.assembly import Assembly
from openbms.sim.mosquitto import find_mosquitto, free_port

__all__ = ["figures", "run"]

DEVICES = 100
FIELDS = 100
#: Rounds of one message a device: quick, and the full run.
QUICK_ROUNDS, FULL_ROUNDS = 20, 100
#: The other MQTT benchmarks, each with ``figures(quick)``, run after the ingest when present.
OTHERS = ("openbms.bench.mqtt_bridge", "openbms.bench.mqtt_command")


def _site(port: int) -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": "bench", "timezone": "UTC"},
        "drivers": {"mqtt": {"host": "127.0.0.1", "port": port, "timeout": 5,
                             "poll_interval": 3600}},
        "equipment": [
            {"id": f"dev-{d}", "type": "sensor",
             "points": [{"name": f"p{i}", "unit": "degC", "binding": f"mqtt://bench/dev-{d}#p{i}"}
                        for i in range(FIELDS)]}
            for d in range(DEVICES)]})


async def _line(process: asyncio.subprocess.Process, expected: str) -> str:
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
    if not line.startswith(expected):
        raise RuntimeError(f"the MQTT load process said {line!r}, not {expected!r}")
    return line


async def _ingest(port: int, rounds: int) -> float:
    load = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openbms.sim.mqtt_load", "--port", str(port), "--devices",
        str(DEVICES), "--fields", str(FIELDS), "--rounds", str(rounds),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assembly = Assembly([_site(port)], WallClock())
    counter = BusCounter()
    try:
        await _line(load, "ready")  # every device's retained message is on the broker
        assembly.bus.subscribe_callback("*", counter, name="bench")
        await assembly.start_drivers()  # as openbms run: the driver, and the manager subscribing
        points = DEVICES * FIELDS
        await counter.until(points, "the retained values")
        assert load.stdin is not None
        start, base = time.perf_counter(), counter.samples
        load.stdin.write(b"go\n")
        await load.stdin.drain()
        await counter.until(base + rounds * points, "the load")
        elapsed = counter.last - start
        await _line(load, "done")
    finally:
        await assembly.stop()
        if load.returncode is None:
            load.kill()
        await load.wait()
    return rounds * points / elapsed


def _others(quick: bool) -> Iterator[Figure]:
    for name in OTHERS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue  # not there yet
        yield from module.figures(quick)


def figures(quick: bool) -> Iterator[Figure]:
    """``mqtt.ingest_samples_per_s``."""
    if find_mosquitto() is None:  # one line, no traceback: the command's error
        raise SystemExit("error: openbms bench mqtt needs Mosquitto: no mosquitto on PATH nor "
                         "/usr/sbin/mosquitto (apt-get install mosquitto, or set "
                         "OPENBMS_MOSQUITTO to its path)")
    rounds = QUICK_ROUNDS if quick else FULL_ROUNDS
    with tempfile.TemporaryDirectory(prefix="openbms-bench-mqtt-") as folder, \
            HoldingBroker(Path(folder), free_port()) as broker:
        yield ("mqtt.ingest_samples_per_s", round(asyncio.run(_ingest(broker.port, rounds))),
               "samples/s")


def run(quick: bool = False) -> Iterator[Figure]:
    """Figures: mqtt.ingest_samples_per_s, then the bridge's and command/response's."""
    yield from figures(quick)
    yield from _others(quick)
