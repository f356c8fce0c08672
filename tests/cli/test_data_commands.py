"""openbms history, export, points and bench, on a real history file."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import shutil
import time

import pytest
from tests.config.test_loader import EXAMPLE
from typer.testing import CliRunner

from openbms.cli.common import parse_time
from openbms.cli.main import app
from openbms.historian.export import iso
from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import Sample

NOW = time.time()
BASE = (NOW // 3600 - 3) * 3600  # an hour boundary three to four hours ago
runner = CliRunner()


@pytest.fixture
def site(tmp_path):
    shutil.copytree(EXAMPLE, tmp_path, dirs_exist_ok=True)

    async def fill() -> None:
        async with SQLiteHistorian(tmp_path / "data" / "history.db") as h:
            h.ingest([Sample("hq/ahu-1/sat", BASE + i * 60, 12.0 + i / 100)
                      for i in range(120)])
            h.ingest([Sample("hq/ahu-1/fan-cmd", NOW - 10, True)])

    asyncio.run(fill())
    return tmp_path


def test_history_prints_raw_samples_and_rollups(site):
    since, until = iso(BASE + 3600), iso(BASE + 5400)
    result = runner.invoke(app, ["history", "hq/ahu-1/sat", "--since", since, "--until", until,
                                 "-d", str(site)])
    assert result.exit_code == 0, result.output
    assert "hq/ahu-1/sat: 30 samples" in result.output
    rows = runner.invoke(app, ["history", "hq/ahu-1/sat", "--since", "5h", "--rollup", "hour",
                               "--format", "csv", "-d", str(site)])
    parsed = list(csv.DictReader(io.StringIO(rows.stdout)))
    assert sum(int(r["count"]) for r in parsed) == 120


def test_history_refuses_unknown_points_and_bad_times_with_plain_words(site):
    unknown = runner.invoke(app, ["history", "hq/ahu-1/nope", "-d", str(site)])
    assert unknown.exit_code == 1 and "no history for point 'hq/ahu-1/nope'" in unknown.output
    bad = runner.invoke(app, ["history", "hq/ahu-1/sat", "--since", "yesterday", "-d", str(site)])
    assert bad.exit_code != 0 and "is not a time" in bad.output


def test_export_writes_every_row_in_the_format_of_the_extension(site, tmp_path):
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["export", str(out), "--points", "hq/ahu-1/*", "--since", "1d",
                                 "-d", str(site)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 121 and {r["point"] for r in rows} == {"hq/ahu-1/sat", "hq/ahu-1/fan-cmd"}
    assert "wrote 121 rows" in result.output


def test_points_shows_latest_values_by_kind(site):
    result = runner.invoke(app, ["points", "hq/ahu-1/*", "-d", str(site)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "hq/ahu-1/fan-cmd " in x)
    assert " on " in line
    assert "no data" in next(x for x in result.output.splitlines() if "hq/ahu-1/rat " in x)


def test_parse_time_accepts_durations_iso_and_now():
    assert parse_time("now", now=1000.0) == 1000.0
    assert parse_time("90m", now=10_000.0) == 10_000.0 - 5400
    assert parse_time("2026-11-24T08:00Z") == parse_time("2026-11-24T08:00")


def test_bench_prints_only_name_value_unit_lines():
    result = runner.invoke(app, ["bench", "query", "--quick"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == [
        "query.last_values_ms", "query.raw_day_ms", "query.rollup_year_ms"]
    for line in lines:
        _, value, unit = line.split()
        assert float(value) >= 0 and unit == "ms"


AHEAD = NOW + 58390.0  # the demo's building clock, 16 h ahead of the wall after 16 real minutes at ×60


@pytest.fixture
def ahead_site(tmp_path):
    """A site whose history was stamped by a clock running ahead of this machine's (the demo's)."""
    shutil.copytree(EXAMPLE, tmp_path, dirs_exist_ok=True)

    async def fill() -> None:
        async with SQLiteHistorian(tmp_path / "data" / "history.db") as h:
            h.ingest([Sample("hq/ahu-1/fan-cmd", AHEAD, True),
                      Sample("hq/ahu-1/fan-status", AHEAD - 120, True),
                      Sample("hq/ahu-1/fan-speed", AHEAD - 3 * 3600, 87.5)])
            h.ingest([Sample("hq/ahu-1/sat", AHEAD - 6 * 3600 + 30 + i * 600, 12.0) for i in range(36)])

    asyncio.run(fill())
    return tmp_path


def _rows(output: str) -> dict[str, str]:
    """Table lines by the point id they start with."""
    return {line.split()[0]: line.strip() for line in output.splitlines() if line.strip().startswith("hq/")}


def _said(result) -> str:
    """What a command printed, its lines joined (the terminal's width wraps messages)."""
    return " ".join(result.output.split())


def test_points_at_80_columns_keeps_every_id_whole_and_ages_from_the_sites_clock(ahead_site):
    result = runner.invoke(app, ["points", "hq/ahu-1/*", "-d", str(ahead_site)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    rows = _rows(result.output)
    # Three fan points were three rows of the same 'hq/ahu-1/fan…': each id is shown whole.
    assert {"hq/ahu-1/fan-cmd", "hq/ahu-1/fan-status", "hq/ahu-1/fan-speed"} <= set(rows)
    assert len(rows) == 13
    # Ages from the history's clock (the newest sample), not this machine's: never negative.
    assert not re.search(r"\s-\d", result.output)
    assert " 0 s " in rows["hq/ahu-1/fan-cmd"] + " "
    assert " 2 min " in rows["hq/ahu-1/fan-status"] + " "
    assert " 3 h " in rows["hq/ahu-1/fan-speed"] + " "
    assert "no data" in rows["hq/ahu-1/rat"]


def test_points_wide_shows_kind_and_writable(ahead_site):
    result = runner.invoke(app, ["points", "hq/ahu-1/fan-*", "-d", str(ahead_site)],
                           env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert rows["hq/ahu-1/fan-cmd"].split()[-2:] == ["bool", "yes"]
    assert rows["hq/ahu-1/fan-status"].split()[-1] == "bool"


def test_a_pattern_without_the_site_is_refused_with_the_one_that_matches(ahead_site):
    result = runner.invoke(app, ["points", "ahu-1/*", "-d", str(ahead_site)])
    assert result.exit_code == 1
    assert "no point matches 'ahu-1/*'" in _said(result)
    assert "did you mean 'hq/ahu-1/*'?" in _said(result)
    nothing = runner.invoke(app, ["points", "nowhere/*", "-d", str(ahead_site)])
    assert nothing.exit_code == 1 and "see 'openbms points' for the ids" in _said(nothing)
    history = runner.invoke(app, ["history", "ahu-1/sat", "-d", str(ahead_site)])
    assert history.exit_code == 1 and "did you mean 'hq/ahu-1/sat'?" in _said(history)
    export = runner.invoke(app, ["export", str(ahead_site / "x.csv"), "--points", "ahu-1/*",
                                 "-d", str(ahead_site)])
    assert export.exit_code == 1 and "did you mean 'hq/ahu-1/*'?" in _said(export)


def test_since_is_measured_from_the_sites_clock(ahead_site):
    # The building's last two hours hold 12 samples of sat (one every 10 min, the last 9.5 min before
    # the newest stamp); from this machine's clock, '2h' would be 14 h before them: none.
    result = runner.invoke(app, ["history", "hq/ahu-1/sat", "--since", "2h", "--format", "csv",
                                 "-d", str(ahead_site)])
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(io.StringIO(result.stdout)))) == 12
    out = ahead_site / "last-hour.csv"
    exported = runner.invoke(app, ["export", str(out), "--points", "hq/ahu-1/*", "--since", "1h",
                                   "-d", str(ahead_site)])
    assert exported.exit_code == 0, exported.output
    points = [r["point"] for r in csv.DictReader(io.StringIO(out.read_text()))]
    assert sorted(points) == ["hq/ahu-1/fan-cmd", "hq/ahu-1/fan-status",
                              *["hq/ahu-1/sat"] * 6]
