"""``query``: last values of 10 000 points, a raw day of one point, a year of hourly rollups.

The store holds 10 000 points with a latest value, and one point with a
year of one-minute samples (525 600). Each figure is the median of repeated
queries through the historian's public async API.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from openbms.bench import Figure
from openbms.historian import open_historian
from openbms.model.sample import OK, Sample

POINTS = 10_000
YEAR = 365 * 86400
MINUTE = 60


async def _median_ms(fn: Callable[[], Awaitable[Any]], repeat: int) -> float:
    await fn()  # warm the page cache and the statement cache
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


async def _query(path: Path, quick: bool) -> list[Figure]:
    historian = open_historian(path)
    await historian.start()
    end = float(int(time.time() // 86400) * 86400)
    start = end - YEAR
    ids = [f"bench/equip-{i // 20}/pt-{i % 20}" for i in range(POINTS)]
    historian.ingest([Sample(p, end - 30, float(i), OK) for i, p in enumerate(ids)])
    trend = "bench/ahu-1/sat"
    n = YEAR // MINUTE
    for k in range(0, n, 50_000):
        historian.ingest(
            [Sample(trend, start + i * MINUTE, 12.0 + (i % 1440) / 360, OK)
             for i in range(k, min(n, k + 50_000))]
        )
        await historian.wait_backlog(200_000)
    await historian.refresh_rollups()
    repeat = 5 if quick else 25
    day = end - 86400
    figures: list[Figure] = [
        ("query.last_values_ms", await _median_ms(historian.last_values, repeat), "ms"),
        ("query.raw_day_ms", await _median_ms(lambda: historian.raw(trend, day, end), repeat), "ms"),
        (
            "query.rollup_year_ms",
            await _median_ms(lambda: historian.rollups(trend, "hour", start, end), repeat),
            "ms",
        ),
    ]
    await historian.stop()
    return [(name, round(value, 2), unit) for name, value, unit in figures]


def run(quick: bool = False) -> Iterator[Figure]:
    """Figures: query.last_values_ms, query.raw_day_ms, query.rollup_year_ms."""
    with tempfile.TemporaryDirectory(prefix="openbms-bench-") as tmp:
        yield from asyncio.run(_query(Path(tmp) / "history.db", quick))
