"""What the centre's API shows of each edge, on a real Mosquitto and PostgreSQL and a real edge
(``openbms run`` with its API, alarms, arbiter and bridge): its alarms (the latest state of each,
and the history of their changes), acknowledged at the edge only; the commands the edge made
itself beside those the centre sent, with their lifecycle; which points the edge lets write, and
a command on one (as the dashboard's dialog sends it) run by the edge's arbiter; how far behind the
centre is on the site, in the site list and in the metrics; per-site roles throughout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from openbms.api.server import serve
from openbms.central.remote import CentralView, alarm_state
from openbms.central.store import CentralStore
from openbms.central.worker import libpq_url
from openbms.config import load_sites
from openbms.db.accounts import create_api_token, create_user
from openbms.model.command import CommandSource
from openbms.model.sample import Sample
from openbms.runtime.clock import ManualClock
from openbms.service.runtime import Runtime
from tests.api.live import password_hash
from tests.central.test_api_commands import central_server
from tests.central.test_ingest import workers
from tests.central.test_server import PASSWORD, signed_in
from tests.central.test_sites import stored
from tests.historian.conftest import fresh_postgres_database
from tests.integration.mqtt_helpers import until

SITE = """\
site: {{id: hq, name: Headquarters, timezone: UTC}}
drivers:
  sim: {{poll_interval: 0.2}}
mqtt:
  host: 127.0.0.1
  port: {port}
  timeout: 5
  bridge: {{per_point: false, per_device: true, config: true}}
  commands: {{enabled: true, central_users: [central@example.com]}}
equipment:
  - id: ahu-1
    type: ahu
    points:
      - {{name: sat, unit: degC, binding: "sim://ahu-1/sat?wave=constant&value=14"}}
      - name: sat-sp
        unit: degC
        writable: true
        relinquish_default: 13
        limits: {{min: 10, max: 18}}
        binding: "sim://ahu-1/sat-sp?wave=constant&value=13"
      - {{name: zone-t, unit: degC}}
alarms:
  - {{id: hot, name: Zone too hot, type: high, point: hq/ahu-1/zone-t, limit: 26, deadband: 0.5,
     priority: 20}}
"""


async def eventually(read: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool],
                     within: float = 60.0) -> Any:
    """``read()`` until ``ok`` says its result is the one awaited (at most ``within`` s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        got = await read()
        if ok(got) or loop.time() > deadline:
            return got
        await asyncio.sleep(0.05)


async def test_the_centre_shows_each_edges_alarms_commands_writability_and_lag(
        mosquitto, postgres_url, tmp_path: Path):
    url = fresh_postgres_database(postgres_url)
    folder = tmp_path / "hq"
    folder.mkdir()
    (folder / "hq.yaml").write_text(SITE.format(port=mosquitto.port))
    edge = Runtime(load_sites(folder), tmp_path / "edge", api=("127.0.0.1", 0), api_front=serve)
    await edge.start()
    try:
        assert edge.state is not None and edge.api is not None
        central_user = create_user(edge.state, "central@example.com", "x", grants={"hq": "operator"})
        tokens = {"hq": create_api_token(edge.state, central_user["id"], "central")[0]}
        create_user(edge.state, "local@example.com", password_hash(PASSWORD), grants={"hq": "admin"})
        async with workers(mosquitto, url, n=1, name="configs"):
            await until(lambda: "hq" in stored(url), what="the edge's configuration at the centre")
        server = central_server(mosquitto, url, tmp_path / "central", tokens)
        await server.start()
        try:
            runtime = server.runtime
            assert runtime is not None and runtime.state is not None and runtime.api is not None
            assert server.worker is not None and server.worker.ingest is not None
            ingest = server.worker.ingest
            await until(lambda: ingest.is_online("hq"), within=30, what="the edge online")
            hashed = password_hash(PASSWORD)
            create_user(runtime.state, "op@example.com", hashed, grants={"hq": "operator"})
            create_user(runtime.state, "view@example.com", hashed, grants={"hq": "viewer"})
            create_user(runtime.state, "else@example.com", hashed, grants={"lab": "admin"})
            base = "/api/v1/sites/hq"
            async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
                op = await signed_in(client, "op@example.com")
                view = await signed_in(client, "view@example.com")
                other = await signed_in(client, "else@example.com")

                async def alarms(**params: Any) -> list[dict[str, Any]]:
                    r = await client.get(f"{base}/alarms", headers=view, params=params)
                    assert r.status_code == 200, r.text
                    return list(r.json()["items"])

                # 1. the edge's alarm (its zone at 30 °C, above 26), raised there, shown here
                edge.bus.publish([Sample("hq/ahu-1/zone-t", edge.clock.now(), 30.0)])
                raised = await eventually(alarms, lambda items: bool(items))
                ack_here = await client.post(f"{base}/alarms/hot/ack", headers=op, json={"note": "x"})
                bulk_here = await client.post(f"{base}/alarms/ack", headers=op, json={"ids": ["hot"]})
                note_here = await client.post(f"{base}/alarms/hot/notes", headers=op,
                                              json={"note": "from the centre"})
                engine = edge.alarm_engine("hq")
                assert engine is not None
                engine.acknowledge("hot", "local@example.com", "seen on site")
                engine.add_note("hot", "local@example.com", "a filter to change")
                acked = await eventually(alarms, lambda items: bool(items) and items[0]["state"]
                                         == "active-acked" and items[0]["notes"])
                one = (await client.get(f"{base}/alarms/hot", headers=view)).json()
                history = (await client.get(f"{base}/alarms/history", headers=view)).json()["items"]
                first = (await client.get(f"{base}/alarms/history", headers=view,
                                          params={"limit": 1})).json()
                second = (await client.get(f"{base}/alarms/history", headers=view, params={
                    "limit": 1, "cursor": first["next_cursor"]})).json()
                only_acks = (await client.get(f"{base}/alarms/history", headers=view,
                                              params={"action": "ack"})).json()["items"]
                hidden_alarms = await client.get(f"{base}/alarms", headers=other)

                # 2. writability: as the edge's configuration says; the dialog's command runs there
                listed = (await client.get(f"{base}/points", headers=view)).json()["items"]
                only_writable = (await client.get(f"{base}/points", headers=view,
                                                  params={"writable": "true"})).json()["items"]
                detail = (await client.get(f"{base}/points/ahu-1/sat-sp", headers=view)).json()
                made = await client.post(f"{base}/points/ahu-1/sat-sp/commands", headers=op, json={
                    "value": 15.5, "priority": 12, "reason": "from the dialog"})
                assert made.status_code == 201, made.text
                cid = made.json()["id"]

                async def command(cmd_id: str) -> dict[str, Any]:
                    return dict((await client.get(f"{base}/commands/{cmd_id}", headers=view)).json())

                done = await eventually(lambda: command(cid), lambda c: c["status"] == "completed"
                                        and bool(c.get("changes")))

                # 3. a command the edge made itself (its own operator), with its lifecycle
                local = await edge.commands.command(
                    "hq/ahu-1/sat-sp", 16.0, 8, source=CommandSource.OPERATOR,
                    requested_by="local@example.com", reason="on site")

                async def commands() -> list[dict[str, Any]]:
                    r = await client.get(f"{base}/commands", headers=view)
                    return list(r.json()["items"])

                both = await eventually(commands, lambda items: any(
                    c["id"] == local.id and c["status"] == "completed" for c in items))
                local_one = await command(local.id)
                hidden_commands = await client.get(f"{base}/commands/{local.id}", headers=other)

                # an edge's change that is no command or alarm (a bridge should never send one):
                # left out, and the rest still shown
                with psycopg.connect(libpq_url(url)) as conn:
                    conn.execute(
                        "INSERT INTO central_events (site, kind, key, ts, received, body) VALUES "
                        "('hq', 'command', 'odd:completed', 1, 1, %s), "
                        "('hq', 'alarm', 'odd:raise@1', 1, 1, %s)",
                        (Jsonb({"id": "odd", "point": "hq/ahu-1/sat-sp", "value": {"x": 1},
                                "status": "completed", "updated_at": 1}),
                         Jsonb({"alarm_id": "odd", "action": "raise", "ts": 1, "value": {"x": 1},
                                "from_state": "normal", "to_state": "exploded"})))
                after_odd = await client.get(f"{base}/commands", headers=view)
                odd_one = await client.get(f"{base}/commands/odd", headers=view)
                alarms_after_odd = await client.get(f"{base}/alarms", headers=view,
                                                    params={"include_normal": "true"})
                history_after_odd = await client.get(f"{base}/alarms/history", headers=view)

                # 4. lag: the newest stored sample of the site, read from PostgreSQL
                assert runtime.historian is not None
                await runtime.historian.flush()
                await server.refresh_lag()
                sites = (await client.get("/api/v1/sites", headers=view)).json()["items"]
                metrics = (await client.get("/metrics")).text
            async with httpx.AsyncClient(base_url=edge.api.url, timeout=30) as at_edge:
                local_user = await signed_in(at_edge, "local@example.com")
                edge_sites = (await at_edge.get("/api/v1/sites", headers=local_user)).json()["items"]
                edge_point = (await at_edge.get("/api/v1/sites/hq/points/ahu-1/sat-sp",
                                                headers=local_user)).json()
        finally:
            await server.stop()
    finally:
        await edge.stop()
    # the threshold, on the samples stored (nothing writes now), with clocks either side of it
    store = CentralStore(libpq_url(url))
    await store.start()
    try:
        last = (await store.newest_samples())["hq"]
        views = [CentralView(store, ManualClock(last + ahead), warn_s=300.0) for ahead in (301.0, 299.0)]
        # a newer sample this process received (its share of the shared subscription) counts too
        views.append(CentralView(store, ManualClock(last + 301.0), warn_s=300.0,
                                 received=lambda: {"hq": last + 200.0}))
        # a stored sample dated ahead of the centre's clock (an edge's clock running fast) does not
        # make the site look current: only what was received counts
        views.append(CentralView(store, ManualClock(last - 60.0), warn_s=300.0,
                                 received=lambda: {"hq": last - 500.0}))
        for threshold in views:
            threshold.serve("hq", {})
            await threshold.refresh_lag()
        far_behind, not_behind, received_later, fast_edge = (threshold.site_lag("hq") for threshold in views)
    finally:
        await store.stop()

    (alarm,) = raised
    assert (alarm["id"], alarm["name"], alarm["state"], alarm["remote"]) == (
        "hot", "Zone too hot", "active-unacked", True)
    assert alarm["priority"] == 20 and alarm["value"] == 30 and alarm["point"] == "hq/ahu-1/zone-t"
    assert alarm["active_since"] is not None and alarm["count"] == 1
    for refused in (ack_here, bulk_here, note_here):  # acknowledged at the edge only
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"] == "urn:openbms:problem:alarm-at-edge"
        assert "at the edge" in refused.json()["detail"]
    (now_acked,) = acked
    assert (now_acked["acked_by"], now_acked["state"]) == ("local@example.com", "active-acked")
    assert [n["text"] for n in now_acked["notes"]] == ["a filter to change"]
    assert now_acked["active_since"] == alarm["active_since"]
    assert one["id"] == "hot" and one["acked_by"] == "local@example.com"
    assert [h["action"] for h in history] == ["note", "ack", "raise"]  # newest first
    assert [h["action"] for h in first["items"] + second["items"]] == ["note", "ack"]
    assert first["items"][0]["id"] != second["items"][0]["id"]
    assert [h["who"] for h in only_acks] == ["local@example.com"]
    assert hidden_alarms.status_code == 404

    by_id = {p["id"]: p for p in listed}
    assert (by_id["hq/ahu-1/sat-sp"]["writable"], by_id["hq/ahu-1/sat-sp"]["remote"]) == (True, True)
    assert (by_id["hq/ahu-1/sat"]["writable"], by_id["hq/ahu-1/sat"]["remote"]) == (False, True)
    assert [p["id"] for p in only_writable] == ["hq/ahu-1/sat-sp"]
    assert detail["writable"] is True and detail["remote"] is True and detail["priority_array"] is None
    assert (done["origin"], done["delivery"], done["status"]) == ("central", "answered", "completed")
    assert done["changes"][-1]["status"] == "completed"
    assert {c["id"] for c in done["changes"]} == {done["answer"]["result"]["command"]["id"]}

    edge_made = [c for c in both if c["origin"] == "edge"]
    assert [c["id"] for c in edge_made] == [local.id]  # the centre's command is not listed twice
    assert [c["id"] for c in both if c["origin"] == "central"] == [cid]
    assert both[0]["id"] == local.id  # newest first
    assert (local_one["origin"], local_one["source"], local_one["requested_by"]) == (
        "edge", "operator", "local@example.com")
    assert (local_one["value"], local_one["priority"], local_one["status"]) == (16.0, 8, "completed")
    assert local_one["delivery"] is None and local_one["changes"][-1]["status"] == "completed"
    assert hidden_commands.status_code == 404
    assert after_odd.status_code == 200 and "odd" not in [c["id"] for c in after_odd.json()["items"]]
    assert len(after_odd.json()["items"]) == len(both) and odd_one.status_code == 404
    assert [a["id"] for a in alarms_after_odd.json()["items"]] == ["hot"]
    assert [h["action"] for h in history_after_odd.json()["items"]] == ["note", "ack", "raise"]

    (site,) = sites
    lag = site["central"]
    assert lag["online"] is True and lag["warn_s"] == 300.0 and lag["newest_ts"] is not None
    assert 0 <= lag["lag_s"] < 300 and lag["behind"] is False
    assert "openbms_central_sites 1" in metrics and "openbms_central_sites_behind 0" in metrics
    assert "openbms_central_lag_max_seconds " in metrics
    assert edge_sites[0]["central"] is None  # an edge is behind nothing
    assert edge_point["writable"] is True and edge_point["remote"] is False
    assert far_behind is not None and far_behind.behind and far_behind.lag_s == 301.0
    assert not_behind is not None and not not_behind.behind and not_behind.lag_s == 299.0
    assert received_later is not None and received_later.lag_s == 101.0
    assert fast_edge is not None and fast_edge.lag_s == 440.0 and fast_edge.behind
    assert not received_later.behind and received_later.newest == last + 200.0


def test_an_alarms_changes_fold_into_its_state_as_the_edges_engine_holds_it():
    def change(ts: float, action: str, before: str, after: str, **more: Any) -> dict[str, Any]:
        return {"alarm_id": "hot", "rule_id": "hot", "point": "hq/ahu-1/sat", "ts": ts,
                "action": action, "from_state": before, "to_state": after, "priority": 20,
                "alarm_class": "comfort", "value": more.pop("value", None), "message": "hot",
                **more}

    rule = {"id": "hot", "name": "Supply air hot", "type": "high"}
    raised = [change(10, "raise", "normal", "active-unacked", value=31),
              change(20, "ack", "active-unacked", "active-acked", who="ann", note="seen"),
              change(25, "shelve", "active-acked", "active-acked", who="ann", note="works",
                     shelved=True)]
    back = [*raised, change(30, "return", "active-acked", "normal", value=28),
            change(40, "raise", "normal", "active-unacked", value=32)]
    held = alarm_state("hot", raised, rule)
    again = alarm_state("hot", back, rule)
    event = alarm_state("cos", [change(5, "raise", "normal", "active-unacked")],
                        {"id": "cos", "type": "change_of_state"})
    assert (held["state"], held["active_since"], held["acked_by"], held["acked_ts"]) == (
        "active-acked", 10, "ann", 20)
    assert (held["shelved"], held["shelved_by"], held["shelve_reason"]) == (True, "ann", "works")
    assert (held["name"], held["value"], held["changed_ts"], held["source"]) == (
        "Supply air hot", 31, 20, "rule")
    assert [h["action"] for h in held["history"]] == ["raise", "ack", "shelve"]
    # raised again after it returned: a new activation, not acknowledged, counted twice
    assert (again["state"], again["active_since"], again["acked_by"], again["count"]) == (
        "active-unacked", 40, None, 2)
    assert again["shelved"] is False and again["shelved_by"] is None and again["value"] == 32
    assert event["event_type"] is True and alarm_state("x", back)["source"] == "service"
