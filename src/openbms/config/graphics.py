"""Saved layouts of equipment graphics and floor plans: YAML files in the site folder.

An integrator moves the elements of a generated graphic
(``openbms.analytics.graphics``) and saves where they go; the positions live
next to the site file, one file per drawing, kept in git with it::

    <folder of the site file>/graphics/<site>/<equipment>.yaml      an equipment's graphic
    <folder of the site file>/graphics/<site>/plan-<space>.yaml     a floor plan

    elements:
      supply-fan: {x: 640, y: 160}            # the element's top-left corner
      supply-air: {x: 800, y: 120, w: 60, h: 40}   # and its size, when changed

Element ids are those of the generated drawing (a plan's are its zones' space
ids). ``read_layout`` reads a file with every problem at ``file:line:column``
(an unknown element, a position outside the drawing, a key that is not x, y,
w or h); the entries without a problem still apply, so a stale file never
hides a graphic. ``check_placements`` checks a layout sent through the API the
same way, with the field's location (``elements.<id>.x``). ``save_layout``
writes atomically (a temporary file renamed over the old one).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from openbms.analytics.graphics import Placement
from openbms.config._yaml import Location, parse
from openbms.errors import ConfigIssue
from openbms.model.site import SiteConfig

__all__ = [
    "LayoutFile",
    "check_placements",
    "delete_layout",
    "graphics_dir",
    "layout_path",
    "plan_path",
    "read_layout",
    "save_layout",
]

#: The largest layout file read (bytes): a layout of a few hundred elements takes a few KB.
MAX_LAYOUT_BYTES = 1 << 20

_KEYS = ("x", "y", "w", "h")

Problem = tuple[Location, str]


def graphics_dir(cfg: SiteConfig) -> Path | None:
    """The folder of the site's saved layouts; None for a site built in code (no site file)."""
    if cfg.source is None:
        return None
    return Path(cfg.source).parent / "graphics" / cfg.site.id


def layout_path(cfg: SiteConfig, equip_id: str) -> Path | None:
    """The saved layout of an equipment's graphic (it may not exist); None without a site file."""
    folder = graphics_dir(cfg)
    return None if folder is None else folder / f"{equip_id}.yaml"


def plan_path(cfg: SiteConfig, space_id: str) -> Path | None:
    """The saved layout of a space's floor plan (it may not exist); None without a site file."""
    folder = graphics_dir(cfg)
    return None if folder is None else folder / f"plan-{space_id}.yaml"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def check_placements(data: Any, ids: Collection[str] | None, width: float | None,
                     height: float | None) -> tuple[dict[str, Placement], list[Problem]]:
    """The placements of a layout document ``{elements: {id: {x, y, w?, h?}}}`` and its problems.

    ``ids`` are the element ids of the drawing (None: any id), ``width`` and
    ``height`` its size (None: unbounded). An entry with a problem is left out.
    """
    problems: list[Problem] = []
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        return {}, [((), "expected a mapping with 'elements': {element id: {x, y, w, h}}")]
    for key in data:
        if key != "elements":
            problems.append(((key,), f"unknown key {key!r}: a layout has only 'elements'"))
    elements = data.get("elements")
    if elements is None:
        return {}, problems
    if not isinstance(elements, dict):
        return {}, [*problems, (("elements",), "expected a mapping of element id to {x, y, w, h}")]
    known = sorted(ids) if ids is not None else []
    found: dict[str, Placement] = {}
    for eid, spec in elements.items():
        where: Location = ("elements", str(eid))
        if ids is not None and eid not in ids:
            shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
            problems.append((where, f"no element {eid!r} in this drawing (its elements: {shown})"))
            continue
        if not isinstance(spec, dict):
            problems.append((where, "expected a mapping with x and y (and w, h to resize)"))
            continue
        bad = False
        values: dict[str, float] = {}
        for key in spec:
            if key not in _KEYS:
                problems.append(((*where, str(key)), f"unknown key {key!r}: expected x, y, w or h"))
                bad = True
        for key in _KEYS:
            if key not in spec:
                if key in ("x", "y"):
                    problems.append(((*where, key), f"{key} is required"))
                    bad = True
                continue
            n = _number(spec[key])
            limit = width if key in ("x", "w") else height
            if n is None:
                problems.append(((*where, key), f"{key} must be a finite number, not {spec[key]!r}"))
                bad = True
            elif key in ("w", "h") and n <= 0:
                problems.append(((*where, key), f"{key} must be above 0, not {n:g}"))
                bad = True
            elif n < 0 or (limit is not None and n > limit):
                bound = f"0..{limit:g}" if limit is not None else "0 or more"
                problems.append(((*where, key), f"{key} must be within {bound} (the drawing's "
                                 f"{'width' if key in ('x', 'w') else 'height'}), not {n:g}"))
                bad = True
            else:
                values[key] = n
        if not bad:
            found[str(eid)] = Placement(values["x"], values["y"], values.get("w"), values.get("h"))
    return found, problems


@dataclass(slots=True)
class LayoutFile:
    """A saved layout as read: the placements that apply and every problem, at file:line:column."""

    path: Path
    placements: dict[str, Placement] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)


def read_layout(path: Path, ids: Collection[str] | None = None, width: float | None = None,
                height: float | None = None) -> LayoutFile:
    """The layout in ``path`` (none when the file does not exist), checked against the drawing."""
    result = LayoutFile(path)
    name = str(path)
    try:
        if path.stat().st_size > MAX_LAYOUT_BYTES:
            result.issues.append(ConfigIssue(name, 1, 1, f"the file is larger than {MAX_LAYOUT_BYTES} bytes: "
                                             "expected a layout of a few KB"))
            return result
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return result
    except (OSError, UnicodeDecodeError) as err:
        result.issues.append(ConfigIssue(name, 1, 1, f"cannot read the layout: {err}"))
        return result
    doc = parse(text)
    result.issues += [ConfigIssue(name, line, col, msg) for (line, col), msg in doc.issues]
    placements, problems = check_placements(doc.data, ids, width, height)
    result.placements = placements
    for loc, message in problems:
        line, col = doc.position(loc, key=message.startswith(("unknown key", "no element")))
        result.issues.append(ConfigIssue(name, line, col, message))
    return result


def save_layout(path: Path, placements: Mapping[str, Placement]) -> None:
    """Write ``placements`` to ``path`` atomically (its folder made when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    elements: dict[str, dict[str, float]] = {}
    for eid, p in placements.items():
        entry = {"x": p.x, "y": p.y}
        if p.w is not None:
            entry["w"] = p.w
        if p.h is not None:
            entry["h"] = p.h
        elements[eid] = {k: (int(v) if float(v).is_integer() else v) for k, v in entry.items()}
    text = ("# Saved positions of the drawing's elements (openbms: the dashboard's graphic editor).\n"
            + yaml.safe_dump({"elements": elements}, sort_keys=False, default_flow_style=None))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def delete_layout(path: Path) -> bool:
    """Forget the layout in ``path``; whether there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
