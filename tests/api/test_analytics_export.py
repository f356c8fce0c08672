"""format=csv|xlsx on consumption, cost, peaks and forecast: the same numbers as the JSON, cell by cell.

The London office of tests/api/test_energy_analytics.py (a 20 kW register over the spring clock change,
a chiller with a spike, a time-of-use tariff) and the forecast site of tests/api/test_forecast_api.py.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import Response

from openbms.api.export_tables import XLSX_TYPE, Column, Table, export_response
from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.model.sample import Sample
from openbms.service.runtime import Runtime
from tests.api.live import password_hash
from tests.api.test_energy_analytics import PASSWORD, UNTIL, london, midnight, quarters  # noqa: F401
from tests.api.test_forecast_api import HOUR, H, World, history, run_at, world  # noqa: F401  (the fixture)
from tests.api.test_mv import xlsx_sheets


async def download(client: httpx.AsyncClient, site: str, what: str, fmt: str,
                   **params: Any) -> httpx.Response:
    r = await client.get(f"/api/v1/sites/{site}/analytics/{what}", params={**params, "format": fmt})
    assert r.status_code == 200, r.text
    return r


def csv_rows(r: httpx.Response) -> list[list[str]]:
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(r.text)))


def number(text: str) -> float | None:
    return None if text == "" else float(text)


async def test_consumption_as_csv_in_local_time_with_units(london):  # noqa: F811
    params = {"bucket": "day", "count": 3, "until": UNTIL, "compare": "true"}
    body = (await london.get("/api/v1/sites/ldn/analytics/consumption", params=params)).json()
    r = await download(london, "ldn", "consumption", "csv", **params)
    assert r.headers["content-disposition"] == 'attachment; filename="ldn_consumption_day.csv"'
    rows = csv_rows(r)
    assert rows[0] == ["series", "kind", "name", "commodity", "start (Europe/London)", "end (Europe/London)",
                       "date", "energy (kWh)", "partial", "previous energy (kWh)", "energy per area (kWh/m²)"]
    (site,) = body["series"]
    assert len(rows) == 1 + len(site["periods"])
    # 29 March 2026: 23 hours long in London; it ends at midnight BST.
    sunday = rows[2]
    assert sunday[4:7] == ["2026-03-29T00:00:00+00:00", "2026-03-30T00:00:00+01:00", "2026-03-29"]
    for row, p in zip(rows[1:], site["periods"], strict=True):
        assert row[0] == site["id"] and row[7:] == [
            str(p["kwh"]), "yes" if p["partial"] else "",
            "" if p["previous_kwh"] is None else str(p["previous_kwh"]), str(p["kwh_per_m2"])]
    assert number(sunday[7]) == pytest.approx(460)


async def test_cost_as_xlsx_numbers_as_numbers_and_its_bill_lines(london):  # noqa: F811
    params = {"bucket": "day", "count": 2, "until": UNTIL}
    body = (await london.get("/api/v1/sites/ldn/analytics/cost", params=params)).json()
    r = await download(london, "ldn", "cost", "xlsx", **params)
    assert r.headers["content-type"] == XLSX_TYPE
    assert r.headers["content-disposition"] == 'attachment; filename="ldn_cost_elec_day.xlsx"'
    sheets = xlsx_sheets(r.content)
    cost, lines = sheets["Cost"], sheets["Bill lines"]
    assert cost[0] == ["meter", "name", "start (Europe/London)", "end (Europe/London)", "date",
                       "energy (kWh)", "energy cost (GBP)", "demand cost (GBP)", "fixed cost (GBP)",
                       "total (GBP)", "unknown (s)", "partial"]
    (main,) = body["series"]
    for row, p in zip(cost[1:], main["periods"], strict=True):
        assert row[0] == main["meter"] and row[4] == p["date"]
        keys = ("kwh", "energy_cost", "demand_cost", "fixed_cost", "total", "unknown_s")
        assert row[5:11] == [None if p[k] is None else pytest.approx(p[k], rel=1e-15) for k in keys]
    assert cost[1][9] == pytest.approx(111.00, abs=0.005)  # Sunday 29 March, to the cent
    assert len(lines) == 1 + sum(len(p["lines"]) for p in main["periods"])
    first = main["periods"][0]["lines"][0]
    assert lines[1][2:8] == [first["kind"], first["name"], pytest.approx(first["quantity"], rel=1e-15),
                             first["unit"], pytest.approx(first["rate"]),
                             pytest.approx(first["amount"], rel=1e-15)]


async def test_peaks_as_csv_with_the_window_start_in_local_time(london):  # noqa: F811
    params = {"bucket": "day", "count": 1, "until": UNTIL - 2 * 86_400 + 43_200, "by": "meter",
              "meters": "chiller/power"}
    rows = csv_rows(await download(london, "ldn", "peaks", "csv", **params))
    assert rows[0][7:] == ["peak 15-minute demand (kW)", "window start (Europe/London)", "partial"]
    # The chiller's 45 kW quarter hour on 28 March at 10:00 (GMT).
    assert [number(rows[1][7]), rows[1][8]] == [pytest.approx(45), "2026-03-28T10:00:00+00:00"]


async def test_forecast_as_csv_and_xlsx(world: World):  # noqa: F811
    w = world
    samples, _kwh = history()
    w.runtime.historian.ingest(samples)
    await w.runtime.historian.flush()
    await run_at(w, H + HOUR)
    body = (await w.client.get("/api/v1/sites/fc/analytics/forecast", params={"hours": 6})).json()
    (f,) = body["forecasts"]
    rows = csv_rows(await download(w.client, "fc", "forecast", "csv", hours=6))
    assert rows[0] == ["meter", "name", "issued (Europe/London)", "start (Europe/London)", "hours ahead (h)",
                       "energy (kWh)", "outdoor temperature (°C)", "actual energy (kWh)"]
    assert len(rows) == 1 + 6
    # 20 January 2025, 11:00 GMT: the first hour forecast, issued at the same hour.
    assert rows[1][2:5] == ["2025-01-20T11:00:00+00:00", "2025-01-20T11:00:00+00:00", "1"]
    assert [number(v) for v in rows[1][5:]] == [f["hours"][0]["kwh"], f["hours"][0]["temperature"], None]
    sheets = xlsx_sheets((await download(w.client, "fc", "forecast", "xlsx", hours=6)).content)
    assert sheets["Forecast"][1][4:7] == [1.0, pytest.approx(f["hours"][0]["kwh"], rel=1e-15),
                                          pytest.approx(f["hours"][0]["temperature"], rel=1e-15)]
    windows = sheets["15-minute windows"]
    assert windows[0] == ["meter", "start (Europe/London)", "energy (kWh)", "mean demand (kW)"]
    assert len(windows) == 1 + 4 * 6
    assert windows[1][2:] == [pytest.approx(f["windows"][0]["kwh"], rel=1e-15),
                              pytest.approx(f["windows"][0]["kw"], rel=1e-15)]


#: A site whose meter's equipment is named like spreadsheet formulas (an integrator's typo or an attack).
FORMULA_SITE = """\
site: {id: fx, timezone: Europe/London, area_m2: 100}
equipment:
  - id: main
    name: "=HYPERLINK(\\"http://example.invalid\\",\\"click\\")"
    type: meter
    tags: [siteMeter]
    points:
      - {name: energy, unit: kWh, tags: [elec], binding: "sim://main/energy?wave=constant&value=0"}
  - id: sub
    name: "@SUM(1+1)*cmd|' /C calc'!A0"
    type: meter
    tags: ["submeterOf:main"]
    points:
      - {name: energy, unit: kWh, tags: [elec], binding: "sim://sub/energy?wave=constant&value=0"}
"""


async def test_a_name_starting_like_a_formula_is_text_in_csv_and_xlsx(tmp_path):
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "fx.yaml").write_text(FORMULA_SITE)
    runtime = Runtime(load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        create_user(runtime.state, "v@example.com", password_hash(PASSWORD), grants={"fx": "viewer"})
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as anonymous:
            r = await anonymous.post("/api/v1/auth/login",
                                     json={"email": "v@example.com", "password": PASSWORD})
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        start = quarters()[0]
        runtime.historian.ingest([Sample(f"fx/{e}/energy", ts, (ts - start) / 3600) for ts in quarters()
                                  for e in ("main", "sub")])
        await runtime.historian.flush()
        params = {"bucket": "day", "count": 1, "until": midnight(date(2026, 3, 29)), "by": "meter"}
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30, headers=headers) as client:
            rows = csv_rows(await download(client, "fx", "consumption", "csv", **params))
            names = {row[2] for row in rows[1:]}
            # Each is written as text a spreadsheet shows, not a formula it runs: a leading quote.
            assert names == {"'=HYPERLINK(\"http://example.invalid\",\"click\")",
                             "'@SUM(1+1)*cmd|' /C calc'!A0"}
            assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row
                       if cell and not _is_number(cell))
            sheets = xlsx_sheets((await download(client, "fx", "consumption", "xlsx", **params)).content)
            (sheet,) = sheets.values()
            # In a workbook a string cell is never a formula: the name as it is.
            assert {row[2] for row in sheet[1:]} == {"=HYPERLINK(\"http://example.invalid\",\"click\")",
                                                     "@SUM(1+1)*cmd|' /C calc'!A0"}
    finally:
        await runtime.stop()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Rows(Sequence[list[Any]]):
    """A table's rows that note which threads read them."""

    def __init__(self, rows: list[list[Any]]) -> None:
        self.rows = rows
        self.threads: set[int] = set()

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        self.threads.add(threading.get_ident())
        return self.rows[i]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_a_file_is_written_off_the_event_loop(fmt: str):
    # A workbook of a thousand rows takes a large part of a second to write: on the event loop it would
    # stall every site's control and every other request meanwhile. The rows are read in a worker thread.
    rows = _Rows([[1.7e9 + 3600.0 * i, float(i), f"row {i}"] for i in range(1000)])
    columns = (Column("start", kind="time"), Column("energy", "kWh"), Column("note", kind="text"))
    table = Table("Rows", columns, rows)
    app = FastAPI()
    loop_threads: set[int] = set()

    @app.get("/file")
    async def file() -> Response:
        loop_threads.add(threading.get_ident())
        return export_response([table], fmt, "rows", ZoneInfo("Europe/London"))  # type: ignore[arg-type]

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        r = await client.get("/file")
    assert r.status_code == 200 and r.headers["content-disposition"] == f'attachment; filename="rows.{fmt}"'
    if fmt == "csv":
        assert len(r.text.splitlines()) == 1 + 1000
    else:
        assert len(xlsx_sheets(r.content)["Rows"]) == 1 + 1000
    assert rows.threads and not rows.threads & loop_threads
