"""Saved graphic layouts in the site folder: read, written, and checked with file:line:column (issue 14)."""

from __future__ import annotations

from pathlib import Path

from openbms.analytics.graphics import Placement, graphic
from openbms.config import load_site
from openbms.config.checks import graphics_warnings
from openbms.config.graphics import layout_path, plan_path, read_layout, save_layout
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
    folder = tmp_path / "graphics" / "b"
    folder.mkdir(parents=True)
    (folder / "ahu-1.yaml").write_text(
        "elements:\n"
        "  supply-fan: {x: 600, y: 200}\n"
        "  return-fan: {x: 600, y: 20}\n"      # this AHU has no return fan
        "  supply-air: {x: 2000, y: 1}\n"      # off the drawing
        "  filter: {x: 1, y: 1, colour: red}\n")
    (folder / "plan-f1.yaml").write_text("elements:\n  z-north: {x: 0, y: 0}\n  z-gone: {x: 1, y: 1}\n")
    (folder / "vav-9.yaml").write_text("elements: {}\n")
    (folder / "vav-1.yml").write_text("elements:\n  damper: [1, 2\n")  # not YAML
    (folder / ".ahu-1.yaml.123.tmp").write_text("half written")
    found = [str(i) for i in graphics_warnings(cfg)]
    ahu, plan, vav = (str(folder / n) for n in ("ahu-1.yaml", "plan-f1.yaml", "vav-9.yaml"))
    assert found[4].startswith(str(folder / "vav-1.yml") + ":3:1: YAML syntax error")
    assert found[:4] + found[5:] == [
        f"{ahu}:3:3: no element 'return-fan' in this drawing (its elements: "
        + found[0].split("elements: ")[1],
        f"{ahu}:4:19: x must be within 0..1000 (the drawing's width), not 2000",
        f"{ahu}:5:24: unknown key 'colour': expected x, y, w or h",
        f"{plan}:3:3: no element 'z-gone' in this drawing (its elements: z-north)",
        f"{vav}:1:1: a saved layout of 'vav-9', which site 'b' does not have: expected <equipment id>.yaml "
        "or plan-<space id>.yaml (remove it, or rename it after a renamed one)",
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
    assert path == tmp_path / "graphics" / "b" / "ahu-1.yaml"
    assert plan_path(cfg, "f1") == tmp_path / "graphics" / "b" / "plan-f1.yaml"
    save_layout(path, {"supply-fan": Placement(640, 160), "supply-air": Placement(800.5, 120, 60, 40)})
    assert read_layout(path).placements == {"supply-fan": Placement(640, 160),
                                            "supply-air": Placement(800.5, 120, 60, 40)}
    assert graphics_warnings(cfg) == []
    assert [p.name for p in path.parent.iterdir()] == ["ahu-1.yaml"]  # no temporary file left
    # a site built in code has no folder to keep layouts in
    assert layout_path(cfg.with_source(None), "ahu-1") is None
