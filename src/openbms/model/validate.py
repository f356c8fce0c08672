"""Checks that need the whole site: ids, references, units, bindings, drivers, time zones.

``check_site`` works on the site in document form (plain dicts and lists, as
read from YAML or ``SiteConfig.model_dump()``) and tolerates parts of the
wrong type, so that it reports its problems even when the schema check found
others: a user fixing a file sees every problem at once. The API runs it on
edits too. Each problem is ``(path, message)``, the path in document terms,
e.g. ``("equipment", 2, "points", 0, "unit")``.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Collection
from typing import Any

from openbms.errors import BindingError
from openbms.model.binding import parse_binding
from openbms.model.units import close_matches, lookup

__all__ = ["Problem", "check_site"]

Path = tuple[str | int, ...]
Problem = tuple[Path, str]


def _items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """The dict entries of a list, with their indices (anything else is the schema's business)."""
    if not isinstance(value, list | tuple):
        return []
    return [(i, x) for i, x in enumerate(value) if isinstance(x, dict)]


def _ids(kind: str, entries: list[tuple[int, dict[str, Any]]], base: Path,
         key: str = "id") -> tuple[dict[str, int], list[Problem]]:
    seen: dict[str, int] = {}
    problems: list[Problem] = []
    for i, entry in entries:
        ident = entry.get(key)
        if not isinstance(ident, str):
            continue
        if ident in seen:
            problems.append(((*base, i, key), f"duplicate {kind} {key} {ident!r} "
                             f"(first defined as entry {seen[ident] + 1}); {key}s must be unique"))
        else:
            seen[ident] = i
    return seen, problems


def _ref(value: Any, known: Collection[str], at: Path, what: str) -> list[Problem]:
    """A problem when ``value`` names an id that is not in ``known``."""
    if isinstance(value, str) and value not in known:
        return [(at, f"unknown {what} {value!r}: expected one of the {what} ids")]
    return []


def check_site(data: Any, drivers: Collection[str]) -> list[Problem]:
    """Every whole-site problem of a site document."""
    if not isinstance(data, dict):
        return []
    problems: list[Problem] = []
    site = data.get("site")
    if isinstance(site, dict) and isinstance(site.get("timezone"), str):
        tz = site["timezone"]
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append((("site", "timezone"), f"unknown time zone {tz!r}: expected an IANA "
                             "name such as 'Europe/London' or 'America/New_York'"))

    known = sorted(drivers)
    if isinstance(data.get("drivers"), dict):
        for name in data["drivers"]:
            if name not in drivers:
                problems.append((("drivers", name), f"unknown driver {name!r}: expected one of "
                                 f"{', '.join(known)}"))

    spaces = _items(data.get("spaces"))
    space_ids, dup = _ids("space", spaces, ("spaces",))
    problems += dup
    for i, space in spaces:
        problems += _ref(space.get("parent"), space_ids, ("spaces", i, "parent"), "space")
    # Parent cycles: follow parents from each space.
    parents = {s["id"]: s.get("parent") for _, s in spaces if isinstance(s.get("id"), str)}
    for i, entry in spaces:
        start = entry.get("id")
        seen_chain = {start}
        node = parents.get(start)
        while isinstance(node, str) and node in parents:
            if node in seen_chain:
                problems.append((("spaces", i, "parent"),
                                 f"space {start!r} is inside itself (parent cycle)"))
                break
            seen_chain.add(node)
            node = parents.get(node)

    equipment = _items(data.get("equipment"))
    equip_ids, dup = _ids("equipment", equipment, ("equipment",))
    problems += dup
    for i, equip in equipment:
        problems += _ref(equip.get("space"), space_ids, ("equipment", i, "space"), "space")
        feeds = equip.get("feeds")
        if isinstance(feeds, list | tuple):
            for j, target in enumerate(feeds):
                problems += _ref(target, equip_ids, ("equipment", i, "feeds", j), "equipment")
        points = _items(equip.get("points"))
        _, dup = _ids("point", points, ("equipment", i, "points"), key="name")
        problems += dup
        for j, point in points:
            problems += _check_point(point, ("equipment", i, "points", j), drivers, known)
    return problems


def _check_point(point: dict[str, Any], at: Path, drivers: Collection[str],
                 known: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    unit = point.get("unit")
    if isinstance(unit, str) and lookup(unit) is None:
        hint = close_matches(unit)
        problems.append(((*at, "unit"), f"unknown unit {unit!r}"
                         + (f": did you mean {' or '.join(map(repr, hint))}?" if hint else
                            ": see docs/configuration.md for the list of units")))
    binding = point.get("binding")
    if isinstance(binding, str):
        try:
            parsed = parse_binding(binding)
        except BindingError as err:
            problems.append(((*at, "binding"), str(err)))
        else:
            if parsed.scheme not in drivers:
                problems.append(((*at, "binding"), f"unknown driver {parsed.scheme!r} in binding: "
                                 f"expected one of {', '.join(known)}"))
    kind = point.get("kind", "number")
    default = point.get("relinquish_default")
    if default is not None:
        states = point.get("states")
        if kind == "number" and (isinstance(default, bool) or not isinstance(default, int | float)):
            problems.append(((*at, "relinquish_default"),
                             f"a number point needs a number here, not {default!r}"))
        elif kind == "bool" and not isinstance(default, bool):
            problems.append(((*at, "relinquish_default"),
                             f"a bool point needs true or false here, not {default!r}"))
        elif kind == "enum" and isinstance(states, list | tuple) and default not in states:
            problems.append(((*at, "relinquish_default"),
                             f"{default!r} is not one of this point's states: {', '.join(states)}"))
    if kind != "number" and isinstance(point.get("limits"), dict):
        lim = point["limits"]
        if lim.get("min") is not None or lim.get("max") is not None:
            problems.append(((*at, "limits"), f"min/max limits only apply to number points, "
                             f"not {kind}"))
    return problems
