"""Energy per hour and per local day over real HTTP, for a site whose time zone is not the machine's.

The site is in America/Los_Angeles; the test process runs in UTC (and once in
UTC+14). Its days must be cut at Los Angeles midnight, 23 hours long on the
day clocks go forward (2026-03-08).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from openbms.api.routes import energy as energy_route
from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.model.sample import Sample
from openbms.service.runtime import Runtime
from tests.api.live import password_hash

LA = ZoneInfo("America/Los_Angeles")
PASSWORD = "correct horse battery"
SITE = """\
site: {id: west, name: West, timezone: America/Los_Angeles}
drivers:
  sim: {poll_interval: 60}
equipment:
  - id: main
    type: meter
    tags: [siteMeter]
    points:
      - {name: energy, unit: kWh, tags: [elec, energy],
         binding: "sim://main/energy?wave=constant&value=0"}
  - id: sub
    type: meter
    points:
      - {name: demand, unit: kW, tags: [elec, power],
         binding: "sim://sub/demand?wave=constant&value=0"}
      - {name: temp, unit: degC, binding: "sim://sub/temp?wave=constant&value=20"}
"""
FIRST = date(2026, 3, 5)  # samples from this LA midnight, every 15 minutes, for six days
DAYS = 6
STEP = 900.0


def midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=LA).timestamp()


def power(ts: float) -> float:
    """kW in the quarter hour from ``ts``: the day of the month of its Los Angeles date."""
    return float(datetime.fromtimestamp(ts, LA).day)


def quarter_hours() -> list[float]:
    start, end = midnight(FIRST), midnight(FIRST + timedelta(days=DAYS))
    return [start + STEP * i for i in range(int((end - start) // STEP))]


def readings() -> list[tuple[float, float]]:
    """A kWh register counting the same power: each reading is the energy before it."""
    out, total = [], 1000.0
    for ts in quarter_hours():
        out.append((ts, total))
        total += power(ts) * STEP / 3600
    return out


def reading_at(ts: float) -> float:
    """The register at ``ts`` as its hourly rollups know it: a straight line between hours' last readings."""
    hourly = [(t, v) for t, v in readings() if t % 3600 == 2700]  # each hour's last reading, at :45
    (t0, v0), (t1, v1) = next((a, b) for a, b in itertools.pairwise(hourly) if a[0] <= ts <= b[0])
    return v0 + (v1 - v0) * (ts - t0) / (t1 - t0)


@pytest.fixture
def in_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
async def west(tmp_path: Path, in_utc: None) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "west.yaml").write_text(SITE)
    runtime = Runtime(load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        create_user(runtime.state, "viewer@example.com", password_hash(PASSWORD), grants={"west": "viewer"})
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as anonymous:
            r = await anonymous.post(
                "/api/v1/auth/login", json={"email": "viewer@example.com", "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        runtime.historian.ingest(
            [Sample("west/sub/demand", ts, power(ts)) for ts in quarter_hours()]
            + [Sample("west/main/energy", ts, v) for ts, v in readings()]
        )
        await runtime.historian.flush()
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30, headers=headers) as client:
            yield runtime, client
    finally:
        await runtime.stop()


async def energy(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/sites/west/energy", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_daily_energy_is_cut_at_the_sites_midnight_not_the_machines(west, monkeypatch):
    _runtime, client = west
    until = midnight(date(2026, 3, 9)) + 10.5 * 3600  # 10:30 in Los Angeles, 17:30 UTC
    body = await energy(client, bucket="day", count=3, until=until)
    assert body["timezone"] == "America/Los_Angeles" and body["bucket"] == "day"
    meters = {s["point"]: s for s in body["series"]}
    assert list(meters) == ["west/main/energy", "west/sub/demand"]  # the site meter first; temp is no meter
    demand = meters["west/sub/demand"]
    assert demand["kind"] == "demand" and meters["west/main/energy"]["kind"] == "register"
    assert meters["west/main/energy"]["site_meter"] and not demand["site_meter"]
    days = demand["buckets"]
    assert [b["date"] for b in days] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    assert [b["start"] for b in days] == [midnight(date(2026, 3, d)) for d in (7, 8, 9)]
    assert [b["end"] - b["start"] for b in days] == [24 * 3600, 23 * 3600, 24 * 3600]
    # Each Los Angeles day at its own power, for its own hours: 23 on the 8th; today to 10:30.
    assert [b["kwh"] for b in days] == [7 * 24, 8 * 23, 9 * 10.5]
    # Yesterday up to 10:30 local: 00:00–10:30 is 9.5 hours that day (clocks went forward at 02:00).
    assert demand["previous_same_time_kwh"] == 8 * 9.5
    assert demand["peak"] == {"kw": 9, "at": midnight(date(2026, 3, 9))}
    register = meters["west/main/energy"]["buckets"]
    bounds = [midnight(date(2026, 3, d)) for d in (7, 8, 9)] + [until]
    want = [reading_at(b) - reading_at(a) for a, b in itertools.pairwise(bounds)]
    assert [b["kwh"] for b in register] == pytest.approx(want)
    # The register's days are the demand's, but for the straight line across a midnight where power changes.
    assert [b["kwh"] for b in register] == pytest.approx([7 * 24, 8 * 23, 9 * 10.5], abs=0.2)
    # Yesterday to 10:30 is as long as today to 10:30 for the register too.
    same = reading_at(midnight(date(2026, 3, 8)) + 9.5 * 3600) - reading_at(midnight(date(2026, 3, 8)))
    assert meters["west/main/energy"]["previous_same_time_kwh"] == pytest.approx(same)
    # The same answer whatever the server's own zone.
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    assert await energy(client, bucket="day", count=3, until=until) == body


async def test_hourly_energy_and_named_points(west):
    _runtime, client = west
    until = midnight(date(2026, 3, 8)) + 4 * 3600 - 1  # 04:59:59 PDT: the night lost 02:00–03:00
    body = await energy(client, bucket="hour", count=4, until=until, points="sub/demand,west/main/energy")
    demand, register = body["series"]
    assert demand["point"] == "west/sub/demand" and register["point"] == "west/main/energy"
    assert [b["start"] for b in demand["buckets"]] == [
        midnight(date(2026, 3, 8)) + h * 3600 for h in range(4)
    ]
    assert all(b["date"] is None for b in demand["buckets"])
    # The last hour to 04:59:59, a second short.
    assert [b["kwh"] for b in demand["buckets"]] == pytest.approx([8, 8, 8, 8 * 3599 / 3600])
    assert [b["start"] for b in register["buckets"]] == [b["start"] for b in demand["buckets"]]
    # A register's reading at each hour's start is interpolated between the hours' last readings.
    bounds = [b["start"] for b in register["buckets"]] + [until]
    want = [reading_at(b) - reading_at(a) for a, b in itertools.pairwise(bounds)]
    assert [b["kwh"] for b in register["buckets"]] == pytest.approx(want)
    # The hour before, to the same minute: not nothing (the reading at 03:59:59 is between 03:45 and 04:45).
    assert register["previous_same_time_kwh"] == pytest.approx(8 * 3599 / 3600)


async def test_a_point_that_is_no_meter_and_too_many_buckets_are_refused(west):
    _runtime, client = west
    r = await client.get("/api/v1/sites/west/energy", params={"points": "sub/temp"})
    assert r.status_code == 422, r.text
    error = r.json()["errors"][0]
    assert error["loc"] == ["query", "points"] and "west/sub/temp is not a meter" in error["msg"]
    r = await client.get("/api/v1/sites/west/energy", params={"bucket": "day", "count": 0})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "count"]
    r = await client.get("/api/v1/sites/west/energy", params={"points": "sub/nope"})
    assert r.status_code == 404


async def test_a_day_past_the_last_calendar_day_is_refused_not_an_error(west):
    _runtime, client = west
    last = {"until": "9999-12-31T23:59:59Z"}
    r = await client.get("/api/v1/sites/west/energy", params={**last, "bucket": "hour"})
    assert r.status_code == 200, r.text
    # That day ends at 10000-01-01, which no calendar reaches: a 422 saying so, not a 500.
    r = await client.get("/api/v1/sites/west/energy", params={**last, "bucket": "day"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["query", "until"]


async def test_the_energy_of_each_meter_is_computed_off_the_event_loop(west, monkeypatch):
    """Rows to numbers is seconds of arithmetic at the row cap: a worker thread does it, never the loop."""
    _runtime, client = west
    threads: list[int] = []
    compute = energy_route._energy_of

    def watched(*args: Any) -> dict[str, Any]:
        threads.append(threading.get_ident())
        return compute(*args)

    monkeypatch.setattr(energy_route, "_energy_of", watched)
    body = await energy(client, bucket="day", count=3, until=midnight(date(2026, 3, 9)) + 10.5 * 3600)
    assert len(threads) == len(body["series"]) == 2
    # The test, the server and its event loop share one thread: the computation was not on it.
    assert threading.get_ident() not in threads
    assert body["series"][1]["buckets"][0]["kwh"] == 7 * 24


async def test_a_date_alone_is_the_sites_midnight_not_utcs(west):
    """``until=2026-03-09`` ends the energy at midnight in Los Angeles (08:00 UTC), as the M&V routes
    read a date; it used to be read as midnight UTC, the 8th's 16:00 there."""
    _runtime, client = west
    body = await energy(client, bucket="day", count=2, until="2026-03-09")
    demand = next(s for s in body["series"] if s["point"] == "west/sub/demand")
    # The bucket holding ``until`` is the 9th's, empty; read as UTC it was the 8th's, to 16:00.
    assert [b["date"] for b in demand["buckets"]] == ["2026-03-08", "2026-03-09"]
    assert [b["kwh"] for b in demand["buckets"]] == [8 * 23, None]
    assert body == await energy(client, bucket="day", count=2, until=midnight(date(2026, 3, 9)))
    r = await client.get("/api/v1/sites/west/energy", params={"until": "2026-02-30"})
    assert r.status_code == 422 and "no date" in r.text, r.text
