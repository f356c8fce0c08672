"""The central's API on a real Mosquitto and PostgreSQL: the sites whose configurations it holds,
served with per-site roles (a user granted one site sees only it), the edges' samples live and in
history, a newer configuration of a served site applied; at the centre a site has no driver, no
alarm rule or schedule of the edge's, and no priority array (a point the edge lets write is
commanded through the edge)."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from openbms.api.server import serve
from openbms.central.server import CentralServer
from openbms.central.sites import central_site
from openbms.db.accounts import create_user
from openbms.drivers.mqtt.bridge import site_document
from openbms.drivers.mqtt.ingest import SharedSubscriber
from openbms.model.sample import Sample
from openbms.model.site import SiteConfig
from tests.api.live import password_hash
from tests.central.test_ingest import T0, edge_site, edges, workers
from tests.central.test_sites import stored, with_config
from tests.fixtures.services import MosquittoBroker
from tests.historian.conftest import fresh_postgres_database
from tests.integration.mqtt_helpers import until

PASSWORD = "a long enough password"


#: A client id of its own for each connection (the centre's live feed and its worker are two).
_CONNECTIONS = itertools.count()

def connect_for(broker: MosquittoBroker) -> Any:
    def connect(filters: Sequence[str], handler: Any) -> SharedSubscriber:
        return SharedSubscriber({"host": broker.host, "port": broker.port, "timeout": 5}, filters,
                                handler, client_id=f"central-api-{next(_CONNECTIONS)}", reconnect_min=0.1)
    return connect


@asynccontextmanager
async def central(broker: MosquittoBroker, url: str, data: Path) -> AsyncIterator[CentralServer]:
    server = CentralServer(url, connect_for(broker), data, api=("127.0.0.1", 0), api_front=serve,
                           historian_options={"flush_interval": 0.05}, refresh_every=3600)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def signed_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def site_with_rules(sid: str, port: int) -> SiteConfig:
    data = with_config(edge_site(sid, port)).model_dump(mode="json", exclude_defaults=True)
    point = data["equipment"][0]["points"][0]
    point.update(writable=True, limits={"min": 10, "max": 30}, relinquish_default=20,
                 history={"deadband": 0.5, "max_interval": 900, "raw_days": 30})
    data["alarms"] = [{"id": "hot", "type": "high", "point": f"{sid}/ahu-1/sat", "limit": 30,
                       "deadband": 1}]
    return SiteConfig.model_validate(data)


async def test_the_central_serves_every_stored_site_with_per_site_roles(
        mosquitto, postgres_url, tmp_path):
    url = fresh_postgres_database(postgres_url)
    a, b = site_with_rules("a", mosquitto.port), with_config(edge_site("b", mosquitto.port))
    async with edges([a, b], tmp_path / "edges") as (ea, _eb):
        async with workers(mosquitto, url, n=1, name="first"):  # the configurations, stored
            await until(lambda: set(stored(url)) == {"a", "b"}, what="both configurations")
        async with central(mosquitto, url, tmp_path / "central") as server:
            runtime = server.runtime
            assert runtime is not None and runtime.api is not None and runtime.state is not None
            create_user(runtime.state, "admin@example.com", _hash(), grants={"*": "admin"})
            create_user(runtime.state, "ann@example.com", _hash(), grants={"a": "viewer"})
            ea.bus.publish([Sample("a/ahu-1/sat", T0, 13.5), Sample("a/meter/kw", T0, 42.0)])
            async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
                admin = await signed_in(client, "admin@example.com")
                ann = await signed_in(client, "ann@example.com")
                all_sites = (await client.get("/api/v1/sites", headers=admin)).json()["items"]
                anns = (await client.get("/api/v1/sites", headers=ann)).json()["items"]
                not_hers = await client.get("/api/v1/sites/b/points", headers=ann)

                async def sat() -> Any:
                    r = await client.get("/api/v1/sites/a/points/ahu-1/sat", headers=ann)
                    return r.json()

                for _ in range(400):  # the sample travels edge → broker → centre → cache
                    if (await sat()).get("value") == 13.5:
                        break
                    await asyncio.sleep(0.025)
                point = await sat()
                assert server.worker is not None and server.worker.ingest is not None
                assert runtime.historian is not None
                # The live feed (current values) and the ingest worker (storage) are two
                # subscriptions: the sample may be shown a moment before it is stored.
                for _ in range(400):
                    await runtime.historian.flush()
                    history = (await client.get("/api/v1/sites/a/history", headers=ann, params={
                        "points": "a/meter/kw", "since": T0 - 1, "until": T0 + 1})).json()
                    if history["series"] and history["series"][0]["samples"]:
                        break
                    await asyncio.sleep(0.025)
                # a new point at site a, applied at the centre
                grown = a.model_dump(mode="json", exclude_defaults=True)
                grown["equipment"][0]["points"].append({"name": "rat", "unit": "degC"})
                ea.bridges["a"].follow(SiteConfig.model_validate(grown))
                await until(lambda: stored(url)["a"][0] == site_document(
                    SiteConfig.model_validate(grown), 0)[0], what="the new configuration stored")
                assert await server.refresh() == ["a"]
                points = (await client.get("/api/v1/sites/a/points", headers=ann)).json()["items"]
    assert sorted(s["id"] for s in all_sites) == ["a", "b"]
    assert [s["id"] for s in anns] == ["a"]
    assert not_hers.status_code in (403, 404)
    # writable as the edge's configuration says, and commanded through the edge (its arbiter)
    assert point["value"] == 13.5 and point["writable"] is True and point["remote"] is True
    (series,) = history["series"]
    assert series["point"] == "a/meter/kw" and series["samples"] == [
        {"ts": T0, "value": 42.0, "status": "ok"}], history
    assert "a/ahu-1/rat" in [p["id"] for p in points]


def test_the_centres_copy_of_a_site_keeps_what_is_shown_and_drops_what_the_edge_runs():
    a = site_with_rules("a", 1883)
    copy = central_site(a.model_dump(mode="json", exclude_defaults=True))
    assert [pid for pid, _e, _p in copy.points()] == [pid for pid, _e, _p in a.points()]
    assert [(p.unit, p.kind) for _pid, _e, p in copy.points()] == [
        (p.unit, p.kind) for _pid, _e, p in a.points()]
    assert copy.mqtt is None and copy.alarms == () and copy.drivers == {}
    assert not any(p.writable or p.binding for _pid, _e, p in copy.points())
    sat = next(p for pid, _e, p in copy.points() if pid == "a/ahu-1/sat")
    assert (sat.history.deadband, sat.history.max_interval, sat.history.raw_days) == (None, None, 30)


def _hash() -> str:
    return password_hash(PASSWORD)


async def test_the_centre_shows_every_sites_live_values_beside_other_workers_and_stores_each_once(
        mosquitto, postgres_url, tmp_path):
    """With a second ingest worker in the group, the shared subscription gives the serving process
    only its share to store; its current values must still be every site's (they were its share
    only: a point whose messages went to the other worker had no value at the centre)."""
    url = fresh_postgres_database(postgres_url)
    sites = [edge_site(sid, mosquitto.port) for sid in ("a", "b", "c", "d")]
    async with edges([with_config(s) for s in sites], tmp_path / "edges") as running:
        async with workers(mosquitto, url, n=1, name="configs"):
            await until(lambda: set(stored(url)) == {"a", "b", "c", "d"}, what="the configurations")
        async with central(mosquitto, url, tmp_path / "central") as server, \
                workers(mosquitto, url, n=1, name="other"):
            runtime = server.runtime
            assert runtime is not None
            rounds = 12
            for i in range(rounds):  # messages enough that each worker of the group gets some
                for edge in running:
                    sid = edge.sites[0].site.id
                    edge.bus.publish([Sample(f"{sid}/ahu-1/sat", T0 + i, 10.0 + i),
                                      Sample(f"{sid}/meter/kw", T0 + i, 100.0 + i)])
                await asyncio.sleep(0.05)
            last = T0 + rounds - 1
            wanted = {f"{s.site.id}/{p}" for s in sites for p in ("ahu-1/sat", "meter/kw")}

            def live() -> set[str]:
                return {p for p in wanted if (s := runtime.cache.get(p)) is not None and s[1] == last}

            await until(lambda: live() == wanted, what="every site's newest values at the centre")
            await until(lambda: rows_stored(url) == rounds * len(wanted),
                        what="every sample stored by the group")
            assert server.health()["live"]["samples"] >= rounds * len(wanted)
    assert rows_stored(url) == rounds * len(wanted)  # once each: the live feed stores nothing


def rows_stored(url: str) -> int:
    from tests.central.test_ingest import rows
    return int(rows(url, "SELECT count(*) FROM samples")[0][0])


async def test_a_site_that_publishes_its_first_configuration_is_served_without_a_restart(
        mosquitto, postgres_url, tmp_path):
    url = fresh_postgres_database(postgres_url)
    a, b = site_with_rules("a", mosquitto.port), with_config(edge_site("b", mosquitto.port))
    async with edges([a], tmp_path / "edges-a"):
        async with workers(mosquitto, url, n=1, name="first"):
            await until(lambda: set(stored(url)) == {"a"}, what="site a's configuration")
        async with central(mosquitto, url, tmp_path / "central") as server:
            runtime = server.runtime
            assert runtime is not None and runtime.api is not None and runtime.state is not None
            create_user(runtime.state, "bob@example.com", _hash(), grants={"b": "operator"})
            assert await server.refresh() == []
            real_add = runtime.add_site
            calls = []

            async def busy_once(cfg: SiteConfig) -> None:  # the state database busy, once
                calls.append(cfg.site.id)
                if len(calls) == 1:
                    raise sqlite3.OperationalError("database is locked")
                await real_add(cfg)

            runtime.add_site = busy_once  # type: ignore[method-assign]
            async with edges([b], tmp_path / "edges-b") as (eb,):  # a new building
                await until(lambda: "b" in stored(url), what="site b's first configuration")
                failed = await server.refresh()
                served_after_failure = server.health()["served"]
                added = await server.refresh()  # tried again
                again = await server.refresh()
                eb.bus.publish([Sample("b/ahu-1/sat", T0, 12.5)])
                async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
                    bob = await signed_in(client, "bob@example.com")
                    bobs = (await client.get("/api/v1/sites", headers=bob)).json()["items"]

                    async def sat() -> Any:
                        r = await client.get("/api/v1/sites/b/points/ahu-1/sat", headers=bob)
                        return r.json()

                    for _ in range(400):  # edge → broker → the centre's live feed → cache
                        if (await sat()).get("value") == 12.5:
                            break
                        await asyncio.sleep(0.025)
                    point = await sat()
            health = server.health()
    assert failed == [] and served_after_failure == ["a"] and calls == ["b", "b"]
    assert added == ["b"] and again == []
    assert [s["id"] for s in bobs] == ["b"]
    assert point["value"] == 12.5 and point["remote"] is True
    assert health["served"] == ["a", "b"]
