"""``openbms bench pg --quick``: its four figures as ``name value unit`` lines, finite and
positive, measured on a throw-away PostgreSQL of its own that is gone afterwards."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from tests.fixtures.services import PG_BIN, require_service
from typer.testing import CliRunner

from openbms.bench import pg
from openbms.cli.main import app


def test_bench_pg_prints_name_value_unit_lines_and_leaves_no_server_behind(monkeypatch):
    if not (PG_BIN / "initdb").exists():
        require_service("PostgreSQL", f"no initdb in {PG_BIN} (apt-get install postgresql-15)")
    # Its own server's folders only: bench central's tests make the same kind beside it.
    made: list[str] = []
    real = tempfile.mkdtemp

    def mkdtemp(*args: Any, **kwargs: Any) -> str:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(pg.tempfile, "mkdtemp", mkdtemp)
    result = CliRunner().invoke(app, ["bench", "pg", "--quick"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(" ")[0] for line in lines] == [
        "pg.copy_samples_per_s", "pg.bytes_per_sample_raw", "pg.bytes_per_sample_compacted",
        "pg.rollup_year_ms"]
    for line in lines:
        _name, value, unit = line.split(" ")
        assert unit and math.isfinite(float(value)) and float(value) > 0, line
    # A stored sample takes more than its 26 bytes of columns: row header, primary key, BRIN.
    assert float(lines[1].split(" ")[1]) > 26
    # Compacted, far less than raw (the target is 8 bytes).
    assert float(lines[2].split(" ")[1]) < float(lines[1].split(" ")[1]) / 4
    assert made and not any(Path(m).exists() for m in made)
