"""Issue 19's acceptance, as OS processes on loopback: a real PostgreSQL 15 and Mosquitto (one login
per site, the ACL of ``openbms central acl``), the centre (``openbms central run``, an ingest
worker, and ``openbms central serve``, the API and a second worker of the group) and three edges
(``openbms run``, SQLite, sim points polled every second, each bridging through a TCP relay the
test can cut: its WAN). In this order it shows:

1. samples of all three edges at the centre;
2. a command made through the centre's API (a user's JWT) executed by edge a's arbiter, its
   lifecycle (queued or sending → the edge's completed) shown by the centre's API;
3. a user granted one site sees only that one (the sites, its points; another site refused);
4. an edge publishing under another site's topic (site b's file, site a's login) is refused by the
   broker (its log says so) and nothing of it is stored at the centre;
5. a command queued (``openbms central command --expires``) for edge c while it is offline expires
   and is never executed (c's priority array, audit and commands after it is back);
6. the outage: the three edges cut off for ``OPENBMS_ACCEPTANCE_OUTAGE_S`` seconds (120, the
   issue's number) while they poll, edge b ``kill -9``ed and started again during it, then
   everything restarted (edges, the centre's processes, the broker), the edges' outboxes drained
   and one ``openbms central backfill`` of each site run (as the issue allows): every sample of
   every point in the edge's own SQLite history is at the centre, over the whole run, and the
   centre has nothing more, but for the samples of the second before the ``kill -9`` that the
   edge's history lost (its flush interval: historian.md) after its outbox had committed them.

About 4 minutes, nearly all of it the outage. Free ports only: no xdist group is needed.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from openbms.historian import open_historian
from openbms.runtime.clock import WallClock
from tests.fixtures.processes import Process, Processes
from tests.fixtures.services import MOSQUITTO, MosquittoBroker, free_port, require_service
from tests.fixtures.tcp_cut import Relay
from tests.fixtures.waiting import eventually
from tests.historian.conftest import fresh_postgres_database

pytestmark = [pytest.mark.service, pytest.mark.slow]

OUTAGE_S = float(os.environ.get("OPENBMS_ACCEPTANCE_OUTAGE_S", "120"))
SITES = ("a", "b", "c")
ADMIN = ("admin@example.com", "the admin's long password")
CENTRAL_USER = "central@example.com"  # the edges' user whose API token the centre holds
PASSWORD = "a long enough password"
SERVING = r"openbms central: 3 sites \(a, b, c\); dashboard (\S+)/ "
POINTS = ("ahu-1/sat", "ahu-1/fan", "ahu-1/sat-sp", "meter/kw")

SITE_FILE = """\
site: {{id: {site}, name: Site {site}, timezone: UTC}}
drivers:
  sim: {{poll_interval: 1.0}}
mqtt:
  host: 127.0.0.1
  port: {port}
  timeout: 3
  username_env: EDGE_MQTT_USER
  password_file: {password_file}
  bridge: {{per_point: false, per_device: true, config: true, heartbeat: 5}}
  commands: {{enabled: true, central_users: [{central}]}}
equipment:
  - id: {equipment}
    type: ahu
    points:
      - {{name: sat, unit: degC, binding: "sim://{equipment}/sat?wave=sine&min=12&max=16&period=300"}}
      - {{name: fan, kind: bool, binding: "sim://{equipment}/fan?wave=square&period=60&kind=bool"}}
      - name: sat-sp
        unit: degC
        writable: true
        relinquish_default: 13
        limits: {{min: 10, max: 18}}
        binding: "sim://{equipment}/sat-sp?wave=constant&value=13"
  - id: meter
    type: meter
    points:
      - {{name: kw, unit: kW, binding: "sim://meter/kw?wave=random-walk&min=10&max=50&step=1"}}
"""


@dataclass
class Edge:
    """One edge: its site folder, data folder, process, relay (its WAN) and API."""

    site: str
    process: Process
    relay: Relay
    data: Path
    url: str = ""
    admin: dict[str, str] = field(default_factory=dict)

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=self.admin, timeout=30)


@contextmanager
def broker_for(users: dict[str, str], acl: str) -> Iterator[MosquittoBroker]:
    """A Mosquitto with these logins and this ACL on a free port, logging every refusal; removed
    at the end."""
    if not MOSQUITTO.exists():
        require_service("Mosquitto", f"no {MOSQUITTO} (apt-get install mosquitto mosquitto-clients)")
    base = Path(tempfile.mkdtemp(prefix="openbms-acceptance-mqtt-"))
    broker = MosquittoBroker(base, free_port(), users, acl=acl)
    # 'Denied PUBLISH …' is a debug line: the broker's word that it refused a message
    broker.config.write_text(broker.config.read_text() + "log_type all\n")
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(base, ignore_errors=True)


def pg(url: str, query: str, *args: Any) -> list[Any]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def edge_token(edge: Edge) -> str:
    """The token of the edge's user for the centre (an operator of this site only), made through
    the edge's API."""
    async with httpx.AsyncClient(base_url=edge.url, timeout=30) as client:
        edge.admin = await login(client, *ADMIN)
        r = await client.post("/api/v1/users", headers=edge.admin, json={
            "email": CENTRAL_USER, "password": PASSWORD, "grants": {edge.site: "operator"}})
        assert r.status_code == 201, r.text
        central = await login(client, CENTRAL_USER, PASSWORD)
        r = await client.post("/api/v1/tokens", headers=central, json={"name": "the centre"})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


async def started(p: Process, pattern: str) -> re.Match[str]:
    p.start()
    return await p.output(pattern)


async def edge_started(edge: Edge, *, start: bool = True) -> None:
    if start:
        edge.process.start()
    edge.url = (await edge.process.output(r"Dashboard: (\S+)/ ")).group(1)
    if edge.admin:  # a restart: sign in again (the same state database)
        async with httpx.AsyncClient(base_url=edge.url, timeout=30) as client:
            edge.admin = await login(client, *ADMIN)


async def bridge_health(edge: Edge) -> dict[str, Any]:
    async with edge.api() as client:
        body = (await client.get("/api/v1/health")).json()
    return dict(body["components"][f"mqtt_bridge_{edge.site}"], now_ts=body["now_ts"])


def centre_times(url: str, until: float) -> dict[str, list[float]]:
    """Every point's sample times at the centre before ``until``."""
    out: dict[str, list[float]] = {}
    for point, ts in pg(url, "SELECT s.point, h.ts FROM samples h JOIN series s USING (pid) "
                             "WHERE h.ts < %s ORDER BY s.point, h.ts", until):
        out.setdefault(point, []).append(ts)
    return out


async def edge_times(edge: Edge, until: float) -> dict[str, list[float]]:
    """Every point's sample times in the (stopped) edge's own SQLite history before ``until``."""
    historian = open_historian(f"sqlite:///{edge.data / 'history.db'}", clock=WallClock())
    await historian.start()
    try:
        return {p: [s.ts for s in await historian.raw(p, 0.0, until)] for p in historian.points()}
    finally:
        await historian.stop()


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 60.0,
                step: float = 0.1) -> None:
    """``eventually`` for a condition that must await (an HTTP request)."""
    result: list[bool] = [False]

    async def poll() -> None:
        result[0] = await check()

    for _ in range(max(1, int(within / step))):
        await poll()
        if result[0]:
            return
        await asyncio.sleep(step)
    raise AssertionError(f"gave up waiting for {what} after {within:g} s")


async def test_three_edges_and_a_centre_as_processes_meet_issue_19s_acceptance(postgres_url, tmp_path):
    url = fresh_postgres_database(postgres_url)
    history_env = {"OPENBMS_HISTORY_URL": url}
    logins = {s: secrets.token_urlsafe(12) for s in SITES} | {"central": secrets.token_urlsafe(12)}
    events: dict[str, float] = {}  # what the test did when (wall clock), for a count that differs
    async with AsyncExitStack() as stack:
        procs = stack.enter_context(Processes(tmp_path / "logs"))
        acl_file = tmp_path / "openbms.acl"
        acl = procs.add("acl", ["central", "acl", *(f"--site={s}" for s in SITES), "-o",
                                str(acl_file)])
        acl.start()
        assert await asyncio.to_thread(acl.wait, 60) == 0, acl.text()
        broker = stack.enter_context(broker_for(logins, acl_file.read_text()))
        address = f"{broker.host}:{broker.port}"
        central_env = {**history_env, "CENTRAL_MQTT_USER": "central",
                       "CENTRAL_MQTT_PASSWORD": logins["central"]}
        sign_in = ["--username-env", "CENTRAL_MQTT_USER", "--password-env", "CENTRAL_MQTT_PASSWORD"]
        worker = procs.add("central-run", ["central", "run", "--broker", address, "--status-every",
                                           "5", *sign_in], central_env)
        tokens = tmp_path / "tokens"
        tokens.mkdir(mode=0o700)
        serve = procs.add("central-serve", [
            "central", "serve", "--broker", address, "--data", str(tmp_path / "central"), "--port",
            "0", "--tokens", str(tokens), "--refresh-every", "5", *sign_in],
            {**central_env, "OPENBMS_ADMIN_EMAIL": ADMIN[0], "OPENBMS_ADMIN_PASSWORD": ADMIN[1]})
        await started(worker, r"ingesting")

        edges: dict[str, Edge] = {}
        for site in SITES:
            folder = tmp_path / f"edge-{site}"
            folder.mkdir()
            secret = folder / "mqtt-password"
            secret.write_text(logins[site] + "\n")
            secret.chmod(0o600)
            relay = Relay(broker.host, broker.port)
            stack.callback(relay.close)
            (folder / f"{site}.yaml").write_text(SITE_FILE.format(
                site=site, port=relay.port, password_file=secret, central=CENTRAL_USER,
                equipment="ahu-1"))
            process = procs.add(f"edge-{site}", [
                "run", "--dir", str(folder), "--data", str(folder / "data"), "--port", "0",
                "--status-every", "5"], {"EDGE_MQTT_USER": site, "OPENBMS_ADMIN_EMAIL": ADMIN[0],
                                         "OPENBMS_ADMIN_PASSWORD": ADMIN[1]})
            edges[site] = Edge(site, process, relay, folder / "data")
        for edge in edges.values():  # side by side: each takes a while to start on 2 cores
            edge.process.start()
        for edge in edges.values():
            await edge_started(edge, start=False)
            token = tokens / edge.site
            token.write_text(await edge_token(edge) + "\n")
            token.chmod(0o600)
        await eventually(lambda: {r[0] for r in pg(url, "SELECT site FROM central_sites")} ==
                         set(SITES), "the three edges' configurations at the centre", within=60)
        found = await started(serve, SERVING)
        centre = httpx.AsyncClient(base_url=found.group(1), timeout=30)
        stack.push_async_callback(centre.aclose)
        admin = await login(centre, *ADMIN)

        # 1. samples of all three edges at the centre (PostgreSQL, and the centre's API)
        def stored_from_every_site() -> bool:
            sites = {p.split("/")[0] for p, n in pg(
                url, "SELECT s.point, count(*) FROM samples h JOIN series s USING (pid) "
                     "GROUP BY s.point") if n >= 3}
            return sites == set(SITES)

        await eventually(stored_from_every_site, "3 samples of a point of each site stored",
                         within=60)
        listed = (await centre.get("/api/v1/sites", headers=admin)).json()["items"]
        assert sorted(s["id"] for s in listed) == list(SITES)

        async def history_shown() -> bool:  # the centre's API: each site's history
            for site in SITES:
                r = await centre.get(f"/api/v1/sites/{site}/history", headers=admin, params={
                    "points": f"{site}/meter/kw", "since": 0, "until": time.time() + 60})
                if r.status_code != 200 or not r.json()["series"][0]["samples"]:
                    return False
            return True

        await until(history_shown, "each site's history through the centre's API")

        # 2. a command through the centre's API, executed by edge a's arbiter
        for email, grants in (("op-a@example.com", {"a": "operator"}),
                              ("viewer-b@example.com", {"b": "viewer"})):
            r = await centre.post("/api/v1/users", headers=admin,
                                  json={"email": email, "password": PASSWORD, "grants": grants})
            assert r.status_code == 201, r.text
        op = await login(centre, "op-a@example.com", PASSWORD)
        made = await centre.post("/api/v1/sites/a/points/ahu-1/sat-sp/commands", headers=op, json={
            "value": 15.5, "priority": 12, "reason": "acceptance: night setback"})
        assert made.status_code == 201, made.text
        cid = made.json()["id"]
        lifecycle = [(made.json()["status"], made.json()["delivery"])]
        shown: dict[str, Any] = {}

        async def completed_at_the_edge() -> bool:
            body = (await centre.get(f"/api/v1/sites/a/commands/{cid}", headers=op)).json()
            if (body["status"], body["delivery"]) != lifecycle[-1]:
                lifecycle.append((body["status"], body["delivery"]))
            shown.update(body)
            return body["edge"] is not None and body["edge"]["status"] == "completed"

        await until(completed_at_the_edge, "the command completed by edge a, at the centre",
                    step=0.02)
        assert lifecycle[0] in (("pending", "queued"), ("executing", "sending")), lifecycle
        assert lifecycle[-1] == ("completed", "answered"), lifecycle
        edge_cmd = shown["answer"]["result"]["command"]
        async with edges["a"].api() as client:
            at_edge = (await client.get(f"/api/v1/sites/a/commands/{edge_cmd['id']}")).json()
            array = (await client.get("/api/v1/sites/a/points/ahu-1/sat-sp/priority-array")).json()
        assert (at_edge["status"], at_edge["value"], at_edge["priority"]) == ("completed", 15.5, 12)
        assert at_edge["requested_by"] == CENTRAL_USER
        assert array["effective"] == 15.5 and array["active_priority"] == 12
        assert array["slots"][11]["command_id"] == edge_cmd["id"]

        # 3. a user granted one site sees only it
        viewer = await login(centre, "viewer-b@example.com", PASSWORD)
        seen = (await centre.get("/api/v1/sites", headers=viewer)).json()["items"]
        assert [s["id"] for s in seen] == ["b"]
        points = (await centre.get("/api/v1/sites/b/points", headers=viewer)).json()["items"]
        assert sorted(p["id"] for p in points) == sorted(f"b/{p}" for p in POINTS)
        for other in ("/api/v1/sites/a/points", "/api/v1/sites/c/commands", "/api/v1/sites/a"):
            assert (await centre.get(other, headers=viewer)).status_code in (403, 404), other

        # 4. an edge with site b's file and site a's login: the broker refuses, the centre has none
        impostor_dir = tmp_path / "impostor"
        impostor_dir.mkdir()
        (impostor_dir / "b.yaml").write_text(SITE_FILE.format(
            site="b", port=broker.port, password_file=edges["a"].data.parent / "mqtt-password",
            central=CENTRAL_USER, equipment="intruder"))
        impostor = procs.add("impostor", ["run", "--dir", str(impostor_dir), "--no-api",
                                          "--status-every", "5"], {"EDGE_MQTT_USER": "a"})
        b_config = pg(url, "SELECT hash FROM central_sites WHERE site = 'b'")
        impostor.start()
        denied = re.compile(r"Denied PUBLISH from \S+ \(.*'openbms/b/devices/sim:intruder'")
        await eventually(lambda: len(denied.findall(broker.log.read_text(errors="replace"))) >= 3,
                         "the broker to refuse 3 of the impostor's batches", within=90, step=0.2)
        assert await asyncio.to_thread(impostor.stop) == 0, impostor.text()
        after = time.time()
        await eventually(lambda: pg(url, "SELECT count(*) FROM samples h JOIN series s USING (pid) "
                                         "WHERE s.point = 'b/ahu-1/sat' AND h.ts > %s", after)[0][0] > 0,
                         "a sample of the real edge b stored after the impostor stopped", within=30)
        assert pg(url, "SELECT point FROM series WHERE point LIKE '%%intruder%%'") == []
        assert pg(url, "SELECT hash FROM central_sites WHERE site = 'b'") == b_config
        assert "intruder" not in (await centre.get("/api/v1/sites/b/points", headers=admin)).text

        # 5. a command for edge c while it is offline, with a short expiry: expired, never executed
        assert await asyncio.to_thread(edges["c"].process.stop) == 0
        queued = procs.add("command", ["central", "command", "c", "ahu-1/sat-sp", "17", "--priority",
                                       "11", "--expires", "3", "--reason", "acceptance: too late"],
                           history_env)
        queued.start()
        assert await asyncio.to_thread(queued.wait, 60) == 0, queued.text()
        number = re.search(r"queued command (\d+)", queued.text())
        assert number, queued.text()
        late = f"central-{number.group(1)}"

        async def status(cid: str) -> str:
            r = await centre.get(f"/api/v1/sites/c/commands/{cid}", headers=admin)
            return str(r.json()["status"])

        async def expired() -> bool:
            return await status(late) == "expired"

        await until(expired, "the offline edge's command expired at the centre")
        await edge_started(edges["c"])
        # a later command to c goes through: the dispatcher has seen c online since, and did not
        # send the expired one
        later = await centre.post("/api/v1/sites/c/points/ahu-1/sat-sp/commands", headers=admin,
                                  json={"value": 16, "priority": 12, "reason": "acceptance: in time"})
        assert later.status_code == 201, later.text

        async def later_completed() -> bool:
            return await status(later.json()["id"]) == "completed"

        await until(later_completed, "the later command completed by edge c")
        gone = (await centre.get(f"/api/v1/sites/c/commands/{late}", headers=admin)).json()
        async with edges["c"].api() as client:
            array = (await client.get("/api/v1/sites/c/points/ahu-1/sat-sp/priority-array")).json()
            c_commands = (await client.get("/api/v1/sites/c/commands")).json()["items"]
            c_audit = (await client.get("/api/v1/audit", params={"action": "command.*"})).json()[
                "items"]
        assert (gone["status"], gone["delivery"], gone["answer"]) == ("expired", "expired", None)
        assert array["slots"][10]["value"] is None and array["slots"][11]["value"] == 16
        assert [(c["value"], c["priority"]) for c in c_commands] == [(16, 12)]
        assert [(e["action"], e["actor"]) for e in c_audit] == [("command.write", CENTRAL_USER)], \
            c_audit

        # 6. the outage: every edge cut off, b killed and started again during it, then everything
        # restarted; the centre ends with every sample of every edge's own history
        events["cut"] = time.time()
        for edge in edges.values():
            edge.relay.cut()
        await asyncio.sleep(OUTAGE_S / 2)
        events["b killed"] = time.time()
        edges["b"].process.kill()
        await edge_started(edges["b"])
        events["b started again"] = time.time()
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.time() - events["cut"])))
        events["restart"] = time.time()
        for p in (*(e.process for e in edges.values()), serve, worker):
            assert await asyncio.to_thread(p.stop) == 0, p.text()
        events["stopped"] = time.time()
        await asyncio.to_thread(broker.stop)
        await asyncio.to_thread(broker.start)
        await started(worker, r"ingesting")
        await started(serve, SERVING)
        for edge in edges.values():
            edge.relay.restore()
            edge.process.start()
        for edge in edges.values():
            await edge_started(edge, start=False)
        events["restarted"] = time.time()
        drained: dict[str, float] = {}

        async def all_drained() -> bool:
            for edge in edges.values():
                if edge.site not in drained:
                    h = await bridge_health(edge)
                    if h.get("connected") and h.get("queued") == 0:
                        drained[edge.site] = h["now_ts"]
            return len(drained) == len(edges)

        await until(all_drained, "every edge's outbox drained", within=120, step=0.5)
        end = min(drained.values()) - 5.0  # every sample before it was sent and acknowledged
        before = centre_times(url, end)  # what the outboxes delivered, before the backfill
        written = {}
        for site in SITES:  # one backfill, as the issue allows: the centre asks each edge's history
            fill = procs.add(f"backfill-{site}", ["central", "backfill", "--site", site, "--tokens",
                                                   str(tokens), "--broker", address, *sign_in],
                             central_env)
            fill.start()
            assert await asyncio.to_thread(fill.wait, 180) == 0, fill.text()
            found = re.search(r"(\d+) samples written", fill.text())
            assert found, fill.text()
            written[site] = int(found.group(1))
        print(f"samples written by the backfill after the drain: {written} (its range runs to "
              "now: samples still on their way count)")
        for p in (*(e.process for e in edges.values()), serve, worker):
            assert await asyncio.to_thread(p.stop) == 0, p.text()
        at_centre = centre_times(url, end)
        for edge in edges.values():
            own = await edge_times(edge, end)
            during = [t for p in own.values() for t in p if events["cut"] < t < events["restart"]]
            assert len(during) > len(POINTS) * OUTAGE_S / 4, "the edge polled through the outage"
            mine = {p: t for p, t in at_centre.items() if p.startswith(f"{edge.site}/")}
            missing = {p: sorted(set(t) - set(mine.get(p, ()))) for p, t in own.items()}
            extra = {p: sorted(set(t) - set(own.get(p, ()))) for p, t in mine.items()}
            # What the killed edge's own history lost: the samples of its last flush (one second,
            # historian.md), which its outbox had already committed; the centre keeps them.
            lost = {p: [t for t in ts if not (edge.site == "b" and
                                              events["b killed"] - 3.0 < t < events["b killed"])]
                    for p, ts in extra.items()}
            counts = ({p: len(t) for p, t in own.items()}, {p: len(t) for p, t in mine.items()})
            filled = {p: sorted(set(t) - set(before.get(p, ()))) for p, t in mine.items()}
            print(f"edge {edge.site}: samples (edge, centre) {counts}; at the centre only: {extra}; "
                  f"before {end:.1f}, filled by the backfill: {filled}")
            assert not any(missing.values()) and not any(lost.values()), (
                f"edge {edge.site}: counts (edge, centre): {counts}\nat the edge, not at the centre: "
                f"{missing}\nat the centre, not at the edge: {extra}\nevents: {events}")
            assert set(own) == set(mine) == {f"{edge.site}/{p}" for p in POINTS}
