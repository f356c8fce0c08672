"""``/api/v1/emulator/faults``: an emulated building's faults through the real API (admins only).

The running system is given a real emulated ``Building``'s fault catalogue, as
``openbms demo`` gives its own (tests/cli/test_sim_fault.py runs the demo
itself, with the physics and the alarms).
"""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from openbms.sim.building import Building, ChillerTrip, StuckDamper
from openbms.sim.building.fault_catalogue import BuildingFaults
from tests.api.live import Live, live  # noqa: F401  (the fixture)

PATH = "/api/v1/emulator/faults"


@pytest.fixture
def building(live: Live) -> Building:  # noqa: F811
    b = Building(start=datetime(2025, 1, 13, 10))
    live.runtime.faults = BuildingFaults(b)
    return b


async def test_an_admin_injects_lists_and_clears_a_fault(live: Live, building: Building) -> None:  # noqa: F811
    r = await live.get("admin", PATH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["active"] == 0 and len(body["items"]) > 30
    trip = next(f for f in body["items"] if f["id"] == "chiller-trip:ch-1")
    assert trip["parameter"] is None and trip["active"] is False

    r = await live.put("admin", f"{PATH}/chiller-trip:ch-1", json={})
    assert r.status_code == 200, r.text
    assert r.json()["active"] is True
    assert building.faults == [ChillerTrip("ch-1")] and building.get("ch-1/alarm") is True
    # An id with a slash (a sensor's point), quoted or not.
    r = await live.put("admin", f"{PATH}/failed-sensor%3Aahu-1%2Foat", json={"value": 35})
    assert r.status_code == 200, r.text
    assert r.json()["value"] == 35 and building.get("ahu-1/oat") == 35
    listed = (await live.get("admin", PATH)).json()
    assert listed["active"] == 2
    active = {f["id"] for f in listed["items"] if f["active"]}
    assert active == {"chiller-trip:ch-1", "failed-sensor:ahu-1/oat"}

    r = await live.delete("admin", f"{PATH}/chiller-trip:ch-1")
    assert r.status_code == 200 and r.json()["active"] is False
    r = await live.delete("admin", f"{PATH}/failed-sensor:ahu-1/oat")
    assert r.status_code == 200
    assert building.faults == [] and building.get("ch-1/alarm") is False
    assert not math.isnan(building.get("ahu-1/oat")) and building.get("ahu-1/oat") != 35

    audit = (await live.get("admin", "/api/v1/audit", params={"action": "emulator.*"})).json()["items"]
    assert [(a["action"], a["target"]) for a in reversed(audit)] == [
        ("emulator.fault_inject", "chiller-trip:ch-1"), ("emulator.fault_inject", "failed-sensor:ahu-1/oat"),
        ("emulator.fault_clear", "chiller-trip:ch-1"), ("emulator.fault_clear", "failed-sensor:ahu-1/oat")]


async def test_a_value_out_of_range_or_an_unknown_fault_is_refused_in_plain_words(
        live: Live, building: Building) -> None:  # noqa: F811
    r = await live.put("admin", f"{PATH}/stuck-damper:ahu-1", json={"value": 150})
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["loc"] == ["body", "value"]
    assert "must be from 0 to 100 %, not 150" in error["msg"]
    r = await live.put("admin", f"{PATH}/stuck-damper:ahu-9", json={})
    assert r.status_code == 404 and "no fault 'stuck-damper:ahu-9'" in r.json()["detail"]
    assert building.faults == []
    r = await live.put("admin", f"{PATH}/stuck-damper:ahu-1", json={"value": 20})
    assert r.status_code == 200 and building.faults == [StuckDamper("ahu-1", 20.0)]


@pytest.mark.parametrize("user", ["fm", "operator", "viewer", "labviewer"])
async def test_only_admins_may_see_or_inject_faults(live: Live, building: Building, user: str) -> None:  # noqa: F811
    assert (await live.get(user, PATH)).status_code == 403
    assert (await live.put(user, f"{PATH}/chiller-trip:ch-1", json={})).status_code == 403
    assert (await live.delete(user, f"{PATH}/chiller-trip:ch-1")).status_code == 403
    assert (await live.get("anonymous", PATH)).status_code == 401
    assert building.faults == []


async def test_without_an_emulator_the_answer_says_where_faults_are(live: Live) -> None:  # noqa: F811
    r = await live.get("admin", PATH)
    assert r.status_code == 409
    assert "runs no emulated building" in r.json()["detail"] and "openbms demo" in r.json()["detail"]
