"""``ingest``: samples created as Python objects, through the bus and the historian, committed.

10 000 points, one sample each per round, rounds one second apart. The bus
feeds the historian and the current-value cache, wired by the same
``Assembly`` as in ``openbms run``. The
clock stops when the last sample is committed and merged into history.
Production is paced by the historian's backlog (as slow devices pace a real
site), so memory stays bounded and the figure is a sustained rate. The rate
varies ±15 % from run to run on the 2-core machine, so the figure is the
median of three runs; RSS is the process's after the last.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from openbms.bench import Figure
from openbms.historian import open_historian
from openbms.model.sample import OK, Sample
from openbms.runtime.clock import WallClock
from openbms.service.assembly import Assembly

POINTS = 10_000


async def _ingest(path: Path, rounds: int) -> tuple[float, int]:
    ids = [f"bench/equip-{i // 20}/pt-{i % 20}" for i in range(POINTS)]
    assembly = Assembly([], WallClock())
    historian = open_historian(path)
    await assembly.start_history(historian)  # started, and on the bus with the cache
    bus = assembly.bus
    start_ts = time.time() - rounds
    t0 = time.perf_counter()
    for r in range(rounds):
        ts = start_ts + r
        base = r * 0.01
        bus.publish([Sample(p, ts, base + i, OK) for i, p in enumerate(ids)])
        await asyncio.sleep(0)
        await historian.wait_backlog(200_000)
    await historian.flush()
    elapsed = time.perf_counter() - t0
    stored = historian.stats().stored
    await assembly.stop()
    return elapsed, stored


def run(quick: bool = False) -> Iterator[Figure]:
    """Figures: ingest.samples_per_s (median of 3 runs of 3 M samples), ingest.rss_mb (peak)."""
    rounds, runs = (60, 1) if quick else (300, 3)
    rates = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="openbms-bench-") as tmp:
            elapsed, stored = asyncio.run(_ingest(Path(tmp) / "history.db", rounds))
            rates.append(stored / elapsed)
    rss = psutil.Process().memory_info().rss / 2**20
    yield "ingest.samples_per_s", round(statistics.median(rates)), "1/s"
    yield "ingest.rss_mb", round(rss, 1), "MB"
