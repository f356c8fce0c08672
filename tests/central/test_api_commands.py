"""Commands made through the centre's API (``openbms central serve``) on a real Mosquitto and
PostgreSQL: queued at the centre (priority 9-16, expiry), sent by the server's dispatcher to the
edge, executed by the edge's arbiter, the lifecycle visible through the centre's API with per-site
roles; what the edge does not let write, or a priority the edge keeps, is refused at the centre."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from openbms.api.server import serve
from openbms.central.server import CentralServer
from openbms.config import load_sites
from openbms.db import audit_entries
from openbms.db.accounts import create_api_token, create_user
from openbms.drivers.mqtt.ingest import SharedSubscriber
from openbms.drivers.mqtt.requests import Requester
from openbms.model import parse_binding
from openbms.service.runtime import Runtime
from tests.api.live import password_hash
from tests.central.test_ingest import workers
from tests.central.test_server import PASSWORD, signed_in
from tests.central.test_sites import stored
from tests.fixtures.services import MosquittoBroker
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
"""
SP = "sim://ahu-1/sat-sp?wave=constant&value=13"


#: A client id of its own for each connection (the centre's live feed and its worker are two).
_CONNECTIONS = itertools.count()


def central_server(broker: MosquittoBroker, url: str, data: Path, tokens: dict[str, str]) -> CentralServer:
    def connect(filters: Sequence[str], handler: Any) -> SharedSubscriber:
        return SharedSubscriber({"host": broker.host, "port": broker.port, "timeout": 5}, filters,
                                handler, client_id=f"central-api-commands-{next(_CONNECTIONS)}",
                                reconnect_min=0.1)

    async def ask(site: str, name: str, payload: bytes, token: str) -> bytes:
        async with Requester(broker.host, broker.port, "openbms", site, timeout=10) as requester:
            return await requester.ask(name, payload,
                                       user_properties=[("authorization", f"Bearer {token}")])

    return CentralServer(url, connect, data, api=("127.0.0.1", 0), api_front=serve,
                         historian_options={"flush_interval": 0.05}, refresh_every=3600, ask=ask,
                         token=tokens.get)


async def test_a_command_through_the_centres_api_runs_at_the_edge_and_its_lifecycle_is_shown(
        mosquitto, postgres_url, tmp_path: Path):
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
        async with workers(mosquitto, url, n=1, name="configs"):
            await until(lambda: "hq" in stored(url), what="the edge's configuration at the centre")
        server = central_server(mosquitto, url, tmp_path / "central", tokens)
        await server.start()
        try:
            runtime = server.runtime
            assert runtime is not None and runtime.state is not None and server.worker is not None
            ingest = server.worker.ingest
            assert ingest is not None
            await until(lambda: ingest.is_online("hq"), what="the edge online at the centre")
            hashed = password_hash(PASSWORD)
            create_user(runtime.state, "op@example.com", hashed, grants={"hq": "operator"})
            create_user(runtime.state, "view@example.com", hashed, grants={"hq": "viewer"})
            create_user(runtime.state, "else@example.com", hashed, grants={"lab": "admin"})
            async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
                op = await signed_in(client, "op@example.com")
                view = await signed_in(client, "view@example.com")
                other = await signed_in(client, "else@example.com")
                base = "/api/v1/sites/hq"
                body = {"value": 15.5, "priority": 12, "reason": "night setback"}
                made = await client.post(f"{base}/points/ahu-1/sat-sp/commands", json=body, headers=op)
                urgent = await client.post(f"{base}/points/ahu-1/sat-sp/commands",
                                           json={**body, "priority": 8}, headers=op)
                default = await client.post(f"{base}/points/ahu-1/sat-sp/commands",
                                            json={"value": 14, "reason": "default priority"},
                                            headers=view)
                read_only = await client.post(f"{base}/points/ahu-1/sat/commands", json=body,
                                              headers=op)
                cid = made.json()["id"]

                async def shown() -> dict[str, Any]:
                    return dict((await client.get(f"{base}/commands/{cid}", headers=view)).json())

                for _ in range(400):  # the dispatcher sends it, the edge answers
                    if (await shown())["delivery"] not in ("queued", "sending"):
                        break
                    await asyncio.sleep(0.025)
                done = await shown()
                timed = await client.post(f"{base}/points/ahu-1/sat-sp/commands", headers=op, json={
                    "value": 17, "priority": 13, "duration_s": 1, "reason": "a timed override"})

                async def timed_status() -> str:
                    r = await client.get(f"{base}/commands/{timed.json()['id']}", headers=view)
                    return str(r.json()["status"])

                statuses = [await timed_status()]
                for _ in range(600):  # answered completed, then expired by the edge's arbiter
                    if statuses[-1] == "expired":
                        break
                    await asyncio.sleep(0.025)
                    if (status := await timed_status()) != statuses[-1]:
                        statuses.append(status)
                timed_done = (await client.get(f"{base}/commands/{timed.json()['id']}",
                                               headers=view)).json()
                listed = (await client.get(f"{base}/commands", headers=view)).json()["items"]
                hidden = await client.get(f"{base}/commands", headers=other)
            audit = audit_entries(runtime.state, action="command.write", limit=10)
        finally:
            await server.stop()
        device = edge.drivers["sim"].effective(parse_binding(SP))  # type: ignore[attr-defined]
        slots = edge.commands.slots("hq/ahu-1/sat-sp")
    finally:
        await edge.stop()
    assert made.status_code == 201, made.text
    first = made.json()
    # queued, or already taken by the dispatcher the submission woke
    assert (first["status"], first["delivery"]) in (("pending", "queued"), ("executing", "sending"))
    assert (first["priority"], first["source"], first["id"]) == (12, "central", cid)
    assert urgent.status_code == 422 and "9 to 16" in urgent.text  # the edge's priorities
    assert default.status_code == 403  # a viewer may not command, at the centre as anywhere
    assert read_only.status_code == 422 and "not writable at its edge" in read_only.text
    assert (done["delivery"], done["status"], done["answer"]["ok"]) == ("answered", "completed", True)
    assert done["answer"]["result"]["command"]["requested_by"] == "central@example.com"
    assert [c["id"] for c in listed] == [timed_done["id"], cid]  # newest first
    assert statuses[-2:] == ["completed", "expired"]  # the edge's later change, shown at the centre
    assert (timed_done["delivery"], timed_done["edge"]["status"]) == ("answered", "expired")
    assert timed_done["answer"]["result"]["command"]["status"] == "completed"  # its answer said
    assert hidden.status_code == 404
    assert device == 15.5 and slots[11] is not None and slots[11].value == 15.5
    assert slots[12] is None  # the timed override has gone at the edge
    assert sorted((r["details"].get("command_id") or "", "refused" in r["details"]) for r in audit) \
        == [("", True), ("", True), (cid, False), (timed_done["id"], False)]  # two refused here
