"""Anomalies found by the running openbms, raised as alarms, acknowledged and listed over HTTP.

A site with a register meter, an outdoor temperature point and one alarm rule
(so its alarms run); nine weeks of the generated office in the historian, the
last day a third above normal (a stuck damper's worth); a ManualClock. The run
at start finds no history (nothing judged); once the history is in, the next
run judges the ended day, keeps the finding, and raises its alarm with the
evidence; an operator acknowledges it; the next normal day clears it.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest

from openbms.alarms import ACTIVE_ACKED, ACTIVE_UNACKED, NORMAL
from openbms.api.server import serve
from openbms.bench.analytics import synthetic_hours
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.model.sample import Sample
from openbms.runtime.clock import ManualClock
from openbms.service.anomalies import RUN_AFTER_S, AnomalyRun
from openbms.service.runtime import Runtime
from tests.api.live import password_hash
from tests.api.test_mv import xlsx_sheets

PASSWORD = "correct horse battery"
SITE = """\
site: {id: an, name: Anomalies, timezone: Europe/London}
drivers:
  sim: {enabled: false}
equipment:
  - id: main
    type: meter
    name: Main meter
    tags: [siteMeter]
    points:
      - {name: kwh, unit: kWh, tags: [elec, energy], binding: "sim://main/kwh"}
  - id: weather
    type: weather
    points:
      - {name: oat, unit: °C, tags: [outside, air, temp, sensor], binding: "sim://weather/oat"}
"""  # no alarm rules: a site's alarms run all the same, for services' alarms such as these
HOUR = 3600.0
TZ = ZoneInfo("Europe/London")
FIRST = date(2025, 1, 6)  # a Monday
DAYS = 63
FAULT = FIRST + timedelta(days=DAYS - 2)  # a Tuesday: the day before the last
ALARM = "anomaly:consumption:main.kwh"


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp()


@dataclass
class World:
    runtime: Runtime
    clock: ManualClock
    client: httpx.AsyncClient


def history() -> list[Sample]:
    """The register read at every hour (the fault's day a third higher) and the outdoor °C twice an hour."""
    ts, kwh, temp = synthetic_hours(DAYS, seed=5, tz="Europe/London", start=FIRST)
    fault = (ts >= _midnight(FAULT)) & (ts < _midnight(FAULT + timedelta(days=1)))
    kwh = np.where(fault, kwh * 1.35, kwh)
    reading = 5000.0 + np.concatenate([[0.0], np.cumsum(kwh)])
    samples = [Sample("an/main/kwh", float(t), float(v))
               for t, v in zip(np.append(ts, ts[-1] + HOUR).tolist(), reading.tolist(), strict=True)]
    for t, x in zip(ts.tolist(), temp.tolist(), strict=True):
        samples += [Sample("an/weather/oat", t, x), Sample("an/weather/oat", t + 1800.0, x)]
    return samples


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "an.yaml").write_text(SITE)
    # 23:30 the day after the fault: the clock then moves by hours, not days (a day of a ManualClock
    # wakes every task's each second).
    clock = ManualClock(_midnight(FAULT + timedelta(days=2)) - 30 * 60)
    runtime = Runtime(load_sites(folder), tmp_path / "data", clock=clock, api=("127.0.0.1", 0),
                      api_front=serve)
    await runtime.start()
    try:
        for email, role in (("viewer@example.com", "viewer"), ("operator@example.com", "operator")):
            create_user(runtime.state, email, password_hash(PASSWORD), grants={"an": role})
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
            yield World(runtime, clock, client)
    finally:
        await runtime.stop()


async def login(w: World, email: str) -> dict[str, str]:
    r = await w.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def run_at(w: World, at: float) -> AnomalyRun:
    """Move the clock to ``at`` (a run's time) and wait for that run to finish."""
    await w.clock.set(at)
    assert w.runtime.anomalies is not None
    for _ in range(1200):  # the run works in a thread: wait for it (a bound, not a time limit asserted)
        run = w.runtime.anomalies.last_run
        if run is not None and run.at == at:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"no anomaly run at {at}: the last was {w.runtime.anomalies.last_run}")


async def anomalies(w: World, headers: dict[str, str], status: int = 200, **params: Any) -> dict[str, Any]:
    r = await w.client.get("/api/v1/sites/an/analytics/anomalies", params=params, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


async def test_a_faulty_day_becomes_an_alarm_with_its_evidence_that_an_operator_acknowledges(world: World):
    w = world
    viewer = await login(w, "viewer@example.com")
    assert w.runtime.anomalies is not None
    first = w.runtime.anomalies.last_run
    assert first is not None and (first.judged, first.findings) == (0, 0)  # no history yet: not judged
    assert (await anomalies(w, viewer))["anomalies"] == []

    samples = history()
    w.runtime.historian.ingest([s for s in samples if s.ts <= w.clock.now()])  # nothing from the future
    await w.runtime.historian.flush()
    start = w.clock.now()
    run = await run_at(w, (start // HOUR + 1) * HOUR + RUN_AFTER_S)
    assert (run.judged, run.findings, run.raised) == (3, 1, 1)  # the last three days; the fault once

    body = await anomalies(w, viewer)
    assert body["timezone"] == "Europe/London"
    (a,) = body["anomalies"]
    assert (a["kind"], a["meter"], a["alarm_id"], a["alarm_state"]) == (
        "consumption", "an/main/kwh", ALARM, ACTIVE_UNACKED)
    assert (a["start"], a["end"]) == (_midnight(FAULT), _midnight(FAULT + timedelta(days=1)))
    assert a["actual_kwh"] > 1.2 * a["expected_kwh"] and a["score"] > a["threshold"]
    assert a["chart"].startswith("/sites/an/energy?meter=main/kwh&since=")
    alarm = w.runtime.alarm_engine("an").get(ALARM)
    assert alarm.context is not None and alarm.context["expected_kwh"] == a["expected_kwh"]
    assert a["message"] in alarm.message and "Chart: #/sites/an/energy" in alarm.message

    # The alarm has the lifecycle of any other: an operator acknowledges it over HTTP.
    operator = await login(w, "operator@example.com")
    r = await w.client.post(f"/api/v1/sites/an/alarms/{ALARM}/ack", json={"note": "AHU damper checked"},
                            headers=operator)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == ACTIVE_ACKED
    # The alarm API carries who raised it and the evidence.
    assert r.json()["source"] == "analytics"
    assert r.json()["context"]["expected_kwh"] == a["expected_kwh"]
    assert (await anomalies(w, viewer))["anomalies"][0]["alarm_state"] == ACTIVE_ACKED
    r = await w.client.get("/api/v1/sites/an/alarms/history", params={"alarm_id": ALARM}, headers=viewer)
    assert [e["action"] for e in r.json()["items"]] == ["ack", "raise"]

    # The next day, normal, is judged an hour after it has ended (its last readings are in): the alarm
    # clears, the finding stays listed.
    w.runtime.historian.ingest([s for s in samples if s.ts > start])
    await w.runtime.historian.flush()
    run = await run_at(w, _midnight(FAULT + timedelta(days=2)) + HOUR + RUN_AFTER_S)
    assert (run.judged, run.findings, run.cleared) == (1, 0, 1)
    assert w.runtime.alarm_engine("an").get(ALARM).state == NORMAL
    body = await anomalies(w, viewer, meter="main/kwh", since=str(_midnight(FAULT)))
    assert [x["id"] for x in body["anomalies"]] == [a["id"]] and body["anomalies"][0]["alarm_state"] == NORMAL
    assert (await anomalies(w, viewer, since=str(_midnight(FAULT + timedelta(days=1)))))["anomalies"] == []
    await anomalies(w, viewer, 404, meter="nothing/here")


async def test_the_anomalies_download_as_csv_and_xlsx_with_their_evidence(world: World):
    # The energy page's export buttons ask format=csv|xlsx of this route as of the others: a file, not the
    # JSON saved under a .csv name.
    w = world
    viewer = await login(w, "viewer@example.com")
    samples = history()
    w.runtime.historian.ingest([s for s in samples if s.ts <= w.clock.now()])
    await w.runtime.historian.flush()
    await run_at(w, (w.clock.now() // HOUR + 1) * HOUR + RUN_AFTER_S)
    (a,) = (await anomalies(w, viewer))["anomalies"]
    r = await w.client.get("/api/v1/sites/an/analytics/anomalies", params={"format": "csv", "limit": 50},
                           headers=viewer)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="an_anomalies.csv"'
    header, row = list(csv.reader(io.StringIO(r.text)))
    assert header == ["id", "meter", "name", "kind", "start (Europe/London)", "end (Europe/London)",
                      "expected (kWh)", "actual (kWh)", "score", "threshold", "message",
                      "detected (Europe/London)", "alarm", "alarm state", "chart"]
    assert row[:6] == [str(a["id"]), "an/main/kwh", a["name"], "consumption", f"{FAULT}T00:00:00+00:00",
                       f"{FAULT + timedelta(days=1)}T00:00:00+00:00"]
    assert [float(v) for v in row[6:10]] == [a["expected_kwh"], a["actual_kwh"], a["score"], a["threshold"]]
    assert row[10:] == [a["message"], row[11], ALARM, ACTIVE_UNACKED, a["chart"]]
    r = await w.client.get("/api/v1/sites/an/analytics/anomalies", params={"format": "xlsx"}, headers=viewer)
    assert r.headers["content-disposition"] == 'attachment; filename="an_anomalies.xlsx"'
    (sheet,) = xlsx_sheets(r.content).values()
    assert sheet[1][6:8] == [pytest.approx(a["expected_kwh"], rel=1e-15),
                             pytest.approx(a["actual_kwh"], rel=1e-15)]
