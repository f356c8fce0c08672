"""``openbms analytics forecast`` over a site's history (issue 18, item 7), on a real history file.

The example office (Europe/London) with ten weeks of generated office hours on
its main meter's register and outdoor temperature point: a forecast issued in
the past is scored against the history that followed it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from typer.testing import CliRunner

from openbms.bench.forecast import office
from openbms.cli.main import app
from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import Sample
from tests.config.test_loader import EXAMPLE

LONDON = ZoneInfo("Europe/London")
METER, OAT = "hq/meter-main/kwh", "hq/weather/oat"
START = datetime(2025, 1, 6, tzinfo=LONDON).timestamp()
WEEKS = 10
runner = CliRunner()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[float, float]]:
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(EXAMPLE, root, dirs_exist_ok=True)
    ts, energy, temp = office(12, START, WEEKS * 7 * 24, LONDON)
    register = 50_000.0 + np.concatenate([[0.0], np.cumsum(energy)])
    stamps = np.append(ts, ts[-1] + 3600.0)

    async def fill() -> None:
        async with SQLiteHistorian(root / "data" / "history.db") as h:
            h.ingest([Sample(METER, float(t), float(v)) for t, v in zip(stamps, register, strict=True)])
            h.ingest([Sample(OAT, float(t) + q * 900.0, float(x)) for t, x in zip(ts, temp, strict=True)
                      for q in range(4)])
            await h.refresh_rollups()

    asyncio.run(fill())
    return root, dict(zip(ts.tolist(), energy.tolist(), strict=True))


def test_a_forecast_in_the_past_is_written_and_scored_against_the_history(site, tmp_path: Path) -> None:
    root, truth = site
    out = tmp_path / "forecast.csv"
    got = runner.invoke(app, ["analytics", "forecast", METER, "--at", "2025-03-10T00:00", "--hours", "24",
                              "--out", str(out), "--dir", str(root)])
    assert got.exit_code == 0, got.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 24 and rows[0]["timestamp"] == "2025-03-10T00:00:00+00:00"
    # The site's outdoor point was found by its tags; every hour has its actual from the register.
    assert all(r["temperature"] and r["actual_kwh"] for r in rows)
    for r in rows:
        t = datetime.fromisoformat(r["timestamp"]).timestamp()
        assert float(r["actual_kwh"]) == pytest.approx(truth[t], abs=1e-4)  # written to 4 decimals
    err = " ".join(got.stderr.split())
    assert "outdoor temperature: climatology and persistence of hq/weather/oat" in err
    found = re.search(r"scored against the history: 24 hours, MAPE ([\d.]+) %", err)
    assert found is not None and float(found.group(1)) < 10.0


def test_without_at_the_forecast_starts_where_the_history_ends(site) -> None:
    root, truth = site
    got = runner.invoke(app, ["analytics", "forecast", METER, "--hours", "3", "--dir", str(root)])
    assert got.exit_code == 0, got.output
    rows = list(csv.DictReader(io.StringIO(got.stdout)))
    last = max(truth) + 3600.0  # the register's last reading: the end of the last generated hour
    starts = [datetime.fromisoformat(r["timestamp"]).timestamp() for r in rows]
    assert starts == [last, last + 3600, last + 7200]
    assert all(r["actual_kwh"] == "" for r in rows)
    assert "scored" not in got.stderr


def test_refusals_name_what_was_expected(site) -> None:
    root, _truth = site
    got = runner.invoke(app, ["analytics", "forecast", OAT, "--dir", str(root)])
    assert got.exit_code == 1 and "is not a meter" in " ".join(got.stderr.split())
    got = runner.invoke(app, ["analytics", "forecast", METER, "--at", "2025-01-08T00:00", "--dir", str(root)])
    assert got.exit_code == 1
    assert "at least 168 (a week) are needed" in " ".join(got.stderr.split())
    got = runner.invoke(app, ["analytics", "forecast", METER, "--hours", "49", "--dir", str(root)])
    assert got.exit_code == 2
