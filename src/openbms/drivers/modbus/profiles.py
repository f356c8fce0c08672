"""Modbus device profiles: a register map declared once per device model, points per device.

::

    profiles/energy-meter.yaml (beside the site file; else the shipped examples/profiles/)
        ──parse (the configuration's YAML reader with positions, passed in)──▶ profile_problems
              unknown keys, bad tables/types/orders/options, overlapping registers
              → ConfigIssue(profile file, line, column, message)
        ──▶ Profile (name, description, order, device defaults, points)

    site: drivers: modbus: devices: meter-1: {host, unit, profile: energy-meter}
          equipment: - {id: meter-1, type: meter, profile: modbus://meter-1}
        ──expand_site──▶ the equipment's points: one per profile point, its binding
                         modbus://meter-1/TABLE/ADDRESS?type=…&order=…, its unit, limits, …
                         (a point the equipment lists itself replaces the profile's of that name)

Expansion happens on the site's data before the site's schema is checked, so
every later part (checks, driver manager, historian, API) sees plain points.
This module reads no site file itself and imports no YAML reader and no
pymodbus: the caller passes ``parse`` (``openbms.config._yaml.parse``), which
keeps the drivers below the configuration layer.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from pydantic import ValidationError

from openbms.drivers.modbus.points import BIT_TABLES, ORDERS, TABLES, point_spec
from openbms.errors import BindingError, ConfigIssue
from openbms.model.binding import parse_binding
from openbms.model.site import Point

__all__ = ["PROFILE_DIR", "SHIPPED", "Profile", "ProfilePoint", "expand_site", "find_profile",
           "load_profile", "profile_problems", "profile_yaml"]

#: The folder of profiles beside a site file.
PROFILE_DIR = "profiles"
#: The profiles that ship with openbms (examples an integrator copies into ``profiles/``).
SHIPPED = Path(__file__).resolve().parents[2] / "examples" / "profiles"
#: The scheme an equipment's ``profile:`` names a Modbus device with.
PREFIX = "modbus://"

Location = tuple[str | int, ...]
Problem = tuple[Location, str]

#: A profile's own keys.
_TOP = ("name", "description", "order", "gap", "max_registers", "max_bits", "delay", "points")
#: Device settings a profile may give for every device of its model (a device's own win).
DEVICE_DEFAULTS = ("order", "gap", "max_registers", "max_bits", "delay")
#: Where a point's register is, and how to decode it (the binding's options).
_WHERE = ("table", "address")
_OPTIONS = ("type", "order", "scale", "offset", "bit", "count")
#: What a profile point passes on to the site's point as it is (the site's Point model checks it).
_POINT = ("kind", "unit", "display_name", "precision", "description", "tags", "brick", "states",
          "writable", "limits", "relinquish_default", "command", "poll", "history")
_POINT_KEYS = ("name", *_WHERE, *_OPTIONS, *_POINT)
_LIMITS = {"gap": (0, 124), "max_registers": (1, 125), "max_bits": (1, 2000)}


class Parsed(Protocol):
    """What ``parse(text)`` gives (``openbms.config._yaml.Document``)."""

    data: Any
    issues: list[tuple[tuple[int, int], str]]

    def position(self, loc: Location, *, key: bool = False) -> tuple[int, int]: ...


Parse = Callable[[str], Parsed]


@dataclass(frozen=True, slots=True)
class ProfilePoint:
    """One register (or bit) of a profile: its name, where it is, its binding options, and what
    the site's point takes from it."""

    name: str
    table: str
    address: int
    options: tuple[tuple[str, str], ...]
    fields: Mapping[str, Any]

    def binding(self, device: str) -> str:
        """The point's binding on ``device``."""
        query = urlencode(self.options)
        return f"{PREFIX}{device}/{self.table}/{self.address}" + (f"?{query}" if query else "")


@dataclass(frozen=True, slots=True)
class Profile:
    """A device model's register map."""

    name: str
    description: str
    order: str
    defaults: Mapping[str, Any]
    points: tuple[ProfilePoint, ...]
    path: Path | None = None
    names: frozenset[str] = field(default=frozenset())


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _text(value)


def _spec_of(entry: Mapping[str, Any], order: str) -> Any:
    """The PointSpec of a profile point (``BindingError`` with the binding's message)."""
    options = {k: _option_text(entry[k]) for k in _OPTIONS if entry.get(k) is not None}
    query = urlencode(options)
    uri = f"{PREFIX}profile/{entry.get('table')}/{entry.get('address')}" + (f"?{query}" if query else "")
    return point_spec(parse_binding(uri), order)


def _option_at(entry: Mapping[str, Any], where: Location, detail: str) -> Location:
    """The key a binding's problem is about (the point itself when it is not one of its keys)."""
    if detail.startswith("unknown table"):
        return (*where, "table")
    if detail.startswith("address"):
        return (*where, "address")
    if "type must" in detail:
        return (*where, "type")
    at = next((k for k in _OPTIONS if detail.startswith(f"{k}=") and k in entry), None)
    return (*where, at) if at else where


def profile_problems(data: Any) -> list[Problem]:
    """Every problem of a profile's data, each at its key: what ``openbms check`` reports."""
    if not isinstance(data, Mapping):
        return [((), "a profile is a mapping: expected name, description, order and points")]
    out: list[Problem] = []
    for key in data:
        if key not in _TOP:
            out.append(((key,), f"unknown key {key}; expected one of {', '.join(_TOP)}"))
    order = data.get("order", "ABCD")
    if not isinstance(order, str) or order.upper() not in ORDERS:
        out.append((("order",), f"order: {order!r}; expected one of {', '.join(ORDERS)}"))
        order = "ABCD"
    order = order.upper()
    for key, (low, high) in _LIMITS.items():
        value = data.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or not low <= value <= high):
            out.append(((key,), f"{key}: {value!r}; expected a whole number from {low} to {high}"))
    delay = data.get("delay")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float)
                              or not 0 <= delay <= 60):
        out.append((("delay",), f"delay: {delay!r}; expected seconds from 0 to 60"))
    for key in ("name", "description"):
        if data.get(key) is not None and not isinstance(data[key], str):
            out.append(((key,), f"{key}: {data[key]!r}; expected text"))
    points = data.get("points")
    if not isinstance(points, Sequence) or isinstance(points, str) or not points:
        out.append((("points",), "points: expected a list of registers, each "
                                 "{name, table, address, type, …}"))
        return out
    seen: dict[str, int] = {}
    used: list[tuple[str, int, int, int | None, int, str]] = []  # table, start, end, bit, index, name
    for i, entry in enumerate(points):
        where = ("points", i)
        if not isinstance(entry, Mapping):
            out.append((where, f"points[{i}]: expected a mapping such as "
                               "{name: kw, table: input, address: 52, type: float32, unit: kW}"))
            continue
        name = entry.get("name")
        label = f"point {name!r}" if isinstance(name, str) else f"points[{i}]"
        for key in entry:
            if key not in _POINT_KEYS:
                out.append(((*where, key), f"{label}: unknown key {key}; expected "
                                           f"{', '.join(_POINT_KEYS)}"))
        if not isinstance(name, str) or not name:
            out.append((where, f"{label}: no name; expected name: a point name such as kw"))
        elif name in seen:
            out.append(((*where, "name"), f"{label} is already points[{seen[name]}]: expected "
                                          "each name once"))
        else:
            seen[name] = i
        for key in _WHERE:
            if key not in entry:
                out.append((where, f"{label}: no {key}; expected {key}: "
                                   f"{'one of ' + ', '.join(TABLES) if key == 'table' else '0 to 65535'}"))
        if any(key not in entry for key in _WHERE):
            continue
        try:
            spec = _spec_of(entry, order)
        except BindingError as err:
            detail = str(err).split(": ", 1)[-1]
            out.append((_option_at(entry, where, detail), f"{label}: {detail}"))
            continue
        if entry.get("writable") and spec.table not in ("coil", "holding"):
            out.append(((*where, "writable"), f"{label}: {spec.table} is read-only; expected "
                                              "writable points on coil or holding"))
        used.append((spec.table, spec.address, spec.end, spec.bit, i, label))
        fields = {k: entry[k] for k in _POINT if k in entry}
        try:
            Point.model_validate({"name": name if isinstance(name, str) else "p", **fields})
        except ValidationError as err:
            first = err.errors()[0]
            loc = tuple(x for x in first["loc"] if isinstance(x, str | int))
            at = (*where, loc[0]) if loc and loc[0] in entry else where
            out.append((at, f"{label}: {'.'.join(map(str, loc)) + ': ' if loc else ''}"
                            f"{first['msg'].removeprefix('Value error, ')}"))
    used.sort(key=lambda u: (u[0], u[1], u[4]))
    for k, (table, start, end, bit, _i, label) in enumerate(used):
        for other in used[k + 1:]:
            if other[0] != table or other[1] >= end:
                break
            obit = other[3]
            if (bit is None) != (obit is None):
                continue  # a status word and one of its bits: both may be points
            if bit is not None and bit != obit:
                continue
            what = f"bit {bit} of {table} {start}" if bit is not None else \
                f"{table} {max(start, other[1])}"
            out.append((("points", other[4], "address"),
                        f"{other[5]}: overlaps {label} at {what}; expected registers used by "
                        "one point each (bits of a register may be points of their own)"))
    return out


def _profile(name: str, data: Mapping[str, Any], path: Path | None) -> Profile:
    order = str(data.get("order", "ABCD")).upper()
    points = []
    for entry in data["points"]:
        spec = _spec_of(entry, order)
        options: list[tuple[str, str]] = []
        if spec.type != ("bool" if spec.table in BIT_TABLES or spec.bit is not None else "uint16"):
            options.append(("type", spec.type))
        if spec.size > 1 or spec.type == "string" or spec.swap_bytes:
            options.append(("order", spec.order))  # explicit: the device's own order may differ
        options += [(k, _option_text(entry[k])) for k in ("scale", "offset", "bit", "count")
                    if entry.get(k) is not None]
        fields = {k: entry[k] for k in _POINT if entry.get(k) is not None}
        points.append(ProfilePoint(entry["name"], spec.table, spec.address, tuple(options), fields))
    defaults = {k: data[k] for k in DEVICE_DEFAULTS if data.get(k) is not None}
    defaults["order"] = order
    return Profile(name=str(data.get("name") or name), description=str(data.get("description") or ""),
                   order=order, defaults=defaults, points=tuple(points), path=path,
                   names=frozenset(p.name for p in points))


def load_profile(path: Path, parse: Parse) -> tuple[Profile | None, list[ConfigIssue]]:
    """A profile file: the profile, or None and every problem at its line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        return None, [ConfigIssue(str(path), 1, 1, f"cannot read the profile: {err.strerror or err}")]
    except UnicodeDecodeError as err:
        return None, [ConfigIssue(str(path), 1, 1, f"not UTF-8 text ({err.reason}); expected a "
                                                   "YAML file saved as UTF-8")]
    doc = parse(text)
    issues = [ConfigIssue(str(path), line, col, message) for (line, col), message in doc.issues]
    if not issues:
        if doc.data is None:
            issues.append(ConfigIssue(str(path), 1, 1, "the profile is empty: expected name, "
                                                       "description, order and points"))
        for loc, message in profile_problems(doc.data):
            about_key = "unknown key" in message
            line, col = doc.position(loc, key=about_key)
            issues.append(ConfigIssue(str(path), line, col, message))
    if issues:
        return None, sorted(issues, key=lambda i: (i.line, i.column))
    return _profile(path.stem, doc.data, path), []


def find_profile(name: str, site_file: Path | None) -> Path | None:
    """The file of profile ``name``: ``profiles/NAME.yaml`` beside the site file, else a shipped one."""
    folders = [] if site_file is None else [site_file.parent / PROFILE_DIR]
    for folder in (*folders, SHIPPED):
        for suffix in (".yaml", ".yml"):
            path = folder / f"{name}{suffix}"
            if path.is_file():
                return path
    return None


def _device_profile(devices: Mapping[str, Any], device: str) -> str | None:
    entry = devices.get(device)
    profile = entry.get("profile") if isinstance(entry, Mapping) else None
    return profile if isinstance(profile, str) else None


def expand_site(data: Any, site_file: Path | None,
                parse: Parse) -> tuple[Any, list[Problem], list[ConfigIssue]]:
    """The site's data with each ``profile: modbus://DEVICE`` equipment's points filled in from its
    device's profile, and the device's settings from the profile's defaults.

    Returns the new data (``data`` itself when nothing uses a profile), the problems of the site
    file (at their keys) and those of the profile files (at their lines and columns).
    """
    if not isinstance(data, Mapping):
        return data, [], []
    drivers = data.get("drivers")
    drivers = drivers if isinstance(drivers, Mapping) else {}
    modbus = drivers.get("modbus")
    modbus = modbus if isinstance(modbus, Mapping) else {}
    devices = modbus.get("devices")
    devices = devices if isinstance(devices, Mapping) else {}
    given = data.get("equipment")
    equipment: list[Any] = list(given) if isinstance(given, list) else []
    uses = [(i, e) for i, e in enumerate(equipment) if isinstance(e, Mapping) and "profile" in e]
    named = {d: _device_profile(devices, d) for d in devices}
    if not uses and not any(named.values()):
        return data, [], []
    problems: list[Problem] = []
    issues: list[ConfigIssue] = []
    loaded: dict[str, Profile | None] = {}
    for device, name in named.items():
        if name is None or name in loaded:
            continue
        path = find_profile(name, site_file)
        if path is None:
            known = sorted({p.stem for f in (site_file.parent / PROFILE_DIR if site_file else None,
                                             SHIPPED) if f is not None and f.is_dir()
                            for p in f.iterdir() if p.suffix in (".yaml", ".yml")})
            problems.append((("drivers", "modbus", "devices", device, "profile"),
                             f"drivers: modbus: devices: {device}: no profile {name!r}; expected "
                             f"{PROFILE_DIR}/{name}.yaml beside the site file, or a shipped one "
                             f"({', '.join(known) or 'none'})"))
            loaded[name] = None
            continue
        loaded[name], found = load_profile(path, parse)
        issues += found
    out = copy.copy(dict(data))
    new_devices = {}
    for device, entry in devices.items():
        profile = loaded.get(named.get(device) or "")
        if profile is not None and isinstance(entry, Mapping):
            entry = {**{k: v for k, v in profile.defaults.items() if modbus.get(k) is None}, **entry}
        new_devices[device] = entry
    if any(named.values()):
        out["drivers"] = {**drivers, "modbus": {**modbus, "devices": new_devices}}
    new_equipment = equipment
    for i, entry in uses:
        ref = entry.get("profile")
        where = ("equipment", i, "profile")
        rest = {k: v for k, v in entry.items() if k != "profile"}
        new_equipment[i] = rest
        if not isinstance(ref, str) or not ref.startswith(PREFIX) or "/" in ref[len(PREFIX):] \
                or not ref[len(PREFIX):]:
            problems.append((where, f"profile: {ref!r}; expected {PREFIX}DEVICE, a device under "
                                    "drivers: modbus: devices: with a profile"))
            continue
        device = ref[len(PREFIX):]
        if device not in devices:
            problems.append((where, f"profile: {ref}: no Modbus device {device!r}; expected one "
                                    f"under drivers: modbus: devices: (known: "
                                    f"{', '.join(map(str, devices)) or 'none yet'})"))
            continue
        name = named.get(device)
        if name is None:
            problems.append((where, f"profile: {ref}: the device has no profile; expected "
                                    f"drivers: modbus: devices: {device}: profile: NAME"))
            continue
        profile = loaded.get(name)
        if profile is None:
            continue  # its problems are reported at the device, or in the profile's file
        own = entry.get("points")
        if own is not None and not isinstance(own, list):
            continue  # the schema says what points: expects, at its place
        own_points = list(own or [])
        mine = {p.get("name") for p in own_points if isinstance(p, Mapping)}
        expanded = [{"name": p.name, **copy.deepcopy(dict(p.fields)), "binding": p.binding(device)}
                    for p in profile.points if p.name not in mine]
        rest["points"] = expanded + own_points
    if uses:
        out["equipment"] = new_equipment
    return out, problems, issues


def profile_yaml(name: str, description: str, order: str,
                 points: Sequence[Mapping[str, Any]]) -> str:
    """A profile file's text (``openbms modbus scan --profile-out`` writes one)."""
    lines = ["# A skeleton: rename the points, give their units, types and scales.",
             f"name: {name}", f"description: {json.dumps(description)}", f"order: {order}",
             "points:"]
    for p in points:
        inner = ", ".join(f"{k}: {v}" for k, v in p.items())
        lines.append(f"  - {{{inner}}}")
    return "\n".join(lines) + "\n"
