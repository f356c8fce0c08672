"""``openbms bench central --quick``: its three figures as ``name value unit`` lines, finite and
positive, measured through a throw-away Mosquitto of its own and databases of its own on the
session's PostgreSQL (``OPENBMS_BENCH_PG_URL``; ``tests/bench/test_bench_pg.py`` covers the
throw-away server), all gone afterwards."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import psycopg
from tests.fixtures.services import MOSQUITTO, require_service
from typer.testing import CliRunner

from openbms.central.worker import libpq_url
from openbms.cli.main import app


def databases(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}


def test_bench_central_prints_name_value_unit_lines_and_leaves_nothing_behind(postgres_url):
    postgres_url = libpq_url(postgres_url)
    if not MOSQUITTO.exists():
        require_service("Mosquitto", f"no {MOSQUITTO} (apt-get install mosquitto)")
    tmp = Path(tempfile.gettempdir())
    # Its own folders only: other benchmarks' tests (bench pg's server) may run beside it.
    before, kept = set(tmp.glob("openbms-bench-central-*")), databases(postgres_url)
    result = CliRunner().invoke(app, ["bench", "central", "--quick"],
                                env={"COLUMNS": "300", "OPENBMS_BENCH_PG_URL": postgres_url})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(" ")[0] for line in lines] == [
        "central.ingest_samples_per_s", "central.ingest_two_workers_samples_per_s",
        "central.lag_p99_s"]
    for line in lines:
        _name, value, unit = line.split(" ")
        assert unit and math.isfinite(float(value)) and float(value) > 0, line
    assert set(tmp.glob("openbms-bench-central-*")) == before and databases(postgres_url) == kept
