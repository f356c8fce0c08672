"""``pg``: the PostgreSQL history store alone: binary COPY writes, storage, a year of rollups.

It starts a throw-away PostgreSQL 15 of its own (``initdb`` from
``OPENBMS_PG_BIN``, default ``/usr/lib/postgresql/15/bin``; default settings,
fsync on) on a free loopback port, or uses the server of
``OPENBMS_BENCH_PG_URL`` (``postgresql://USER@HOST:PORT/DB``), in which it
creates a database of its own for each run and drops it afterwards.

- ``pg.copy_samples_per_s``: 10 000 points, one sample each per round,
  ingested straight into the store (no bus), paced by its backlog as in
  ``ingest``; the clock stops when the last sample is committed. Median of
  three runs (one with ``--quick``).
- ``pg.bytes_per_sample_raw`` and ``pg.bytes_per_sample_compacted``: a year
  of one-minute samples of two points (1 051 200 samples: a zone temperature
  read to 0.01 °C, a slowly varying day/night cycle with noise, and a
  meter's kW as a BACnet REAL, float32, with noise), its storage (heap,
  TOAST, indexes: ``pg_total_relation_size``) over the samples, before and
  after compacting every week.
- ``pg.rollup_year_ms``: hourly rollups of the meter over that year (8 760
  buckets), median of 20 queries through the public API.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from openbms.bench import Figure
from openbms.historian import open_historian
from openbms.model.sample import OK, Sample
from openbms.runtime.clock import WallClock

POINTS = 10_000
YEAR = 365 * 86400
MINUTE = 60


def _as_postgres(args: list[str]) -> None:
    cmd = args if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _server() -> Iterator[str]:
    """A PostgreSQL server's URL: the one OPENBMS_BENCH_PG_URL names, or a throw-away one."""
    given = os.environ.get("OPENBMS_BENCH_PG_URL")
    if given:
        yield given
        return
    bin_dir = Path(os.environ.get("OPENBMS_PG_BIN", "/usr/lib/postgresql/15/bin"))
    if not (bin_dir / "initdb").exists():
        raise RuntimeError(f"no initdb in {bin_dir}: install postgresql-15, set OPENBMS_PG_BIN, "
                           "or give a server as OPENBMS_BENCH_PG_URL")
    base = Path(tempfile.mkdtemp(prefix="openbms-bench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, port, started = base / "data", _free_port(), False
    try:
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--locale=C.UTF-8"])
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses='127.0.0.1'\nport={port}\nunix_socket_directories='{base}'\n")
        _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"),
                      "-w", "-t", "60", "start"])
        started = True
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def _database(server: str) -> Iterator[str]:
    """A new database on ``server`` for one run, dropped afterwards."""
    import psycopg

    name = f"openbms_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _bytes_per_sample(url: str, table: str, count: str) -> float:
    """Bytes of ``table``'s partitions (with TOAST and indexes) over the samples ``count`` says."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"SELECT sum(pg_total_relation_size(i.inhrelid)), ({count}) "
            f"FROM pg_inherits i WHERE i.inhparent = '{table}'::regclass").fetchone()
    size, rows = row if row is not None else (0, 0)
    return float(size or 0) / max(1, int(rows or 0))


def _year_of_minutes(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A year of one-minute values of a zone temperature and a meter, as sensors give them."""
    minutes = np.arange(365 * 1440)
    day = np.sin((minutes % 1440) / 1440 * 2 * math.pi - math.pi / 2)  # coldest at midnight
    season = np.sin(minutes / (365 * 1440) * 2 * math.pi)
    temp = np.round(21.0 + 1.5 * day + 0.5 * season + rng.normal(0, 0.05, len(minutes)), 2)
    occupied = ((minutes % 1440) >= 7 * 60) & ((minutes % 1440) < 19 * 60)
    kw = (40.0 + 25.0 * occupied + 5.0 * season + rng.normal(0, 1.5, len(minutes))).astype(np.float32)
    return {"bench/zone-1/temp": temp, "bench/meter/kw": kw.astype(np.float64)}


async def _copy(url: str, rounds: int) -> tuple[float, int]:
    ids = [f"bench/equip-{i // 20}/pt-{i % 20}" for i in range(POINTS)]
    historian = open_historian(url, clock=WallClock(), rollup_interval=3600.0)
    await historian.start()
    start_ts = time.time() - rounds
    t0 = time.perf_counter()
    for r in range(rounds):
        ts = start_ts + r
        base = r * 0.01
        historian.ingest([Sample(p, ts, base + i, OK) for i, p in enumerate(ids)])
        await asyncio.sleep(0)
        await historian.wait_backlog(200_000)
    await historian.flush()
    elapsed = time.perf_counter() - t0
    stored = historian.stats().stored
    await historian.stop()
    return elapsed, stored


async def _year(url: str) -> tuple[float, float, float]:
    """A year of two points: bytes a sample raw and compacted, the year's rollup query (ms)."""
    from openbms.historian.postgres import PostgresHistorian

    historian = open_historian(url, clock=WallClock())
    await historian.start()
    if not isinstance(historian, PostgresHistorian):  # pragma: no cover - the URL says it is
        raise TypeError("not a PostgreSQL historian")
    end = float(int(time.time() // 86400) * 86400)
    start = end - YEAR
    series = _year_of_minutes(np.random.default_rng(19))
    for day in range(365):
        t = start + day * 86400
        times = (t + np.arange(1440) * MINUTE).tolist()
        for point, values in series.items():
            historian.ingest([Sample(point, ts, v, OK) for ts, v in
                              zip(times, values[day * 1440:(day + 1) * 1440].tolist(), strict=True)])
        await historian.wait_backlog(100_000)
    await historian.refresh_rollups()
    raw = _bytes_per_sample(url, "samples", "SELECT count(*) FROM samples")
    await historian.compact(math.inf)
    compacted = _bytes_per_sample(url, "packed", "SELECT sum(n) FROM packed")
    point = "bench/meter/kw"
    await historian.rollups(point, "hour", start, end)  # warm
    took = []
    for _ in range(20):
        t0 = time.perf_counter()
        rollups = await historian.rollups(point, "hour", start, end)
        took.append((time.perf_counter() - t0) * 1000)
    assert len(rollups) == 365 * 24
    await historian.stop()
    return raw, compacted, statistics.median(took)


def run(quick: bool = False) -> Iterator[Figure]:
    """Figures: pg.copy_samples_per_s, pg.bytes_per_sample_raw, pg.bytes_per_sample_compacted,
    pg.rollup_year_ms."""
    rounds, runs = (60, 1) if quick else (300, 3)
    rates = []
    with _server() as server:
        for _ in range(runs):
            with _database(server) as url:
                elapsed, stored = asyncio.run(_copy(url, rounds))
                rates.append(stored / elapsed)
        with _database(server) as url:
            raw, compacted, rollup_ms = asyncio.run(_year(url))
    yield "pg.copy_samples_per_s", round(statistics.median(rates)), "1/s"
    yield "pg.bytes_per_sample_raw", round(raw, 1), "B"
    yield "pg.bytes_per_sample_compacted", round(compacted, 2), "B"
    yield "pg.rollup_year_ms", round(rollup_ms, 2), "ms"
