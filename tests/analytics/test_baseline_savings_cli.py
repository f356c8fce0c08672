"""``openbms analytics savings`` over a site's history (issue 18, item 7), on a real history file."""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from typer.testing import CliRunner

from openbms.bench.analytics import synthetic_hours
from openbms.cli.main import app
from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import Sample
from tests.config.test_loader import EXAMPLE

LONDON = ZoneInfo("Europe/London")  # the example office's zone
METER, OAT = "hq/meter-main/kwh", "hq/weather/oat"
runner = CliRunner()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example office with 60 days of baseline and 30 of reporting history, 10 % saved in the second."""
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(EXAMPLE, root, dirs_exist_ok=True)
    ts, energy, temp = synthetic_hours(90, seed=31)
    reporting = ts >= datetime(2023, 3, 3, tzinfo=LONDON).timestamp()
    energy = np.where(reporting, 0.9 * energy, energy)
    # The register reads at every hour's start: an hour's energy is the next reading minus this one.
    register = 125_000.0 + np.concatenate([[0.0], np.cumsum(energy)])
    stamps = np.append(ts, ts[-1] + 3600.0)
    lost = (ts >= datetime(2023, 2, 1, tzinfo=LONDON).timestamp()) & (
        ts < datetime(2023, 2, 2, tzinfo=LONDON).timestamp())  # a day the meter did not answer

    async def fill() -> None:
        async with SQLiteHistorian(root / "data" / "history.db") as h:
            h.ingest([Sample(METER, float(t), float(v)) for t, v, gone in
                      zip(stamps, register, np.append(lost, False), strict=True) if not gone])
            # The outdoor air every quarter hour (the hour's mean holds for it).
            h.ingest([Sample(OAT, float(t) + q * 900.0, float(x)) for t, x in zip(ts, temp, strict=True)
                      for q in range(4)])
            await h.refresh_rollups()

    asyncio.run(fill())
    return root


def _run(site: Path, *args: str):
    return runner.invoke(app, ["analytics", "savings", METER, "--temperature", OAT, "--dir", str(site),
                               *args])


def test_savings_from_the_history_recover_a_designed_ten_percent(site: Path) -> None:
    got = _run(site, "--baseline", "2023-01-02/2023-03-03", "--reporting", "2023-03-03/2023-04-02")
    assert got.exit_code == 0, got.output
    out = got.stdout
    assert "model: time-of-week-and-temperature (hourly)" in out
    # 60 days of baseline hours, less those the lost day's readings would have shown: its 24 hours and
    # the hour before it, whose end reading is lost.
    assert "rows: hourly, 1415 fitted, 0 excluded, 25 missing" in out
    assert "reporting: 719 hours, 0 excluded, 0 missing" in out  # 30 days, one of them 23 hours long
    found = re.search(r"avoided energy: [\d.]+ kWh \(([\d.]+) % of the adjusted baseline\)", out)
    assert found is not None
    saved = float(found.group(1))
    assert saved == pytest.approx(10.0, abs=2.0)
    assert re.search(r"uncertainty at 90 %: \+/-[\d.]+ % of the savings", out)


def test_an_exclusion_in_the_reporting_period_is_counted(site: Path) -> None:
    got = _run(site, "--baseline", "2023-01-02/2023-03-03", "--reporting", "2023-03-03/2023-04-02",
               "--exclude", "2023-03-10/2023-03-11 open day", "--confidence", "0.68")
    assert got.exit_code == 0, got.output
    assert "reporting: " in got.stdout and "24 excluded" in got.stdout
    assert "uncertainty at 68 %" in got.stdout


def test_not_a_meter_and_an_unknown_point_are_refused(site: Path) -> None:
    got = runner.invoke(app, ["analytics", "savings", OAT, "--temperature", OAT, "--dir", str(site),
                              "--baseline", "2023-01-02/2023-03-03", "--reporting", "2023-03-03/2023-04-02"])
    assert got.exit_code == 1 and "is not a meter" in " ".join(got.stderr.split())
    got = runner.invoke(app, ["analytics", "savings", "meter-main/kwh", "--temperature", OAT, "--dir",
                              str(site), "--baseline", "2023-01-02/2023-03-03",
                              "--reporting", "2023-03-03/2023-04-02"])
    assert got.exit_code == 1 and "hq/meter-main/kwh" in " ".join(got.stderr.split())


def test_a_period_without_history_says_so(site: Path) -> None:
    got = _run(site, "--baseline", "2020-01-01/2020-06-01", "--reporting", "2023-03-03/2023-04-02")
    assert got.exit_code == 1 and "at least 8 days" in " ".join(got.stderr.split())
    got = _run(site, "--baseline", "2023-03-03/2023-01-02", "--reporting", "2023-03-03/2023-04-02")
    assert got.exit_code == 1 and "the end must come after the start" in " ".join(got.stderr.split())
