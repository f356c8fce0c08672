"""`openbms points` shows an enum point's state number (1 = the first state) by its label."""

from __future__ import annotations

import asyncio
import shutil
import time

from tests.config.test_loader import EXAMPLE
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import Sample

runner = CliRunner()


def _shown(tmp_path, value: float) -> str:
    shutil.copytree(EXAMPLE, tmp_path, dirs_exist_ok=True)

    async def fill() -> None:
        async with SQLiteHistorian(tmp_path / "data" / "history.db") as h:
            h.ingest([Sample("hq/ahu-1/mode", time.time() - 10, value)])

    asyncio.run(fill())
    result = runner.invoke(app, ["points", "hq/ahu-1/mode", "-d", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return next(x for x in result.output.splitlines() if "hq/ahu-1/mode " in x)


def test_state_2_of_the_example_s_ahu_mode_is_occupied(tmp_path):
    # states: ["off", occupied, unoccupied, warmup, cooldown]; BACnet and the arbiter count from 1.
    line = _shown(tmp_path, 2.0)
    assert " occupied " in line and "unoccupied" not in line


def test_the_first_and_last_states_are_1_and_n_and_0_is_no_state(tmp_path):
    assert " off " in _shown(tmp_path / "a", 1.0)
    assert " cooldown " in _shown(tmp_path / "b", 5.0)
    assert " 0 " in _shown(tmp_path / "c", 0.0)


def test_the_office_example_s_ahu_runs_occupied_and_the_cli_says_so(tmp_path):
    # The example's simulated mode gives a state number; counted from 1, it is still "occupied".
    from openbms.config import load_sites
    from openbms.drivers.sim import SimDriver
    from openbms.model.binding import parse_binding

    (cfg,) = load_sites(EXAMPLE)
    mode = next(p for pid, _e, p in cfg.points() if pid == "hq/ahu-1/mode")
    assert mode.binding is not None
    value = SimDriver().value_at(parse_binding(mode.binding), 0.0)
    assert isinstance(value, float)
    assert " occupied " in _shown(tmp_path, value)
