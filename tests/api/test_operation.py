"""What the building is doing, over HTTP (issue 14, item 3): modes, comfort, off while scheduled on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.service.runtime import Runtime
from tests.api.live import PASSWORD, password_hash
from tests.fixtures.waiting import eventually

# The AHU's schedule says on all week, but its fan reports off; the zone is at 15 °C against 21–24 °C.
SITE = """\
site: {id: b, timezone: UTC}
drivers:
  sim: {poll_interval: 0.2}
equipment:
  - id: ahu
    type: ahu
    points:
      - {name: fan-cmd, kind: bool, writable: true, relinquish_default: false, tags: [fan, run, cmd],
         binding: "sim://ahu/fan-cmd?wave=constant&value=0&kind=bool"}
      - {name: fan-status, kind: bool, tags: [fan, run, sensor],
         binding: "sim://ahu/fan-status?wave=constant&value=0&kind=bool"}
      - {name: sat, unit: degC, tags: [discharge, air, temp, sensor],
         binding: "sim://ahu/sat?wave=constant&value=-3.5"}
      - {name: htg-valve, unit: "%", tags: [heat, valve, sensor],
         binding: "sim://ahu/htg?wave=constant&value=80"}
  - id: vav
    type: vav
    points:
      - {name: zone-temp, unit: degC, tags: [zone, air, temp, sensor],
         binding: "sim://vav/t?wave=constant&value=15"}
      - {name: occ-mode, kind: bool, tags: [occupied, cmd],
         binding: "sim://vav/occ?wave=constant&value=1&kind=bool"}
      - {name: eff-htg-sp, unit: degC, tags: [zone, air, temp, heating, effective, sp],
         binding: "sim://vav/eh?wave=constant&value=21"}
      - {name: eff-clg-sp, unit: degC, tags: [zone, air, temp, cooling, effective, sp],
         binding: "sim://vav/ec?wave=constant&value=24"}
schedules:
  - {id: ahu-on, kind: bool, default: true, targets: [b/ahu/fan-cmd]}
"""


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[Runtime, dict[str, httpx.AsyncClient]]]:
    (tmp_path / "b.yaml").write_text(SITE)
    runtime = Runtime(load_sites(tmp_path), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        create_user(runtime.state, "viewer@example.com", password_hash(), grants={"b": "viewer"})
        create_user(runtime.state, "op@example.com", password_hash(), grants={"b": "operator"})
        for user in ("viewer", "op"):
            client = clients[user] = httpx.AsyncClient(base_url=runtime.api.url, timeout=30)
            r = await client.post("/api/v1/auth/login",
                                  json={"email": f"{user}@example.com", "password": PASSWORD})
            assert r.status_code == 200, r.text
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield runtime, clients
    finally:
        for c in clients.values():
            await c.aclose()
        await runtime.stop()


async def test_the_overview_learns_modes_comfort_and_equipment_off_while_scheduled_on(api):
    runtime, clients = api
    needed = ("ahu/fan-status", "ahu/htg-valve", "vav/zone-temp", "vav/occ-mode", "vav/eff-htg-sp",
              "vav/eff-clg-sp")
    await eventually(lambda: all(runtime.cache.get(f"b/{p}") is not None for p in needed)
                     and runtime.commands.slots("b/ahu/fan-cmd")[11] is not None,
                     "values and the schedule's slot")
    r = await clients["viewer"].get("/api/v1/sites/b/operation")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["site"], body["zones_outside_comfort"], body["off_while_scheduled_on"]) == ("b", 1, 1)
    ahu, vav = body["equipment"]
    assert (ahu["id"], ahu["running"], ahu["conditioning"]) == ("ahu", False, "heating")
    assert ahu["occupancy"] is None
    assert ahu["key_values"] == [{"label": "supply air", "point": "b/ahu/sat"}]
    assert ahu["scheduled_on_but_off"] == [{"point": "b/ahu/fan-cmd", "schedule": "schedule:ahu-on",
                                            "priority": 12, "winning_priority": 12,
                                            "winning_source": "schedule"}]
    assert (vav["occupancy"], vav["running"], vav["conditioning"]) == ("occupied", None, None)
    assert vav["comfort"] == {"point": "b/vav/zone-temp", "value": 15.0, "low": 21.0, "high": 24.0,
                              "state": "below"}
    assert vav["scheduled_on_but_off"] == []

    # An operator holding the fan off shows as what wins over the schedule.
    r = await clients["op"].post("/api/v1/sites/b/points/ahu/fan-cmd/commands",
                                 json={"value": False, "reason": "maintenance"})
    assert r.status_code == 201, r.text
    ahu = (await clients["viewer"].get("/api/v1/sites/b/operation")).json()["equipment"][0]
    held = [(m["winning_priority"], m["winning_source"]) for m in ahu["scheduled_on_but_off"]]
    assert held == [(8, "operator")]


async def test_only_those_granted_the_site_see_it(api):
    runtime, clients = api
    assert (await clients["viewer"].get("/api/v1/sites/other/operation")).status_code == 404
    async with httpx.AsyncClient(base_url=runtime.api.url) as anonymous:
        assert (await anonymous.get("/api/v1/sites/b/operation")).status_code == 401
