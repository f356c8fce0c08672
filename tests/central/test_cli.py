"""``openbms central run`` as two OS processes on a real Mosquitto and PostgreSQL: they split the
edges' batches (each takes part, the union is everything, no row twice) and stop cleanly on SIGTERM;
a wrong database URL is one line, not a traceback."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import paho.mqtt.client as paho
import pytest
from typer.testing import CliRunner

from openbms.central import CentralStore
from openbms.central.decode import decode_site_document
from openbms.cli.main import app
from openbms.drivers.mqtt.bridge import site_document
from tests.central.test_ingest import T0, counts, edge_site
from tests.fixtures.services import MosquittoBroker
from tests.historian.conftest import fresh_postgres_database


@contextmanager
def central(broker: MosquittoBroker, url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "OPENBMS_HISTORY_URL": url, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "openbms.cli", "central", "run", "--broker",
                                 f"{broker.host}:{broker.port}", "--status-every", "0.5"],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for(condition: object, what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:g} s: {what}")
        time.sleep(0.05)


def test_two_central_processes_split_the_load_and_stop_cleanly(mosquitto, postgres_url, tmp_path):
    url = fresh_postgres_database(postgres_url)
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    with central(mosquitto, url, logs[0]) as one, central(mosquitto, url, logs[1]) as two:
        wait_for(lambda: all("ingesting" in p.read_text() for p in logs), "both workers subscribed")
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-edges")
        client.connect(mosquitto.host, mosquitto.port)
        client.loop_start()
        try:
            infos = []
            for site in ("a", "b", "c"):
                for r in range(20):
                    batch = {"site": site, "device": "bacnet:1", "samples": [
                        {"point": f"{site}/ahu-1/p{i}", "value": float(r), "status": "ok",
                         "time": T0 + 60 * r, "key": f"k{r}"} for i in range(5)]}
                    infos.append(client.publish(f"openbms/{site}/devices/bacnet:1",
                                                orjson.dumps(batch), qos=1))
            for info in infos:
                info.wait_for_publish(10)
        finally:
            client.loop_stop()
            client.disconnect()
        wait_for(lambda: sum(counts(url).values()) == 300, "300 samples stored")
        for proc in (one, two):
            proc.send_signal(signal.SIGTERM)
        assert one.wait(20) == 0 and two.wait(20) == 0
    outputs = [p.read_text() for p in logs]
    shares = [int(re.search(r"stopped cleanly: (\d+) samples", out).group(1))  # type: ignore[union-attr]
              for out in outputs]
    assert all(share > 0 for share in shares) and sum(shares) == 300, outputs
    assert counts(url) == {f"{site}/ahu-1/p{i}": 20 for site in "abc" for i in range(5)}
    assert "Traceback" not in "".join(outputs)


def test_a_database_that_is_not_postgresql_is_one_line():
    result = CliRunner().invoke(app, ["central", "run", "--history-url", "sqlite:///x.db"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "the central runs on PostgreSQL: expected postgresql://USER@HOST/DB" in result.output
    result = CliRunner().invoke(app, ["central", "sites"], env={"OPENBMS_HISTORY_URL": "", "COLUMNS": "200"})
    assert result.exit_code == 1 and "no database" in result.output


def test_central_serve_serves_the_stored_sites_and_stops_cleanly(mosquitto, postgres_url, tmp_path):
    url = fresh_postgres_database(postgres_url)

    async def store_one() -> None:
        store = CentralStore(url)
        await store.start()
        try:
            await store.put_site(decode_site_document(
                "a", site_document(edge_site("a", 1883), T0)[1], "openbms/a/config"), T0)
        finally:
            await store.stop()

    asyncio.run(store_one())
    log = tmp_path / "serve.log"
    env = {**os.environ, "OPENBMS_HISTORY_URL": url, "PYTHONUNBUFFERED": "1", "COLUMNS": "300",
           "OPENBMS_ADMIN_EMAIL": "admin@example.com", "OPENBMS_ADMIN_PASSWORD": "a long password"}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "openbms.cli", "central", "serve", "--broker",
                                 f"{mosquitto.host}:{mosquitto.port}", "--port", "0", "--data",
                                 str(tmp_path / "central")], stdout=out, stderr=subprocess.STDOUT,
                                env=env)
    try:
        wait_for(lambda: "dashboard http" in log.read_text() or proc.poll() is not None,
                 "the API announced")
        found = re.search(r"dashboard (http://[\d.:]+)/", log.read_text())
        assert found, log.read_text()
        api = found.group(1)
        token = httpx.post(f"{api}/api/v1/auth/login", json={
            "email": "admin@example.com", "password": "a long password"}).json()["access_token"]
        sites = httpx.get(f"{api}/api/v1/sites",
                          headers={"Authorization": f"Bearer {token}"}).json()["items"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [s["id"] for s in sites] == ["a"]
    assert "openbms central: 1 sites (a)" in log.read_text()
    assert "stopped cleanly" in log.read_text() and "Traceback" not in log.read_text()


@pytest.mark.parametrize(("option", "value"), [
    ("--lease", "inf"), ("--lease", "1e12"), ("--command-interval", "nan"),
    ("--keep-commands-days", "inf"), ("--lag-every", "1e9"), ("--backfill-hours", "1e6"),
    ("--refresh-every", "inf"), ("--lag-warning", "inf")])
def test_central_serve_refuses_a_time_that_is_not_finite_and_bounded(option: str, value: str) -> None:
    result = CliRunner().invoke(app, ["central", "serve", option, value, "--history-url",
                                      "postgresql://127.0.0.1:1/none", "-b", "127.0.0.1:1"])
    assert result.exit_code == 2, result.output  # a usage error, before anything starts
    assert option in result.output
