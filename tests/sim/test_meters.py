"""``openbms sim meters``: the emulated office's hourly meters, as the analytics CLI reads them."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import numpy as np
import pytest
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.sim.building import SEQUENCES, Building, SyntheticWeather
from openbms.sim.building.meters import WARMUP_DAYS, simulate_hours

runner = CliRunner()
MONDAY = date(2025, 1, 6)  # a working week in the temperate climate's winter


def _meters(tmp_path, name, *args):
    out = tmp_path / name
    result = runner.invoke(app, ["sim", "meters", "--out", str(out), "--step", "900", *args])
    assert result.exit_code == 0, result.output
    return out


def test_sim_meters_writes_a_csv_the_baseline_command_fits(tmp_path):
    train = _meters(tmp_path, "train.csv", "--days", "8", "--start", "2025-01-06")
    rows = list(csv.DictReader(io.StringIO(train.read_text())))
    assert len(rows) == 8 * 24 and list(rows[0]) == ["timestamp", "value", "temperature"]
    first = datetime.fromisoformat(rows[0]["timestamp"])
    assert first.isoformat() == "2025-01-06T00:00:00-06:00"  # the temperate climate's standard time
    assert all(float(r["value"]) > 0 for r in rows)
    predict = tmp_path / "predict.csv"
    predict.write_text("timestamp,temperature\n2025-01-14T10:00:00-06:00,-2\n2025-01-14T11:00:00-06:00,-1\n")
    out = tmp_path / "out.csv"
    fit = runner.invoke(app, ["analytics", "baseline", "--train", str(train), "--predict", str(predict),
                              "--out", str(out), "--tz", "Etc/GMT+6"])
    assert fit.exit_code == 0, fit.output
    assert "CV(RMSE)" in fit.output
    predicted = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["timestamp"] for r in predicted] == ["2025-01-14T10:00:00-06:00", "2025-01-14T11:00:00-06:00"]
    assert all(float(r["predicted"]) > 0 for r in predicted)


def test_sim_meters_is_reproducible_and_takes_a_seed_and_a_meter(tmp_path):
    a = _meters(tmp_path, "a.csv", "--days", "1", "--seed", "3").read_bytes()
    b = _meters(tmp_path, "b.csv", "--days", "1", "--seed", "3").read_bytes()
    c = _meters(tmp_path, "c.csv", "--days", "1", "--seed", "4").read_bytes()
    gas = _meters(tmp_path, "g.csv", "--days", "1", "--seed", "3", "--meter", "gas").read_bytes()
    assert a == b != c
    assert gas != a and gas.splitlines()[0] == a.splitlines()[0]


@pytest.mark.parametrize(("args", "says"), [
    (["--sequence", "clever"], "unknown --sequence 'clever'"),
    (["--meter", "water"], "unknown --meter 'water'"),
    (["--climate", "lunar"], "unknown --climate 'lunar'"),
    (["--step", "700"], "--step 700: expected a divisor of 3600"),
    (["--start", "2025-01-06T08:00"], "without a time or zone"),
])
def test_sim_meters_refuses_bad_options_and_says_what_was_expected(tmp_path, args, says):
    result = runner.invoke(app, ["sim", "meters", "--days", "1", "--out", str(tmp_path / "x.csv"), *args])
    assert result.exit_code != 0
    assert says in " ".join(result.output.split())
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("sequence", ["baseline", "improved"])
def test_hourly_sums_equal_the_emulators_own_counters(sequence):
    hours = simulate_hours(1, MONDAY, seed=2, sequence=sequence, step=900.0)
    assert len(hours.ts) == 24 and np.all(np.diff(hours.ts) == 3600.0)
    # The same building run by its own loop, its KPI meter counting after the same warm-up.
    building = Building(weather=SyntheticWeather(2), start=datetime(2025, 1, 5), seed=2)
    kpis = building.run(86400.0, SEQUENCES[sequence](), dt=900.0, warmup=WARMUP_DAYS * 86400.0)
    assert hours.electricity.sum() == pytest.approx(kpis.energy_elec_kwh, rel=1e-9)
    assert hours.gas.sum() == pytest.approx(kpis.energy_gas_kwh, rel=1e-9)
    assert kpis.energy_gas_kwh > 0  # a January week: the boilers run, so the gas sum means something
    # What the CSV says adds up to the same (six decimals a row).
    text = io.StringIO()
    hours.write_csv(text, "gas")
    written = [float(r["value"]) for r in csv.DictReader(io.StringIO(text.getvalue()))]
    assert sum(written) == pytest.approx(kpis.energy_gas_kwh, abs=24e-6)


def test_simulate_hours_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="divisor of 3600"):
        simulate_hours(1, MONDAY, step=700.0)
    with pytest.raises(ValueError, match="unknown sequence"):
        simulate_hours(1, MONDAY, sequence="clever")
    with pytest.raises(ValueError, match="at least one day"):
        simulate_hours(0, MONDAY)
