"""``openbms sim run``."""

from __future__ import annotations

import time

from typer.testing import CliRunner

from openbms.cli.main import app

runner = CliRunner()
NAMES = ["kpi.energy_total_kwh", "kpi.energy_kwh_per_m2", "kpi.peak_kw", "kpi.discomfort_kh", "kpi.cost",
         "kpi.energy_elec_kwh", "kpi.energy_gas_kwh"]


def test_sim_run_baseline_prints_exactly_the_kpi_lines():
    started = time.perf_counter()
    result = runner.invoke(app, ["sim", "run", "--days", "2", "--baseline"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == NAMES
    for line in lines:
        _, value, unit = line.split(" ")
        assert float(value) >= 0 and unit
    assert time.perf_counter() - started < 30


def test_sim_run_is_reproducible_and_takes_a_seed():
    a = runner.invoke(app, ["sim", "run", "--days", "1", "--sequence", "improved", "--seed", "4"])
    b = runner.invoke(app, ["sim", "run", "--days", "1", "--sequence", "improved", "--seed", "4"])
    c = runner.invoke(app, ["sim", "run", "--days", "1", "--sequence", "improved", "--seed", "5"])
    assert a.exit_code == 0, a.output
    assert a.stdout == b.stdout != c.stdout


def test_sim_run_reads_an_epw_file(tmp_path):
    from tests.sim.building.test_weather import _epw_text

    path = tmp_path / "site.epw"
    path.write_text(_epw_text())
    result = runner.invoke(app, ["sim", "run", "--days", "0.5", "--baseline", "--start", "2025-01-02",
                                 "--weather", str(path)])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 7


def test_sim_run_refuses_a_bad_date_and_a_missing_weather_file(tmp_path):
    bad = runner.invoke(app, ["sim", "run", "--baseline", "--start", "April"])
    assert bad.exit_code == 1 and "not a date" in " ".join(bad.stderr.split())
    missing = runner.invoke(app, ["sim", "run", "--baseline", "--weather", str(tmp_path / "no.epw")])
    assert missing.exit_code == 1 and "cannot read weather file" in " ".join(missing.stderr.split())
