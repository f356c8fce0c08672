"""``openbms bench mqtt --quick``: every line it prints is ``name value unit`` with a finite
number, the ingest's figure first, from samples the bus carried."""

from __future__ import annotations

import math

from tests.fixtures.services import require_service
from typer.testing import CliRunner

from openbms.bench import mqtt as bench_mqtt
from openbms.cli.main import app
from openbms.sim.mosquitto import find_mosquitto


def test_bench_mqtt_prints_name_value_unit_lines_with_finite_numbers(monkeypatch):
    if find_mosquitto() is None:
        require_service("Mosquitto", "no mosquitto (apt-get install mosquitto)")
    monkeypatch.setattr(bench_mqtt, "QUICK_ROUNDS", 3)  # 30 000 samples after the warm-up
    result = CliRunner().invoke(app, ["bench", "mqtt", "--quick"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()  # log lines (a warning of the bridge's outage) are on stderr
    assert lines and lines[0].startswith("mqtt.ingest_samples_per_s ")
    for line in lines:
        name, value, unit = line.split(" ")
        assert name.startswith("mqtt.") and unit, line
        assert math.isfinite(float(value)) and float(value) > 0, line
    assert len({line.split(" ")[0] for line in lines}) == len(lines)  # each figure once


def test_without_mosquitto_it_says_so_in_one_line(monkeypatch):
    monkeypatch.setenv("OPENBMS_MOSQUITTO", "/nonexistent/mosquitto")
    result = CliRunner().invoke(app, ["bench", "mqtt", "--quick"])
    assert result.exit_code == 1
    assert "openbms bench mqtt needs Mosquitto" in str(result.exception) + result.output
