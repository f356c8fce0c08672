"""``control``: latency from an input sample on the bus to the write it causes, with 1 000 programs.

1 000 copies of a small program (input → reset → limit → output), each on
its own sim points, run in one engine behind the real arbiter and driver
manager, built by the same ``Assembly`` as in ``openbms run`` (the manager
does not poll: the samples are the benchmark's). A thin recorder in front of
the driver manager notes when each write is handed to the driver. Single: one sample
at a time, each to a different program, timed from ``bus.publish`` to the
write (evaluation, the arbiter's checks and its command record included).
Burst: 100 samples for 100 programs in one bus batch (as one poll of a
device brings them), each sample timed to its own write.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator

from openbms.bench import Figure
from openbms.control.arbiter import PointIO
from openbms.control.commands import CommandStore
from openbms.control.programs import Program, ProgramEngine
from openbms.db import migrate, open_state
from openbms.model import Sample, SiteConfig
from openbms.model.sample import Reading, Value
from openbms.runtime.clock import WallClock
from openbms.service.assembly import Assembly

PROGRAMS = 1000


class _Recorder:
    """The driver manager, noting when a write for an awaited point is handed to it."""

    def __init__(self, manager: PointIO) -> None:
        self.manager = manager
        self.waiting: dict[str, asyncio.Future[float]] = {}

    async def write(self, point: str, value: Value, priority: int | None = None) -> None:
        fut = self.waiting.pop(point, None)
        if fut is not None and not fut.done():
            fut.set_result(time.perf_counter())
        await self.manager.write(point, value, priority)

    async def read_point(self, point: str) -> Reading:
        return await self.manager.read_point(point)


def _site(n: int) -> SiteConfig:
    return SiteConfig.model_validate({"site": {"id": "bench"}, "equipment": [
        {"id": f"u{i}", "points": [
            {"name": "x", "unit": "degC", "binding": f"sim://u{i}/x?wave=constant&value=20"},
            {"name": "y", "unit": "%", "writable": True, "limits": {"min": 0, "max": 100},
             "binding": f"sim://u{i}/y?wave=constant&value=0"},
        ]} for i in range(n)]})


def _program(i: int) -> Program:
    return Program.model_validate({
        "id": f"p{i}", "site": "bench",
        "inputs": [{"id": "x", "point": f"bench/u{i}/x"}],
        "blocks": [{"id": "scale", "block": "reset", "params": {"x1": 0, "y1": 0, "x2": 50, "y2": 100}},
                   {"id": "clip", "block": "limit", "params": {"lo": 5, "hi": 95}}],
        "outputs": [{"id": "y", "point": f"bench/u{i}/y"}],
        "wires": [{"from": "x", "to": "scale.x"}, {"from": "scale.out", "to": "clip.x"},
                  {"from": "clip.out", "to": "y"}]})


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def _bench(singles: int, bursts: int, burst: int) -> list[Figure]:
    clock = WallClock()
    cfg = _site(PROGRAMS)
    assembly = Assembly([cfg], clock)
    manager = await assembly.start_drivers(poll=False)  # the sim driver from the registry, as in openbms run
    recorder = _Recorder(manager)
    # Commands recorded in a SQLite state database, as `openbms run` does.
    tmp = tempfile.TemporaryDirectory(prefix="openbms-bench-")
    url = f"sqlite:///{tmp.name}/state.db"
    migrate(url)
    state = open_state(url)
    await assembly.start_arbiter(CommandStore(state), io=recorder)
    load_s = 0.0

    async def load(engine: ProgramEngine) -> None:
        nonlocal load_s
        t0 = time.perf_counter()
        for i in range(PROGRAMS):
            engine.load(_program(i), 1)
        load_s = time.perf_counter() - t0

    engine = await assembly.start_programs(load, ticking=False)  # evaluated on input changes only
    bus = assembly.bus
    await engine.idle()
    loop = asyncio.get_running_loop()
    samples = 0

    async def send(units: list[int], value: float) -> list[float]:
        nonlocal samples
        futures = []
        for i in units:
            fut: asyncio.Future[float] = loop.create_future()
            recorder.waiting[f"bench/u{i}/y"] = fut
            futures.append(fut)
        now = time.time()
        batch = [Sample(f"bench/u{i}/x", now, value) for i in units]
        start = time.perf_counter()
        bus.publish(batch)
        samples += len(batch)
        done = await asyncio.wait_for(asyncio.gather(*futures), 30)
        await engine.idle()  # read-backs and records finish before the next round
        return [(t - start) * 1000 for t in done]

    single: list[float] = []
    for r in range(singles):
        single += await send([r * 7 % PROGRAMS], 20.0 + (r % 50) * 0.5 + (r // 50) * 0.01)
    bursty: list[float] = []
    for r in range(bursts):
        units = [(r * burst + k) % PROGRAMS for k in range(burst)]
        bursty += await send(units, 10.0 + r * 0.25)
    errors = sum(s.errors for s in engine.status().values())
    loaded = len(engine.loaded())
    await assembly.stop()
    state.dispose()
    tmp.cleanup()
    return [
        ("control.programs_loaded", loaded, "1"),
        ("control.samples", samples, "1"),
        ("control.latency_p50_ms", round(statistics.median(single), 3), "ms"),
        ("control.latency_p99_ms", round(_p(single, 0.99), 3), "ms"),
        ("control.burst_latency_p99_ms", round(_p(bursty, 0.99), 3), "ms"),
        ("control.load_ms_per_program", round(load_s * 1000 / PROGRAMS, 3), "ms"),
        ("control.errors", errors, "1"),
    ]


def run(quick: bool = False) -> Iterator[Figure]:
    """Figures: programs loaded, samples, single-sample latency p50/p99, burst p99, load time."""
    singles, bursts = (300, 5) if quick else (3000, 30)
    yield from asyncio.run(_bench(singles, bursts, 100))
