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
- ``pg.bytes_per_sample``: the samples partitions' size (heap, primary key,
  BRIN) over the samples they hold, after that run.
- ``pg.rollup_year_ms``: hourly rollups of one point over a year of one-minute
  samples (525 600, 8 760 buckets), median of 20 queries through the public API.
"""

from __future__ import annotations

import asyncio
import contextlib
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


def _bytes_per_sample(url: str) -> float:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT sum(pg_total_relation_size(i.inhrelid)), (SELECT count(*) FROM samples) "
            "FROM pg_inherits i WHERE i.inhparent = 'samples'::regclass").fetchone()
    size, rows = row if row is not None else (0, 0)
    return float(size or 0) / max(1, int(rows or 0))


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


async def _rollup_year(url: str) -> float:
    historian = open_historian(url, clock=WallClock())
    await historian.start()
    end = float(int(time.time() // 86400) * 86400)
    start = end - YEAR
    point = "bench/meter/kw"
    for day in range(365):
        t = start + day * 86400
        historian.ingest([Sample(point, t + m * MINUTE, 50.0 + (m % 60), OK) for m in range(1440)])
        await historian.wait_backlog(100_000)
    await historian.refresh_rollups()
    await historian.rollups(point, "hour", start, end)  # warm
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        series = await historian.rollups(point, "hour", start, end)
        times.append((time.perf_counter() - t0) * 1000)
    assert len(series) == 365 * 24
    await historian.stop()
    return statistics.median(times)


def run(quick: bool = False) -> Iterator[Figure]:
    """Figures: pg.copy_samples_per_s, pg.bytes_per_sample, pg.rollup_year_ms."""
    rounds, runs = (60, 1) if quick else (300, 3)
    rates = []
    per_sample = 0.0
    with _server() as server:
        for _ in range(runs):
            with _database(server) as url:
                elapsed, stored = asyncio.run(_copy(url, rounds))
                rates.append(stored / elapsed)
                per_sample = _bytes_per_sample(url)
        with _database(server) as url:
            rollup_ms = asyncio.run(_rollup_year(url))
    yield "pg.copy_samples_per_s", round(statistics.median(rates)), "1/s"
    yield "pg.bytes_per_sample", round(per_sample, 1), "B"
    yield "pg.rollup_year_ms", round(rollup_ms, 2), "ms"
