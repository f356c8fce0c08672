"""Load forecasts made by the running openbms each hour of its clock, stored, scored, and served over HTTP.

A site with one electricity meter (kW) and an outdoor temperature point, three
weeks of generated office history in the historian, a ManualClock: the job
forecasts at each hour (a run at start finds no history and makes none), the
API serves the newest forecast, and once the hours forecast have ended their
actuals are recorded and scored per hours ahead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest

from openbms.api.server import serve
from openbms.bench.forecast import office
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.db.forecasts import forecast_scores, latest_forecast
from openbms.model.sample import Sample
from openbms.runtime.clock import ManualClock
from openbms.service.forecasts import RUN_AFTER_S, ForecastRun
from openbms.service.runtime import Runtime
from tests.api.live import password_hash

PASSWORD = "correct horse battery"
SITE = """\
site: {id: fc, name: Forecasts, timezone: Europe/London}
drivers:
  sim: {enabled: false}
equipment:
  - id: main
    type: meter
    name: Main meter
    tags: [siteMeter]
    points:
      - {name: elec-kw, unit: kW, tags: [elec, power], binding: "sim://main/elec-kw"}
  - id: weather
    type: weather
    points:
      - {name: oat, unit: °C, tags: [outside, air, temp, sensor], binding: "sim://weather/oat"}
      - {name: oat-forecast, unit: °C, tags: [outside, air, temp, forecast], binding: "sim://weather/oatf"}
"""
HOUR = 3600.0
TZ = ZoneInfo("Europe/London")
H = datetime(2025, 1, 20, 10, tzinfo=TZ).timestamp()  # a Monday, 10:00
NOW = H + 30 * 60
DAYS = 21


@dataclass
class World:
    runtime: Runtime
    clock: ManualClock
    client: httpx.AsyncClient
    kwh: dict[float, float]


def history() -> tuple[list[Sample], dict[float, float]]:
    """Office data from three weeks before H to three hours after it: the kW of each hour, four samples
    an hour (so the hour's energy is its kW), and the outdoor °C twice an hour."""
    start = H - DAYS * 86_400.0
    ts, kwh, temp = office(7, start, DAYS * 24 + 3, TZ)
    samples = []
    for t, e, x in zip(ts.tolist(), kwh.tolist(), temp.tolist(), strict=True):
        samples += [Sample("fc/main/elec-kw", t + 900.0 * q, e) for q in range(4)]
        samples += [Sample("fc/weather/oat", t, x), Sample("fc/weather/oat", t + 1800.0, x)]
    return samples, dict(zip(ts.tolist(), kwh.tolist(), strict=True))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "fc.yaml").write_text(SITE)
    clock = ManualClock(NOW)
    runtime = Runtime(load_sites(folder), tmp_path / "data", clock=clock, api=("127.0.0.1", 0),
                      api_front=serve)
    await runtime.start()
    try:
        create_user(runtime.state, "viewer@example.com", password_hash(PASSWORD), grants={"fc": "viewer"})
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
            login = {"email": "viewer@example.com", "password": PASSWORD}
            r = await client.post("/api/v1/auth/login", json=login)
            assert r.status_code == 200, r.text
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            yield World(runtime, clock, client, {})
    finally:
        await runtime.stop()


async def run_at(w: World, issued: float) -> ForecastRun:
    """Move the clock to the job's run after the hour ``issued`` and wait for that run to finish."""
    await w.clock.set(issued + RUN_AFTER_S)
    assert w.runtime.forecasts is not None
    for _ in range(1200):  # the run works in a thread: wait for it (a bound, not a time limit asserted)
        run = w.runtime.forecasts.last_run
        if run is not None and run.issued == issued:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"no forecast run for {issued}: the last was {w.runtime.forecasts.last_run}")


async def get(w: World, path: str, status: int = 200, **params: Any) -> dict[str, Any]:
    r = await w.client.get(f"/api/v1/sites/fc/analytics/{path}", params=params)
    assert r.status_code == status, r.text
    return r.json()


async def test_the_job_stores_a_forecast_each_hour_and_scores_it_once_the_actuals_are_in(world: World):
    w = world
    assert w.runtime.forecasts is not None
    # The run at start found no history: no forecast, the meter counted as skipped.
    first = w.runtime.forecasts.last_run
    assert first is not None and (first.issued, first.forecasts, first.skipped) == (H, 0, 1)
    body = await get(w, "forecast")
    none_yet = [(f["meter"], f["issued"], f["hours"]) for f in body["forecasts"]]
    assert none_yet == [("fc/main/elec-kw", None, [])]

    samples, kwh = history()
    # A weather service's forecast for the first six hours after H + 1 h, at the times it is for.
    samples += [Sample("fc/weather/oat-forecast", H + HOUR * (1 + i) + 900.0 * q, -5.0)
                for i in range(6) for q in range(4)]
    w.runtime.historian.ingest(samples)
    await w.runtime.historian.flush()
    run = await run_at(w, H + HOUR)
    assert (run.forecasts, run.skipped, run.scored) == (1, 0, 0)

    body = await get(w, "forecast")
    (f,) = body["forecasts"]
    assert f["issued"] == H + HOUR
    assert [h["start"] for h in f["hours"]] == [H + HOUR * (1 + i) for i in range(48)]
    assert [h["horizon"] for h in f["hours"]] == list(range(1, 49))
    assert all(h["actual_kwh"] is None and h["temperature"] is not None for h in f["hours"])
    # The forecast point's hours are used where it has them; climatology after them (January: not -5).
    assert [h["temperature"] for h in f["hours"][:6]] == [-5.0] * 6
    assert all(h["temperature"] != -5.0 for h in f["hours"][6:])
    # An office on a Monday at 11:00: the occupied level, not the night's (generated: 60 kW and 20 kW).
    assert 45 < f["hours"][0]["kwh"] < 90
    assert 12 < f["hours"][16]["kwh"] < 40  # 03:00 on Tuesday
    # 15-minute windows: four an hour, adding up to the hours.
    assert len(f["windows"]) == 4 * 48
    sums = np.add.reduceat([x["kwh"] for x in f["windows"]], range(0, 192, 4))
    assert sums == pytest.approx([h["kwh"] for h in f["hours"]])
    assert (await get(w, "forecast", hours=6))["forecasts"][0]["hours"][-1]["horizon"] == 6

    # Two hours later both hours after H + 1 h have ended: three forecast hours have their actuals.
    assert (await run_at(w, H + 2 * HOUR)).scored == 1
    assert (await run_at(w, H + 3 * HOUR)).scored == 2
    stored = latest_forecast(w.runtime.state, "fc", "fc/main/elec-kw")
    assert stored is not None and stored.issued_at == H + 3 * HOUR
    earlier = await get(w, "forecast/scores")
    (m,) = earlier["meters"]
    assert [(s["horizon"], s["n"]) for s in m["horizons"]] == [(1, 2), (2, 1)]
    assert m["day_ahead"]["n"] == 3
    # The scores are those of the actuals generated: check one by hand.
    rows = forecast_scores(w.runtime.state, "fc", "fc/main/elec-kw")
    assert [(r.horizon, r.n) for r in rows] == [(1, 2), (2, 1)]
    by_issue = {}
    for issued in (H + HOUR, H + 2 * HOUR):
        got = await asyncio.to_thread(_rows_of, w, issued)
        by_issue[issued] = got
    (hz2,) = [r for r in by_issue[H + HOUR] if r[1] == 2]
    assert hz2[3] == pytest.approx(kwh[H + 2 * HOUR], rel=1e-6)
    expect = abs(hz2[3] - hz2[2]) / hz2[3] * 100
    assert m["horizons"][1]["mape_pct"] == pytest.approx(expect)
    assert m["horizons"][1]["cvrmse_pct"] == pytest.approx(expect)


def _rows_of(w: World, issued: float) -> list[tuple[float, int, float, float | None]]:
    import sqlalchemy as sa

    from openbms.db.schema import forecasts

    assert w.runtime.state is not None
    with w.runtime.state.connect() as conn:
        return [(r.start, r.horizon, r.kwh, r.actual_kwh) for r in conn.execute(
            sa.select(forecasts).where(forecasts.c.issued_at == issued).order_by(forecasts.c.start))]


async def test_bad_requests_say_what_was_expected(world: World):
    w = world
    got = await get(w, "forecast", 404, meter="main/nope")
    assert "no meter 'main/nope'" in got["detail"] and "main/elec-kw" in got["detail"]
    got = await get(w, "forecast/scores", 404, meter="weather/oat")  # a temperature is no meter
    assert "no meter 'weather/oat'" in got["detail"]
    for hours in (0, 49, "many"):
        got = await get(w, "forecast", 422, hours=hours)
        assert "hours" in str(got)
    got = await get(w, "forecast/scores", 422, since="yesterday-ish")
    assert "since" in str(got)
    r = await w.client.get("/api/v1/sites/nowhere/analytics/forecast")
    assert r.status_code == 404
    # The process keeps serving.
    assert (await get(w, "forecast/scores"))["meters"][0]["horizons"] == []
