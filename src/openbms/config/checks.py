"""The checks of a site's supervisory control that need control behaviour.

A site (:class:`~openbms.model.site.SiteConfig`) carries what runs on it:
holiday ``calendars``, ``schedules``, ``alarms``, alarm ``notifications`` and
logic ``programs``. The model checks each entry on its own; what needs the
whole site, or the control packages, is checked here, for every site file
that loads and every change the API makes: references between schedules,
calendars, alarms and points, and the program files (parsed and validated
against the site's points).

``shared_driver_warnings`` looks across the sites of one folder: one process
runs one driver per scheme for all its sites, with the first site's settings,
so a later site whose ``drivers:`` entry differs has its settings ignored.

``graphics_warnings`` checks the saved layouts of the site's graphics
(``openbms.config.graphics``): a file naming an element, equipment or space
the generated drawing no longer has, or a malformed one, is a warning at its
file:line:column (``openbms check`` lists it); a layout never stops a site.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from openbms.alarms.rules import check_rules
from openbms.analytics.graphics import Graphic, Plan, graphic, plan
from openbms.config.graphics import EQUIPMENT_DIR, PLANS_DIR, graphics_dir, read_layout
from openbms.control.programs import (
    ProgramError,
    ProgramIssue,
    catalog_from_sites,
    parse_program,
    validate_program,
)
from openbms.errors import ConfigIssue
from openbms.model.calendar import WEEKDAYS
from openbms.model.fields import state_number
from openbms.model.schedule import Schedule
from openbms.model.site import SiteConfig

__all__ = ["check_control", "graphics_warnings", "shared_driver_warnings"]

Problem = tuple[tuple[str | int, ...], str]


def _enum_values(sched: Schedule, i: int, target: str, states: tuple[str, ...]) -> list[Problem]:
    """The values of an enum schedule that are not a state of ``target`` (a label or 1..N)."""
    values: list[tuple[tuple[str | int, ...], object]] = [(("default",), sched.default)]
    values += [(("weekly", day, k, "value"), e.value)
               for day in WEEKDAYS for k, e in enumerate(getattr(sched.weekly, day))]
    values += [(("exceptions", x, "events", k, "value"), e.value)
               for x, exc in enumerate(sched.exceptions) for k, e in enumerate(exc.events)]
    labels = ", ".join(repr(s) for s in states)
    return [(("schedules", i, *loc), f"{v!r} is not a state of '{target}': expected one of {labels}, "
             f"or its number (1 to {len(states)})")
            for loc, v in values if v is not None and state_number(states, v) is None]


def check_control(cfg: SiteConfig, *, writable: Callable[[str], bool] | None = None,
                  min_priority: int = 1) -> list[Problem]:
    """What needs the whole file: references between schedules, calendars, alarms and points.

    ``writable`` says which points a schedule may target (default: the file's ``writable``); a
    central openbms passes those its edges let write, and ``min_priority`` 9 (1 to 8 are the
    edge's own)."""
    problems: list[Problem] = []
    points = {pid: p for pid, _e, p in cfg.points()}
    calendars: dict[str, int] = {}
    for i, cal in enumerate(cfg.calendars):
        if cal.id in calendars:
            problems.append((("calendars", i, "id"), f"calendar id '{cal.id}' is used twice"))
        calendars.setdefault(cal.id, i)
    seen: dict[str, int] = {}
    for i, sched in enumerate(cfg.schedules):
        if sched.id in seen:
            problems.append((("schedules", i, "id"), f"schedule id '{sched.id}' is used twice "
                             f"(also schedules[{seen[sched.id]}])"))
        seen.setdefault(sched.id, i)
        if sched.priority < min_priority:
            problems.append((("schedules", i, "priority"), f"priority {sched.priority}: a schedule "
                             f"here commands at {min_priority} to 16 (1 to {min_priority - 1} stay "
                             "the edge's: life safety and its own operators)"))
        if sched.site != cfg.site.id:
            problems.append((("schedules", i, "site"), f"schedule '{sched.id}' is for site "
                             f"'{sched.site}', but this file describes '{cfg.site.id}'"))
        for j, ref in sched.calendar_refs():
            if ref not in calendars:
                known = ", ".join(sorted(calendars)) or "none are defined"
                problems.append((("schedules", i, "exceptions", j, "when", "calendar"),
                                 f"unknown calendar '{ref}' (calendars: {known})"))
        for j, target in enumerate(sched.targets):
            point = points.get(target)
            where = ("schedules", i, "targets", j)
            if point is None:
                problems.append((where, f"schedule '{sched.id}' targets unknown point '{target}'"))
            elif not (point.writable if writable is None else writable(target)):
                problems.append((where, f"schedule '{sched.id}' targets '{target}', which is not "
                                 "writable" + ("" if writable is None else " at its edge")))
            elif point.kind != sched.kind:
                problems.append((where, f"schedule '{sched.id}' is a {sched.kind} schedule but "
                                 f"'{target}' is a {point.kind} point"))
            elif point.kind == "enum":
                problems += _enum_values(sched, i, target, point.states or ())
    catalog = catalog_from_sites([cfg]) if cfg.programs else {}
    for i, path in enumerate(cfg.program_paths()):
        try:
            program = parse_program(path)
        except ProgramError as err:
            problems += [(("programs", i), _in_file(path, issue)) for issue in err.issues]
            continue
        except OSError as err:
            problems.append((("programs", i), f"cannot read the program file {path}: {err.strerror}"))
            continue
        problems += [(("programs", i), _in_file(path, issue))
                     for issue in validate_program(program, catalog)]
    for message in check_rules(cfg.alarms, points):
        index = next((i for i, r in enumerate(cfg.alarms) if f"'{r.id}'" in message), None)
        problems.append((("alarms", index) if index is not None else ("alarms",), message))
    return problems


def _in_file(path: Path, issue: ProgramIssue) -> str:
    """A program's problem as ``file:line: where: what`` (``file: where: what`` without a line)."""
    at = f"{path.name}:{issue.line}" if issue.line is not None else path.name
    return f"{at}: {issue.path}: {issue.message}"


def graphics_warnings(cfg: SiteConfig) -> list[ConfigIssue]:
    """The problems of the site's saved graphic layouts: the files the server reads, and those it does not.

    The server reads ``graphics/<site>/equipment/<equipment id>.yaml`` and
    ``graphics/<site>/plans/<space id>.yaml`` beside the site file; a ``.yml``
    file, or a layout file elsewhere in ``graphics/<site>/``, is a warning that
    it is not read.
    """
    folder = graphics_dir(cfg)
    if folder is None or not folder.is_dir():
        return []
    found: list[ConfigIssue] = []
    for path in sorted(folder.iterdir()):
        if path.suffix in (".yaml", ".yml") and not path.name.startswith("."):
            found.append(ConfigIssue(str(path), 1, 1, f"not read: a layout is "
                                     f"{EQUIPMENT_DIR}/<equipment id>.yaml or {PLANS_DIR}/<space id>.yaml "
                                     f"in this folder (move it there)"))
    for sub, find, expected in ((EQUIPMENT_DIR, graphic, "<equipment id>.yaml"),
                                (PLANS_DIR, plan, "<space id>.yaml")):
        where = folder / sub
        if not where.is_dir():
            continue
        for path in sorted(where.iterdir()):
            if path.name.startswith("."):
                continue
            if path.suffix == ".yml":
                found.append(ConfigIssue(str(path), 1, 1, "not read: name it .yaml"))
                continue
            if path.suffix != ".yaml":
                continue
            drawing: Graphic | Plan | None = find(cfg, path.stem)
            if drawing is None:
                what = "equipment" if sub == EQUIPMENT_DIR else "space"
                found.append(ConfigIssue(str(path), 1, 1, f"a saved layout of {what} {path.stem!r}, which "
                                         f"site {cfg.site.id!r} does not have: expected {sub}/{expected} "
                                         "(remove it, or rename it after a renamed one)"))
                continue
            found += read_layout(path, drawing.element_ids(), drawing.width, drawing.height).issues
    return found


def shared_driver_warnings(sites: Sequence[SiteConfig]) -> list[tuple[int, Problem]]:
    """Each later site (its index in ``sites``) whose ``drivers: NAME:`` differs from the first
    site's that has it: one process runs one driver per scheme, with the first site's settings
    (``Assembly.bindings``), so the later site's are not used."""
    first: dict[str, SiteConfig] = {}
    found: list[tuple[int, Problem]] = []
    for i, cfg in enumerate(sites):
        for name, settings in cfg.drivers.items():
            owner = first.setdefault(name, cfg)
            if owner is cfg or owner.drivers[name] == settings:
                continue
            found.append((i, (("drivers", name), (
                f"drivers: {name}: differs from site '{owner.site.id}' (the first with it): one openbms "
                f"process runs one {name} driver for all its sites, with the first site's settings, so "
                f"these are not used; give the sites the same {name} settings, or run each site in a "
                "process of its own"))))
    return found
