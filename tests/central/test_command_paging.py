"""The centre's command list (``GET /api/v1/sites/{site}/commands`` at ``openbms central serve``)
pages in PostgreSQL: every command of a site is listed exactly once, newest first by (created_at,
id), however many there are, however many share one time, with a status or a point filter. On a
real PostgreSQL and through the real API, with the rows written straight into the centre's tables
(``central_commands``: the queue; ``central_events``: the edge's command changes).

Before, each page read the newest 10 000 of each source and paged them in memory: a site with
more than 10 000 commands could never list its older ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

from openbms.api.server import serve
from openbms.central.commands import CommandQueue
from openbms.central.decode import SiteDocument
from openbms.central.remote import CentralCommands
from openbms.central.server import CentralServer
from openbms.central.store import CentralStore
from openbms.db.accounts import create_user
from openbms.drivers.mqtt.bridge import site_document
from openbms.runtime.clock import ManualClock
from tests.api.live import password_hash
from tests.central.test_ingest import edge_site
from tests.central.test_server import PASSWORD, connect_for, signed_in
from tests.fixtures.services import MosquittoBroker
from tests.historian.conftest import fresh_postgres_database

T0 = 1_765_000_000.0
SAT, FAN = "hq/ahu-1/sat", "hq/ahu-1/fan"

#: 10 050 commands queued at the centre, 7 a second (ties), a third of them of FAN; i % 5: 0
#: queued (pending), 1 expired, else answered by the edge with its command ``e-copy-i`` (whose
#: changes the edge sent too: hidden from the list, the centre's command shows them).
_QUEUE = """
INSERT INTO central_commands (site, point, value, release, priority, reason, requested_by,
                              created, expires, status, answer, updated)
SELECT 'hq', CASE WHEN i %% 3 = 0 THEN %(fan)s ELSE %(sat)s END, to_jsonb(i), false, 12, 'r', 'c',
       %(t0)s + i / 7, %(t0)s + i / 7 + 600,
       CASE i %% 5 WHEN 0 THEN 'queued' WHEN 1 THEN 'expired' ELSE 'answered' END,
       CASE WHEN i %% 5 > 1 THEN jsonb_build_object('ok', true, 'result', jsonb_build_object(
           'command', jsonb_build_object('id', 'e-copy-' || i, 'status', 'executing'))) END,
       %(t0)s + i / 7
FROM generate_series(1, %(n)s) AS i ORDER BY i
"""
#: The edge's own 10 050 commands, 5 a second at the queue's times (ties across the two), two
#: changes each (pending, then completed, or failed when i %% 4 = 0), and a third change at the
#: first one's time for i %% 6 = 0; and the changes of the commands the edge made of the queue's.
_EDGE = """
INSERT INTO central_events (site, kind, key, ts, received, body)
SELECT 'hq', 'command', c.id || ':' || s.status, c.t + s.after, %(t0)s,
       jsonb_build_object('id', c.id, 'point', c.point, 'value', 1, 'priority', 8,
                          'status', s.status, 'source', 'operator', 'updated_at', c.t + s.after)
FROM (SELECT 'edge-' || i AS id, CASE WHEN i %% 3 = 1 THEN %(fan)s ELSE %(sat)s END AS point,
             %(t0)s + i / 5 AS t, i %% 4 = 0 AS failed, i %% 6 = 0 AS third
      FROM generate_series(1, %(n)s) AS i) AS c
CROSS JOIN LATERAL (VALUES ('pending', 0.0), (CASE WHEN c.failed THEN 'failed' ELSE 'completed' END, 0.5),
                           (CASE WHEN c.third THEN 'executing' END, 0.0)) AS s (status, after)
WHERE s.status IS NOT NULL
UNION ALL
SELECT 'hq', 'command', 'e-copy-' || i || ':' || s.status, %(t0)s + i / 7 + s.after, %(t0)s,
       jsonb_build_object('id', 'e-copy-' || i, 'point', CASE WHEN i %% 3 = 0 THEN %(fan)s ELSE %(sat)s END,
                          'value', i, 'priority', 12, 'status', s.status, 'source', 'api',
                          'updated_at', %(t0)s + i / 7 + s.after)
FROM generate_series(1, %(n)s) AS i
CROSS JOIN (VALUES ('pending', 0.1), ('completed', 0.2)) AS s (status, after)
WHERE i %% 5 > 1
"""


def _expected(n: int) -> list[dict[str, Any]]:
    """Every command the list shows, as (created_at, id, point, status), in the list's order."""
    out = []
    for i in range(1, n + 1):
        status = {0: "pending", 1: "expired"}.get(i % 5, "completed")
        out.append({"created_at": T0 + i // 7, "id": f"central-{i}",
                    "point": FAN if i % 3 == 0 else SAT, "status": status})
        out.append({"created_at": T0 + i // 5, "id": f"edge-{i}",
                    "point": FAN if i % 3 == 1 else SAT,
                    "status": "failed" if i % 4 == 0 else "completed"})
    out.sort(key=lambda c: (c["created_at"], c["id"]), reverse=True)
    return out


async def _filled(postgres_url: str, n: int) -> str:
    """A database with the centre's tables, site ``hq`` served, and ``n`` commands of each source."""
    url = fresh_postgres_database(postgres_url)
    queue = CommandQueue(url)
    await queue.create()
    store = CentralStore(url)
    await store.start()
    try:
        site = edge_site("hq", 1883)
        digest, _payload = site_document(site, T0)
        await store.put_site(SiteDocument("hq", digest, T0, site.model_dump(
            mode="json", exclude_defaults=True)), T0)
    finally:
        await store.stop()
    with psycopg.connect(url, autocommit=True) as conn:
        args = {"t0": T0, "n": n, "sat": SAT, "fan": FAN}
        conn.execute(_QUEUE, args)
        conn.execute(_EDGE, args)
        conn.execute("ANALYZE")
    return url


@asynccontextmanager
async def _api(broker: MosquittoBroker, url: str, data: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The centre's API (``openbms central serve``), signed in as a viewer of ``hq``."""
    server = CentralServer(url, connect_for(broker), data, api=("127.0.0.1", 0), api_front=serve,
                           historian_options={"flush_interval": 0.05}, refresh_every=3600)
    await server.start()
    try:
        runtime = server.runtime
        assert runtime is not None and runtime.api is not None and runtime.state is not None
        create_user(runtime.state, "view@example.com", password_hash(PASSWORD),
                    grants={"hq": "viewer"})
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=60) as client:
            client.headers.update(await signed_in(client, "view@example.com"))
            yield client
    finally:
        await server.stop()


async def _all_pages(client: httpx.AsyncClient, limit: int, **params: Any) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    query: dict[str, Any] = {"limit": limit, **params}
    for _ in range(100_000):
        r = await client.get("/api/v1/sites/hq/commands", params=query)
        assert r.status_code == 200, r.text
        pages.append(r.json()["items"])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return pages
        query = {**query, "cursor": cursor}
    raise AssertionError("the cursor never ended")


def _shown(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{k: c[k] for k in ("created_at", "id", "point", "status")} for p in pages for c in p]


N = 10_050


async def test_every_command_of_more_than_10000_is_listed_once_in_order_100_a_page(
        mosquitto, postgres_url, tmp_path: Path):
    url = await _filled(postgres_url, N)
    async with _api(mosquitto, url, tmp_path / "central") as client:
        pages = await _all_pages(client, 100)
        one = (await client.get("/api/v1/sites/hq/commands/central-7")).json()
    expected = _expected(N)
    assert len(expected) == 2 * N  # the edge's copies of the centre's commands are not listed
    shown = _shown(pages)
    assert [c["id"] for c in shown] == [c["id"] for c in expected]  # each once, in order
    assert shown == expected
    assert all(len(p) == 100 for p in pages[:-1]) and len(pages) == len(expected) // 100
    # the centre's answered command shows the changes of the edge's copy, which is hidden
    assert one["status"] == "completed" and [c["status"] for c in one["changes"]] == [
        "pending", "completed"]


async def test_a_status_filter_pages_across_batches_and_a_point_filter_pages_too(
        mosquitto, postgres_url, tmp_path: Path):
    url = await _filled(postgres_url, N)
    async with _api(mosquitto, url, tmp_path / "central") as client:
        failed = _shown(await _all_pages(client, 100, status="failed"))
        pending = _shown(await _all_pages(client, 50, status="pending"))
        fans = _shown(await _all_pages(client, 100, point=FAN))
        fan_expired = _shown(await _all_pages(client, 100, point=FAN, status="expired"))
        none = await _all_pages(client, 100, status="superseded")
    expected = _expected(N)
    assert failed == [c for c in expected if c["status"] == "failed"]
    assert len(failed) == N // 4
    assert pending == [c for c in expected if c["status"] == "pending"]
    assert fans == [c for c in expected if c["point"] == FAN]
    assert fan_expired == [c for c in expected if c["point"] == FAN and c["status"] == "expired"]
    assert fan_expired and len(fans) > 100
    assert none == [[]]


async def test_commands_of_one_time_page_one_at_a_time_across_both_sources(postgres_url):
    url = await _filled(postgres_url, 70)
    queue = CommandQueue(url)
    store = CentralStore(url)
    await store.start()
    try:
        commands = CentralCommands(queue, store, ManualClock(T0))
        central: list[tuple[float, str]] = []
        edge: list[tuple[float, str]] = []
        for listed, read in ((central, commands.remote_commands), (edge, commands.edge_commands)):
            after: tuple[float, str] | None = None
            while True:
                found = await read("hq", after=after, limit=1)  # type: ignore[operator]
                if not found:
                    break
                after = (found[0].created_at, found[0].id)
                listed.append(after)
        whole_edge = await commands.edge_commands("hq")
    finally:
        await store.stop()
    expected = [(c["created_at"], c["id"]) for c in _expected(70)]
    assert central == [k for k in expected if k[1].startswith("central-")]
    assert edge == [k for k in expected if k[1].startswith("edge-")]
    # central-10 sorts before central-9 as Python compares str, as the API's cursor does
    assert central.index((T0 + 1, "central-9")) < central.index((T0 + 1, "central-10"))
    # a command's changes, oldest first, the third change at its first one's time included
    sixth = next(c for c in whole_edge if c.id == "edge-6")
    assert [c["status"] for c in sixth.changes][-1] == "completed" and len(sixth.changes) == 3
