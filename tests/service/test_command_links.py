"""The service side of command/response over MQTT: each site's connection, and who answers it."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from tests.fixtures.services import MosquittoBroker, free_port
from tests.integration.mqtt_helpers import until

from openbms.config import load_sites
from openbms.service.command_links import unavailable
from openbms.service.protocols import CommandRequests
from openbms.service.runtime import Runtime

SITE = """\
site: {{id: hq, name: HQ, timezone: UTC}}
drivers:
  sim: {{poll_interval: 1}}
mqtt: {{port: {port}, timeout: 0.5, bridge: {{enabled: false}}, commands: {{enabled: true}}}}
equipment:
  - id: ahu-1
    type: ahu
    points:
      - {{name: sat, unit: degC, binding: "sim://ahu-1/sat?wave=constant&value=14"}}
"""


def test_unavailable_answers_with_the_requests_id_when_it_has_one():
    answer = json.loads(unavailable(b'{"id": "r-1", "point": "x"}', "no API"))
    assert answer == {"id": "r-1", "ok": False,
                      "error": {"code": "unavailable", "message": "no API", "field": None}}
    assert json.loads(unavailable(b"not json", "no API"))["id"] is None
    assert json.loads(unavailable(b'{"id": 7}', "no API"))["id"] is None


async def test_a_sites_connection_is_degraded_in_health_until_its_broker_comes(tmp_path: Path):
    port = free_port()
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "hq.yaml").write_text(SITE.format(port=port))
    runtime = Runtime(load_sites(folder), tmp_path / "data")
    assert isinstance(runtime, CommandRequests)
    base = Path(tempfile.mkdtemp(prefix="openbms-mqtt-"))
    broker = MosquittoBroker(base, port)
    await runtime.start()
    try:
        server = runtime.command_links.servers["hq"]
        assert not server.connected
        health = runtime.health()["mqtt_commands"]
        assert health["status"] == "degraded" and f"127.0.0.1:{port}" in health["reasons"][0]
        broker.start()
        await until(lambda: server.connected, 30, "the connection to the broker that came")
        assert "mqtt_commands" not in runtime.health()
    finally:
        await runtime.stop()
        broker.stop()
        shutil.rmtree(base, ignore_errors=True)
