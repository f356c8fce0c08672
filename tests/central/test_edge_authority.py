"""The edge keeps control authority: ``mqtt: commands: min_priority`` against the centre's token.

A running edge (runtime + API, ``sim`` points) answers command requests over a real Mosquitto; the
user whose token the central openbms holds is in ``commands.central_users``. Its writes and releases
more urgent than the floor are refused with the reason (audited, nothing written); at the floor they
run; the site's own operator still writes at 8.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db import audit_entries
from openbms.db.accounts import create_api_token, create_user
from openbms.drivers.mqtt.requests import Requester
from openbms.model.mqtt import CommandSettings
from openbms.service.runtime import Runtime
from tests.fixtures.services import MosquittoBroker

SITE = """\
site: {{id: hq, name: Headquarters, timezone: UTC}}
drivers:
  sim: {{poll_interval: 0.2}}
mqtt:
  host: 127.0.0.1
  port: {port}
  prefix: bms
  timeout: 5
  bridge: {{enabled: false}}
  commands: {{enabled: true, central_users: [Central@Example.com], min_priority: 10}}
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


@dataclass
class Edge:
    runtime: Runtime
    broker: MosquittoBroker
    tokens: dict[str, str]

    async def ask(self, name: str, body: dict[str, Any], user: str) -> dict[str, Any]:
        props = [("authorization", f"Bearer {self.tokens[user]}")]
        async with Requester(self.broker.host, self.broker.port, "bms", "hq", timeout=10) as client:
            return dict(json.loads(await client.ask(name, json.dumps(body).encode(),
                                                    user_properties=props)))


@pytest.fixture
async def edge(mosquitto: MosquittoBroker, tmp_path: Path) -> AsyncIterator[Edge]:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "hq.yaml").write_text(SITE.format(port=mosquitto.port))
    runtime = Runtime(load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        assert runtime.state is not None
        tokens = {}
        for user in ("central", "operator"):
            row = create_user(runtime.state, f"{user}@example.com", "x", grants={"hq": "operator"})
            tokens[user] = create_api_token(runtime.state, row["id"], "mqtt")[0]
        yield Edge(runtime, mosquitto, tokens)
    finally:
        await runtime.stop()


def test_the_floor_is_9_unless_set_and_no_user_is_the_centre_s_unless_named() -> None:
    settings = CommandSettings()
    assert (settings.min_priority, settings.central_users) == (9, [])


async def test_the_centre_s_write_above_the_floor_is_refused_with_the_reason(edge: Edge) -> None:
    answer = await edge.ask("write", {"id": "c-1", "point": "ahu-1/sat-sp", "value": 16,
                                      "priority": 8, "reason": "from the centre"}, "central")
    assert answer["ok"] is False
    error = answer["error"]
    assert (error["code"], error["field"]) == ("refused", "priority")
    assert "10 to 16" in error["message"] and "min_priority" in error["message"]
    assert edge.runtime.commands.slots("hq/ahu-1/sat-sp")[7] is None  # nothing written
    rows = audit_entries(edge.runtime.state, action="command.write", limit=10)  # type: ignore[arg-type]
    assert [(r["actor"], "min_priority" in r["details"]["refused"]) for r in rows] == \
        [("central@example.com", True)]


async def test_the_centre_s_release_above_the_floor_is_refused(edge: Edge) -> None:
    ok = await edge.ask("write", {"id": "o-1", "point": "ahu-1/sat-sp", "value": 15, "priority": 8,
                                  "reason": "local"}, "operator")
    assert ok["ok"] is True
    answer = await edge.ask("release", {"id": "c-2", "point": "ahu-1/sat-sp", "priority": 8},
                            "central")
    assert (answer["ok"], answer["error"]["code"]) == (False, "refused")
    held = edge.runtime.commands.slots("hq/ahu-1/sat-sp")[7]
    assert held is not None and held.value == 15  # the site's operator keeps slot 8


async def test_the_centre_writes_at_the_floor_and_the_site_s_operator_above_it(edge: Edge) -> None:
    central = await edge.ask("write", {"id": "c-3", "point": "ahu-1/sat-sp", "value": 16,
                                       "priority": 10}, "central")
    assert central["ok"] is True and central["result"]["command"]["priority"] == 10
    local = await edge.ask("write", {"id": "o-2", "point": "ahu-1/sat-sp", "value": 14,
                                     "priority": 8}, "operator")
    assert local["ok"] is True
    slots = edge.runtime.commands.slots("hq/ahu-1/sat-sp")
    assert (slots[7].value, slots[9].value) == (14, 16)  # type: ignore[union-attr]
