"""Site files: every problem reported at its file:line:column, nothing half-loaded."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.config import check_path, load_site, load_sites
from openbms.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "src" / "openbms" / "examples" / "office"

BAD = textwrap.dedent("""\
    site:
      id: hq
      timezone: Europe/Londn
    drivers:
      bacnett: {}
    spaces:
      - id: floor-1
      - id: floor-1
    equipment:
      - id: ahu-1
        space: attic
        feeds: [vav-9]
        points:
          - name: sat
            unit: degc
            binding: sim://ahu-1/sat
            poll: fast
          - name: sat
            unti: degC
          - name: mode
            kind: enum
          - name: fan
            binding: modbuss://x/y
            name: fan2
      - id: AHU 2
        type: boiler-ish
        points:
          - name: x
            binding: "nope"
    """)


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_problem_of_a_bad_file_is_reported_at_its_position(tmp_path):
    path = write(tmp_path, BAD)
    with pytest.raises(ConfigError) as info:
        load_site(path)
    got = {(i.line, i.column): i.message for i in info.value.issues}
    assert all(i.file == str(path) for i in info.value.issues)
    expected = {
        (3, 13): "unknown time zone 'Europe/Londn'",
        (5, 3): "unknown driver 'bacnett'",
        (8, 9): "duplicate space id 'floor-1'",
        (11, 12): "unknown space 'attic'",
        (12, 13): "unknown equipment 'vav-9': expected one of the equipment ids",
        (15, 15): "unknown unit 'degc': did you mean",
        (17, 15): "'poll' must be a number, not 'fast'",
        (18, 15): "duplicate point name 'sat'",
        (19, 9): "unknown key 'unti': did you mean 'unit'?",
        (20, 9): "an enum point needs 'states'",
        (23, 18): "unknown driver 'modbuss' in binding",
        (24, 9): "duplicate key 'name' (first at line 22, column 9)",
        (25, 9): "'AHU 2' is not a valid id",
        (26, 11): "'boiler-ish' is not allowed for 'type': expected 'ahu'",
        (29, 18): "binding 'nope' has no scheme",
    }
    for pos, text in expected.items():
        assert pos in got, f"no problem reported at {pos}: {got}"
        assert got[pos].startswith(text), (pos, got[pos])
    assert len(got) == len(expected)


def test_a_yaml_syntax_error_points_at_the_problem(tmp_path):
    path = write(tmp_path, "site:\n  id: hq\n  name: [unclosed\nequipment: []\n")
    issues = check_path(path)
    assert len(issues) == 1
    assert issues[0].message.startswith("YAML syntax error")
    assert (issues[0].line, issues[0].column) == (4, 10)


def test_a_missing_required_key_points_at_its_parent(tmp_path):
    path = write(tmp_path, "site:\n  name: No id\nequipment: []\n")
    (issue,) = check_path(path)
    assert (issue.line, issue.column) == (2, 3)
    assert issue.message == "missing required key 'id' in site"


def test_yaml_booleans_in_text_fields_get_a_hint(tmp_path):
    path = write(tmp_path, textwrap.dedent("""\
        site: {id: hq}
        equipment:
          - id: a
            points:
              - {name: m, kind: enum, states: [off, on]}
        """))
    issues = check_path(path)
    assert issues and "put it in quotes" in issues[0].message


def test_empty_missing_and_non_utf8_files_get_a_clear_message(tmp_path):
    assert "empty" in check_path(write(tmp_path, ""))[0].message
    assert check_path(tmp_path / "nope.yaml")[0].message == "no such file"
    bad = tmp_path / "latin.yaml"
    bad.write_bytes("site: {id: caf\xe9}".encode("latin-1"))
    assert "not UTF-8" in check_path(bad)[0].message


def test_a_folder_loads_every_site_and_refuses_the_same_site_twice(tmp_path):
    write(tmp_path, "site: {id: hq}\n", "a.yaml")
    write(tmp_path, "site: {id: plant}\n", "b.yml")
    assert [s.site.id for s in load_sites(tmp_path)] == ["hq", "plant"]
    write(tmp_path, "# again\nsite:\n  id: hq\n", "c.yaml")
    with pytest.raises(ConfigError) as info:
        load_sites(tmp_path)
    (issue,) = info.value.issues
    assert issue.file.endswith("c.yaml") and (issue.line, issue.column) == (3, 7)
    assert "already used by" in issue.message


def test_the_example_office_loads():
    (site,) = load_sites(EXAMPLE)
    assert site.site.id == "hq" and site.site.timezone == "Europe/London"
    types = sorted(e.type for e in site.equipment)
    assert types == ["ahu", "meter", "vav", "vav", "vav", "vav", "weather"]
    ids = [pid for pid, _, _ in site.points()]
    assert "hq/ahu-1/sat" in ids and "hq/vav-north/zone-temp" in ids
    assert all(p.binding and p.binding.startswith("sim://") for _, _, p in site.points())


def test_check_command_prints_problems_and_exits_1_or_summarises_and_exits_0(tmp_path):
    runner = CliRunner()
    bad = write(tmp_path, BAD)
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith(str(bad))]
    assert len(lines) == 15 and lines[0].startswith(f"{bad}:3:13: unknown time zone")
    good = runner.invoke(app, ["check", str(EXAMPLE)])
    assert good.exit_code == 0 and "ok: 1 site in 1 file, 7 equipment, 34 points" in good.stdout


def test_init_creates_a_site_folder_that_checks_and_refuses_to_overwrite(tmp_path):
    runner = CliRunner()
    target = tmp_path / "mybuilding"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "site.yaml").exists()
    assert runner.invoke(app, ["check", str(target)]).exit_code == 0
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 1 and "not empty" in again.output
