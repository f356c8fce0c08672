"""``openbms analytics baseline --train --predict --out`` (issue 18, item 7), end to end."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from openbms.bench.analytics import synthetic_days, synthetic_hours
from openbms.cli.main import app

LONDON = ZoneInfo("Europe/London")
runner = CliRunner()


def _write(path: Path, header: str, rows: list[str]) -> None:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, LONDON).isoformat()


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A year of hourly TRAIN with gaps (empty values) and a month of hourly PREDICT, in the folder."""
    monkeypatch.chdir(tmp_path)
    ts, energy, temp = synthetic_hours(365, seed=21)
    rows = [f"{_iso(t)},{'' if i % 97 == 0 else f'{e:.3f}'},{x:.2f}"
            for i, (t, e, x) in enumerate(zip(ts, energy, temp, strict=True))]
    _write(tmp_path / "train.csv", "timestamp,value,temperature", rows)
    pts, _e, ptemp = synthetic_hours(31, seed=22, start=date(2024, 3, 1))  # holds the 23-hour 31 March
    _write(tmp_path / "predict.csv", "timestamp,temperature",
           [f"{_iso(t)},{x:.2f}" for t, x in zip(pts, ptemp, strict=True)])
    return tmp_path


def _run(*args: str):
    return runner.invoke(app, ["analytics", "baseline", *args])


def test_baseline_predicts_every_row_and_prints_the_statistics(files: Path) -> None:
    got = _run("--train", "train.csv", "--predict", "predict.csv", "--out", "out.csv",
               "--tz", "Europe/London", "--exclude", "2023-09-01/2023-09-08 chiller replaced")
    assert got.exit_code == 0, got.output
    with open("predict.csv", newline="") as f:
        wanted = list(csv.DictReader(f))
    with open("out.csv", newline="") as f:
        out = list(csv.DictReader(f))
    assert list(out[0]) == ["timestamp", "predicted"]
    assert [r["timestamp"] for r in out] == [r["timestamp"] for r in wanted]
    assert len(out) == 31 * 24 - 1  # March 2024 in London: one 23-hour day
    assert all(20.0 < float(r["predicted"]) < 150.0 for r in out)
    err = got.stderr
    assert "model: time-of-week-and-temperature (hourly)" in err
    assert "CV(RMSE): " in err and "NMBE: " in err and "R2: " in err
    assert "ASHRAE Guideline 14 (CV(RMSE) <= 30 %, |NMBE| <= 10 %): met" in err
    ts, _e, _t = synthetic_hours(365, seed=21)
    start, end = (datetime(2023, 9, d, tzinfo=LONDON).timestamp() for d in (1, 8))
    week = (ts >= start) & (ts < end)
    gaps_in_week = sum(1 for i in range(len(ts)) if week[i] and i % 97 == 0)
    assert f"{168 - gaps_in_week} excluded, 91 empty (gaps)" in err
    assert "chiller replaced" in err
    assert got.stdout == ""


def test_daily_rows_are_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ts, energy, temp = synthetic_days(365, seed=23)
    _write(tmp_path / "train.csv", "timestamp,value,temperature",
           [f"{datetime.fromtimestamp(t, LONDON).date().isoformat()},{e:.2f},{x:.2f}"
            for t, e, x in zip(ts, energy, temp, strict=True)])
    _write(tmp_path / "predict.csv", "timestamp,temperature", ["2024-03-30,8", "2024-03-31,8"])
    got = _run("--train", "train.csv", "--predict", "predict.csv", "--out", "out.csv",
               "--tz", "Europe/London")
    assert got.exit_code == 0, got.output
    assert "rows: daily" in got.stderr and "model: daily change-point" in got.stderr
    assert "heating and cooling" in got.stderr
    with open("out.csv", newline="") as f:
        out = list(csv.DictReader(f))
    # 31 March 2024 is 23 hours long in London.
    assert float(out[1]["predicted"]) / float(out[0]["predicted"]) == pytest.approx(23 / 24)


def test_wall_times_without_offset_are_the_zones_and_the_repeated_hour_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ts, energy, temp = synthetic_hours(365, seed=24)
    walls = [datetime.fromtimestamp(t, LONDON).replace(tzinfo=None).isoformat() for t in ts]
    assert walls.count("2023-10-29T01:00:00") == 2  # the hour the clocks go back, twice
    _write(tmp_path / "train.csv", "timestamp,value,temperature",
           [f"{w},{e:.3f},{x:.2f}" for w, e, x in zip(walls, energy, temp, strict=True)])
    _write(tmp_path / "predict.csv", "timestamp,temperature", ["2024-07-01T08:00,18", "2024-07-01T07:00,18"])
    got = _run("--train", "train.csv", "--predict", "predict.csv", "--out", "out.csv",
               "--tz", "Europe/London")
    assert got.exit_code == 0, got.output
    assert f"{len(ts)} fitted" in got.stderr
    with open("out.csv", newline="") as f:
        occupied, night = (float(r["predicted"]) for r in csv.DictReader(f))
    assert occupied - night == pytest.approx(30.0, abs=3.0)  # the office opens at 08:00 local time


@pytest.mark.parametrize(
    ("which", "header", "line", "expected"),
    [
        ("train", "timestamp,value,temperature", "2023-01-02T05:00:00+00:00,abc,3.0",
         "train.csv:7:2: value 'abc' is not a number"),
        ("train", "timestamp,value,temperature", "2023-01-02 5 o'clock,40,3.0",
         "train.csv:7:1: timestamp \"2023-01-02 5 o'clock\" is not ISO 8601"),
        ("train", "timestamp,value,temperature", "2023-01-02T05:00:00+00:00,40",
         "train.csv:7: 2 fields, expected 3"),
        ("train", "timestamp,value,temperature", "2023-01-02T04:00:00+00:00,40,3.0",
         "train.csv:7:1: timestamp '2023-01-02T04:00:00+00:00' is the same instant as line 6"),
        ("train", "timestamp,value,temp", "", "train.csv:1: no column temperature in the header"),
        ("predict", "timestamp,temperature", "2024-01-01T05:00:00+00:00,",
         "predict.csv:7:2: temperature is empty: every row needs one"),
        ("predict", "timestamp,temperature", "2024-01-01T05:00:00+00:00,inf",
         "predict.csv:7:2: temperature 'inf' is not a finite number"),
    ],
)
def test_a_malformed_file_is_refused_with_its_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str, header: str, line: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    ts, energy, temp = synthetic_hours(30, seed=25, start=date(2023, 1, 2), tz="UTC")
    good = [f"{datetime.fromtimestamp(t, ZoneInfo('UTC')).isoformat()},{e:.3f},{x:.2f}"
            for t, e, x in zip(ts, energy, temp, strict=True)]
    train = [*good[:5], line, *good[5:]] if which == "train" else good
    _write(tmp_path / "train.csv", header if which == "train" else "timestamp,value,temperature", train)
    predict = [f"2024-01-01T0{h}:00:00+00:00,5.0" for h in range(5)]
    predict = [*predict, line] if which == "predict" else predict
    _write(tmp_path / "predict.csv", header if which == "predict" else "timestamp,temperature", predict)
    got = _run("--train", "train.csv", "--predict", "predict.csv", "--out", "out.csv")
    assert got.exit_code == 1
    assert expected in " ".join(got.stderr.split())
    assert not (tmp_path / "out.csv").exists()


def test_a_missing_file_and_a_bad_zone_are_refused(files: Path) -> None:
    got = _run("--train", "nope.csv", "--predict", "predict.csv", "--out", "out.csv")
    assert got.exit_code == 1 and "nope.csv: cannot read it" in " ".join(got.stderr.split())
    got = _run("--train", "train.csv", "--predict", "predict.csv", "--out", "out.csv", "--tz", "Mars/Olympus")
    assert got.exit_code == 1 and "is not a time zone" in " ".join(got.stderr.split())


def test_the_console_command_runs_in_a_process(files: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "openbms.cli", "analytics", "baseline", "--train", "train.csv",
         "--predict", "predict.csv", "--out", "out.csv", "--tz", "Europe/London"],
        capture_output=True, text=True, cwd=files, env={**os.environ, "COLUMNS": "200"}, check=False)
    assert done.returncode == 0, done.stderr
    assert "CV(RMSE): " in done.stderr and done.stdout == ""
    assert (files / "out.csv").read_text().count("\n") == 31 * 24


def test_local_offsets_without_a_zone_get_a_note(files: Path) -> None:
    got = _run("--train", "train.csv", "--predict", "predict.csv", "--out", "out.csv")
    assert got.exit_code == 0, got.output
    assert "--tz is UTC" in " ".join(got.stderr.split())
    given = _run("--train", "train.csv", "--predict", "predict.csv", "--out", "out.csv",
                 "--tz", "Europe/London")
    assert "note:" not in given.stderr
