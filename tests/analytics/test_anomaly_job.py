"""The anomaly job on its own, over a real history file and state database: a site without alarm rules
and without an outdoor temperature point keeps its findings (judged on time of week alone), each day
once; a failing database is logged once and its recovery once."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import sqlalchemy as sa

from openbms.bench.analytics import synthetic_hours
from openbms.config import load_sites
from openbms.db import migrate, open_state
from openbms.db.schema import runtime_state
from openbms.historian import open_historian
from openbms.model.sample import Sample
from openbms.runtime.clock import ManualClock
from openbms.service.anomalies import AnomalyService, alarm_id, stored_findings

TZ = ZoneInfo("Europe/London")
SITE = """\
site: {id: job, name: Job, timezone: Europe/London}
drivers:
  sim: {enabled: false}
equipment:
  - id: main
    type: meter
    name: Main meter
    points:
      - {name: kwh, unit: kWh, tags: [elec, energy], binding: "sim://main/kwh"}
"""
HOUR = 3600.0
FIRST = date(2025, 1, 6)
DAYS = 60
FAULT = FIRST + timedelta(days=DAYS - 1)  # the last day


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp()


async def test_findings_are_kept_without_alarms_each_day_once_and_a_failing_database_logged_once(
        tmp_path: Path, caplog):
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "job.yaml").write_text(SITE)
    sites = load_sites(folder)
    after = _midnight(FAULT + timedelta(days=1)) + 2 * HOUR
    clock = ManualClock(after)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    engine = open_state(url)
    historian = open_historian(tmp_path / "history.db", clock=clock)
    await historian.start()
    try:
        ts, kwh, _temp = synthetic_hours(DAYS, seed=2, tz="Europe/London", start=FIRST)
        kwh = np.where(ts >= _midnight(FAULT), kwh * 2.0, kwh)  # weather unknown: a wider normal
        reading = 100.0 + np.concatenate([[0.0], np.cumsum(kwh)])
        historian.ingest([Sample("job/main/kwh", float(t), float(v))
                          for t, v in zip(np.append(ts, ts[-1] + HOUR), reading, strict=True)])
        await historian.flush()
        job = AnomalyService(lambda: sites, historian, engine, clock, lambda site: None)
        run = await job.run_once(after)
        assert (run.judged, run.findings, run.raised) == (3, 1, 0)  # three days back; no alarms run here
        (f,) = stored_findings(engine, "job")
        assert (f["kind"], f["meter"], f["day"], f["alarm_id"]) == (
            "consumption", "job/main/kwh", FAULT.isoformat(), "anomaly:consumption:main.kwh")
        assert f["actual_kwh"] > 1.5 * f["expected_kwh"]
        # An hour later nothing is judged again.
        run = await job.run_once(after + HOUR)
        assert (run.judged, run.findings) == (0, 0) and len(stored_findings(engine, "job")) == 1

        # The table gone (a broken database): each run fails, logged once; then it works again, once.
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE runtime_state"))
        with caplog.at_level(logging.INFO, logger="openbms.service.anomalies"):
            for hour in range(3):
                await job.run_once(after + HOUR * (2 + hour))
            failures = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert failures == ["anomaly detection of job failed: retried every hour"]
            runtime_state.create(engine)
            caplog.clear()
            await job.run_once(after + 6 * HOUR)
            assert [r.getMessage() for r in caplog.records] == ["anomaly detection of job works again"]
    finally:
        await historian.stop()
        engine.dispose()


@pytest.fixture(autouse=True)
def _quiet_sqlalchemy() -> None:
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)


WEATHER_SITE = SITE.replace("job", "wx") + """\
  - id: weather
    type: weather
    points:
      - {name: oat, unit: °C, tags: [outside, air, temp, sensor], binding: "sim://weather/oat"}
"""


async def test_a_dead_outdoor_sensor_does_not_stop_the_meters_being_judged(tmp_path: Path):
    # The outdoor sensor stopped two days before the end; the meter's register froze on the last day at
    # 06:00. Without the temperature the days are judged on time of week alone (as on a site without an
    # outdoor point): the frozen meter is found, not silently left unjudged.
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "wx.yaml").write_text(WEATHER_SITE)
    sites = load_sites(folder)
    after = _midnight(FAULT + timedelta(days=1)) + 2 * HOUR
    clock = ManualClock(after)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    engine = open_state(url)
    historian = open_historian(tmp_path / "history.db", clock=clock)
    await historian.start()
    try:
        ts, kwh, temp = synthetic_hours(DAYS, seed=2, tz="Europe/London", start=FIRST)
        frozen = _midnight(FAULT) + 6 * HOUR
        kwh = np.where(ts >= frozen, 0.0, kwh)
        reading = 100.0 + np.concatenate([[0.0], np.cumsum(kwh)])
        dead = _midnight(FAULT - timedelta(days=1))
        historian.ingest([Sample("wx/main/kwh", float(t), float(v))
                          for t, v in zip(np.append(ts, ts[-1] + HOUR), reading, strict=True)]
                         + [Sample("wx/weather/oat", float(t), float(x))
                            for t, x in zip(ts, temp, strict=True) if t < dead])
        await historian.flush()
        job = AnomalyService(lambda: sites, historian, engine, clock, lambda site: None)
        run = await job.run_once(after)
        assert run.judged == 3  # the day the sensor still read, and the two without it
        found = stored_findings(engine, "wx")
        assert [(f["kind"], f["day"]) for f in found] == [("stuck", FAULT.isoformat())]
        assert found[0]["start"] == frozen
    finally:
        await historian.stop()
        engine.dispose()


def test_two_meters_never_share_an_alarm_even_when_their_ids_hold_dots():
    # Ids may hold dots: main/elec.kwh and main.elec/kwh are two meters, and one's normal day must not
    # clear the other's alarm.
    a = alarm_id("s", "s/main/elec.kwh", "consumption")
    b = alarm_id("s", "s/main.elec/kwh", "consumption")
    assert a != b and "/" not in a + b
    # Ids without dots keep the documented anomaly:<kind>:<equipment>.<point>.
    assert alarm_id("s", "s/main/kwh", "stuck") == "anomaly:stuck:main.kwh"


async def test_a_meter_frozen_for_days_stays_stuck_and_its_alarm_is_not_cleared(tmp_path: Path):
    # The register froze at 06:00 the day before the last. The first frozen day must not teach the next
    # one that reading zero is normal: both are stuck, and nothing judges the meter normal meanwhile.
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "job.yaml").write_text(SITE)
    sites = load_sites(folder)
    after = _midnight(FAULT + timedelta(days=1)) + 2 * HOUR
    clock = ManualClock(after)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    engine = open_state(url)
    historian = open_historian(tmp_path / "history.db", clock=clock)
    await historian.start()
    try:
        ts, kwh, _temp = synthetic_hours(DAYS, seed=2, tz="Europe/London", start=FIRST)
        frozen = _midnight(FAULT - timedelta(days=1)) + 6 * HOUR
        kwh = np.where(ts >= frozen, 0.0, kwh)
        reading = 100.0 + np.concatenate([[0.0], np.cumsum(kwh)])
        historian.ingest([Sample("job/main/kwh", float(t), float(v))
                          for t, v in zip(np.append(ts, ts[-1] + HOUR), reading, strict=True)])
        await historian.flush()
        job = AnomalyService(lambda: sites, historian, engine, clock, lambda site: None)
        run = await job.run_once(after)
        assert run.judged == 3
        stuck = [(f["day"], f["start"]) for f in stored_findings(engine, "job") if f["kind"] == "stuck"]
        assert stuck == [((FAULT - timedelta(days=1)).isoformat(), frozen), (FAULT.isoformat(), frozen)]
    finally:
        await historian.stop()
        engine.dispose()
