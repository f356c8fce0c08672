"""The centre's own schedules and logic programs commanding an edge, on a real Mosquitto and
PostgreSQL: made through the centre's API (``openbms central serve``), held by the centre's
``CentralWriter`` and sent through the command queue, run by the edge's arbiter at the
centre's priority with a lease; kept in the centre's ``sites/SITE.yaml`` across a restart;
released at the edge when deleted; and refused at the centre (a priority the edge keeps, a point
the edge does not let write, any other change of the edge's configuration) with nothing queued."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from openbms.api.server import serve
from openbms.central.server import CentralServer
from openbms.config import load_sites
from openbms.db.accounts import create_api_token, create_user
from openbms.drivers.mqtt.ingest import SharedSubscriber
from openbms.drivers.mqtt.requests import Requester
from openbms.model.command import Command
from openbms.service.runtime import Runtime
from tests.api.live import password_hash
from tests.central.test_api_commands import SITE
from tests.central.test_ingest import workers
from tests.central.test_server import PASSWORD, signed_in
from tests.central.test_sites import stored
from tests.fixtures.services import MosquittoBroker
from tests.historian.conftest import fresh_postgres_database
from tests.integration.mqtt_helpers import until

BASE = "/api/v1/sites/hq"
SP = "hq/ahu-1/sat-sp"
#: Generous: two cores shared with other people's tests.
WITHIN = 60.0
#: A client id of its own for each connection (a centre's live feed and its worker are two).
_CONNECTIONS = itertools.count()


#: A started centre, a client of its API, and a facility manager of hq's headers.
Centre = tuple[CentralServer, httpx.AsyncClient, dict[str, str]]


@dataclass
class Setup:
    edge: Runtime
    url: str
    data: Path  # the centre's data folder
    tokens: dict[str, str]
    broker: MosquittoBroker

    def slot(self, priority: int) -> Command | None:
        """The edge's arbiter's slot of the set point at ``priority``."""
        return self.edge.commands.slots(SP)[priority - 1]

    def centre(self) -> CentralServer:
        """A centre as ``openbms central serve`` makes one, on the test's broker and database,
        sending a schedule's or program's change at once (no interval between two commands)."""
        broker = self.broker

        def connect(filters: Sequence[str], handler: Any) -> SharedSubscriber:
            return SharedSubscriber({"host": broker.host, "port": broker.port, "timeout": 5},
                                    filters, handler, reconnect_min=0.1,
                                    client_id=f"central-supervision-{next(_CONNECTIONS)}")

        async def ask(site: str, name: str, payload: bytes, token: str) -> bytes:
            async with Requester(broker.host, broker.port, "openbms", site, timeout=10) as requester:
                return await requester.ask(name, payload,
                                           user_properties=[("authorization", f"Bearer {token}")])

        return CentralServer(self.url, connect, self.data, api=("127.0.0.1", 0), api_front=serve,
                             historian_options={"flush_interval": 0.05}, refresh_every=3600,
                             ask=ask, token=self.tokens.get, command_interval_s=0)


def always(value: float) -> dict[str, list[dict[str, Any]]]:
    """A weekly program holding ``value`` all day, every day."""
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return {day: [{"time": "00:00", "value": value}] for day in days}


@asynccontextmanager
async def edge_and_data(mosquitto: MosquittoBroker, postgres_url: str,
                        tmp_path: Path) -> AsyncIterator[Setup]:
    """A running edge (sim points, MQTT commands for central@example.com) whose configuration the
    centre's database holds."""
    url = fresh_postgres_database(postgres_url)
    folder = tmp_path / "hq"
    folder.mkdir()
    (folder / "hq.yaml").write_text(SITE.format(port=mosquitto.port))
    edge = Runtime(load_sites(folder), tmp_path / "edge", api=("127.0.0.1", 0), api_front=serve)
    await edge.start()
    try:
        assert edge.state is not None
        user = create_user(edge.state, "central@example.com", "x", grants={"hq": "operator"})
        tokens = {"hq": create_api_token(edge.state, user["id"], "central")[0]}
        async with workers(mosquitto, url, n=1, name="supervision-configs"):
            await until(lambda: "hq" in stored(url), within=WITHIN,
                        what="the edge's configuration at the centre")
        yield Setup(edge, url, tmp_path / "central", tokens, mosquitto)
    finally:
        await edge.stop()


@asynccontextmanager
async def centre(setup: Setup, *, first: bool = True) -> AsyncIterator[Centre]:
    """A started centre with the edge online, a client of its API and a facility manager of hq's
    headers."""
    server = setup.centre()
    await server.start()
    try:
        runtime = server.runtime
        assert runtime is not None and runtime.state is not None and server.worker is not None
        ingest = server.worker.ingest
        assert ingest is not None
        await until(lambda: ingest.is_online("hq"), within=WITHIN, what="the edge online at the centre")
        if first:  # a centre started again on the same data folder has its users already
            create_user(runtime.state, "fm@example.com", password_hash(PASSWORD),
                        grants={"hq": "facility_manager"})
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=60) as client:
            yield server, client, await signed_in(client, "fm@example.com")
    finally:
        await server.stop()


async def eventually(check: Callable[[], Awaitable[Any]], what: str, within: float = WITHIN) -> Any:
    """Poll ``check`` until it answers something true, at most ``within`` seconds; that answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        got = await check()
        if got:
            return got
        if loop.time() > deadline:
            raise AssertionError(f"not within {within:g} s: {what}")
        await asyncio.sleep(0.05)


async def test_a_schedule_made_at_the_centre_holds_its_value_at_the_edge_until_deleted(
        mosquitto, postgres_url, tmp_path: Path):
    schedule = {"name": "night purge", "priority": 14, "targets": [SP], "weekly": always(15.5)}
    async with edge_and_data(mosquitto, postgres_url, tmp_path) as setup:
        async with centre(setup) as (_server, client, fm):
            made = await client.put(f"{BASE}/schedules/purge", json=schedule, headers=fm)
            assert made.status_code == 201, made.text
            await until(lambda: setup.slot(14) is not None, within=WITHIN,
                        what="the schedule's value at priority 14 at the edge")
            held = setup.slot(14)

            async def listed() -> list[dict[str, Any]]:
                r = await client.get(f"{BASE}/commands", headers=fm)
                assert r.status_code == 200, r.text
                return [c for c in r.json()["items"] if c["requested_by"] == "schedule:purge"]

            commands = await eventually(listed, "the schedule's command in the centre's list")
            own = (setup.data / "sites" / "hq.yaml").read_text()
        # the same data folder, a new centre: the schedule is the centre's own, kept in its file
        async with centre(setup, first=False) as (again, client, fm):
            kept = await client.get(f"{BASE}/schedules", headers=fm)
            shown = await client.get(f"{BASE}/schedules/purge", headers=fm)
            assert again.writer is not None
            writer = again.writer
            # its runner commands again at start; a delete releases only what this centre holds
            await until(lambda: writer.holder(SP, 14) == "schedule:purge", within=WITHIN,
                        what="the restarted centre holding the schedule's slot")
            deleted = await client.delete(f"{BASE}/schedules/purge", headers=fm)
            assert deleted.status_code == 204, deleted.text
            await until(lambda: setup.slot(14) is None, within=WITHIN,
                        what="the edge's slot 14 released after the delete")
            gone = await client.get(f"{BASE}/schedules/purge", headers=fm)
        assert setup.edge.commands.effective(SP) == 13  # back to the relinquish default
    assert held is not None
    assert (held.value, held.priority) == (15.5, 14)
    assert held.expires_at is not None and held.expires_at > held.created_at  # a lease, not for good
    assert held.expires_at - held.created_at <= 900 + 1  # the default lease
    assert "schedule:purge" in held.reason, held.reason
    assert commands[0]["point"] == SP and commands[0]["priority"] == 14
    assert commands[0]["value"] == 15.5 and commands[0]["source"] == "central"
    assert "purge" in own and SP in own and "equipment" not in own  # only the centre's own part
    assert kept.status_code == 200, kept.text
    assert [s["schedule"]["id"] for s in kept.json()["items"]] == ["purge"]
    assert shown.status_code == 200, shown.text
    assert shown.json()["schedule"]["targets"] == [SP]
    assert shown.json()["schedule"]["priority"] == 14
    assert shown.json()["current"]["value"] == 15.5
    assert gone.status_code == 404


async def test_the_centre_refuses_what_is_the_edges_and_queues_nothing(
        mosquitto, postgres_url, tmp_path: Path):
    async with edge_and_data(mosquitto, postgres_url, tmp_path) as setup:
        async with centre(setup) as (_server, client, fm):
            base = {"priority": 15, "targets": [SP], "weekly": always(12)}
            first = await client.put(f"{BASE}/schedules/base", json=base, headers=fm)
            assert first.status_code == 201, first.text
            await until(lambda: setup.slot(15) is not None, within=WITHIN,
                        what="the valid schedule's value at the edge")

            async def commands() -> list[dict[str, Any]]:
                r = await client.get(f"{BASE}/commands", headers=fm)
                assert r.status_code == 200, r.text
                return list(r.json()["items"])

            await eventually(lambda: _answered(commands), "the valid schedule's command answered")
            path = setup.data / "sites" / "hq.yaml"
            before_file = path.read_bytes()
            before = await commands()
            urgent = await client.put(f"{BASE}/schedules/urgent", headers=fm,
                                      json={**base, "priority": 8})
            read_only = await client.put(f"{BASE}/schedules/ro", headers=fm,
                                         json={**base, "targets": ["hq/ahu-1/sat"]})
            point_before = (await client.get(f"{BASE}/points/ahu-1/sat-sp", headers=fm)).json()
            # a change the point's model takes (a description): only the centre's guard refuses it
            patched = await client.patch(f"{BASE}/points/ahu-1/sat-sp", headers=fm,
                                         json={"description": "changed at the centre"})
            # limits: refused as the edge's, not for a field the operator never sent
            limited = await client.patch(f"{BASE}/points/ahu-1/sat-sp", headers=fm,
                                         json={"limits": {"min": 11, "max": 17}})
            added = await client.post(f"{BASE}/equipment", headers=fm,
                                      json={"id": "ahu-9", "type": "ahu"})
            point_after = (await client.get(f"{BASE}/points/ahu-1/sat-sp", headers=fm)).json()
            listed = (await client.get(f"{BASE}/schedules", headers=fm)).json()["items"]
            after = await commands()
            after_file = path.read_bytes()
        edge_point = setup.edge.site("hq")
    assert urgent.status_code == 422, urgent.text
    assert "priority" in urgent.text and "9 to 16" in urgent.text
    assert read_only.status_code == 422, read_only.text
    assert "not writable at its edge" in read_only.text
    for refused in (patched, limited, added):
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"] == "urn:openbms:problem:site-at-edge", refused.text
        assert "its configuration is its edge's" in refused.text, refused.text
    assert point_after["description"] == point_before["description"] != "changed at the centre"
    assert [s["schedule"]["id"] for s in listed] == ["base"]
    assert after == before  # nothing queued for the refused ones
    assert after_file == before_file
    assert edge_point is not None
    sp = next(p for pid, _e, p in edge_point.points() if pid == SP)
    assert sp.description != "changed at the centre"  # nor at the edge


async def _answered(commands: Callable[[], Awaitable[list[dict[str, Any]]]]) -> bool:
    return any(c["delivery"] == "answered" for c in await commands())


PROGRAM: dict[str, Any] = {
    "name": "fixed set point",
    "period_s": 1,
    "constants": [{"id": "sp", "value": 16.5}],
    "outputs": [{"id": "out", "point": SP, "priority": 13}],
    "wires": [{"from": "sp", "to": "out"}],
}


async def test_a_program_deployed_at_the_centre_commands_the_edge_at_its_priority(
        mosquitto, postgres_url, tmp_path: Path):
    urgent = {**PROGRAM, "outputs": [{"id": "out", "point": SP, "priority": 8}]}
    async with edge_and_data(mosquitto, postgres_url, tmp_path) as setup:
        async with centre(setup) as (_server, client, fm):
            saved = await client.put(f"{BASE}/programs/fixed", headers=fm,
                                     json={"program": PROGRAM, "comment": "first"})
            assert saved.status_code == 201, saved.text
            deployed = await client.post(f"{BASE}/programs/fixed/deploy", headers=fm,
                                         json={"version": saved.json()["version"],
                                               "reason": "hold the set point from the centre"})
            assert deployed.status_code == 200, deployed.text
            await until(lambda: setup.slot(13) is not None, within=WITHIN,
                        what="the program's output at priority 13 at the edge")
            held = setup.slot(13)
            overridden = await client.post(f"{BASE}/programs/fixed/overrides", headers=fm, json={
                "port": "out", "value": 15, "priority": 12, "duration_s": 60, "reason": "hand"})
            checked = await client.post(f"{BASE}/programs/validate", headers=fm,
                                        json={**urgent, "id": "urgent", "site": "hq"})
            saved_urgent = await client.put(f"{BASE}/programs/urgent", headers=fm,
                                            json={"program": urgent})
            refused = await client.post(f"{BASE}/programs/urgent/deploy", headers=fm,
                                        json={"version": saved_urgent.json().get("version", 1),
                                              "reason": "try the edge's priority"})
        slot8 = setup.slot(8)
    assert held is not None
    assert (held.value, held.priority) == (16.5, 13)
    assert "program:fixed" in held.reason, held.reason
    assert held.expires_at is not None  # a lease
    assert overridden.status_code == 409, overridden.text  # the point is the edge's
    assert overridden.json()["type"] == "urn:openbms:problem:site-at-edge"
    assert "command it from here" in overridden.text
    assert checked.status_code == 200, checked.text
    assert checked.json()["valid"] is False
    issues = checked.json()["issues"]
    assert [i["path"] for i in issues] == ["outputs[0].priority"], issues
    assert "priority 8" in issues[0]["message"]
    assert saved_urgent.status_code == 201, saved_urgent.text
    assert refused.status_code == 422, refused.text
    assert "priority 8" in refused.text
    assert slot8 is None
