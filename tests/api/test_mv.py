"""Baselines and savings over real HTTP (issue 18, item 5), over a history holding a designed saving.

A London office's register (``main/kwh``) reads at every hour's start; the
outdoor air (``weather/oat``, tagged outside temp) every quarter hour. Sixty
days of baseline from 2 January 2023, then thirty days using 10 % less: the
saving the routes must find. A day in February the meter did not answer.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest

from openbms.analytics.baseline import Exclusion, fit_baseline
from openbms.analytics.savings import savings
from openbms.api.server import serve
from openbms.bench.analytics import synthetic_hours
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.model.sample import Sample
from openbms.service.runtime import Runtime
from tests.api.live import password_hash

LONDON = ZoneInfo("Europe/London")
PASSWORD = "correct horse battery"
SITE = """\
site: {id: ldn, name: London office, timezone: Europe/London}
drivers:
  sim: {enabled: false}
equipment:
  - id: main
    type: meter
    tags: [siteMeter, elec]
    points:
      - {name: kwh, unit: kWh, tags: [elec, energy], binding: "sim://main/kwh"}
  - id: weather
    type: weather
    points:
      - {name: oat, unit: °C, tags: [outside, air, temp, sensor], binding: "sim://weather/oat"}
"""
OTHER = """\
site: {id: brs, timezone: Europe/London}
drivers:
  sim: {enabled: false}
equipment:
  - id: main
    type: meter
    points:
      - {name: kwh, unit: kWh, tags: [elec], binding: "sim://main/kwh"}
"""
HOUR = 3600.0
hour_ts, hour_kwh, hour_temp = synthetic_hours(90, seed=31)
MEASURE = datetime(2023, 3, 3, tzinfo=LONDON).timestamp()
used = np.where(hour_ts >= MEASURE, 0.9 * hour_kwh, hour_kwh)
lost = (hour_ts >= datetime(2023, 2, 1, tzinfo=LONDON).timestamp()) & (
    hour_ts < datetime(2023, 2, 2, tzinfo=LONDON).timestamp())
BASE = ("2023-01-02T00:00:00+00:00", "2023-03-03T00:00:00+00:00")
REPORT = ("2023-03-03T00:00:00+00:00", "2023-04-02T00:00:00+01:00")


def _t(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def known_rows(start: float, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hours a reader of the history can know: the register read at both ends, the lost day not."""
    # An hour's energy is the next reading minus its own: lost readings lose their hour and the one before.
    read = ~np.append(lost, False)
    known = read[:-1] & read[1:]
    keep = known & (hour_ts >= start) & (hour_ts < end)
    return hour_ts[keep], used[keep], hour_temp[keep]


@pytest.fixture
async def office(tmp_path: Path) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The running office: clients of a viewer of ldn and of a viewer of brs only."""
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "ldn.yaml").write_text(SITE)
    (folder / "brs.yaml").write_text(OTHER)
    runtime = Runtime(load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        create_user(runtime.state, "ldn@example.com", password_hash(PASSWORD), grants={"ldn": "viewer"})
        create_user(runtime.state, "brs@example.com", password_hash(PASSWORD), grants={"brs": "viewer"})
        register = 125_000.0 + np.concatenate([[0.0], np.cumsum(used)])
        stamps = np.append(hour_ts, hour_ts[-1] + HOUR)
        runtime.historian.ingest(
            [Sample("ldn/main/kwh", float(t), float(v))
             for t, v, gone in zip(stamps, register, np.append(lost, False), strict=True) if not gone]
            + [Sample("ldn/weather/oat", float(t) + q * 900.0, float(x))
               for t, x in zip(hour_ts, hour_temp, strict=True) for q in range(4)])
        await runtime.historian.flush()
        clients = {}
        for who in ("ldn", "brs"):
            async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as anonymous:
                r = await anonymous.post("/api/v1/auth/login",
                                         json={"email": f"{who}@example.com", "password": PASSWORD})
                assert r.status_code == 200, r.text
            clients[who] = httpx.AsyncClient(base_url=runtime.api.url, timeout=30,
                                             headers={"Authorization": f"Bearer {r.json()['access_token']}"})
        try:
            yield clients
        finally:
            for c in clients.values():
                await c.aclose()
    finally:
        await runtime.stop()


async def get(client: httpx.AsyncClient, what: str, status: int = 200, **params: Any) -> Any:
    r = await client.get(f"/api/v1/sites/ldn/analytics/{what}", params=params)
    assert r.status_code == status, r.text
    return r


async def test_baseline_statistics_are_those_of_the_pure_fit_on_the_same_hours(office):
    body = (await get(office["ldn"], "baseline", meter="main/kwh", start=BASE[0], end=BASE[1])).json()
    ts, kwh, temp = known_rows(_t(BASE[0]), _t(BASE[1]))
    pure = fit_baseline(ts, kwh, temp, LONDON)
    stats = body["statistics"]
    assert (body["rows"], stats["n"], stats["p"]) == (len(ts), pure.stats.n, pure.stats.p) == (1415, 1415,
                                                                                               pure.stats.p)
    assert stats["cvrmse_pct"] == pytest.approx(pure.stats.cvrmse_pct, rel=1e-9)
    assert stats["nmbe_pct"] == pytest.approx(pure.stats.nmbe_pct, abs=1e-9)
    assert stats["r2"] == pytest.approx(pure.stats.r2, rel=1e-9)
    # 1440 hours in the period: the lost day's 24 and the hour before it, whose end reading is lost.
    assert body["missing_hours"] == 25 and body["excluded_rows"] == 0 and body["exclusions"] == []
    assert body["meter"] == "ldn/main/kwh" and body["temperature"] == "ldn/weather/oat"
    assert body["model"]["method"] == pure.model and body["model"]["interval"] == "hourly"
    assert body["guideline14"] == {"met": True, "cvrmse_max_pct": 30.0, "nmbe_max_pct": 10.0, "reasons": []}
    # The office is occupied on weekdays 08:00-18:00: the model learnt it.
    hourly = body["model"]["hourly"]
    assert hourly["occupied_hours"] == 50 and "Mon 08:00-18:00" in hourly["occupied"]
    assert body["model"]["words"]
    # A day per local day with data; the lost day has none; each day's sums are its hours'.
    series = body["series"]
    assert len(series) == 59 and "2023-02-01" not in [d["date"] for d in series]
    first = series[0]
    assert first["date"] == "2023-01-02" and first["start"] == _t(BASE[0])
    day = (ts >= first["start"]) & (ts < first["start"] + 86_400)
    assert first["actual"] == pytest.approx(float(kwh[day].sum()), rel=1e-12)
    expected = float(pure.predict(ts[day], temp[day], "hourly").sum())
    assert first["expected"] == pytest.approx(expected, rel=1e-9)


async def test_an_exclusion_is_left_out_counted_and_noted(office):
    week = ("2023-01-16T00:00:00Z", "2023-01-23T00:00:00Z")
    body = (await get(office["ldn"], "baseline", meter="ldn/main/kwh", start=BASE[0], end=BASE[1],
                      exclude=f"{week[0]}/{week[1]}/tenant moving in")).json()
    assert body["excluded_rows"] == 168 and body["rows"] == 1415 - 168
    assert body["exclusions"] == [{"start": _t(week[0]), "end": _t(week[1]), "note": "tenant moving in",
                                   "rows": 168}]
    ts, kwh, temp = known_rows(_t(BASE[0]), _t(BASE[1]))
    pure = fit_baseline(ts, kwh, temp, LONDON, [Exclusion(_t(week[0]), _t(week[1]), "tenant moving in")])
    assert body["statistics"]["cvrmse_pct"] == pytest.approx(pure.stats.cvrmse_pct, rel=1e-9)
    assert [d["excluded"] for d in body["series"]].count(True) == 7


async def test_a_daily_baseline_fits_whole_local_days(office):
    body = (await get(office["ldn"], "baseline", meter="main/kwh", start=BASE[0], end=BASE[1],
                      method="daily")).json()
    assert body["model"]["interval"] == "daily" and body["model"]["method"] == "daily"
    assert body["rows"] == 58  # 60 days less the lost one and the day before it (its last hour is lost)
    assert body["model"]["hourly"] is None and body["model"]["daily"]["intercept_kwh"] > 0


async def test_savings_recover_the_designed_ten_percent_and_equal_the_pure_functions(office):
    body = (await get(office["ldn"], "savings", meter="main/kwh", baseline_start=BASE[0],
                      baseline_end=BASE[1], start=REPORT[0], end=REPORT[1], bucket="week")).json()
    assert body["savings_pct"] == pytest.approx(10.0, abs=2.0)
    ts, kwh, temp = known_rows(_t(BASE[0]), _t(BASE[1]))
    rts, rkwh, rtemp = known_rows(_t(REPORT[0]), _t(REPORT[1]))
    pure = savings(fit_baseline(ts, kwh, temp, LONDON), rts, rkwh, rtemp, (), 0.9)
    assert body["rows"] == pure.rows == 719  # 30 days, one of them 23 hours long
    assert body["avoided_kwh"] == pytest.approx(pure.avoided, rel=1e-9)
    assert body["adjusted_baseline_kwh"] == pytest.approx(pure.adjusted_baseline, rel=1e-9)
    assert body["actual_kwh"] == pytest.approx(float(rkwh.sum()), rel=1e-12)
    assert body["fsu_pct"] == pytest.approx(100 * pure.fsu, rel=1e-9)
    assert body["low_kwh"] < body["avoided_kwh"] < body["high_kwh"]
    # Weeks from Monday; the series adds up to the totals, the last cumulative is the avoided energy.
    series = body["series"]
    assert series[0]["date"] == "2023-02-27" and all(
        datetime.fromtimestamp(b["start"], LONDON).weekday() == 0 for b in series)
    assert sum(b["actual"] for b in series) == pytest.approx(body["actual_kwh"], rel=1e-9)
    assert series[-1]["cumulative_avoided"] == pytest.approx(body["avoided_kwh"], rel=1e-9)
    assert body["baseline"]["statistics"]["cvrmse_pct"] == pytest.approx(
        fit_baseline(ts, kwh, temp, LONDON).stats.cvrmse_pct, rel=1e-9)


def _problem(r: httpx.Response) -> tuple[list[Any], str]:
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    (error,) = body["errors"]
    return error["loc"], error["msg"]


async def test_bad_periods_are_refused_naming_the_field_and_what_was_expected(office):
    client = office["ldn"]
    # Three days of baseline: fewer hours than an hourly baseline needs, said with both numbers.
    r = await get(client, "baseline", 422, meter="main/kwh", start="2023-01-02T00:00:00Z",
                  end="2023-01-05T00:00:00Z")
    loc, msg = _problem(r)
    assert loc == ["query", "start"] and "has 72 hours" in msg and "at least 192" in msg
    r = await get(client, "savings", 422, meter="main/kwh", baseline_start="2023-01-02T00:00:00Z",
                  baseline_end="2023-01-05T00:00:00Z", start=REPORT[0], end=REPORT[1])
    loc, msg = _problem(r)
    assert loc == ["query", "baseline_start"] and "has 72 hours" in msg
    # A reporting period with no data at all (after the history ends).
    r = await get(client, "savings", 422, meter="main/kwh", baseline_start=BASE[0], baseline_end=BASE[1],
                  start="2024-01-01T00:00:00Z", end="2024-02-01T00:00:00Z")
    loc, msg = _problem(r)
    assert loc == ["query", "start"] and "has 0 hours" in msg
    r = await get(client, "baseline", 422, meter="main/kwh", start=BASE[1], end=BASE[0])
    assert _problem(r) == (["query", "end"], "expected a time after start")
    r = await get(client, "baseline", 422, meter="main/kwh", start="2020-01-01T00:00:00Z", end=BASE[1])
    loc, msg = _problem(r)
    assert loc == ["query", "end"] and "at most 731 days" in msg
    r = await get(client, "baseline", 422, meter="main/kwh", end=BASE[1])
    assert _problem(r)[0] == ["query", "start"]
    r = await get(client, "baseline", 422, meter="main/kwh", start=BASE[0], end=BASE[1],
                  exclude=["2023-01-10T00:00:00Z/2023-01-11T00:00:00Z/ok", "yesterday"])
    loc, msg = _problem(r)
    assert loc == ["query", "exclude", 1] and "START/END/NOTE" in msg
    r = await get(client, "baseline", 422, meter="weather/oat", start=BASE[0], end=BASE[1])
    loc, msg = _problem(r)
    assert loc == ["query", "meter"] and "is not a meter" in msg
    r = await get(client, "baseline", 422, meter="main/nothing", start=BASE[0], end=BASE[1])
    assert _problem(r)[0] == ["query", "meter"]


async def test_a_viewer_of_another_site_gets_what_a_nonexistent_site_gets(office):
    params = {"meter": "main/kwh", "start": BASE[0], "end": BASE[1]}
    for what in ("baseline", "savings"):
        r = await office["brs"].get(f"/api/v1/sites/ldn/analytics/{what}", params=params)
        nowhere = await office["brs"].get(f"/api/v1/sites/nowhere/analytics/{what}", params=params)
        assert r.status_code == nowhere.status_code == 404
        assert r.json()["detail"] == nowhere.json()["detail"].replace("nowhere", "ldn")


# --- export ------------------------------------------------------------------------------------------


def xlsx_sheets(data: bytes) -> dict[str, list[list[Any]]]:
    """Each sheet's rows of cell values (numbers as floats, strings as str) read from the .xlsx itself."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        shared = []
        if "xl/sharedStrings.xml" in names:
            root = ET.fromstring(z.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
                      for si in root.findall("m:si", ns)]
        book = ET.fromstring(z.read("xl/workbook.xml"))
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = {r.get("Id"): r.get("Target") for r in rels}
        out: dict[str, list[list[Any]]] = {}
        for sheet in book.find("m:sheets", ns) or ():
            path = "xl/" + target[sheet.get(f"{{{ns['r']}}}id")]
            rows: list[list[Any]] = []
            for row in ET.fromstring(z.read(path)).iter(f"{{{ns['m']}}}row"):
                cells: list[Any] = []
                for c in row.findall("m:c", ns):
                    col = ord(re.match(r"[A-Z]+", c.get("r")).group()[-1]) - ord("A")  # type: ignore[union-attr]
                    while len(cells) < col:
                        cells.append(None)
                    v = c.find("m:v", ns)
                    if v is None:
                        cells.append(None)
                    elif c.get("t") == "s":
                        cells.append(shared[int(v.text or 0)])
                    else:
                        cells.append(float(v.text or "nan"))
                rows.append(cells)
            out[sheet.get("name") or ""] = rows
    return out


async def test_baseline_as_csv_and_xlsx_cell_by_cell(office):
    params = {"meter": "main/kwh", "start": BASE[0], "end": BASE[1],
              "exclude": "2023-01-16T00:00:00Z/2023-01-23T00:00:00Z/tenant moving in"}
    body = (await get(office["ldn"], "baseline", **params)).json()
    r = await get(office["ldn"], "baseline", format="csv", **params)
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="ldn_ldn-main-kwh_baseline.csv"'
    lines = r.text.splitlines()
    assert lines[0] == "start (Europe/London),date,actual (kWh),expected (kWh),excluded"
    assert len(lines) == 1 + len(body["series"])
    first = body["series"][0]
    start, day, actual, expected, excluded = lines[1].split(",")
    assert (start, day, excluded) == ("2023-01-02T00:00:00+00:00", "2023-01-02", "")
    assert float(actual) == first["actual"] and float(expected) == first["expected"]
    assert lines[15].endswith(",yes")  # 16 January, in the exclusion
    r = await get(office["ldn"], "baseline", format="xlsx", **params)
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r.headers["content-disposition"] == 'attachment; filename="ldn_ldn-main-kwh_baseline.xlsx"'
    sheets = xlsx_sheets(r.content)
    days = sheets["Baseline days"]
    assert days[0] == ["start (Europe/London)", "date", "actual (kWh)", "expected (kWh)", "excluded"]
    # Numbers as numbers, to the 16 significant digits a workbook keeps.
    assert days[1][:4] == ["2023-01-02T00:00:00+00:00", "2023-01-02",
                           pytest.approx(first["actual"], rel=1e-15),
                           pytest.approx(first["expected"], rel=1e-15)]
    assert len(days) == 1 + len(body["series"])
    summary = {row[0]: row[1:] for row in sheets["Summary"][1:]}
    assert summary["CV(RMSE)"] == [pytest.approx(body["statistics"]["cvrmse_pct"], rel=1e-15), "%"]
    assert summary["rows fitted"] == [float(body["rows"])]
    assert summary["ASHRAE Guideline 14 met"] == ["yes"]
    assert summary["excluded: tenant moving in"] == [
        "2023-01-16T00:00:00+00:00 to 2023-01-23T00:00:00+00:00", "168 rows"]


async def test_savings_as_csv_in_local_time_across_the_clock_change(office):
    params = {"meter": "main/kwh", "baseline_start": BASE[0], "baseline_end": BASE[1], "start": REPORT[0],
              "end": REPORT[1]}
    body = (await get(office["ldn"], "savings", **params)).json()
    lines = (await get(office["ldn"], "savings", format="csv", **params)).text.splitlines()
    assert lines[0] == ("start (Europe/London),end (Europe/London),date,actual (kWh),expected (kWh),"
                        "avoided (kWh),cumulative avoided (kWh)")
    rows = {line.split(",")[2]: line.split(",") for line in lines[1:]}
    # 26 March 2023: clocks go forward at 01:00; the day ends at midnight BST.
    assert rows["2023-03-26"][:2] == ["2023-03-26T00:00:00+00:00", "2023-03-27T00:00:00+01:00"]
    last = body["series"][-1]
    assert [float(v) for v in rows[last["date"]][3:]] == [last["actual"], last["expected"], last["avoided"],
                                                          last["cumulative_avoided"]]


async def test_a_site_without_an_outdoor_temperature_point_is_told_to_name_one(office):
    r = await office["brs"].get("/api/v1/sites/brs/analytics/baseline",
                                params={"meter": "main/kwh", "start": BASE[0], "end": BASE[1]})
    assert r.status_code == 422, r.text
    loc, msg = _problem(r)
    assert loc == ["query", "temperature"] and "no outdoor temperature point" in msg


def test_method_hourly_keeps_the_time_of_week_model_where_the_daily_one_fits_better():
    from openbms.analytics.energy import Meter, MeterSeries
    from openbms.analytics.gl14 import fit_stats
    from openbms.analytics.history import MeterHours
    from openbms.api.routes.mv import _fit

    # A load that follows the day's temperature only, with loud hourly noise: the daily model wins.
    ts, _e, temp = synthetic_hours(30, seed=0)
    kwh = 50 + 3 * np.maximum(15 - temp, 0) + np.random.default_rng(0).normal(0, 20, len(ts))
    hours = MeterHours("x/m/kwh", "x/w/oat", ts, kwh, temp, MeterSeries(Meter("register", 1.0), []))
    auto, _rows = _fit(hours, LONDON, (), "auto", "start")
    assert auto.model == "daily" and auto.interval == "hourly"
    forced, _rows = _fit(hours, LONDON, (), "hourly", "start")
    assert forced.model == "hourly" and forced.hourly is not None
    own = fit_stats(kwh, forced.hourly.predict(ts, temp), forced.hourly.p)
    assert forced.stats.cvrmse_pct == pytest.approx(own.cvrmse_pct, rel=1e-12)
    assert forced.stats.cvrmse_pct != pytest.approx(auto.stats.cvrmse_pct)
    daily, rows = _fit(hours, LONDON, (), "daily", "start")
    assert daily.interval == "daily" and len(rows.ts) == 30


async def test_a_temperature_that_is_no_temperature_is_refused_naming_it(office):
    # The meter's own register as the "outdoor temperature": kWh read as °C would fit nonsense.
    for what, period in (("baseline", {"start": BASE[0], "end": BASE[1]}),
                         ("savings", {"baseline_start": BASE[0], "baseline_end": BASE[1], "start": REPORT[0],
                                      "end": REPORT[1]})):
        r = await get(office["ldn"], what, 422, meter="main/kwh", temperature="main/kwh", **period)
        loc, msg = _problem(r)
        assert loc == ["query", "temperature"] and "main/kwh is in kWh" in msg and "°C" in msg


async def test_dates_without_a_time_are_the_sites_local_days(office):
    # 27 March 2023 in London is a BST day: its midnight is 23:00 UTC the day before. An analyst excluding
    # "2023-03-27/2023-03-28" means that local day, not 01:00 to 01:00 BST.
    params = {"meter": "main/kwh", "baseline_start": BASE[0], "baseline_end": BASE[1], "start": "2023-03-03",
              "end": "2023-04-01", "exclude": "2023-03-27/2023-03-28/office closed"}
    body = (await get(office["ldn"], "savings", **params)).json()
    (e,) = body["exclusions"]
    assert (e["start"], e["end"]) == (_t("2023-03-27T00:00:00+01:00"), _t("2023-03-28T00:00:00+01:00"))
    assert e["rows"] == 24
    dates = [b["date"] for b in body["series"]]
    assert "2023-03-27" not in dates and dates[0] == "2023-03-03" and dates[-1] == "2023-03-31"
    assert body["end"] == _t("2023-04-01T00:00:00+01:00")
    # With a time and no offset: UTC, as everywhere in the API.
    body = (await get(office["ldn"], "savings", **{**params, "end": "2023-04-01T00:00:00"})).json()
    assert body["end"] == _t("2023-04-01T00:00:00+00:00")
    r = await get(office["ldn"], "baseline", 422, meter="main/kwh", start="2023-02-30", end=BASE[1])
    assert _problem(r) == (["query", "start"], "'2023-02-30' is no date: expected YYYY-MM-DD, ISO 8601 or "
                           "epoch seconds")


async def test_a_reporting_period_that_starts_before_the_baseline_ends_is_refused(office):
    # Savings over the baseline's own days are ~0 by construction: no measure was measured.
    r = await get(office["ldn"], "savings", 422, meter="main/kwh", baseline_start=BASE[0],
                  baseline_end=BASE[1], start="2023-02-01", end=REPORT[1])
    loc, msg = _problem(r)
    assert loc == ["query", "start"] and "before the baseline ends" in msg and "baseline_end" in msg
    # Starting where the baseline ends is the usual case (test above); a gap between them is fine too.
    await get(office["ldn"], "savings", meter="main/kwh", baseline_start=BASE[0], baseline_end="2023-02-28",
              start=REPORT[0], end=REPORT[1])


async def test_a_daily_baseline_leaves_out_every_day_an_exclusion_touches(office):
    # Noon to noon (UTC, a London winter): half of the 10th and half of the 11th were non-routine. A daily
    # row is a whole day: both days are left out, not only the one whose midnight falls inside.
    body = (await get(office["ldn"], "baseline", meter="main/kwh", start=BASE[0], end=BASE[1], method="daily",
                      exclude="2023-01-10T12:00:00Z/2023-01-11T12:00:00Z/meter swap")).json()
    (e,) = body["exclusions"]
    assert (e["start"], e["end"], e["rows"]) == (_t("2023-01-10T00:00:00Z"), _t("2023-01-12T00:00:00Z"), 2)
    assert body["excluded_rows"] == 2
    assert [d["date"] for d in body["series"] if d["excluded"]] == ["2023-01-10", "2023-01-11"]
    body = (await get(office["ldn"], "savings", meter="main/kwh", baseline_start=BASE[0],
                      baseline_end=BASE[1], start=REPORT[0], end=REPORT[1], method="daily",
                      exclude="2023-03-10T12:00:00Z/2023-03-11T12:00:00Z/open day")).json()
    assert (body["exclusions"][0]["rows"], body["excluded_rows"]) == (2, 2)
    assert "2023-03-10" not in [b["date"] for b in body["series"]]
