"""``openbms bench analytics``: the baseline-fit figures, in the benchmarks' form."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from openbms.bench import BENCHMARKS, load
from openbms.cli.main import app


def test_analytics_benchmark_prints_fit_time_and_cvrmse_lines() -> None:
    assert "analytics" in BENCHMARKS
    got = CliRunner().invoke(app, ["bench", "analytics", "--quick"])
    assert got.exit_code == 0, got.output
    lines = got.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["analytics.baseline_fit_ms",
                                                   "analytics.baseline_cvrmse_generated_pct"]
    assert all(re.fullmatch(r"\S+ [0-9.e+-]+ \S+", line) for line in lines)
    figures = {name: value for name, value, _unit in load("analytics")(True)}
    assert figures["analytics.baseline_fit_ms"] > 0
    # The generated office's noise is 3 kWh an hour (6 % of the year's mean hour): the fit adds little.
    assert 0.0 < figures["analytics.baseline_cvrmse_generated_pct"] < 10.0
