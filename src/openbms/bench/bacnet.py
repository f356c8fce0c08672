"""``bacnet``: poll 100 simulated devices × 100 points served by another process, and COV latency.

The devices run in a child process (``python -m openbms.sim.bacnet``) on
loopback, sharing the machine's two cores with the client, as the issue
asks. Full cycles read every point of every device once, all devices
concurrently, through the BACnet driver (ReadPropertyMultiple), which the
same ``Assembly`` as in ``openbms run`` builds from the site (its driver
manager does not poll: the benchmark reads the driver itself). CPU is the
polling process's own (user + system) divided by points read, which stays
meaningful on a noisy machine. COV latency: the child changes a value and
prints when (CLOCK_MONOTONIC, shared by processes), the client notes when the
notification arrives through the driver.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

from openbms.bench import Figure
from openbms.model import Binding, SiteConfig
from openbms.runtime.clock import WallClock
from openbms.service.assembly import Assembly

SUBNET = "127.0.30"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _site(port: int, instances: range, points: int) -> SiteConfig:
    """One site: the simulated devices, ``points`` analog inputs each, over loopback."""
    return SiteConfig.model_validate({
        "site": {"id": "bench"},
        "drivers": {"bacnet": {"address": f"127.0.0.1/8:{_free_udp_port()}", "cov": True, "timeout": 30,
                               "devices": {str(i): f"{SUBNET}.{i - 1000}:{port}" for i in instances}}},
        "equipment": [{"id": f"dev-{i}", "points": [
            {"name": f"ai-{k}", "binding": f"bacnet://{i}/analog-input,{k}"} for k in range(1, points + 1)]}
            for i in instances]})


async def _bench(child: subprocess.Popen[str], port: int, devices: int, points: int,
                 cycles: int, changes: int) -> list[Figure]:
    assert child.stdin is not None and child.stdout is not None
    line = await asyncio.get_running_loop().run_in_executor(None, child.stdout.readline)
    if not line.startswith("serving"):
        raise RuntimeError(f"the simulator did not start: {line!r}")
    instances = range(1001, 1001 + devices)
    assembly = Assembly([_site(port, instances, points)], WallClock())
    await assembly.start_drivers(poll=False)  # the driver, started; the manager built, not polling
    driver = assembly.drivers["bacnet"]
    bindings: dict[str, list[Binding]] = {}
    for point in assembly.bindings()[0]:  # device by device, each device's points in order
        bindings.setdefault(point.binding.device, []).append(point.binding)

    size = driver.max_batch("")

    async def cycle() -> int:
        # Every device, in batches of the driver's size, all at once: the driver's
        # in-flight limit paces them, as it does under the driver manager.
        reads = [driver.read(d, b[i : i + size]) for d, b in bindings.items()
                 for i in range(0, len(b), size)]
        results = await asyncio.gather(*reads)
        return sum(1 for r in results for x in r if x.status == "ok")

    await cycle()  # warm-up: address caches, first packets
    t0, c0 = time.perf_counter(), time.process_time()
    read = 0
    for _ in range(cycles):
        read += await cycle()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0

    arrivals: dict[int, float] = {}
    first = str(instances[0])

    def on_change(_binding: object, value: object, _status: str, _ts: float | None = None, /) -> None:
        if isinstance(value, float) and value == int(value):
            arrivals.setdefault(int(value), time.monotonic())

    await driver.subscribe(first, [bindings[first][0]], on_change)
    child.stdin.write("go\n")
    child.stdin.flush()
    sent: dict[int, float] = {}
    while len(sent) < changes:
        line = await asyncio.get_running_loop().run_in_executor(None, child.stdout.readline)
        if not line:
            break
        if line.startswith("change "):
            _, k, t = line.split()
            sent[int(k)] = float(t)
    await asyncio.sleep(0.5)
    await assembly.stop()
    latencies = sorted((arrivals[k] - t) * 1000 for k, t in sent.items() if k in arrivals)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    return [
        ("bacnet.points_per_s", round(read / wall), "1/s"),
        ("bacnet.cycle_s", round(wall / cycles, 3), "s"),
        ("bacnet.client_cpu_ms_per_point", round(cpu * 1000 / max(1, read), 4), "ms"),
        ("bacnet.cov_latency_p50_ms", round(statistics.median(latencies), 2) if latencies
         else float("nan"), "ms"),
        ("bacnet.cov_latency_p99_ms", round(p99, 2), "ms"),
        ("bacnet.cov_received", len(latencies), "1"),
    ]


def run(quick: bool = False, devices: int | None = None, points: int | None = None) -> Iterator[Figure]:
    """Figures: points/s, cycle time, client CPU per point, COV latency p50/p99.

    With ``devices`` (and ``points`` per device, default 100), the scale scenario instead: a
    whole openbms polling that many routed devices (:mod:`openbms.bench.bacnet_scale`).
    """
    if devices is not None:
        from openbms.bench import bacnet_scale

        yield from bacnet_scale.run(devices, points or 100, quick)
        return
    devices, cycles, changes = (20, 2, 50) if quick else (100, 5, 200)
    points = 100
    port = _free_udp_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "openbms.sim.bacnet", "--count", str(devices), "--points",
         str(points), "--port", str(port), "--subnet", SUBNET, "--changes", str(changes),
         "--changes-every", "0.02"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        figures = asyncio.run(_bench(child, port, devices, points, cycles, changes))
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                pipe.close()
    yield from figures
