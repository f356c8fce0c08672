"""History over real HTTP: several points at once, raw and rollups, CSV and JSON lines downloads."""

# ruff: noqa: F811  (the live fixture is imported, then named as a parameter)
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from openbms.api.routes import history
from openbms.model.sample import Sample
from tests.api.live import Live, live  # noqa: F401

POINTS = ("hq/ahu-1/sat", "hq/vav-1/zone-temp")
HOURS = 3


def local_midnight_days_ago(days: int) -> float:
    """Midnight in hq's timezone, ``days`` ago (day rollups are local days)."""
    tz = ZoneInfo("Europe/London")
    day = datetime.now(tz).date() - timedelta(days=days)
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


@pytest.fixture
async def stored(live: Live) -> float:
    """Samples of two hq points, one a minute for three hours from 02:00 three days ago; that 02:00."""
    start = local_midnight_days_ago(3) + 2 * 3600
    for i, point in enumerate(POINTS):
        live.runtime.historian.ingest(
            [Sample(point, start + 60 * m, float(10 * i + m % 10)) for m in range(60 * HOURS)]
        )
    await live.runtime.historian.flush()
    return start


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    return body


async def test_raw_history_of_several_points(live: Live, stored: float):
    r = await live.get(
        "viewer",
        "/api/v1/sites/hq/history",
        params={"points": "ahu-1/sat,hq/vav-1/zone-temp", "since": stored, "until": stored + 3600},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["site"] == "hq" and body["rollup"] == "raw"
    assert body["since"] == stored and body["until"] == stored + 3600
    assert [s["point"] for s in body["series"]] == list(POINTS)
    sat, zone = body["series"]
    assert sat["unit"] == "degC" and len(sat["samples"]) == 60 and len(zone["samples"]) == 60
    assert sat["samples"][0] == {"ts": stored, "value": 0.0, "status": "ok"}
    assert zone["samples"][3]["value"] == 13.0


async def test_a_repeated_request_sees_samples_stored_since(live: Live, stored: float):
    """Recent raw history is kept in memory for repeated requests; what the historian stores reaches it."""
    # An "until" in the past: the runtime is storing the point's polled samples now too.
    params = {"points": "ahu-1/sat", "since": stored, "until": stored + 4 * 3600}
    first = (await live.get("viewer", "/api/v1/sites/hq/history", params=params)).json()["series"][0]
    assert len(first["samples"]) == 60 * HOURS
    newer = stored + 60 * 60 * HOURS
    faults = [Sample("hq/ahu-1/sat", newer + m, float("nan"), "fault") for m in range(3)]
    live.runtime.historian.ingest(faults)
    await live.runtime.historian.flush()
    again = (await live.get("viewer", "/api/v1/sites/hq/history", params=params)).json()["series"][0]
    assert again["samples"][: 60 * HOURS] == first["samples"]
    assert again["samples"][60 * HOURS :] == [{"ts": s.ts, "value": None, "status": "fault"} for s in faults]
    late = stored + 30.5  # between two stored samples
    live.runtime.historian.ingest([Sample("hq/ahu-1/sat", late, 99.0, "ok")])
    await live.runtime.historian.flush()
    last = (await live.get("viewer", "/api/v1/sites/hq/history", params=params)).json()["series"][0]
    assert last["samples"][1] == {"ts": late, "value": 99.0, "status": "ok"}
    assert len(last["samples"]) == 60 * HOURS + 4


async def test_times_may_be_iso_8601_and_points_repeated(live: Live, stored: float):
    since = datetime.fromtimestamp(stored, ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")
    until = datetime.fromtimestamp(stored + 600, ZoneInfo("Europe/London")).isoformat()
    r = await live.get(
        "viewer",
        "/api/v1/sites/hq/history",
        params=[("points", "ahu-1/sat"), ("points", "vav-1/zone-temp"), ("since", since), ("until", until)],
    )
    assert r.status_code == 200, r.text
    assert [len(s["samples"]) for s in r.json()["series"]] == [10, 10]
    body = problem(
        await live.get(
            "viewer", "/api/v1/sites/hq/history", params={"points": "ahu-1/sat", "since": "yesterday"}
        ),
        422,
    )
    assert body["errors"][0]["loc"] == ["query", "since"]
    problem(
        await live.get(
            "viewer",
            "/api/v1/sites/hq/history",
            params={"points": "ahu-1/sat", "since": stored, "until": stored},
        ),
        422,
    )
    problem(await live.get("viewer", "/api/v1/sites/hq/history", params={"points": " , "}), 422)
    problem(await live.get("viewer", "/api/v1/sites/hq/history"), 422)


async def test_hour_and_day_rollups(live: Live, stored: float):
    params = {"points": ",".join(POINTS), "since": stored, "until": stored + HOURS * 3600, "rollup": "hour"}
    r = await live.get("viewer", "/api/v1/sites/hq/history", params=params)
    assert r.status_code == 200, r.text
    for i, series in enumerate(r.json()["series"]):
        rows = series["rollups"]
        assert [row["start"] for row in rows] == [stored + h * 3600 for h in range(HOURS)]
        assert all(row["count"] == 60 for row in rows)
        assert rows[0]["min"] == 10 * i and rows[0]["max"] == 10 * i + 9 and rows[0]["mean"] == 10 * i + 4.5
    midnight = stored - 2 * 3600
    r = await live.get(
        "viewer",
        "/api/v1/sites/hq/history",
        params={"points": ",".join(POINTS), "since": midnight, "until": midnight + 86400, "rollup": "day"},
    )
    assert r.status_code == 200, r.text
    assert [[(row["start"], row["count"]) for row in s["rollups"]] for s in r.json()["series"]] == [
        [(midnight, 60 * HOURS)],
        [(midnight, 60 * HOURS)],
    ]


async def test_csv_and_json_lines_downloads_parse(live: Live, stored: float):
    params = {"points": ",".join(POINTS), "since": stored, "until": stored + 3600}
    r = await live.get("viewer", "/api/v1/sites/hq/history", params={**params, "format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="hq-history-raw-')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 120 and set(rows[0]) == {"point", "time", "ts", "value", "status"}
    assert {row["point"] for row in rows} == set(POINTS) and float(rows[1]["value"]) == 1.0
    r = await live.get("viewer", "/api/v1/sites/hq/history", params={**params, "format": "jsonl"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert r.headers["content-disposition"].endswith('.jsonl"')
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert len(lines) == 120 and lines[0]["point"] == POINTS[0] and lines[0]["ts"] == stored
    assert lines[0]["time"].endswith("Z")
    r = await live.get(
        "viewer",
        "/api/v1/sites/hq/history",
        params={**params, "until": stored + HOURS * 3600, "rollup": "hour", "format": "csv"},
    )
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 2 * HOURS and rows[0]["count"] == "60" and "tw_mean" in rows[0]


async def test_too_many_rows_is_a_clear_422(live: Live, stored: float, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(history, "MAX_JSON_ROWS", 100)
    params = {"points": ",".join(POINTS), "since": stored, "until": stored + 3600}
    body = problem(await live.get("viewer", "/api/v1/sites/hq/history", params=params), 422)
    assert "120 rows" in body["errors"][0]["msg"] and "format=csv" in body["errors"][0]["msg"]
    # The download may carry more.
    assert (
        await live.get("viewer", "/api/v1/sites/hq/history", params={**params, "format": "csv"})
    ).is_success
    body = problem(
        await live.get("viewer", "/api/v1/sites/hq/history", params={**params, "since": 0, "rollup": "hour"}),
        422,
    )
    assert "rows" in body["errors"][0]["msg"]


async def test_history_of_another_sites_point_is_404_like_an_unknown_point(live: Live, stored: float):
    url = "/api/v1/sites/hq/history"
    other = problem(await live.get("admin", url, params={"points": "ahu-1/sat,lab/fc-1/temp"}), 404)
    unknown = problem(await live.get("admin", url, params={"points": "ahu-1/sat,hq/fc-1/temp"}), 404)
    assert other == {**unknown, "detail": "no point 'lab/fc-1/temp'"}
    assert unknown["detail"] == "no point 'hq/fc-1/temp'"
    # A viewer of hq asking for lab's history learns nothing either.
    hidden = problem(
        await live.get("viewer", "/api/v1/sites/lab/history", params={"points": "fc-1/temp"}), 404
    )
    missing = problem(
        await live.get("viewer", "/api/v1/sites/annex/history", params={"points": "fc-1/temp"}), 404
    )
    assert hidden == {**missing, "detail": "no site 'lab'", "instance": "/api/v1/sites/lab/history"}
    r = await live.get("viewer", url, params={"points": "lab/fc-1/temp", "format": "csv"})
    problem(r, 404)
