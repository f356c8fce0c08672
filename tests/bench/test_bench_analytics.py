"""``openbms bench analytics``: the baseline-fit figures, in the benchmarks' form."""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
from typer.testing import CliRunner

from openbms.bench import BENCHMARKS, load
from openbms.bench.analytics import emulator_hours
from openbms.cli.main import app


def test_analytics_benchmark_prints_fit_time_and_cvrmse_lines() -> None:
    assert "analytics" in BENCHMARKS
    got = CliRunner().invoke(app, ["bench", "analytics", "--quick"])
    assert got.exit_code == 0, got.output
    lines = got.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["analytics.baseline_fit_ms",
                                                   "analytics.baseline_cvrmse_generated_pct",
                                                   "analytics.forecast_ms",
                                                   "analytics.forecast_mape_generated_pct"]
    assert all(re.fullmatch(r"\S+ [0-9.e+-]+ \S+", line) for line in lines)
    figures = {name: value for name, value, _unit in load("analytics")(True)}
    assert figures["analytics.baseline_fit_ms"] > 0
    # The generated office's noise is 3 kWh an hour (6 % of the year's mean hour): the fit adds little.
    assert 0.0 < figures["analytics.baseline_cvrmse_generated_pct"] < 10.0
    # Day-ahead on the generated office: its noise alone costs about 3 % (docs/analytics.md).
    assert 0.0 < figures["analytics.forecast_mape_generated_pct"] < 10.0


def test_the_emulators_meter_gives_hourly_rows_in_its_standard_time() -> None:
    ts, kwh, temp, zone = emulator_hours(2)
    assert len(ts) == len(kwh) == len(temp) == 48
    assert (np.diff(ts) == 3600.0).all()
    assert str(zone) == "Etc/GMT+6"  # the temperate climate's building keeps UTC−6 all year
    assert datetime.fromtimestamp(ts[0], zone) == datetime(2025, 1, 1, tzinfo=zone)
    # A weekday office: the working day's hours use several times the night's.
    night, day = kwh[2], kwh[11]
    assert night > 0 and day > 2 * night
