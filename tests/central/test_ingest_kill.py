"""An ingest worker ``kill -9``ed after it received the edges' samples and before it wrote them loses
none: it acknowledges a message (PUBACK) only once the history committed its samples, so the broker
sends them again to the worker restarted under the same client id (its session kept); a real
Mosquitto, a real PostgreSQL, the worker in its own process.

Not to another worker of the group: MQTT v5 (4.8.2) has a shared subscription's message that a
session did not acknowledge go back to that session only, and Mosquitto 2.0 does so (tried with the
killed worker's session kept and not: the other worker got none of them)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from openbms.central import IngestWorker
from openbms.drivers.mqtt.ingest import SharedSubscriber
from tests.central.test_ingest import T0, counts, publish
from tests.fixtures.services import MosquittoBroker
from tests.historian.conftest import fresh_postgres_database
from tests.integration.mqtt_helpers import until

ROUNDS, POINTS = 20, 10

# The worker process: it takes samples and never writes them (an hour's flush interval), and says
# how many it has taken. The test kills it with SIGKILL: nothing it took is written.
_CHILD = """
import asyncio, sys
from openbms.central import IngestWorker
from openbms.drivers.mqtt.ingest import SharedSubscriber

port, url, client_id, expiry = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])

def connect(filters, handler):
    return SharedSubscriber({"host": "127.0.0.1", "port": port, "timeout": 5}, filters, handler,
                            client_id=client_id, session_expiry=expiry)

async def main():
    worker = IngestWorker(url, connect, flush_interval=3600.0, flush_count=10**9)
    await worker.start()
    print("started", flush=True)
    seen = -1
    while True:
        taken = worker.ingest.samples
        if taken != seen:
            seen = taken
            print("taken", taken, worker.health()["history"]["stored"], flush=True)
        await asyncio.sleep(0.02)

asyncio.run(main())
"""


class Child:
    """The worker process and the last count of samples it said it has taken."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.taken = 0
        self.stored = 0
        self.lines: list[str] = []

    @classmethod
    async def start(cls, broker: MosquittoBroker, url: str, client_id: str, expiry: int) -> Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _CHILD, str(broker.port), url, client_id, str(expiry),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        child = cls(proc)
        await child.until(lambda: "started" in child.lines, "the worker process started")
        return child

    async def _read_line(self) -> None:
        assert self.proc.stdout is not None
        raw = await self.proc.stdout.readline()
        if not raw:
            raise AssertionError("the worker process ended: " + "".join(self.lines[-20:]))
        line = raw.decode().strip()
        self.lines.append(line)
        if line.startswith("taken "):
            self.taken, self.stored = (int(x) for x in line.split()[1:3])

    async def until(self, condition: Any, what: str, within: float = 60.0) -> None:
        async def read() -> None:
            while not condition():
                await self._read_line()
        try:
            await asyncio.wait_for(read(), within)
        except TimeoutError:
            raise AssertionError(f"not within {within:g} s: {what}; it said "
                                 + " | ".join(self.lines[-10:])) from None

    async def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()


def batch(r: int) -> bytes:
    return orjson.dumps({"site": "a", "device": "d", "samples": [
        {"point": f"a/e/p{p}", "value": float(r), "status": "ok", "time": T0 + r}
        for p in range(POINTS)]})


def connect_as(broker: MosquittoBroker, client_id: str, expiry: int) -> Any:
    def connect(filters: Sequence[str], handler: Any) -> SharedSubscriber:
        return SharedSubscriber({"host": broker.host, "port": broker.port, "timeout": 5}, filters,
                                handler, client_id=client_id, session_expiry=expiry,
                                reconnect_min=0.1, reconnect_max=1.0)
    return connect


async def received_then_killed(broker: MosquittoBroker, url: str, client_id: str,
                               expiry: int) -> None:
    """The worker process takes every sample, writes none, and is killed."""
    child = await Child.start(broker, url, client_id, expiry)
    try:
        await publish(broker, *(("openbms/a/devices/d", batch(r)) for r in range(ROUNDS)))
        await child.until(lambda: child.taken == ROUNDS * POINTS, "every sample taken")
        assert child.stored == 0
    finally:
        await child.kill()
    assert counts(url) == {}  # received, not written: what a kill -9 used to lose


async def stored_by(worker: IngestWorker, url: str) -> dict[str, int]:
    assert worker.ingest is not None and worker.historian is not None
    ingest, history = worker.ingest, worker.historian
    await until(lambda: ingest.newest.get("a") == T0 + ROUNDS - 1, within=30,
                what="the killed worker's samples sent again")
    await history.flush()
    return counts(url)


async def test_a_worker_killed_before_writing_loses_nothing_when_it_restarts(mosquitto,
                                                                            postgres_url):
    url = fresh_postgres_database(postgres_url)
    await received_then_killed(mosquitto, url, "central-kill", expiry=300)
    # the worker restarted under its client id: its session kept what it had not acknowledged
    again = IngestWorker(url, connect_as(mosquitto, "central-kill", 300), flush_interval=0.05)
    await again.start()
    try:
        got = await stored_by(again, url)
    finally:
        await again.stop()
    assert got == {f"a/e/p{p}": ROUNDS for p in range(POINTS)}
