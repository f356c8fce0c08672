"""The forecast job on its own, over a real history file and state database: a register meter forecast
and scored, a failing database logged once and its recovery once, the job going on."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import sqlalchemy as sa

from openbms.bench.forecast import office
from openbms.config import load_sites
from openbms.db import migrate, open_state
from openbms.db.forecasts import forecast_scores, latest_forecast
from openbms.db.schema import forecasts
from openbms.historian import open_historian
from openbms.model.sample import Sample
from openbms.runtime.clock import ManualClock
from openbms.service.forecasts import ForecastService

LONDON = ZoneInfo("Europe/London")
SITE = """\
site: {id: job, name: Job, timezone: Europe/London}
drivers:
  sim: {enabled: false}
calendars:
  - id: holidays
    entries: ["2025-02-12"]
equipment:
  - id: main
    type: meter
    tags: [siteMeter]
    points:
      - {name: kwh, unit: kWh, tags: [elec, energy], binding: "sim://main/kwh"}
"""
HOUR = 3600.0
START = datetime(2025, 1, 6, tzinfo=LONDON).timestamp()
ISSUED = datetime(2025, 2, 11, 12, tzinfo=LONDON).timestamp()  # a Tuesday noon; Wednesday a holiday


async def test_a_register_is_forecast_and_scored_and_a_failing_database_logged_once(tmp_path: Path, caplog):
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "job.yaml").write_text(SITE)
    sites = load_sites(folder)
    clock = ManualClock(ISSUED + 2 * 86_400.0)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    engine = open_state(url)
    historian = open_historian(tmp_path / "history.db", clock=clock)
    await historian.start()
    try:
        # A register read at every hour: six weeks of an office, and the two days after ISSUED.
        ts, kwh, _temp = office(21, START, int((ISSUED - START) / HOUR) + 48, LONDON)
        reading = 1000.0 + np.concatenate([[0.0], np.cumsum(kwh)])
        historian.ingest([Sample("job/main/kwh", float(t), float(v))
                          for t, v in zip(np.append(ts, ts[-1] + HOUR), reading, strict=True)])
        await historian.flush()
        job = ForecastService(lambda: sites, historian, engine, clock, hours=24)
        run = await job.run_once(ISSUED)
        assert (run.forecasts, run.skipped, run.scored) == (1, 0, 0)
        got = latest_forecast(engine, "job", "job/main/kwh")
        assert got is not None and len(got.rows) == 24
        # No outdoor temperature point: time of week alone; the holiday's noon as a Sunday's.
        assert all(r.temperature is None for r in got.rows)
        at = {datetime.fromtimestamp(r.start, LONDON).hour: r.kwh for r in got.rows}  # Tue 12:00 to Wed 11:00
        assert at[12] > 45 and at[10] < 35  # Tuesday at noon at work; Wednesday 12 February, a holiday
        # A day later, the first forecast's 24 hours have ended: each scored from the register.
        run = await job.run_once(ISSUED + 86_400.0)
        assert run.scored == 24
        scores = forecast_scores(engine, "job", "job/main/kwh")
        assert [(s.horizon, s.n) for s in scores] == [(h, 1) for h in range(1, 25)]

        # The table gone (a broken database): every run fails, logged once; the job goes on.
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE forecasts"))
        with caplog.at_level(logging.INFO, logger="openbms.service.forecasts"):
            for hour in range(3):
                await job.run_once(ISSUED + 86_400.0 + HOUR * (hour + 1))
            failures = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert failures == ["load forecast of job/main/kwh failed: retried every hour",
                                "pruning old load forecasts failed: retried every hour"]
            forecasts.create(engine)
            caplog.clear()
            run = await job.run_once(ISSUED + 86_400.0 + 4 * HOUR)
            assert run.forecasts == 1
            assert sorted(r.getMessage() for r in caplog.records) == [
                "load forecast of job/main/kwh works again", "pruning old load forecasts works again"]
    finally:
        await historian.stop()
        engine.dispose()


async def test_the_job_runs_at_start_then_sleeps_until_past_the_next_hour(tmp_path: Path):
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "job.yaml").write_text(SITE)
    sites = load_sites(folder)
    clock = ManualClock(ISSUED)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    engine = open_state(url)
    historian = open_historian(tmp_path / "history.db", clock=clock)
    await historian.start()
    try:
        ts, kwh, _temp = office(22, START, int((ISSUED - START) / HOUR), LONDON)
        reading = 1000.0 + np.concatenate([[0.0], np.cumsum(kwh)])
        historian.ingest([Sample("job/main/kwh", float(t), float(v))
                          for t, v in zip(np.append(ts, ts[-1] + HOUR), reading, strict=True)])
        await historian.flush()
        job = ForecastService(lambda: sites, historian, engine, clock)
        await job.start()
        for _ in range(1200):  # the run at start works in a thread: wait for it (a bound, not a time limit)
            if job.last_run is not None:
                break
            await asyncio.sleep(0.05)
        assert job.last_run is not None and (job.last_run.issued, job.last_run.forecasts) == (ISSUED, 1)
        got = latest_forecast(engine, "job", "job/main/kwh")
        assert got is not None and len(got.rows) == 48 and got.issued_at == ISSUED
        # Asleep until 2 minutes past the next hour of the clock: nothing runs before.
        for _ in range(20):
            await asyncio.sleep(0)
        assert clock.sleepers == 1
        await clock.advance(HOUR + 119)
        assert job.last_run.issued == ISSUED
        await job.stop()
        await job.stop()  # twice is safe
        assert clock.sleepers == 0
    finally:
        await historian.stop()
        engine.dispose()


@pytest.fixture(autouse=True)
def _quiet_sqlalchemy() -> None:
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
