"""Site files with ``.nan``, ``.inf`` or absurd magnitudes fail with ``file:line:col``; ``check`` warns
of writable number points without write limits (issue 12, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.config import check_path, load_site
from openbms.errors import ConfigError

BASE = """\
site: {{id: hq, timezone: UTC{site}}}
drivers:
  sim: {{poll_interval: {driver}}}
spaces:
  - {{id: zone-1, area_m2: {area}}}
equipment:
  - id: ahu-1
    points:
      - name: sat-sp
        writable: true
        relinquish_default: {default}
        limits: {{min: {lo}, max: {hi}, min_interval: {gap}}}
        poll: {poll}
        binding: "sim://ahu-1/sat-sp?wave=constant&value=13"
      - name: zone-temp
        binding: "sim://ahu-1/zone-temp?wave=constant&value=21"
schedules:
  - id: occ
    targets: [hq/ahu-1/sat-sp]
    default: {sched}
calendars:
  - id: hols
    entries: [{{month: {month}, day: 25}}]
alarms:
  - {{id: hot, type: high, point: hq/ahu-1/zone-temp, limit: {alarm}, deadband: {band}, on_delay_s: {delay}}}
"""

GOOD = {"site": "", "driver": 1, "area": 100, "default": 13, "lo": 10, "hi": 18, "gap": 0, "poll": 5,
        "sched": 13, "month": 12, "alarm": 26, "band": 1, "delay": 60}


def site_text(**changes: object) -> str:
    return BASE.format(**{**GOOD, **changes})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return path


def test_the_base_file_is_good(tmp_path):
    assert check_path(write(tmp_path, site_text())) == []


def position(text: str, key: str, value: str) -> tuple[int, int]:
    """The 1-based line and column of ``value`` written after ``key:`` in ``text``."""
    for number, line in enumerate(text.splitlines(), 1):
        at = line.find(f"{key}: {value}")
        if at >= 0:
            return number, at + len(key) + 3
    raise AssertionError(f"{key}: {value} is not in the text")


# (field to change, its value, the key it is written under, words of the message)
CASES = [
    ("lo", ".nan", "min", "'min' must be a finite number, not nan"),
    ("hi", ".inf", "max", "'max' must be a finite number, not inf"),
    ("lo", "-.inf", "min", "'min' must be a finite number, not -inf"),
    ("hi", "1.0e+300", "max", "'max' must be at most 1e+09, not 1e+300"),
    ("default", ".nan", "relinquish_default", "relinquish_default nan is not a finite number"),
    ("default", "-1.0e+300", "relinquish_default", "relinquish_default -1e+300 is out of bounds"),
    ("gap", ".inf", "min_interval", "'min_interval' must be a finite number, not inf"),
    ("gap", "1000000000", "min_interval", "'min_interval' must be at most 604800, not 1000000000"),
    ("poll", ".inf", "poll", "'poll' must be a finite number, not inf"),
    ("poll", ".nan", "poll", "'poll' must be a finite number, not nan"),
    ("driver", ".inf", "poll_interval", "'poll_interval' must be a finite number, not inf"),
    ("area", ".inf", "area_m2", "'area_m2' must be a finite number, not inf"),
    ("site", ", area_m2: .nan", "area_m2", "'area_m2' must be a finite number, not nan"),
    ("sched", ".nan", "default", "nan is not a finite number"),
    ("sched", "1.0e+300", "default", "1e+300 is out of bounds"),
    ("month", ".nan", "month", "'month' must be"),
    ("alarm", ".nan", "limit", "'limit' must be a finite number, not nan"),
    ("alarm", "1.0e+300", "limit", "'limit' must be at most 1e+15"),
    ("band", ".inf", "deadband", "'deadband' must be a finite number, not inf"),
    ("delay", ".inf", "on_delay_s", "'on_delay_s' must be a finite number, not inf"),
]


@pytest.mark.parametrize(("field", "value", "key", "words"), CASES, ids=[f"{c[0]}={c[1]}" for c in CASES])
def test_a_non_finite_or_unbounded_number_is_a_problem_at_its_line_and_column(
        tmp_path, field, value, key, words):
    text = site_text(**{field: value})
    path = write(tmp_path, text)
    issues = check_path(path)
    written = value.removeprefix(", area_m2: ")
    # One problem, at the value (a relinquish default of -1e300 is also outside the limits).
    assert issues and all((i.line, i.column) == position(text, key, written) for i in issues), issues
    assert any(words in i.message for i in issues), issues
    with pytest.raises(ConfigError):
        load_site(path)


def test_a_driver_specific_setting_may_not_be_nan_either(tmp_path):
    text = site_text().replace("sim: {poll_interval: 1}", "sim: {poll_interval: 1, jitter: [0.1, .nan]}")
    (issue,) = check_path(write(tmp_path, text))
    assert issue.line == 3 and "jitter[1]" in issue.message and "finite" in issue.message


def test_check_prints_the_problem_as_file_line_column_and_exits_1(tmp_path):
    text = site_text(lo=".nan", hi=".nan", default=".nan")
    path = write(tmp_path, text)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    problems = [line for line in result.stdout.splitlines() if line.startswith(f"{path}:")]
    at = {key: "{}:{}".format(*position(text, key, ".nan")) for key in ("relinquish_default", "min", "max")}
    assert problems == [
        f"{path}:{at['relinquish_default']}: relinquish_default nan is not a finite number: expected a "
        "number from -1e+09 to 1e+09",
        f"{path}:{at['min']}: 'min' must be a finite number, not nan",
        f"{path}:{at['max']}: 'max' must be a finite number, not nan",
    ]


@pytest.mark.parametrize(("limits", "column", "words"), [
    ("", 9, "has no 'min' and 'max' write limits"),
    ("limits: {max: 18}", 17, "has no 'min' write limit"),
])
def test_check_warns_of_a_writable_number_point_without_limits_and_still_exits_0(
        tmp_path, limits, column, words):
    text = site_text().replace("limits: {min: 10, max: 18, min_interval: 0}", limits)
    path = write(tmp_path, text)
    assert check_path(path) == []  # a warning, not a problem: the site loads
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    line = 12 if limits else 9
    assert lines[0].startswith(f"{path}:{line}:{column}: warning: writable point 'hq/ahu-1/sat-sp' "
                               f"{words}"), lines
    assert lines[-1] == "ok: 1 site, 1 equipment, 2 points, 1 warning"
    strict = CliRunner().invoke(app, ["check", "--strict", "-q", str(path)])
    assert strict.exit_code == 1 and strict.stdout.splitlines() == lines[:1]


def test_a_bool_point_without_limits_is_no_warning(tmp_path):
    text = site_text() + ""
    text = text.replace("      - name: zone-temp",
                        "      - {name: fan, kind: bool, writable: true, binding: \"sim://ahu-1/fan?kind=bool\"}\n"
                        "      - name: zone-temp")
    result = CliRunner().invoke(app, ["check", str(write(tmp_path, text))])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stdout
