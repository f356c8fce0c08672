"""Saved layouts of equipment graphics and floor plans: YAML files in the site folder.

An integrator moves the elements of a generated graphic
(``openbms.analytics.graphics``) and saves where they go; the positions live
next to the site file, one file per drawing, kept in git with it::

    <folder of the site file>/graphics/<site>/equipment/<equipment>.yaml   an equipment's graphic
    <folder of the site file>/graphics/<site>/plans/<space>.yaml           a floor plan

    elements:
      supply-fan: {x: 640, y: 160}            # the element's top-left corner
      supply-air: {x: 800, y: 120, w: 60, h: 40}   # and its size, when changed

Element ids are those of the generated drawing (a plan's are its zones' space
ids). ``read_layout`` reads a file with every problem at ``file:line:column``
(an unknown element, a position outside the drawing, a key that is not x, y,
w or h); the entries without a problem still apply, so a stale file never
hides a graphic. A file is read as at most ``MAX_LAYOUT_BYTES`` (+1) bytes of
a regular file opened without following a symbolic link and without blocking (a
FIFO or a device never stalls a worker thread), its first
``MAX_LAYOUT_ELEMENTS`` entries checked and at most ``MAX_LAYOUT_ISSUES``
problems listed (then "and N more"); the result is kept until the file or the
drawing changes, so a dashboard asking for a graphic on every visit does not
parse it again. ``check_placements`` checks a layout sent through the API the
same way, with the field's location (``elements.<id>.x``). ``save_layout``
writes atomically (a temporary file renamed over the old one, with the old
file's permissions, 0644 for a new one).
"""

from __future__ import annotations

import math
import os
import stat
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
MAX_LAYOUT_BYTES = 64 << 10
#: The most entries of ``elements`` checked: a drawing has a few dozen elements.
MAX_LAYOUT_ELEMENTS = 500
#: The most problems listed per file (then one "and N more").
MAX_LAYOUT_ISSUES = 20
#: The layouts read and kept (path, file and drawing the same: the same result).
_CACHE_MAX = 256

_KEYS = ("x", "y", "w", "h")

Problem = tuple[Location, str]


def graphics_dir(cfg: SiteConfig) -> Path | None:
    """The folder of the site's saved layouts; None for a site built in code (no site file)."""
    if cfg.source is None:
        return None
    return Path(cfg.source).parent / "graphics" / cfg.site.id


#: The sub-folders of ``graphics/<site>/``: equipment graphics and floor plans apart, so an
#: equipment and a space of the same id never share a file.
EQUIPMENT_DIR = "equipment"
PLANS_DIR = "plans"


def layout_path(cfg: SiteConfig, equip_id: str) -> Path | None:
    """The saved layout of an equipment's graphic (it may not exist); None without a site file."""
    folder = graphics_dir(cfg)
    return None if folder is None else folder / EQUIPMENT_DIR / f"{equip_id}.yaml"


def plan_path(cfg: SiteConfig, space_id: str) -> Path | None:
    """The saved layout of a space's floor plan (it may not exist); None without a site file."""
    folder = graphics_dir(cfg)
    return None if folder is None else folder / PLANS_DIR / f"{space_id}.yaml"


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
    if len(elements) > MAX_LAYOUT_ELEMENTS:
        problems.append((("elements",), f"{len(elements)} entries: at most {MAX_LAYOUT_ELEMENTS} are read "
                         "(a drawing has a few dozen elements); the rest are left out"))
    for n_entry, (eid, spec) in enumerate(elements.items()):
        if n_entry >= MAX_LAYOUT_ELEMENTS:
            break
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


@dataclass(frozen=True, slots=True)
class LayoutFile:
    """A saved layout as read: the placements that apply and every problem, at file:line:column.

    ``read_layout`` may answer the same object again while the file is unchanged: do not modify it.
    """

    path: Path
    placements: dict[str, Placement] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)


_cache: dict[tuple[Any, ...], LayoutFile] = {}


def _read_bytes(path: Path) -> tuple[bytes | None, os.stat_result | None, str]:
    """At most ``MAX_LAYOUT_BYTES`` + 1 bytes of a regular file; None and why otherwise ("" if absent)."""
    try:
        # No symbolic link followed (to /dev/zero, or out of the folder), no blocking open of a FIFO.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None, None, ""
    except OSError as err:
        if os.path.islink(path):
            return None, None, ("a symbolic link: expected a layout file (a regular file; links are "
                                "not followed)")
        return None, None, f"cannot read the layout: {err.strerror or err}"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, None, "not a regular file: expected a layout file (YAML)"
        chunks: list[bytes] = []
        left = MAX_LAYOUT_BYTES + 1
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks), st, ""
    except OSError as err:
        return None, None, f"cannot read the layout: {err.strerror or err}"
    finally:
        os.close(fd)


def _capped(issues: list[ConfigIssue], name: str) -> list[ConfigIssue]:
    """``issues`` without repeats, at most ``MAX_LAYOUT_ISSUES`` of them and then "and N more"."""
    unique = list(dict.fromkeys(issues))
    if len(unique) <= MAX_LAYOUT_ISSUES:
        return unique
    more = len(unique) - MAX_LAYOUT_ISSUES
    return [*unique[:MAX_LAYOUT_ISSUES],
            ConfigIssue(name, unique[MAX_LAYOUT_ISSUES].line, unique[MAX_LAYOUT_ISSUES].column,
                        f"and {more} more problem{'s' if more != 1 else ''} in this file")]


def read_layout(path: Path, ids: Collection[str] | None = None, width: float | None = None,
                height: float | None = None) -> LayoutFile:
    """The layout in ``path`` (none when the file does not exist), checked against the drawing."""
    name = str(path)
    try:
        seen = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return LayoutFile(path)
    except OSError:
        seen = None
    drawing = (None if ids is None else frozenset(ids), width, height)
    if seen is not None and stat.S_ISREG(seen.st_mode):
        cached = _cache.get((name, seen.st_ino, seen.st_mtime_ns, seen.st_size, drawing))
        if cached is not None:
            return cached
    raw, st, why = _read_bytes(path)
    if raw is None:
        return LayoutFile(path, issues=[ConfigIssue(name, 1, 1, why)] if why else [])
    if len(raw) > MAX_LAYOUT_BYTES:
        why = f"the file is larger than {MAX_LAYOUT_BYTES // 1024} KB: expected a layout of a few KB"
        return LayoutFile(path, issues=[ConfigIssue(name, 1, 1, why)])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - raw.rfind(b"\n", 0, err.start)
        why = f"not UTF-8 text: byte 0x{raw[err.start]:02x} ({err.reason}); expected YAML saved as UTF-8"
        return LayoutFile(path, issues=[ConfigIssue(name, line, column, why)])
    doc = parse(text)
    issues = [ConfigIssue(name, line, col, msg) for (line, col), msg in doc.issues]
    placements, problems = check_placements(doc.data, ids, width, height)
    for loc, message in problems:
        if len(issues) > MAX_LAYOUT_ISSUES * 4:  # enough to say "and N more" without placing them all
            issues.append(ConfigIssue(name, 1, 1, message))
            continue
        line, col = doc.position(loc, key=message.startswith(("unknown key", "no element")))
        issues.append(ConfigIssue(name, line, col, message))
    result = LayoutFile(path, placements, _capped(issues, name))
    assert st is not None
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[(name, st.st_ino, st.st_mtime_ns, st.st_size, drawing)] = result
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
    try:
        mode = stat.S_IMODE(os.stat(path, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # mkstemp makes it 0600: keep the old file's mode (0644 for a new file)
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
