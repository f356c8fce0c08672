"""``openbms check`` and ``openbms init``: what an integrator types first."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from openbms.cli.main import app

from .test_loader import BAD, EXAMPLE, EXPECTED, write


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_check_prints_every_problem_as_file_line_column_and_exits_1(runner, tmp_path):
    bad = write(tmp_path, BAD)
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    problems = [line for line in lines if line.startswith(f"{bad}:")]
    assert [p.split(":")[1:3] for p in problems] == [[str(line), str(col)] for line, col, _ in EXPECTED]
    assert problems[0] == f"{bad}:3:13: {EXPECTED[0][2]}"
    assert lines[-1] == f"{len(EXPECTED)} problems in 1 file"


def test_check_counts_problems_across_files(runner, tmp_path):
    write(tmp_path, "site: {id: hq, timezone: Nowhere}\n", "a.yaml")
    write(tmp_path, "site: {id: hq}\n", "b.yaml")
    result = runner.invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "2 problems in 2 files"


def test_check_quiet_prints_only_the_problems(runner, tmp_path):
    bad = write(tmp_path, "site: {id: hq, timezone: Nowhere}\n")
    result = runner.invoke(app, ["check", "--quiet", str(bad)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{bad}:1:26: unknown time zone 'Nowhere' (expected an IANA name such as 'Europe/London' or "
        "'America/New_York')"]


def test_check_of_a_good_site_summarises_it_and_exits_0(runner):
    result = runner.invoke(app, ["check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: 1 site, 13 equipment, 46 points"
    quiet = runner.invoke(app, ["check", "-q", str(EXAMPLE / "site.yaml")])
    assert (quiet.exit_code, quiet.stdout) == (0, "")


def test_check_of_a_missing_path_is_a_problem_not_a_crash(runner, tmp_path):
    result = runner.invoke(app, ["check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{tmp_path / 'nope.yaml'}:1:1: no such file")


def test_init_copies_the_example_and_the_copy_checks_clean(runner, tmp_path):
    target = tmp_path / "mybuilding"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in target.iterdir()) == ["programs", "site.yaml"]
    programs = sorted(p.name for p in (target / "programs").iterdir())
    assert programs == ["ahu.json", "boiler.json", "chiller.json"]
    assert (target / "site.yaml").read_bytes() == (EXAMPLE / "site.yaml").read_bytes()
    assert f"created {target / 'site.yaml'}" in result.stdout
    assert f"openbms check {target}" in result.stdout and f"openbms run -d {target}" in result.stdout
    check = runner.invoke(app, ["check", str(target)])
    assert check.exit_code == 0 and check.stdout.startswith("ok: 1 site")


def test_init_into_an_empty_existing_folder_is_fine(runner, tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "site.yaml").exists()


def test_init_refuses_a_folder_that_is_not_empty_unless_forced(runner, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "site.yaml").write_text("site: {id: mine}\n")
    refused = runner.invoke(app, ["init", str(tmp_path)])
    assert refused.exit_code == 1 and "exists and is not empty" in " ".join(refused.output.split())
    assert (tmp_path / "site.yaml").read_text() == "site: {id: mine}\n"
    forced = runner.invoke(app, ["init", "--force", str(tmp_path)])
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "site.yaml").read_bytes() == (EXAMPLE / "site.yaml").read_bytes()
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_init_refuses_a_path_that_is_a_file(runner, tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    result = runner.invoke(app, ["init", str(path)])
    assert result.exit_code == 1 and "is a file: expected a folder" in " ".join(result.output.split())


def test_the_examples_symlink_at_the_repo_root_points_at_the_package_data():
    link = Path(__file__).parents[2] / "examples"
    assert (link / "office" / "site.yaml").resolve() == (EXAMPLE / "site.yaml").resolve()


def test_check_warns_of_a_saved_graphic_layout_the_drawing_no_longer_matches(runner, tmp_path):
    site = write(tmp_path, "site: {id: hq}\nequipment:\n  - {id: ahu-1, type: ahu}\n")
    folder = tmp_path / "graphics" / "hq" / "equipment"
    folder.mkdir(parents=True)
    (folder / "ahu-1.yaml").write_text("elements:\n  supply-fan: {x: 5000, y: 10}\n")
    result = runner.invoke(app, ["check", "--strict", str(site)])
    assert result.exit_code == 1, result.output
    assert f"{folder / 'ahu-1.yaml'}:2:19: warning: x must be within 0..1000" in result.stdout
