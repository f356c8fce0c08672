"""Consumption, cost and peaks over real HTTP, for a London site over its spring clock change.

The site's main register counts a steady 20 kW and wraps at 100 000 kWh (its
``energy: counters:`` says so) on 28 March; a chiller draws 5 kW, 45 kW for one
quarter hour; the virtual meter "rest" is the main meter less the chiller.
29 March 2026 is 23 hours long in London; 30 March is a holiday of the tariff.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.model.sample import Sample
from openbms.service.runtime import Runtime
from tests.api.live import password_hash

LONDON = ZoneInfo("Europe/London")
PASSWORD = "correct horse battery"
SITE = """\
site: {id: ldn, name: London office, timezone: Europe/London, area_m2: 1000}
drivers:
  sim: {poll_interval: 60}
calendars:
  - {id: closed, entries: [2026-03-30]}
spaces:
  - {id: building, kind: building, area_m2: 1000}
  - {id: plant, kind: room, parent: building, area_m2: 50}
equipment:
  - id: main
    type: meter
    space: building
    tags: [siteMeter, elec]
    points:
      - {name: energy, unit: kWh, tags: [elec, energy], binding: "sim://main/energy?wave=constant&value=0"}
  - id: chiller
    type: chiller
    space: plant
    tags: ["submeterOf:main"]
    points:
      - {name: power, unit: kW, tags: [elec, power], binding: "sim://chiller/power?wave=constant&value=0"}
energy:
  counters:
    - {point: main/energy, rollover: 100000}
  virtual_meters:
    - {id: rest, name: Building less chiller, commodity: elec, add: [main/energy], subtract: [chiller/power]}
tariffs:
  - id: elec
    currency: GBP
    meters: [main/energy]
    holidays: [closed]
    energy:
      - {name: holiday, rate: 0.05, days: [holiday]}
      - {name: day, rate: 0.30, from: "07:00", to: "23:00"}
      - {name: night, rate: 0.10}
    demand:
      - {name: on-peak, rate: 10, window: 15, days: [weekday], from: "07:00", to: "19:00"}
    fixed:
      - {amount: 1.00, per: day}
"""
#: Two more sites: Bristol (3 kW, 100 m²) the viewer may read, and one it may not.
OTHER = """\
site: {{id: {id}, timezone: Europe/London, area_m2: 100}}
equipment:
  - id: main
    type: meter
    tags: [siteMeter]
    points:
      - {{name: energy, unit: kWh, tags: [elec], binding: "sim://main/energy?wave=constant&value=0"}}
"""
STEP = 900.0
START = date(2026, 3, 27)
SPIKE = datetime(2026, 3, 28, 10, 0, tzinfo=LONDON).timestamp()


def midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=LONDON).timestamp()


def quarters() -> list[float]:
    start, end = midnight(START), midnight(START + timedelta(days=5))
    return [start + STEP * i for i in range(int((end - start) // STEP) + 1)]


def register(ts: float) -> float:
    """20 kW counted from 99 000 kWh at the start, wrapping at 100 000 (after 50 hours)."""
    return (99_000 + 20 * (ts - midnight(START)) / 3600) % 100_000


def chiller(ts: float) -> float:
    return 45.0 if ts == SPIKE else 5.0


@pytest.fixture
async def london(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "ldn.yaml").write_text(SITE)
    (folder / "brs.yaml").write_text(OTHER.format(id="brs"))
    (folder / "hid.yaml").write_text(OTHER.format(id="hid"))
    runtime = Runtime(load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        create_user(runtime.state, "viewer@example.com", password_hash(PASSWORD),
                    grants={"ldn": "viewer", "brs": "viewer"})
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as anonymous:
            r = await anonymous.post("/api/v1/auth/login",
                                     json={"email": "viewer@example.com", "password": PASSWORD})
            assert r.status_code == 200, r.text
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        runtime.historian.ingest([Sample("ldn/main/energy", ts, register(ts)) for ts in quarters()]
                                 + [Sample("ldn/chiller/power", ts, chiller(ts)) for ts in quarters()]
                                 + [Sample(f"{site}/main/energy", ts, 3 * (ts - quarters()[0]) / 3600)
                                    for ts in quarters() for site in ("brs", "hid")])
        await runtime.historian.flush()
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30, headers=headers) as client:
            yield client
    finally:
        await runtime.stop()


async def get(client: httpx.AsyncClient, what: str, **params: Any) -> dict[str, Any]:
    r = await client.get(f"/api/v1/sites/ldn/analytics/{what}", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


UNTIL = datetime(2026, 3, 30, 12, tzinfo=LONDON).timestamp()


async def test_site_consumption_per_local_day_across_a_wrap_and_a_23_hour_day_with_eui(london):
    body = await get(london, "consumption", bucket="day", count=3, until=UNTIL, compare="true")
    (site,) = body["series"]
    assert site["kind"] == "site" and site["meters"] == ["ldn/main/energy"]  # the chiller is its sub-meter
    # 20 kW: 24 h, 23 h (clocks went forward), and 12 h of the day in progress; the register wrapped
    # from 99 999 to 0 on the 29th at 02:00 UTC (50 hours after the start) and still counts.
    assert [p["date"] for p in site["periods"]] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    assert [p["kwh"] for p in site["periods"]] == pytest.approx([480, 460, 240])
    assert [p["partial"] for p in site["periods"]] == [False, False, True]
    assert site["total_kwh"] == pytest.approx(1180) and site["kwh_per_m2"] == pytest.approx(1.18)
    # The three days before: the 25th and 26th have no readings, the 27th all its 24 hours.
    assert [p["previous_kwh"] for p in site["periods"]] == [None, None, pytest.approx(480)]
    assert site["previous_total_kwh"] is None and site["change_pct"] is None


async def test_weeks_and_months_and_a_space_and_equipment(london):
    sunday_night = midnight(date(2026, 3, 30)) - 1
    body = await get(london, "consumption", bucket="week", count=1, until=sunday_night, by="space")
    spaces = {s["id"]: s for s in body["series"]}
    # The week from Monday 23 March to Sunday 23:59:59: readings from the 27th, 71 h (a 23-hour Sunday).
    assert spaces["building/elec"]["periods"][0]["date"] == "2026-03-23"
    assert spaces["building/elec"]["total_kwh"] == pytest.approx(20 * 71, abs=0.01)
    # The plant room holds the chiller only: 5 kW for 71 h and 40 kW more for a quarter hour.
    assert spaces["plant/elec"]["total_kwh"] == pytest.approx(5 * 71 + 10, abs=0.01)
    assert spaces["plant/elec"]["kwh_per_m2"] == pytest.approx((5 * 71 + 10) / 50, abs=0.001)
    body = await get(london, "consumption", bucket="month", count=1, until=UNTIL, by="equipment")
    equipment = {s["id"]: s["total_kwh"] for s in body["series"]}
    assert equipment == {"main/elec": pytest.approx(20 * 83), "chiller/elec": pytest.approx(5 * 83 + 10)}


async def test_a_virtual_meter_is_the_main_meter_less_the_chiller(london):
    body = await get(london, "consumption", bucket="day", count=2, until=UNTIL - 86_400, by="meter",
                     meters="rest")
    (rest,) = body["series"]
    assert rest["kind"] == "virtual" and rest["subtract"] == ["ldn/chiller/power"]
    # 28th: 480 − (5 × 24 + 40 × 0.25) = 350; 29th to 12:00: 20 × 11 − 5 × 11 = 165 (an hour lost at 01:00).
    assert [p["kwh"] for p in rest["periods"]] == pytest.approx([350, 165])


async def test_peak_demand_per_15_minute_window_with_its_time(london):
    body = await get(london, "peaks", bucket="day", count=1, until=midnight(date(2026, 3, 28)) + 43_200,
                     by="meter", meters="chiller/power,main/energy,rest")
    peaks = {s["id"]: s["periods"][0] for s in body["series"]}
    assert peaks["ldn/chiller/power"]["kw"] == pytest.approx(45) and peaks["ldn/chiller/power"]["at"] == SPIKE
    assert peaks["ldn/main/energy"]["kw"] == pytest.approx(20)
    # The building less the chiller is lowest, not highest, in the chiller's spike.
    assert peaks["rest"]["kw"] == pytest.approx(15)


async def test_cost_per_day_to_the_cent_on_the_23_hour_day_and_the_holiday(london):
    body = await get(london, "cost", bucket="day", count=2, until=UNTIL)
    assert body["currency"] == "GBP" and body["tariff"] == "elec"
    (main,) = body["series"]
    sunday, monday = main["periods"]
    # Sunday 29 March, 23 h at 20 kW: day 07:00–23:00 16 h × 20 = 320 kWh × 0.30 = 96.00;
    # night 00:00–01:00 and 02:00–07:00 and 23:00–24:00, 7 h × 20 = 140 kWh × 0.10 = 14.00; fixed 1.00.
    assert sunday["total"] == pytest.approx(111.00, abs=0.005)
    # Monday 30 March is a holiday of the tariff's calendar, to 12:00: 240 kWh × 0.05 = 12.00; fixed half a
    # day 0.50: 12.50.
    assert monday["total"] == pytest.approx(12.50, abs=0.005) and monday["partial"]
    assert [line["name"] for line in monday["lines"]] == ["holiday", "fixed 1"]
    assert sunday["demand_cost"] is None
    assert body["totals"] == pytest.approx([111.00, 12.50], abs=0.005)


async def test_a_months_cost_carries_its_demand_charge(london):
    body = await get(london, "cost", bucket="month", count=1, until=UNTIL)
    (march,) = body["series"][0]["periods"]
    # On-peak (weekdays 07:00–19:00) the main meter's highest 15 minutes is 20 kW: × 10.00 = 200.00.
    assert march["demand_cost"] == pytest.approx(200.00, abs=0.005)
    (demand,) = [line for line in march["lines"] if line["kind"] == "demand"]
    assert demand["quantity"] == pytest.approx(20) and demand["at"] >= midnight(date(2026, 3, 27))


async def test_bad_requests_say_what_was_expected(london):
    r = await london.get("/api/v1/sites/ldn/analytics/cost", params={"tariff": "gas"})
    assert r.status_code == 422 and "no tariff 'gas': expected one of elec" in r.json()["errors"][0]["msg"]
    r = await london.get("/api/v1/sites/ldn/analytics/consumption", params={"by": "site", "meters": "rest"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "meters"]
    r = await london.get("/api/v1/sites/ldn/analytics/consumption", params={"by": "meter", "meters": "nope"})
    assert r.status_code == 404
    r = await london.get("/api/v1/sites/ldn/analytics/peaks", params={"window": 20})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "window"]
    assert "expected 15 or 30" in r.json()["errors"][0]["msg"]


async def test_a_window_given_in_the_query_is_taken(london):
    # The query's "30" is a string: a Literal[15, 30] parameter refused it (and "15") with a 422.
    for minutes in (15, 30):
        r = await london.get("/api/v1/sites/ldn/analytics/peaks", params={"window": minutes})
        assert r.status_code == 200, r.text
        assert r.json()["window_minutes"] == minutes


async def test_sites_compared_by_energy_per_m2_only_those_the_caller_may_read(london):
    r = await london.get("/api/v1/analytics/consumption", params={"bucket": "month", "until": UNTIL})
    assert r.status_code == 200, r.text
    sites = {s["site"]: s["series"][0] for s in r.json()["sites"]}
    assert set(sites) == {"ldn", "brs"}  # not hid: the viewer has no role there
    # March to the 30th 12:00, from the 27th: 83 hours. London 20 kW on 1 000 m², Bristol 3 kW on 100 m².
    assert (sites["ldn"]["total_kwh"], sites["ldn"]["kwh_per_m2"]) == pytest.approx((1660, 1.66))
    assert (sites["brs"]["total_kwh"], sites["brs"]["kwh_per_m2"]) == pytest.approx((249, 2.49))
    r = await london.get("/api/v1/analytics/consumption", params={"sites": "brs,hid", "until": UNTIL})
    assert [s["site"] for s in r.json()["sites"]] == ["brs"]
