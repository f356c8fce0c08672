"""Commands from the centre on a real Mosquitto and PostgreSQL: queued at the centre, sent to the
online edge over its MQTT command/response with the site's token, executed by the edge's arbiter at
the priority asked, the edge's command lifecycle back at the centre; a command for an edge that is
offline until after its expiry is expired and never sent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest
from typer.testing import CliRunner

from openbms.api.server import serve
from openbms.central import IngestWorker
from openbms.central.commands import CommandQueue
from openbms.cli.main import app
from openbms.config import load_sites
from openbms.db.accounts import create_api_token, create_user
from openbms.drivers.mqtt.ingest import SharedSubscriber
from openbms.drivers.mqtt.requests import Requester
from openbms.model import parse_binding
from openbms.runtime.clock import ManualClock, WallClock
from openbms.service.runtime import Runtime
from tests.central.test_ingest import T0, rows
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
  bridge: {{per_point: false, per_device: true}}
  commands: {{enabled: true, priority: 9}}
equipment:
  - id: ahu-1
    type: ahu
    points:
      - name: sat-sp
        unit: degC
        writable: true
        relinquish_default: 13
        limits: {{min: 10, max: 18}}
        binding: "sim://ahu-1/sat-sp?wave=constant&value=13"
"""
SP = "sim://ahu-1/sat-sp?wave=constant&value=13"


def central_for(broker: MosquittoBroker, url: str, tokens: dict[str, str], asked: list[str],
                clock: Any, backfill_hours: float = 0) -> IngestWorker:
    def connect(filters: Sequence[str], handler: Any) -> SharedSubscriber:
        return SharedSubscriber({"host": broker.host, "port": broker.port, "timeout": 5}, filters,
                                handler, client_id="central-commands", reconnect_min=0.1)

    async def ask(site: str, name: str, payload: bytes, token: str) -> bytes:
        asked.append(site)
        async with Requester(broker.host, broker.port, "openbms", site, timeout=10) as requester:
            return await requester.ask(name, payload,
                                       user_properties=[("authorization", f"Bearer {token}")])

    return IngestWorker(url, connect, clock=clock, ask=ask, token=tokens.get, flush_interval=0.05,
                        backfill_hours=backfill_hours)


async def test_a_command_from_the_centre_runs_through_the_edges_arbiter(
        mosquitto, postgres_url, tmp_path: Path):
    url = fresh_postgres_database(postgres_url)
    folder = tmp_path / "hq"
    folder.mkdir()
    (folder / "hq.yaml").write_text(SITE.format(port=mosquitto.port))
    edge = Runtime(load_sites(folder), tmp_path / "edge", api=("127.0.0.1", 0), api_front=serve)
    await edge.start()
    asked: list[str] = []
    try:
        assert edge.state is not None
        user = create_user(edge.state, "central@example.com", "x", grants={"hq": "operator"})
        tokens = {"hq": create_api_token(edge.state, user["id"], "central")[0]}
        worker = central_for(mosquitto, url, tokens, asked, WallClock())
        await worker.start()
        try:
            assert worker.ingest is not None and worker.dispatcher is not None
            ingest = worker.ingest
            await until(lambda: ingest.is_online("hq"), what="the edge online at the centre")
            queue = CommandQueue(worker.history_url)
            cid = await queue.submit("hq", "hq/ahu-1/sat-sp", 15.5, now=WallClock().now(),
                                     expires_s=600, priority=12, requested_by="ops@example.com")
            worker.dispatcher.poke()

            async def status() -> str:
                return (await queue.commands("hq"))[0]["status"]

            for _ in range(400):  # sent by the dispatcher's loop, answered by the edge
                if await status() not in ("queued", "sending"):
                    break
                await asyncio.sleep(0.025)
            (command,) = await queue.commands("hq")
            edge_command = command["answer"]["result"]["command"]
            await until(lambda: any(r[0] == "completed" for r in rows(
                url, "SELECT body->>'status' FROM central_events WHERE kind = 'command'")),
                what="the edge's command change at the centre")
            await ingest.flush()
            changes = rows(url, "SELECT body->>'id', body->>'status', body->>'priority' FROM "
                                "central_events WHERE site = 'hq' AND kind = 'command'")
        finally:
            await worker.stop()
        device = edge.drivers["sim"].effective(parse_binding(SP))  # type: ignore[attr-defined]
        slots = edge.commands.slots("hq/ahu-1/sat-sp")
    finally:
        await edge.stop()
    assert command["id"] == cid and command["status"] == "answered" and command["answer"]["ok"]
    assert (edge_command["priority"], edge_command["value"], edge_command["status"]) == (12, 15.5,
                                                                                         "completed")
    assert edge_command["requested_by"] == "central@example.com"
    assert device == 15.5 and slots[11] is not None and slots[11].value == 15.5
    assert (str(edge_command["id"]), "completed", "12") in changes
    assert asked == ["hq"]


async def test_a_command_for_an_edge_offline_past_its_expiry_is_never_sent(mosquitto, postgres_url):
    url = fresh_postgres_database(postgres_url)
    clock = ManualClock(WallClock().now())
    asked: list[str] = []
    worker = central_for(mosquitto, url, {"lab": "a token"}, asked, clock)
    await worker.start()
    try:
        assert worker.ingest is not None and worker.dispatcher is not None
        ingest, dispatcher = worker.ingest, worker.dispatcher
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="lab-edge") as lab:
            await lab.publish("openbms/lab/status", orjson.dumps({"status": "offline", "site": "lab"}),
                              qos=1, retain=True)
            await until(lambda: "lab" in ingest.online, what="lab offline at the centre")
            queue = CommandQueue(worker.history_url)
            await queue.submit("lab", "lab/fcu-1/sp", 21, now=clock.now(), expires_s=60)
            assert await dispatcher.pass_once() == 0  # offline: it waits
            await clock.advance(61.0)
            await dispatcher.pass_once()
            await lab.publish("openbms/lab/status", orjson.dumps({"status": "online", "site": "lab"}),
                              qos=1, retain=True)
            await until(lambda: ingest.is_online("lab"), what="lab online at the centre")
            assert await dispatcher.pass_once() == 0
            (command,) = await queue.commands("lab")
    finally:
        await worker.stop()
    assert command["status"] == "expired" and command["answer"] is None
    assert asked == [] and dispatcher.health()["expired"] == 1


async def test_openbms_central_command_is_sent_by_a_worker_with_the_sites_token(
        mosquitto, postgres_url, tmp_path: Path):
    url = fresh_postgres_database(postgres_url)
    folder = tmp_path / "hq"
    folder.mkdir()
    (folder / "hq.yaml").write_text(SITE.format(port=mosquitto.port))
    edge = Runtime(load_sites(folder), tmp_path / "edge", api=("127.0.0.1", 0), api_front=serve)
    await edge.start()
    log = tmp_path / "central.log"
    try:
        assert edge.state is not None
        user = create_user(edge.state, "central@example.com", "x", grants={"hq": "operator"})
        tokens = tmp_path / "tokens"
        tokens.mkdir()
        (tokens / "hq").write_text(create_api_token(edge.state, user["id"], "central")[0] + "\n")
        env = {**os.environ, "OPENBMS_HISTORY_URL": url, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        runner = CliRunner()

        def cli(*args: str) -> str:
            result = runner.invoke(app, ["central", *args], env=env)
            assert result.exit_code == 0, result.output
            return result.output

        assert "queued command 1: hq/ahu-1/sat-sp ← 16.5" in await asyncio.to_thread(
            cli, "command", "hq", "ahu-1/sat-sp", "16.5", "--priority", "11")
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "openbms.cli", "central", "run", "--broker",
                f"{mosquitto.host}:{mosquitto.port}", "--tokens", str(tokens), "--status-every",
                "0.5", stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            listed = ""
            for _ in range(800):  # the worker starts, hears the edge online, sends, is answered
                listed = await asyncio.to_thread(cli, "commands", "hq")
                if "\tanswered\t" in listed or proc.returncode is not None:
                    break
                await asyncio.sleep(0.025)
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 30) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        slots = edge.commands.slots("hq/ahu-1/sat-sp")
    finally:
        await edge.stop()
    fields = listed.strip().split("\t")
    assert fields[:4] == ["1", "hq/ahu-1/sat-sp", "16.5", "answered"], log.read_text()
    assert fields[4].startswith("edge command ") and fields[4].endswith(": completed")
    assert slots[10] is not None and slots[10].value == 16.5


async def test_the_centre_never_asks_for_the_edges_own_priorities(postgres_url):
    queue = CommandQueue(fresh_postgres_database(postgres_url).replace("+psycopg", ""))
    await queue.create()
    for priority in (1, 8):
        with pytest.raises(ValueError, match="1 to 8 are the edge's"):
            await queue.submit("hq", "hq/ahu-1/sp", 20, now=T0, expires_s=60, priority=priority)
    await queue.submit("hq", "hq/ahu-1/sp", 20, now=T0, expires_s=60)
    assert [c["priority"] for c in await queue.commands()] == [12]
    result = CliRunner().invoke(app, ["central", "command", "hq", "ahu-1/sp", "1", "--priority", "8"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "greater than or equal to 9" in result.output


def test_a_command_needs_a_value_or_release_not_both():
    runner = CliRunner()
    env = {"OPENBMS_HISTORY_URL": "postgresql://nobody@127.0.0.1:1/none", "COLUMNS": "200"}
    for args in (["hq", "ahu-1/sp"], ["hq", "ahu-1/sp", "1", "--release"]):
        result = runner.invoke(app, ["central", "command", *args], env=env)
        assert result.exit_code == 1 and "give a VALUE, or --release without one" in result.output
