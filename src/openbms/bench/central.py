"""``central``: the central role end to end: edges' batches through Mosquitto into PostgreSQL.

Simulated edges (one MQTT client in this process) publish per-device JSON
batches, as the edges' bridges do (``{prefix}/{site}/devices/{device}``, QoS 1),
through a throw-away Mosquitto to ``openbms central run`` processes (one, then
two, sharing the load through a shared subscription) writing into a throw-away
PostgreSQL 15 (``bench/pg.py``'s, or the server of ``OPENBMS_BENCH_PG_URL``), a
new database for each run::

    publisher ─▶ Mosquitto ─▶ $share/GROUP/… ─▶ openbms central run × N ─▶ PostgreSQL
                                                                              ▲
    each worker's status line (every 0.1 s) says how many it has stored ─────┘

- ``central.ingest_samples_per_s``: SITES × DEVICES × POINTS samples a round,
  ROUNDS rounds published as fast as the broker takes them; samples stored over
  the time from the first publish to the last sample stored, one worker. The
  batches are encoded before the clock starts (edges encode on their own
  machines); publishing them is timed.
- ``central.ingest_two_workers_samples_per_s``: the same with two workers.
- ``central.lag_p99_s``: with one worker, rounds paced at half the rate it
  stored: a round's lag is from its last publish to the moment the stored count
  includes it; the 99th percentile of the rounds'. (A stored sample's message is
  acknowledged to the broker only after its commit: the figure includes that.)

Every process shares this machine's cores (the broker, PostgreSQL, the workers
and the publisher): the figures are the machine's, not one part's.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from openbms.bench import Figure
from openbms.bench.broker import HoldingBroker
from openbms.bench.child import Child
from openbms.bench.pg import _database, _server
from openbms.sim.mosquitto import free_port

__all__ = ["run"]


class _Shape:
    """How many samples a round: sites × devices × points, and how many rounds."""

    def __init__(self, sites: int, devices: int, points: int, rounds: int, paced: int) -> None:
        self.sites, self.devices, self.points = sites, devices, points
        self.rounds, self.paced = rounds, paced

    @property
    def per_round(self) -> int:
        return self.sites * self.devices * self.points


def _batches(shape: _Shape, ts: float, value: float, prefix: str) -> list[tuple[str, bytes]]:
    """One round: a per-device batch of every device of every site, each point's sample at ``ts``."""
    out = []
    for s in range(shape.sites):
        site = f"s{s:05d}"
        for d in range(shape.devices):
            samples = [{"point": f"{site}/dev-{d}/p{p}", "value": value + p, "status": "ok",
                        "time": ts} for p in range(shape.points)]
            out.append((f"{prefix}/{site}/devices/dev-{d}",
                        orjson.dumps({"site": site, "device": f"dev-{d}", "samples": samples})))
    return out


class _Worker(Child):
    """An ``openbms central run`` whose status lines (every ``STATUS_EVERY`` s) say how many
    samples it has stored: counted without a query that would compete with it."""

    stored = 0

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if len(self.lines) < 200:
                self.lines.append(line)
            found = _STORED.search(line)
            if found:
                self.stored = int(found.group(1).replace(",", ""))


_STORED = re.compile(r"([\d,]+) stored")
STATUS_EVERY = 0.1


async def _until_stored(workers: list[_Worker], total: int, deadline: float) -> float:
    """The monotonic time at which the workers have stored ``total`` samples (their status lines)."""
    while True:
        if sum(w.stored for w in workers) >= total:
            return time.monotonic()
        if time.monotonic() > deadline or any(w.proc.poll() is not None for w in workers):
            raise RuntimeError(f"the central stored fewer than {total} samples in time: "
                               + "".join(line for w in workers for line in w.lines[-10:]))
        await asyncio.sleep(STATUS_EVERY / 2)


async def _publish(client: object, batches: list[tuple[str, bytes]]) -> None:
    for topic, payload in batches:
        await client.publish(topic, payload, qos=1)  # type: ignore[attr-defined]


def _workers(n: int, port: int, url: str, prefix: str) -> list[_Worker]:
    """``n`` workers of one group, on the edges of ``prefix`` (each run has its own)."""
    return [_Worker([sys.executable, "-m", "openbms.cli", "central", "run", "--broker",
                   f"127.0.0.1:{port}", "--history-url", url, "--prefix", prefix, "--group", prefix,
                   "--client-id", f"{prefix}-{i}", "--status-every", str(STATUS_EVERY)], grace=120.0)
            for i in range(n)]


async def _one_run(shape: _Shape, port: int, prefix: str, children: list[_Worker],
                   paced: bool) -> tuple[float, list[float]]:
    """Samples stored a second by ``children``, and the paced rounds' lags."""
    import aiomqtt

    deadline = time.monotonic() + 120
    for child in children:
        await child.line("openbms central: ingesting", deadline)
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"{prefix}-edges",
                              max_queued_outgoing_messages=0) as client:
        t_start = time.time() - 7200.0  # samples of the last two hours: one partition
        # warm-up: one round, stored, so that every worker is subscribed and the tables and the
        # series exist (its samples are counted out of the figures)
        await _publish(client, _batches(shape, t_start, 0.0, prefix))
        stored = shape.per_round
        await _until_stored(children, stored, time.monotonic() + 300)
        # the edges encode their batches on their own machines: encoded before the clock starts
        rounds = [_batches(shape, t_start + r, float(r), prefix) for r in range(1, shape.rounds + 1)]
        t0 = time.monotonic()
        for batches in rounds:
            await _publish(client, batches)
        del rounds
        stored += shape.rounds * shape.per_round
        t_end = await _until_stored(children, stored, time.monotonic() + 1800)
        rate = shape.rounds * shape.per_round / (t_end - t0)
        lags: list[float] = []
        if paced:
            interval = 2.0 * shape.per_round / rate  # half the rate it stored
            for r in range(shape.paced):
                batches = _batches(shape, t_start + shape.rounds + 1 + r, -1.0, prefix)
                began = time.monotonic()
                await _publish(client, batches)
                published = time.monotonic()
                stored += shape.per_round
                done = await _until_stored(children, stored, published + 600)
                lags.append(done - published)
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))
    return rate, lags


async def _both(shape: _Shape, port: int, one_url: str, two_url: str) -> tuple[float, float, list[float]]:
    """One worker, then two (all three started at once: each run has its own prefix and group)."""
    one_workers = _workers(1, port, one_url, "bench1")
    two_workers = _workers(2, port, two_url, "bench2")
    try:
        one, lags = await _one_run(shape, port, "bench1", one_workers, paced=True)
        for child in one_workers:  # its cores to the next run
            child.stop()
        two, _ = await _one_run(shape, port, "bench2", two_workers, paced=False)
    finally:
        for child in (*one_workers, *two_workers):
            child.stop()
    return one, two, lags


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0


def run(quick: bool = False) -> Iterator[Figure]:
    """Figures: central.ingest_samples_per_s, central.ingest_two_workers_samples_per_s,
    central.lag_p99_s."""
    shape = _Shape(2, 5, 100, 3, 2) if quick else _Shape(20, 10, 500, 10, 10)
    folder = Path(tempfile.mkdtemp(prefix="openbms-bench-central-"))
    broker = HoldingBroker(folder, free_port())
    try:
        with _server() as server, broker, _database(server) as one_url, \
                _database(server) as two_url:
            one, two, lags = asyncio.run(_both(shape, broker.port, one_url, two_url))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    yield "central.ingest_samples_per_s", round(one), "1/s"
    yield "central.ingest_two_workers_samples_per_s", round(two), "1/s"
    yield "central.lag_p99_s", round(_p99(lags), 3), "s"
