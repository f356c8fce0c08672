"""The alarm history at the centre pages exactly: every change of a site is shown once, in
order, however many share one time, on a real PostgreSQL (the centre's ``central_events``) and
through the real API (``GET /sites/{site}/alarms/history``, one change a page).

The number that breaks ties between changes of one time was ``hashtext(key)``: two changes
whose keys hash alike (a 32-bit hash: expected among some 77 000 keys) had the same position, and
the cursor after one of them skipped the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from openbms.api.server import serve
from openbms.central.decode import Event, SiteDocument
from openbms.central.server import CentralServer
from openbms.central.store import CentralStore
from openbms.db.accounts import create_user
from openbms.drivers.mqtt.bridge import site_document
from tests.api.live import password_hash
from tests.central.test_ingest import edge_site
from tests.central.test_server import PASSWORD, connect_for, signed_in
from tests.historian.conftest import fresh_postgres_database

T0 = 1_765_000_000.0

#: Two alarm changes whose keys ``hashtext`` maps to one number (873271983 on PostgreSQL 15):
#: found by hashing 'a1' ... 'a400000' in PostgreSQL. The old keyset skipped one of them.
COLLIDING = ("a29482", "a273736")

#: The table as deployments created it before it had a number of its own for each change.
_OLD_TABLE = """CREATE TABLE central_events (
    site text NOT NULL, kind text NOT NULL, key text NOT NULL, ts float8,
    received float8 NOT NULL, body jsonb NOT NULL, PRIMARY KEY (site, kind, key))"""


def _change(alarm: str, ts: float, action: str = "raise") -> Event:
    """An alarm change as the ingest keeps it (its key as ``decode`` makes it)."""
    body = {"alarm_id": alarm, "rule_id": alarm, "point": "hq/ahu-1/sat", "ts": ts,
            "action": action, "from_state": "normal", "to_state": "active-unacked",
            "value": 31.0, "message": "hot", "priority": 20}
    return Event("hq", "alarm", f"{alarm}:{action}@{ts!r}", ts, body)


def _changes() -> list[Event]:
    """30 changes at one time (the colliding pair among them), 3 before it, 2 after it."""
    same = [_change(a, T0) for a in COLLIDING] + [_change(f"b{i}", T0) for i in range(28)]
    return [_change(f"early{i}", T0 - 10 - i) for i in range(3)] + same + [
        _change(f"late{i}", T0 + 5 + i) for i in range(2)]


async def test_changes_of_one_time_page_one_at_a_time_each_once_also_in_a_table_made_before(
        postgres_url):
    url = fresh_postgres_database(postgres_url)
    changes = _changes()
    with psycopg.connect(url, autocommit=True) as conn:  # a deployment's table, with changes kept
        conn.execute(_OLD_TABLE)
        for e in changes[:10]:
            conn.execute("INSERT INTO central_events (site, kind, key, ts, received, body) "
                         "VALUES (%s, %s, %s, %s, %s, %s)",
                         (e.site, e.kind, e.key, e.ts, T0, Jsonb(e.body)))
    first = CentralStore(url)
    await first.start()  # the number is added in place, and given to the changes kept
    await first.stop()
    store = CentralStore(url)
    await store.start()  # a second start (another worker) finds it there
    try:
        await store.put_events(changes[10:], T0 + 20)
        seen: list[str] = []
        after: tuple[float, int] | None = None
        for _ in range(len(changes) + 5):
            rows = await store.alarm_history("hq", after=after, limit=1)
            if not rows:
                break
            ((n, ts, body),) = rows
            seen.append(body["alarm_id"])
            after = (ts, n)
        whole = await store.alarm_history("hq", limit=1000)
    finally:
        await store.stop()
    assert sorted(seen) == sorted(e.body["alarm_id"] for e in changes)  # each once, none skipped
    assert seen == [body["alarm_id"] for _n, _ts, body in whole]  # pages in the one order
    assert [ts for _n, ts, _b in whole] == sorted((e.ts for e in changes if e.ts), reverse=True)
    assert len({n for n, _ts, _b in whole}) == len(changes)  # a number of its own each


async def test_the_centres_api_pages_alarm_changes_of_one_time_one_a_page_each_once(
        mosquitto, postgres_url, tmp_path: Path):
    url = fresh_postgres_database(postgres_url)
    changes = _changes()
    store = CentralStore(url)
    await store.start()
    try:
        site = edge_site("hq", mosquitto.port)
        digest, _payload = site_document(site, T0)
        await store.put_site(SiteDocument("hq", digest, T0, site.model_dump(
            mode="json", exclude_defaults=True)), T0)
        await store.put_events(changes, T0)
    finally:
        await store.stop()
    server = CentralServer(url, connect_for(mosquitto), tmp_path / "central", api=("127.0.0.1", 0),
                           api_front=serve, historian_options={"flush_interval": 0.05},
                           refresh_every=3600)
    await server.start()
    try:
        runtime = server.runtime
        assert runtime is not None and runtime.api is not None and runtime.state is not None
        create_user(runtime.state, "view@example.com", password_hash(PASSWORD),
                    grants={"hq": "viewer"})
        pages: list[dict[str, Any]] = []
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
            view = await signed_in(client, "view@example.com")
            params: dict[str, Any] = {"limit": 1}
            for _ in range(len(changes) + 5):
                r = await client.get("/api/v1/sites/hq/alarms/history", headers=view, params=params)
                assert r.status_code == 200, r.text
                pages.append(r.json())
                if pages[-1]["next_cursor"] is None:
                    break
                params = {"limit": 1, "cursor": pages[-1]["next_cursor"]}
            whole = (await client.get("/api/v1/sites/hq/alarms/history", headers=view,
                                      params={"limit": 1000})).json()
    finally:
        await server.stop()
    shown = [item for p in pages for item in p["items"]]
    assert all(len(p["items"]) == 1 for p in pages)
    assert sorted(i["alarm_id"] for i in shown) == sorted(e.body["alarm_id"] for e in changes)
    assert [i["alarm_id"] for i in shown] == [i["alarm_id"] for i in whole["items"]]
    assert all(isinstance(i["id"], int) for i in shown)
    assert len({i["id"] for i in shown}) == len(changes)  # the dashboard's key: one each
