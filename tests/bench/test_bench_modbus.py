"""``openbms bench modbus --quick``: every line it prints is ``name value unit`` with a finite
positive number, from samples the bus carried of devices served by another process."""

from __future__ import annotations

import math

from typer.testing import CliRunner

from openbms.cli.main import app


def test_bench_modbus_prints_name_value_unit_lines_with_finite_numbers():
    result = CliRunner().invoke(app, ["bench", "modbus", "--quick"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    names = [line.split(" ")[0] for line in lines]
    assert names == ["modbus.registers_per_s", "modbus.client_cpu_ms_per_point",
                     "modbus.requests_per_s", "modbus.registers_per_request"]
    for line in lines:
        _name, value, unit = line.split(" ")
        assert unit and math.isfinite(float(value)) and float(value) > 0, line
    # Merged reads: a device's 500 registers take 4 requests, not one a register.
    assert float(lines[3].split(" ")[1]) > 50
