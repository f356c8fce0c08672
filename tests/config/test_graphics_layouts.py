"""Saved graphic layouts in the site folder: read, written, and checked with file:line:column (issue 14)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from openbms.analytics.graphics import Placement, graphic
from openbms.config import load_site
from openbms.config.checks import graphics_warnings
from openbms.config.graphics import (
    MAX_LAYOUT_BYTES,
    MAX_LAYOUT_ELEMENTS,
    MAX_LAYOUT_ISSUES,
    LayoutFile,
    layout_path,
    plan_path,
    read_layout,
    save_layout,
)
from openbms.model.site import SiteConfig

SITE = """\
site: {id: b}
spaces:
  - {id: f1, kind: floor}
  - {id: z-north, kind: zone, parent: f1}
equipment:
  - id: ahu-1
    type: ahu
    points:
      - {name: sat, tags: [discharge, air, temp, sensor]}
  - {id: vav-1, type: vav, space: z-north}
"""


def _site(tmp_path: Path) -> SiteConfig:
    (tmp_path / "site.yaml").write_text(SITE)
    return load_site(tmp_path / "site.yaml")


def test_a_layout_naming_what_the_drawing_no_longer_has_is_a_warning_at_its_line(tmp_path: Path) -> None:
    cfg = _site(tmp_path)
    folder = tmp_path / "graphics" / "b" / "equipment"
    plans = tmp_path / "graphics" / "b" / "plans"
    folder.mkdir(parents=True)
    plans.mkdir()
    (folder / "ahu-1.yaml").write_text(
        "elements:\n"
        "  supply-fan: {x: 600, y: 200}\n"
        "  return-fan: {x: 600, y: 20}\n"      # this AHU has no return fan
        "  supply-air: {x: 2000, y: 1}\n"      # off the drawing
        "  filter: {x: 1, y: 1, colour: red}\n")
    (plans / "f1.yaml").write_text("elements:\n  z-north: {x: 0, y: 0}\n  z-gone: {x: 1, y: 1}\n")
    (folder / "vav-9.yaml").write_text("elements: {}\n")
    (folder / "vav-1.yaml").write_text("elements:\n  damper: [1, 2\n")  # not YAML
    (folder / ".ahu-1.yaml.123.tmp").write_text("half written")
    found = [str(i) for i in graphics_warnings(cfg)]
    ahu, plan, vav = str(folder / "ahu-1.yaml"), str(plans / "f1.yaml"), str(folder / "vav-9.yaml")
    assert found[3].startswith(str(folder / "vav-1.yaml") + ":3:1: YAML syntax error")
    assert found[:3] + found[4:] == [
        f"{ahu}:3:3: no element 'return-fan' in this drawing (its elements: "
        + found[0].split("elements: ")[1],
        f"{ahu}:4:19: x must be within 0..1000 (the drawing's width), not 2000",
        f"{ahu}:5:24: unknown key 'colour': expected x, y, w or h",
        f"{vav}:1:1: a saved layout of equipment 'vav-9', which site 'b' does not have: expected "
        "equipment/<equipment id>.yaml (remove it, or rename it after a renamed one)",
        f"{plan}:3:3: no element 'z-gone' in this drawing (its elements: z-north)",
    ]
    assert "supply-fan" in found[0]
    # what is right still applies
    g = graphic(cfg, "ahu-1")
    assert g is not None
    assert read_layout(folder / "ahu-1.yaml", g.element_ids(), g.width, g.height).placements == {
        "supply-fan": Placement(600, 200)}


def test_no_folder_no_warnings_and_a_saved_layout_reads_back(tmp_path: Path) -> None:
    cfg = _site(tmp_path)
    assert graphics_warnings(cfg) == []
    path = layout_path(cfg, "ahu-1")
    assert path == tmp_path / "graphics" / "b" / "equipment" / "ahu-1.yaml"
    assert plan_path(cfg, "f1") == tmp_path / "graphics" / "b" / "plans" / "f1.yaml"
    save_layout(path, {"supply-fan": Placement(640, 160), "supply-air": Placement(800.5, 120, 60, 40)})
    assert read_layout(path).placements == {"supply-fan": Placement(640, 160),
                                            "supply-air": Placement(800.5, 120, 60, 40)}
    assert graphics_warnings(cfg) == []
    assert [p.name for p in path.parent.iterdir()] == ["ahu-1.yaml"]  # no temporary file left
    # a site built in code has no folder to keep layouts in
    assert layout_path(cfg.with_source(None), "ahu-1") is None


def test_an_equipment_named_plan_x_and_a_space_x_have_a_file_each(tmp_path: Path) -> None:
    # review 17: layout_path(cfg, "plan-f1") was plan_path(cfg, "f1"): a PUT overwrote the floor plan
    cfg = _site(tmp_path)
    assert layout_path(cfg, "plan-f1") != plan_path(cfg, "f1")
    assert layout_path(cfg, "f1") != plan_path(cfg, "f1")


def test_a_fifo_named_like_a_layout_is_a_problem_not_a_stalled_thread(tmp_path: Path) -> None:
    # review 17: read_text on a FIFO blocked its worker thread until a writer closed it
    path = tmp_path / "ahu-1.yaml"
    os.mkfifo(path)
    writer = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # a writer that stays: a blocking read never ends
    os.write(writer, b"elements:\n  supply-fan: {x: 1, y: 1}\n")
    answers: list[LayoutFile] = []
    reader = threading.Thread(target=lambda: answers.append(read_layout(path)), daemon=True)
    reader.start()
    reader.join(30)  # a guard, not a timing: the fixed read returns at once, the old one never did
    stalled = reader.is_alive()
    os.close(writer)
    reader.join()
    assert not stalled
    [found] = answers
    assert found.placements == {}
    assert [str(i) for i in found.issues] == [
        f"{path}:1:1: not a regular file: expected a layout file (YAML)"]


def test_a_symbolic_link_is_not_followed(tmp_path: Path) -> None:
    # review 17: a link to /dev/zero grew without bound; a link is refused, wherever it points
    target = tmp_path / "elsewhere.yaml"
    target.write_text("elements:\n  supply-fan: {x: 1, y: 1}\n")
    path = tmp_path / "ahu-1.yaml"
    path.symlink_to(target)
    found = read_layout(path)
    assert found.placements == {}
    assert [i.message for i in found.issues] == [
        "a symbolic link: expected a layout file (a regular file; links are not followed)"]
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    assert next(i.message for i in read_layout(zero).issues).startswith("a symbolic link")


def test_a_large_layout_is_refused_unread_and_a_long_one_lists_twenty_problems(tmp_path: Path) -> None:
    # review 17: a 1 MB file was parsed on every GET (6 s of CPU) and gave 30 000 problems
    big = tmp_path / "big.yaml"
    big.write_text("elements:\n" + "".join(f"  e{i}: {{x: 1, y: 2, w: 3, h: 4}}\n" for i in range(3000)))
    assert big.stat().st_size > MAX_LAYOUT_BYTES
    assert [i.message for i in read_layout(big, {"supply-fan"}, 1000, 600).issues] == [
        f"the file is larger than {MAX_LAYOUT_BYTES // 1024} KB: expected a layout of a few KB"]
    long = tmp_path / "long.yaml"
    n = MAX_LAYOUT_ELEMENTS + 100
    long.write_text("elements:\n" + "".join(f"  e{i}: {{x: 1, y: 2}}\n" for i in range(n)))
    assert long.stat().st_size <= MAX_LAYOUT_BYTES
    issues = read_layout(long, {"supply-fan"}, 1000, 600).issues
    assert len(issues) == MAX_LAYOUT_ISSUES + 1
    assert issues[0].message == (f"{n} entries: at most {MAX_LAYOUT_ELEMENTS} are read (a drawing has a few "
                                 "dozen elements); the rest are left out")
    assert (issues[1].line, issues[1].message[:19]) == (2, "no element 'e0' in ")
    # the entries read past the 19 listed: MAX_LAYOUT_ELEMENTS unknown ones, one problem each
    more = MAX_LAYOUT_ELEMENTS - (MAX_LAYOUT_ISSUES - 1)
    assert issues[-1].message == f"and {more} more problems in this file"


def test_a_layout_is_parsed_again_only_when_the_file_or_the_drawing_changes(tmp_path: Path) -> None:
    path = tmp_path / "ahu-1.yaml"
    save_layout(path, {"supply-fan": Placement(1, 2)})
    first = read_layout(path, {"supply-fan"}, 100, 100)
    assert read_layout(path, {"supply-fan"}, 100, 100) is first
    assert read_layout(path, {"supply-fan", "filter"}, 100, 100) is not first  # another drawing
    save_layout(path, {"supply-fan": Placement(3, 4)})  # another file (renamed over the old one)
    again = read_layout(path, {"supply-fan"}, 100, 100)
    assert again.placements == {"supply-fan": Placement(3, 4)}


def test_a_saved_layout_keeps_the_files_mode_and_a_new_one_is_readable(tmp_path: Path) -> None:
    # review 17: mkstemp made every saved layout 0600
    path = tmp_path / "g" / "ahu-1.yaml"
    save_layout(path, {"supply-fan": Placement(1, 2)})
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o664)
    save_layout(path, {"supply-fan": Placement(3, 4)})
    assert stat.S_IMODE(path.stat().st_mode) == 0o664


def test_check_warns_of_the_layout_files_the_server_does_not_read(tmp_path: Path) -> None:
    # review 17: graphics_warnings checked .yml files the server never reads
    cfg = _site(tmp_path)
    folder = tmp_path / "graphics" / "b"
    (folder / "equipment").mkdir(parents=True)
    (folder / "equipment" / "ahu-1.yml").write_text("elements:\n  supply-fan: {x: 1, y: 1}\n")
    (folder / "ahu-1.yaml").write_text("elements:\n  supply-fan: {x: 1, y: 1}\n")
    assert [str(i) for i in graphics_warnings(cfg)] == [
        f"{folder / 'ahu-1.yaml'}:1:1: not read: a layout is equipment/<equipment id>.yaml or "
        "plans/<space id>.yaml in this folder (move it there)",
        f"{folder / 'equipment' / 'ahu-1.yml'}:1:1: not read: name it .yaml",
    ]
