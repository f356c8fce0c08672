"""``modbus``: 10 simulated devices × 500 registers in another process, polled through the
Modbus driver and the driver manager with merged reads.

The devices run in a child process (``python -m openbms.sim.modbus_load``):
one pymodbus TCP server a device on a free loopback port, holding registers
0..499. openbms reads them as in ``openbms run``: a site of 10 devices × 500
``modbus://dev-D/holding/A`` points, the driver the ``Assembly`` builds, and
its driver manager polling every device back to back (a poll interval
shorter than a poll) and publishing each sample on the bus, where the
benchmark counts them. A device's 500 points merge into 4 requests of at most
125 registers; each device has its own connection, so 10 requests are in
flight at once.

- ``modbus.registers_per_s``: samples on the bus per second of wall time (one
  register a point), after a warm-up poll of every device;
- ``modbus.client_cpu_ms_per_point``: the openbms process's CPU (user +
  system) over the same samples, which stays meaningful on a busy machine;
- ``modbus.requests_per_s`` and ``modbus.registers_per_request``: what the
  devices served.

The devices and openbms share the machine's cores.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from openbms.bench import Figure
from openbms.bench.counting import BusCounter
from openbms.model.site import SiteConfig
from openbms.runtime.clock import WallClock
from openbms.service.assembly import Assembly

__all__ = ["figures", "run"]

DEVICES = 10
REGISTERS = 500
#: Polls of every device measured: quick, and the full run.
QUICK_CYCLES, FULL_CYCLES = 6, 60


def _site(ports: Sequence[int]) -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": "bench", "timezone": "UTC"},
        "drivers": {"modbus": {"timeout": 10, "poll_interval": 0.001, "gap": 0, "devices": {
            f"dev-{d}": {"host": "127.0.0.1", "port": port, "unit": 1}
            for d, port in enumerate(ports)}}},
        "equipment": [
            {"id": f"dev-{d}", "type": "meter",
             "points": [{"name": f"r{a}", "binding": f"modbus://dev-{d}/holding/{a}"}
                        for a in range(REGISTERS)]}
            for d in range(len(ports))]})


def _requests(assembly: Assembly) -> int:
    driver: Any = assembly.drivers.get("modbus")
    return sum(g.requests for g in getattr(driver, "gateways", {}).values())


async def _bench(cycles: int) -> list[Figure]:
    load = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openbms.sim.modbus_load", "--devices", str(DEVICES),
        "--registers", str(REGISTERS), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assembly: Assembly | None = None
    try:
        assert load.stdout is not None
        line = (await asyncio.wait_for(load.stdout.readline(), 60)).decode().split()
        if not line or line[0] != "ready":
            raise RuntimeError(f"the Modbus load process said {' '.join(line)!r}, not 'ready'")
        assembly = Assembly([_site([int(p) for p in line[1:]])], WallClock())
        counter = BusCounter(count_bad=True)
        assembly.bus.subscribe_callback("*", counter, name="bench")
        await assembly.start_drivers()
        points = DEVICES * REGISTERS
        await counter.until(points, "the first poll of every device")
        base, requests = counter.samples, _requests(assembly)
        t0, c0 = time.perf_counter(), time.process_time()
        await counter.until(base + cycles * points, "the polls")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        read, requests = counter.samples - base, _requests(assembly) - requests
        # Over the whole run (a poll in flight at either end is a few requests of thousands).
        per_request = counter.samples / max(1, _requests(assembly))
        if counter.bad:
            raise RuntimeError(f"{counter.bad} samples were not ok: the devices did not answer")
    finally:
        if assembly is not None:
            await assembly.stop()
        if load.returncode is None:
            assert load.stdin is not None
            load.stdin.write(b"stop\n")
            try:
                await asyncio.wait_for(load.wait(), 10)
            except TimeoutError:
                load.kill()
                await load.wait()
    return [("modbus.registers_per_s", round(read / wall), "registers/s"),
            ("modbus.client_cpu_ms_per_point", round(cpu / read * 1000, 4), "ms"),
            ("modbus.requests_per_s", round(requests / wall), "requests/s"),
            ("modbus.registers_per_request", round(per_request, 1), "registers")]


def figures(quick: bool) -> Iterator[Figure]:
    """``modbus.registers_per_s``, ``modbus.client_cpu_ms_per_point`` and the devices' side."""
    yield from asyncio.run(_bench(QUICK_CYCLES if quick else FULL_CYCLES))


def run(quick: bool = False) -> Iterator[Figure]:
    """Figures: modbus.registers_per_s, modbus.client_cpu_ms_per_point, requests."""
    yield from figures(quick)
