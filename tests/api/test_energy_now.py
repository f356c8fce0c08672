"""The hour in progress has energy from its first samples, and the meters come grouped, over real HTTP.

A fresh site whose meters have twenty minutes of samples in the current hour
(and forty in the hour before): the hour's rollup cannot say where in the hour
its data lies, so the energy route computes the hour holding ``until`` from
raw samples and marks its bucket partial.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.model.sample import Sample
from openbms.runtime.clock import ManualClock
from openbms.service.runtime import Runtime
from tests.api.live import password_hash

PASSWORD = "correct horse battery"
# No driver runs: the samples are the test's.
SITE = """\
site: {id: fresh, name: Fresh, timezone: UTC}
drivers:
  sim: {enabled: false}
equipment:
  - id: meters
    type: meter
    name: Utility meters
    tags: [siteMeter]
    points:
      - {name: elec-kwh, unit: kWh, description: Building electric energy (since start), tags: [elec, energy],
         binding: "sim://meters/elec-kwh"}
      - {name: elec-kw, unit: kW, description: Building electric demand, tags: [elec, power],
         binding: "sim://meters/elec-kw"}
      - {name: ltg-kw, unit: kW, description: Lighting demand, tags: [elec, power],
         binding: "sim://meters/ltg-kw"}
      - {name: gas-kwh, unit: kWh, description: Gas energy, tags: [gas, energy], binding: "sim://meters/gas-kwh"}
  - id: tenant
    type: meter
    name: Tenant meter, floor 2
    tags: ["submeterOf:meters/elec-kwh"]
    points:
      - {name: energy, unit: kWh, tags: [elec, energy], binding: "sim://tenant/energy"}
  - id: ahu
    type: ahu
    name: Air handler
    points:
      - {name: fan-kw, unit: kW, tags: [elec, power], binding: "sim://ahu/fan-kw"}
  - id: plant
    type: chiller
    name: Chiller plant
    feeds: [ahu]
    points:
      - {name: ch-1-kw, unit: kW, description: Chiller electric demand, tags: [elec, power],
         binding: "sim://plant/ch-1-kw"}
      - {name: ch-2-kw, unit: kW, description: Chiller electric demand, tags: [elec, power],
         binding: "sim://plant/ch-2-kw"}
"""
HOUR = 3600.0
H = 1_700_002_800.0  # the start of an hour
NOW = H + 20 * 60


def samples() -> list[Sample]:
    """A sample a minute from 40 minutes before the hour to 19 minutes into it: 60 kW, 1 kWh a minute."""
    out = []
    for i in range(-40, 20):
        ts = H + 60 * i
        out += [
            Sample("fresh/meters/elec-kwh", ts, 1000.0 + i),
            Sample("fresh/meters/elec-kw", ts, 60.0),
            Sample("fresh/meters/ltg-kw", ts, 6.0),
            Sample("fresh/meters/gas-kwh", ts, 50.0 + 2 * i),
            Sample("fresh/tenant/energy", ts, 10.0 + i / 2),
            Sample("fresh/ahu/fan-kw", ts, 3.0),
        ]
    return out


@pytest.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "fresh.yaml").write_text(SITE)
    runtime = Runtime(load_sites(folder), tmp_path / "data", clock=ManualClock(NOW), api=("127.0.0.1", 0),
                      api_front=serve)
    await runtime.start()
    try:
        create_user(runtime.state, "viewer@example.com", password_hash(PASSWORD), grants={"fresh": "viewer"})
        runtime.historian.ingest(samples())
        await runtime.historian.flush()
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
            login = {"email": "viewer@example.com", "password": PASSWORD}
            r = await client.post("/api/v1/auth/login", json=login)
            assert r.status_code == 200, r.text
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            yield client
    finally:
        await runtime.stop()


async def energy(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/sites/fresh/energy", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def buckets(body: dict[str, Any], point: str) -> list[dict[str, Any]]:
    return next(s["buckets"] for s in body["series"] if s["point"] == f"fresh/{point}")


async def test_the_hour_in_progress_has_the_energy_of_its_first_twenty_minutes(fresh):
    body = await energy(fresh, bucket="hour", count=2)
    assert body["until"] == NOW
    before, current = buckets(body, "meters/elec-kwh")
    # The register read 1000 at the hour and 1019 at its last reading; the 40 readings before it count 40.
    assert (current["start"], current["kwh"], current["partial"]) == (H, pytest.approx(19.0), True)
    assert (before["kwh"], before["partial"]) == (pytest.approx(40.0), False)
    # 60 kW from the hour's start, the last sample held until now: 20 minutes, 20 kWh.
    before, current = buckets(body, "meters/elec-kw")
    assert (current["kwh"], current["partial"]) == (pytest.approx(20.0), True)
    assert before["kwh"] == pytest.approx(40.0)
    assert buckets(body, "meters/ltg-kw")[1]["kwh"] == pytest.approx(2.0)


async def test_the_day_in_progress_counts_the_hour_in_progress(fresh):
    body = await energy(fresh, bucket="day", count=1)
    (today,) = buckets(body, "meters/elec-kw")
    assert (today["kwh"], today["partial"]) == (pytest.approx(60.0), True)
    (today,) = buckets(body, "meters/gas-kwh")
    assert today["kwh"] == pytest.approx(2 * 59.0)


async def test_a_bucket_before_until_is_whole(fresh):
    body = await energy(fresh, bucket="hour", count=2, until=str(H))
    assert [b["partial"] for b in buckets(body, "meters/elec-kw")] == [False, True]
    body = await energy(fresh, bucket="hour", count=1, until=str(H - 1))
    assert buckets(body, "meters/elec-kw")[0]["partial"] is True


async def test_the_kw_and_kwh_of_one_meter_are_one_meter_and_sub_meters_name_their_parent(fresh):
    body = await energy(fresh, bucket="hour", count=1)
    meters = {m["id"]: m for m in body["meters"]}
    assert [m["id"] for m in body["meters"]] == [
        "fresh/meters/elec-kwh",
        "fresh/meters/ltg-kw",
        "fresh/tenant/energy",
        "fresh/meters/gas-kwh",
        "fresh/ahu/fan-kw",
        "fresh/plant/ch-1-kw",
        "fresh/plant/ch-2-kw",
    ]
    elec = meters["fresh/meters/elec-kwh"]
    assert (elec["energy"], elec["power"], elec["main"], elec["parent"]) == (
        "fresh/meters/elec-kwh", "fresh/meters/elec-kw", True, None)
    assert (elec["name"], elec["equipment_name"], elec["commodity"]) == (
        "Building electric", "Utility meters", "elec")
    # A demand point beside its commodity's register in one equipment is its sub-meter.
    ltg = meters["fresh/meters/ltg-kw"]
    assert (ltg["name"], ltg["energy"], ltg["main"], ltg["parent"]) == (
        "Lighting", None, False, "fresh/meters/elec-kwh")
    # Configured: submeterOf names the parent.
    tenant = meters["fresh/tenant/energy"]
    assert (tenant["name"], tenant["main"], tenant["parent"]) == ("Tenant meter, floor 2", False,
                                                                   "fresh/meters/elec-kwh")
    gas = meters["fresh/meters/gas-kwh"]
    assert (gas["name"], gas["main"], gas["commodity"]) == ("Gas", True, "gas")
    # A chiller feeds the air handler water, not electricity: no parent of its meter.
    fan = meters["fresh/ahu/fan-kw"]
    assert (fan["name"], fan["main"], fan["parent"]) == ("Air handler", False, None)
    # Two meters of one description each say which they are.
    assert [meters[f"fresh/plant/ch-{i}-kw"]["name"] for i in (1, 2)] == [
        "Chiller electric (ch-1)", "Chiller electric (ch-2)"]
