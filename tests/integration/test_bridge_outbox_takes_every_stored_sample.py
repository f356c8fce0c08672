"""An edge (``Runtime``) whose broker does not answer, started and stopped: every sample its own
history keeps is in its MQTT outbox too, so the centre can get it later.

It was not so (issue 19's acceptance test, tests/central/test_acceptance.py, found it): the
drivers polled from before the bridge was made, and the bridge took the bus's samples only once
its link had waited up to ``mqtt: timeout`` for the broker; at stop the bridge stopped before the
drivers' polls (its link again waiting up to ``timeout`` + 1 s to say goodbye). What was polled
meanwhile went into the history and never to the centre.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path

import orjson

from openbms.config import load_sites
from openbms.drivers.mqtt.outbox import outbox_path
from openbms.historian import open_historian
from openbms.runtime.clock import WallClock
from openbms.service.runtime import Runtime
from tests.fixtures.waiting import eventually

SITE = """\
site: {{id: hq, name: Headquarters, timezone: UTC}}
drivers:
  sim: {{poll_interval: 0.05}}
mqtt:
  host: 127.0.0.1
  port: {port}
  timeout: 1
  bridge: {{per_point: false, per_device: true}}
equipment:
  - id: ahu-1
    type: ahu
    points:
      - {{name: sat, unit: degC, binding: "sim://ahu-1/sat?wave=sine&min=12&max=16&period=60"}}
"""


async def stored_and_queued(data: Path) -> tuple[set[float], set[float]]:
    """The times of the point's samples in the site's history, and in its outbox's batches."""
    historian = open_historian(f"sqlite:///{data / 'history.db'}", clock=WallClock())
    await historian.start()
    try:
        stored = {s.ts for s in await historian.raw("hq/ahu-1/sat", 0.0, 4e9)}
    finally:
        await historian.stop()
    with sqlite3.connect(outbox_path(data, "hq")) as db:
        payloads = [p for (p,) in db.execute(
            "SELECT payload FROM outbox WHERE topic = 'openbms/hq/devices/sim:ahu-1'")]
    return stored, {s["time"] for p in payloads for s in orjson.loads(p)["samples"]}


async def test_every_sample_the_edge_stores_is_queued_though_the_broker_never_answers(tmp_path: Path):
    # A broker that takes the TCP connection and never answers MQTT's CONNECT: the link waits out
    # its timeout at start (and at stop), while the sim point is polled every 50 ms.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        folder = tmp_path / "site"
        folder.mkdir()
        (folder / "hq.yaml").write_text(SITE.format(port=silent.getsockname()[1]))
        runtime = Runtime(load_sites(folder), tmp_path / "data")
        await runtime.start()
        try:
            await eventually(lambda: runtime.status().samples >= 5, "5 samples polled")
        finally:
            await runtime.stop()
    stored, queued = await stored_and_queued(tmp_path / "data")
    assert len(stored) >= 5  # polled while the link waited: not a vacuous run
    assert sorted(stored - queued) == []

async def test_the_polls_end_before_the_bridge_stops(tmp_path: Path):
    # A link that takes half a second to stop (as one does while its broker is away, up to its
    # timeout + 1 s): polls that came meanwhile would be stored and never queued.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        folder = tmp_path / "site"
        folder.mkdir()
        (folder / "hq.yaml").write_text(SITE.format(port=silent.getsockname()[1]))
        runtime = Runtime(load_sites(folder), tmp_path / "data")
        await runtime.start()
        try:
            link = runtime.assembly.bridges["hq"].link
            stop = link.stop

            async def slow_stop() -> None:
                await asyncio.sleep(0.5)
                await stop()

            link.stop = slow_stop  # type: ignore[method-assign]
            await eventually(lambda: runtime.status().samples >= 5, "5 samples polled")
        finally:
            await runtime.stop()
    stored, queued = await stored_and_queued(tmp_path / "data")
    assert len(stored) >= 5
    assert sorted(stored - queued) == []
