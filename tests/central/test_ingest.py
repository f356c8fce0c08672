"""The central ingest on a real Mosquitto and PostgreSQL: three edges' bridges, two ingest workers in
one shared subscription group; each gets part, the union is everything, resends store nothing twice,
another site's points and unreadable messages are refused and counted, alarm and command changes
are kept once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import psycopg

from openbms.central import IngestWorker
from openbms.drivers.mqtt.ingest import SharedSubscriber
from openbms.model.sample import OFFLINE, Sample
from openbms.model.site import SiteConfig
from openbms.runtime.clock import Clock, ManualClock, WallClock
from openbms.service.assembly import Assembly
from tests.fixtures.services import MosquittoBroker
from tests.historian.conftest import fresh_postgres_database
from tests.integration.mqtt_helpers import until

T0 = 1_765_000_000.0


def edge_site(sid: str, port: int, per_point: bool = False) -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": sid, "timezone": "UTC"},
        "mqtt": {"port": port, "timeout": 2,
                 "bridge": {"per_point": per_point, "per_device": not per_point}},
        "equipment": [
            {"id": "ahu-1", "type": "ahu", "points": [
                {"name": "sat", "unit": "degC", "binding": "bacnet://1001/analog-input,1"},
                {"name": "fan", "kind": "bool", "binding": "bacnet://1001/binary-input,1"}]},
            {"id": "meter", "type": "meter", "points": [
                {"name": "kw", "unit": "kW", "binding": "modbus://m1/holding/1"},
                {"name": "mode", "binding": "modbus://m1/holding/2"}]}]})


def connect_for(broker: MosquittoBroker, client_id: str) -> Any:
    def connect(filters: Sequence[str], handler: Any) -> SharedSubscriber:
        return SharedSubscriber({"host": broker.host, "port": broker.port, "timeout": 5}, filters,
                                handler, client_id=client_id, reconnect_min=0.1, reconnect_max=1.0)
    return connect


@asynccontextmanager
async def workers(broker: MosquittoBroker, url: str, n: int = 2, name: str = "central-test",
                  clock: Clock | None = None) -> AsyncIterator[list[IngestWorker]]:
    async with AsyncExitStack() as stack:
        started = []
        for i in range(n):
            w = IngestWorker(url, connect_for(broker, f"{name}-{i}"), clock=clock,
                             flush_interval=0.05)
            await w.start()
            stack.push_async_callback(w.stop)
            started.append(w)
        yield started


@asynccontextmanager
async def edges(sites: list[SiteConfig], data: Path) -> AsyncIterator[list[Assembly]]:
    async with AsyncExitStack() as stack:
        running = []
        for site in sites:
            a = Assembly([site], WallClock(), data_dir=data / site.site.id)
            await a.start_site_services(None)
            stack.push_async_callback(a.stop)
            running.append(a)
        yield running


def rows(url: str, query: str, *args: Any) -> list[Any]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


def taken(ws: list[IngestWorker]) -> int:
    return sum(w.ingest.samples for w in ws if w.ingest is not None)


async def flushed(ws: list[IngestWorker]) -> None:
    for w in ws:
        assert w.historian is not None and w.ingest is not None
        await w.historian.flush()
        await w.ingest.flush()


def counts(url: str) -> dict[str, int]:
    return dict(rows(url, "SELECT s.point, count(*) FROM samples h JOIN series s USING (pid) "
                     "GROUP BY s.point"))


async def test_two_workers_split_three_edges_samples_and_store_each_once(
        mosquitto, postgres_url, tmp_path):
    url = fresh_postgres_database(postgres_url)
    sites = [edge_site(sid, mosquitto.port, per_point=sid == "c") for sid in ("a", "b", "c")]
    rounds = 20
    async with workers(mosquitto, url) as ws, edges(sites, tmp_path) as es:
        for r in range(rounds):
            ts = T0 + r * 60.0
            for a, sid in zip(es, ("a", "b", "c"), strict=True):
                a.bus.publish([Sample(f"{sid}/ahu-1/sat", ts, 12.5 + r), Sample(f"{sid}/ahu-1/fan", ts, True),
                               Sample(f"{sid}/meter/kw", ts, r), Sample(f"{sid}/meter/mode", ts, "eco"
                                                                       if r % 2 else None, OFFLINE)])
        total = rounds * 4 * 3
        await until(lambda: taken(ws) == total, within=15, what=f"{total} samples at the centre")
        await flushed(ws)
        shares = [w.ingest.samples for w in ws if w.ingest is not None]
        got = counts(url)
        # the same samples again (an edge's outbox resending after an outage): nothing stored twice
        for a, sid in zip(es, ("a", "b", "c"), strict=True):
            a.bus.publish([Sample(f"{sid}/ahu-1/sat", T0, 12.5), Sample(f"{sid}/meter/kw", T0, 0)])
        await until(lambda: taken(ws) == total + 6, what="the resent samples")
        await flushed(ws)
        again = counts(url)
    assert all(share > 0 for share in shares) and sum(shares) == total, shares
    assert got == {f"{sid}/{p}": rounds for sid in ("a", "b", "c")
                   for p in ("ahu-1/sat", "ahu-1/fan", "meter/kw", "meter/mode")}
    assert again == got
    assert rows(url, "SELECT h.value, h.txt, h.status FROM samples h JOIN series s USING (pid) "
                "WHERE s.point = 'b/meter/mode' ORDER BY ts LIMIT 2") == [(None, None, 3),
                                                                        (None, "eco", 3)]
    assert rows(url, "SELECT h.value FROM samples h JOIN series s USING (pid) "
                "WHERE s.point = 'c/ahu-1/sat' AND h.ts = %s", T0 + 60.0) == [(13.5,)]


async def publish(broker: MosquittoBroker, *messages: tuple[str, bytes]) -> None:
    async with aiomqtt.Client(broker.host, broker.port, identifier="test-edge") as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


async def test_another_sites_points_and_unreadable_messages_are_refused_and_counted(
        mosquitto, postgres_url):
    url = fresh_postgres_database(postgres_url)
    batch = {"site": "a", "device": "bacnet:1", "samples": [
        {"point": "a/ahu-1/sat", "value": 1.5, "status": "ok", "time": T0, "key": "k1"},
        {"point": "b/ahu-1/sat", "value": 99.0, "status": "ok", "time": T0, "key": "k2"}]}
    async with workers(mosquitto, url, n=1) as (w,):
        assert w.ingest is not None
        await publish(mosquitto,
                      ("openbms/a/devices/bacnet:1", orjson.dumps(batch)),
                      ("openbms/a/devices/bacnet:2", orjson.dumps({**batch, "site": "b"})),
                      ("openbms/a/devices/bacnet:3", b"{not json"),
                      ("openbms/a/ahu-1/sat", orjson.dumps({"value": 2.0, "time": "yesterday"})),
                      ("openbms/a/ahu-1/oat", orjson.dumps({"value": 7.0, "status": "ok",
                                                            "time": T0 + 1})))
        ingest = w.ingest
        await until(lambda: ingest.samples == 2 and sum(ingest.bad.values()) == 3,
                    what="two samples taken, three messages refused")
        await flushed([w])
        health = w.health()
    assert health["ingest"]["refused"] == 1
    assert health["ingest"]["bad"] == {"site": 1, "json": 1, "value": 1}
    assert counts(url) == {"a/ahu-1/sat": 1, "a/ahu-1/oat": 1}


async def test_alarm_and_command_changes_are_kept_once_each(mosquitto, postgres_url, tmp_path):
    url = fresh_postgres_database(postgres_url)
    command = {"id": 7, "point": "a/ahu-1/sat", "value": 14.0, "priority": 8, "release": False,
               "status": "completed", "error": None, "source": "operator",
               "requested_by": "ops@example.com", "updated_at": T0 + 5}
    alarm = {"site": "a", "alarm_id": 3, "action": "raised", "ts": T0 + 2, "point": "a/ahu-1/sat"}
    async with workers(mosquitto, url) as ws, edges([edge_site("a", mosquitto.port)], tmp_path) as (e,):
        for _ in range(2):  # the second time: a resend, kept once
            e.bus.publish_event("command", command)
            e.bus.publish_event("alarm", alarm)
        e.bus.publish_event("command", {**command, "point": "b/ahu-1/sat", "id": 8})  # not a's
        await until(lambda: sum(w.ingest.events for w in ws if w.ingest) == 4, what="4 events")
        await flushed(ws)
        assert ws[0].store is not None
        commands = await ws[0].store.events("a", "command")
        alarms = await ws[0].store.events("a", "alarm")
    assert commands == [command]
    assert alarms == [alarm]
    assert rows(url, "SELECT count(*) FROM central_events") == [(2,)]


async def test_a_worker_keeps_running_when_its_handler_meets_a_bug(mosquitto, postgres_url):
    url = fresh_postgres_database(postgres_url)
    async with workers(mosquitto, url, n=1) as (w,):
        assert w.ingest is not None and w.subscriber is not None
        w.ingest.sink = None  # type: ignore[assignment]  # a bug: ingest() on None
        await publish(mosquitto, ("openbms/a/ahu-1/oat", orjson.dumps({"value": 7.0, "time": T0})))
        subscriber = w.subscriber
        await until(lambda: subscriber.health()["handler_errors"] == 1, what="the failure counted")
        w.ingest.sink = w.historian  # type: ignore[assignment]
        await publish(mosquitto, ("openbms/a/ahu-1/oat", orjson.dumps({"value": 8.0, "time": T0 + 1})))
        await until(lambda: w.ingest is not None and w.ingest.samples == 1, what="the next taken")
        await asyncio.sleep(0)
        assert subscriber.health()["connected"]


async def test_each_sites_lag_is_the_centres_clock_less_its_newest_sample(mosquitto, postgres_url):
    url = fresh_postgres_database(postgres_url)
    clock = ManualClock(T0 + 100.0)

    def batch(site: str, *times: float) -> bytes:
        return orjson.dumps({"site": site, "device": "d", "samples": [
            {"point": f"{site}/e/p", "value": 1.0, "status": "ok", "time": t} for t in times]})

    async with workers(mosquitto, url, n=1, clock=clock) as (w,):
        assert w.ingest is not None
        ingest = w.ingest
        await publish(mosquitto, ("openbms/a/devices/d", batch("a", T0 + 40.0, T0 + 10.0)),
                      ("openbms/b/devices/d", batch("b", T0 + 90.0)),
                      ("openbms/a/devices/d", batch("a", T0 + 20.0)))  # an older one, late
        await until(lambda: ingest.samples == 4, what="4 samples")
        before = ingest.health()
        await clock.advance(50.0)
        after = ingest.health()
    assert before["lag_s"] == {"a": 60.0, "b": 10.0} and before["lag_max_s"] == 60.0
    assert after["lag_s"] == {"a": 110.0, "b": 60.0}


async def test_a_worker_with_a_kept_session_gets_what_was_sent_while_it_was_stopped(
        mosquitto, postgres_url):
    url = fresh_postgres_database(postgres_url)

    def connect(filters: Sequence[str], handler: Any) -> SharedSubscriber:
        return SharedSubscriber({"host": mosquitto.host, "port": mosquitto.port, "timeout": 5},
                                filters, handler, client_id="central-kept", session_expiry=300,
                                reconnect_min=0.1)

    def batch(r: int) -> bytes:
        return orjson.dumps({"site": "a", "device": "d", "samples": [
            {"point": "a/e/p", "value": float(r), "status": "ok", "time": T0 + r}]})

    first = IngestWorker(url, connect, flush_interval=0.05)
    await first.start()
    await publish(mosquitto, *(("openbms/a/devices/d", batch(r)) for r in range(5)))
    assert first.ingest is not None
    taken = first.ingest
    await until(lambda: taken.samples == 5, what="5 samples before the stop")
    await first.stop()
    # the centre restarts: what the edges send meanwhile waits at the broker for its session
    await publish(mosquitto, *(("openbms/a/devices/d", batch(r)) for r in range(5, 20)))
    again = IngestWorker(url, connect, flush_interval=0.05)
    await again.start()
    try:
        assert again.ingest is not None and again.historian is not None
        second = again.ingest
        # the first stopped once its samples were written and acknowledged: none comes twice
        await until(lambda: second.samples == 15, what="the 15 sent while it was stopped")
        await again.historian.flush()
    finally:
        await again.stop()
    assert counts(url) == {"a/e/p": 20}
