"""One clock: the API tells the building's time, and stamps records with it (issue 14, item 1).

A runtime on a ``ManualClock`` set in November 2023 stands for a building whose
time is not the wall's (the accelerated demo, a co-simulation): ``GET /health``
and the WebSocket tell that time and how fast it runs, the audit is stamped
with it, and ranges end at it, while sign-in and tokens keep working in real
time. History's ``prior`` carries the value a point held when a range opened.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db import audit_entries
from openbms.db.accounts import create_user
from openbms.model.sample import Sample
from openbms.runtime.clock import ManualClock, WallClock, clock_rate
from openbms.service.runtime import Runtime
from tests.api.live import HQ, LAB, PASSWORD, password_hash

#: 2023-11-14T22:13:20Z: years before the wall clock of any machine running these tests.
T0 = 1_700_000_000.0


class Building:
    """A runtime on a manual clock, its API, and an admin's client."""

    def __init__(self, runtime: Runtime, clock: ManualClock, client: httpx.AsyncClient, token: str) -> None:
        self.runtime, self.clock, self.client, self.token = runtime, clock, client, token


@pytest.fixture
async def building(tmp_path: Path) -> AsyncIterator[Building]:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "hq.yaml").write_text(HQ)
    (folder / "lab.yaml").write_text(LAB)
    clock = ManualClock(T0)
    runtime = Runtime(
        load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve, clock=clock
    )
    await runtime.start()
    try:
        create_user(runtime.state, "admin@example.com", password_hash(), grants={"*": "admin"})
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
            r = await client.post(
                "/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            yield Building(runtime, clock, client, token)
    finally:
        await runtime.stop()


# ---------------------------------------------------------------------- the clock's rate


def test_clock_rate_is_1_for_the_wall_0_for_a_manual_clock_and_a_paced_clocks_speed():
    class Paced:
        speed = 3600.0

        def now(self) -> float:
            return 0.0

        def monotonic(self) -> float:
            return 0.0

        async def sleep(self, seconds: float) -> None:
            return None

    assert (clock_rate(WallClock()), clock_rate(ManualClock()), clock_rate(Paced())) == (1.0, 0.0, 3600.0)


def test_the_demos_accelerated_clock_tells_its_speed():
    from openbms.sim.building.live import AcceleratedClock

    assert clock_rate(AcceleratedClock(T0, speed=60)) == 60.0


# ---------------------------------------------------------------------- health


async def test_health_tells_the_buildings_time_and_rate_not_the_walls(building: Building):
    r = await building.client.get("/api/v1/health")
    body = r.json()
    assert (body["now_ts"], body["clock_rate"]) == (T0, 0.0)
    assert datetime.fromisoformat(body["now"]).timestamp() == T0
    assert body["now"].endswith("+00:00")
    await building.clock.advance(90)
    body = (await building.client.get("/api/v1/health")).json()
    assert body["now_ts"] == T0 + 90
    assert body["now"] == "2023-11-14T22:14:50.000+00:00"


async def test_health_without_a_runtime_tells_the_apis_clock(make_api: Any):
    api = await make_api()
    body = (await api.client.get("/api/v1/health")).json()
    assert (body["now_ts"], body["clock_rate"]) == (api.clock.t, 1.0)


# ---------------------------------------------------------------------- WebSocket


async def test_the_websocket_tells_the_clock_after_ready_and_with_a_snapshot(building: Building):
    url = building.runtime.api.url.replace("http", "ws", 1) + f"/api/v1/ws?token={building.token}"
    async with connect(url) as ws:
        ready = json.loads(await ws.recv())
        clock = json.loads(await ws.recv())
        assert ready["type"] == "ready"
        assert clock == {
            "type": "clock",
            "now": "2023-11-14T22:13:20.000+00:00",
            "now_ts": T0,
            "clock_rate": 0.0,
        }
        await building.clock.advance(60)
        await ws.send(json.dumps({"type": "subscribe", "points": ["hq/ahu-1/*"]}))
        got: list[dict[str, Any]] = []
        while not any(m["type"] == "samples" for m in got):
            got.append(json.loads(await ws.recv()))
    snapshot = next(m for m in got if m["type"] == "samples")
    assert snapshot["snapshot"] is True
    assert (snapshot["now_ts"], snapshot["clock_rate"]) == (T0 + 60, 0.0)


# ---------------------------------------------------------------------- records and access


async def test_audit_rows_are_stamped_by_the_runtimes_clock_and_sign_in_keeps_real_time(building: Building):
    await building.clock.advance(120)
    r = await building.client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    rows = audit_entries(building.runtime.state, action="auth.login")
    assert [row["ts"] for row in rows] == [T0 + 120, T0]
    # The token's lifetime is counted on the wall: minted in 2023 building time, it would be long
    # expired; it is accepted.
    me = await building.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.status_code == 200, me.text
    # Past the access token's 15 minutes of building time: still valid, its 15 minutes are real.
    await building.clock.advance(960)
    assert (await building.client.get("/api/v1/auth/me")).status_code == 200


async def test_a_refused_requests_audit_row_is_stamped_by_the_runtimes_clock(building: Building):
    create_user(building.runtime.state, "lab@example.com", password_hash(), grants={"lab": "viewer"})
    r = await building.client.post(
        "/api/v1/auth/login", json={"email": "lab@example.com", "password": PASSWORD}
    )
    lab = {"Authorization": f"Bearer {r.json()['access_token']}"}
    await building.clock.advance(300)
    r = await building.client.get("/api/v1/sites/hq/points", headers=lab)
    assert r.status_code == 404  # no role on the site: refused, and audited
    await building.runtime.api.app.state.refusals.flush(building.runtime.api.app.state.openbms)
    rows = audit_entries(building.runtime.state, action="access.denied")
    assert rows and [row["ts"] for row in rows] == [T0 + 300]


async def test_history_ranges_end_at_the_buildings_time(building: Building):
    r = await building.client.get("/api/v1/sites/hq/history", params={"points": "ahu-1/sat"})
    assert r.status_code == 200, r.text
    assert (r.json()["until"], r.json()["since"]) == (T0, T0 - 86_400)


# ---------------------------------------------------------------------- prior, kind, step


async def test_prior_carries_the_last_sample_before_the_range_from_the_hour_the_day_or_the_year(
    building: Building,
):
    since = T0 - 3600  # 21:13:20, not on an hour
    historian = building.runtime.historian
    historian.ingest(
        [
            Sample("hq/ahu-1/sat-sp", since - 60, 14.5),  # the same hour as since: read raw
            Sample("hq/ahu-1/sat-sp", since - 7200, 12.0),
            Sample("hq/vav-1/zone-sp", T0 - 90_000, 23.5),  # a day back: found through hourly rollups
            Sample("hq/ahu-1/fan-cmd", T0 - 10 * 86_400, True),  # ten days back: through daily rollups
            Sample("hq/ahu-1/fan-cmd", since + 60, False),  # inside the range: not prior
        ]
    )
    await historian.refresh_rollups()
    r = await building.client.get(
        "/api/v1/sites/hq/history",
        params={
            "points": "ahu-1/sat-sp,vav-1/zone-sp,ahu-1/fan-cmd,ahu-1/sat",
            "since": str(since),
            "until": str(since + 1800),
            "prior": "true",
        },
    )
    assert r.status_code == 200, r.text
    series = {s["point"]: s for s in r.json()["series"]}
    assert series["hq/ahu-1/sat-sp"]["prior"] == {"ts": since - 60, "value": 14.5, "status": "ok"}
    assert series["hq/vav-1/zone-sp"]["prior"] == {"ts": T0 - 90_000, "value": 23.5, "status": "ok"}
    assert series["hq/ahu-1/fan-cmd"]["prior"]["ts"] == T0 - 10 * 86_400
    assert series["hq/ahu-1/fan-cmd"]["prior"]["value"] in (True, 1, 1.0)
    assert [s["ts"] for s in series["hq/ahu-1/fan-cmd"]["samples"]] == [since + 60]
    assert series["hq/ahu-1/sat"]["prior"] is None
    # Bool and enum points hold their value until the next sample: steps; a sine sensor does not.
    assert (series["hq/ahu-1/fan-cmd"]["kind"], series["hq/ahu-1/fan-cmd"]["step"]) == ("bool", True)
    assert (series["hq/ahu-1/sat"]["kind"], series["hq/ahu-1/sat"]["step"]) == ("number", False)
    # Without prior=true the answer does not carry it.
    plain = await building.client.get(
        "/api/v1/sites/hq/history",
        params={"points": "ahu-1/sat-sp", "since": str(since), "until": str(since + 1800)},
    )
    assert "prior" not in plain.json()["series"][0]


async def test_prior_on_a_download_is_refused_naming_the_parameter(building: Building):
    r = await building.client.get(
        "/api/v1/sites/hq/history", params={"points": "ahu-1/sat", "format": "csv", "prior": "true"}
    )
    assert r.status_code == 422
    assert "prior" in r.text and "JSON" in r.text


async def test_a_point_stored_on_change_is_drawn_as_steps(tmp_path: Path):
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "lab.yaml").write_text(
        LAB.replace(
            '{name: temp, unit: degC, binding: "sim://fc-1/temp?wave=constant&value=20"}',
            '{name: temp, unit: degC, history: {deadband: 0.1}, binding: "sim://fc-1/temp?wave=constant&value=20"}',
        )
    )
    runtime = Runtime(
        load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve, clock=ManualClock(T0)
    )
    await runtime.start()
    try:
        create_user(runtime.state, "admin@example.com", password_hash(), grants={"*": "admin"})
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
            r = await client.post(
                "/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD}
            )
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            r = await client.get("/api/v1/sites/lab/history", params={"points": "fc-1/temp,fc-1/sp"})
    finally:
        await runtime.stop()
    assert [(s["point"], s["step"]) for s in r.json()["series"]] == [
        ("lab/fc-1/temp", True),
        ("lab/fc-1/sp", False),
    ]


async def test_health_in_real_time_tells_the_wall(tmp_path: Path):
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "lab.yaml").write_text(LAB)
    runtime = Runtime(load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        before = time.time()
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
            body = (await client.get("/api/v1/health")).json()
        after = time.time()
    finally:
        await runtime.stop()
    assert before <= body["now_ts"] <= after and body["clock_rate"] == 1.0
