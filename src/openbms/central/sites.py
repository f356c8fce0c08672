"""The sites the centre serves, built from the configurations its edges published.

An edge keeps control authority: its drivers, schedules, alarm rules and
programs run there, and only there. The centre's copy of a site keeps what the
API and the dashboard show (the site, its spaces, equipment and points with
their units, tags and history policies, calendars, energy settings and
tariffs) and drops the rest: no binding (the centre polls nothing), no
``mqtt:`` (it bridges nothing), no schedules, alarm rules, notifications or
programs, and no point is writable there: the centre's runtime holds no
priority array. A command made through the centre's API is queued for the edge
(``remote.py``), whose published configuration says which points it lets write. History keeps each
point's retention but not its change-of-value filter (``deadband``,
``max_interval``): the edge's bridge sends every sample of its bus, and the
centre keeps every sample it receives, whichever worker takes it (a filter's
state would be split among the workers of a shared subscription).

The centre has schedules and calendars of its own for a site (``CentralSites``): they are kept
in its folder as ``sites/SITE.yaml`` (``schedules:`` and ``calendars:`` only), edited there or
through the API, and merged into the copy. Its schedules target the points the edge lets write,
at priorities 9 to 16, and command them through the queue (``supervise.py``); a calendar of the
edge's is read, never changed, at the centre. Any other change to a site at the centre is
refused: the rest of its configuration is its edge's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from openbms.central.commands import MIN_PRIORITY
from openbms.central.remote import writable_points
from openbms.config.checks import Problem, check_control
from openbms.errors import ConfigError, ConfigIssue
from openbms.model.calendar import WEEKDAYS
from openbms.model.schedule import Schedule
from openbms.model.site import SiteConfig

__all__ = ["CentralSites", "central_site"]

#: The sections of a site the centre keeps of its own (``CentralSites``).
OWN = ("schedules", "calendars")

log = logging.getLogger(__name__)

#: What the edge runs and the centre does not.
_EDGE_ONLY = ("drivers", "mqtt", "schedules", "alarms", "notifications", "programs")
_WRITING = ("binding", "poll", "writable", "limits", "relinquish_default", "command")
#: A history policy's change-of-value filter (its retention stays).
_FILTER = ("deadband", "max_interval")


def _point(point: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in point.items() if k not in _WRITING}
    history = out.get("history")
    if isinstance(history, dict):
        out["history"] = {k: v for k, v in history.items() if k not in _FILTER}
    return out


def central_site(config: dict[str, Any], own: Mapping[str, Any] | None = None) -> SiteConfig:
    """The centre's copy of a published configuration, with the centre's ``own`` schedules and
    calendars when given; ValueError says what is wrong with it."""
    data = {k: v for k, v in config.items() if k not in _EDGE_ONLY}
    if own:
        edge = {c.get("id") for c in data.get("calendars") or () if isinstance(c, dict)}
        calendars = list(own.get("calendars") or ())
        for c in calendars:
            if isinstance(c, dict) and c.get("id") in edge:
                raise ValueError(f"calendar {c.get('id')!r} of the centre has the id of one of "
                                 "the edge's: give it another")
        data["calendars"] = [*(data.get("calendars") or ()), *calendars]
        data["schedules"] = list(own.get("schedules") or ())
    equipment = []
    for equip in data.get("equipment") or ():
        if not isinstance(equip, dict):
            equipment.append(equip)
            continue
        points = [_point(p) if isinstance(p, dict) else p for p in equip.get("points") or ()]
        equipment.append({**equip, "points": points})
    data["equipment"] = equipment
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as err:
        site = (config.get("site") or {}).get("id") if isinstance(config.get("site"), dict) else None
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ValueError(f"site {site!r}: its published configuration is not one this openbms "
                         f"reads: {where}: {first['msg']} ({err.error_count()} problem(s))") from None


class CentralSites:
    """The centre's copies of the served sites: what each edge published, with the centre's own
    schedules and calendars from ``folder/SITE.yaml`` (module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._published: dict[str, dict[str, Any]] = {}  # site → what its edge published
        self._broken: dict[str, str] = {}  # site → what is wrong with its own file of the centre

    def path(self, site: str) -> Path:
        return self.folder / f"{site}.yaml"

    def stamp(self, site: str) -> tuple[int, int] | None:
        """When the centre's own file of ``site`` last changed (None: it has none)."""
        try:
            st = self.path(site).stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _own(self, site: str) -> dict[str, Any] | None:
        """The centre's own sections of ``site``; ValueError says what is wrong with the file."""
        path = self.path(site)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as err:
            raise ValueError(f"cannot read it: {err.strerror}") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f"line {mark.line + 1}: " if mark is not None else ""
            raise ValueError(f"{at}not YAML ({getattr(err, 'problem', None) or err})") from None
        if doc is None:
            return None
        if not isinstance(doc, dict):
            raise ValueError("expected a mapping with 'schedules:' and 'calendars:'")
        other = sorted(str(k) for k in doc if k not in OWN)
        if other:
            raise ValueError(f"{', '.join(other)}: the centre keeps only {' and '.join(OWN)} of a "
                             "site (the rest is its edge's)")
        for key in OWN:
            if not isinstance(doc.get(key) or [], list):
                raise ValueError(f"{key}: expected a list")
        return doc

    def _merged(self, config: dict[str, Any], own: Mapping[str, Any]) -> SiteConfig:
        """The copy with ``own``, checked: schedules on points the edge lets write, at 9 to 16,
        not on a slot one of the edge's own schedules writes, and inside the point's limits."""
        merged = central_site(config, own)
        writable = writable_points(config)
        problems = check_control(merged, writable=writable.__contains__, min_priority=MIN_PRIORITY)
        problems += _against_the_edge(merged.schedules, config)
        if problems:
            first = ".".join(str(x) for x in problems[0][0])
            raise ValueError(f"{first}: {problems[0][1]}"
                             + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        return merged

    def build(self, config: dict[str, Any]) -> SiteConfig:
        """The copy of what an edge published, with the centre's own schedules and calendars; a
        ValueError when the edge's part cannot be read (the site is not served). A file of the
        centre's own that is wrong is said in the log and left as it is; the site is served
        without it."""
        copy = central_site(config)
        site = copy.site.id
        self._published[site] = config
        self._broken.pop(site, None)
        path = self.path(site)
        try:
            own = self._own(site)
            if own is not None:
                copy = self._merged(config, own)
        except ValueError as err:
            self._broken[site] = str(err)
            log.error("central: %s: the centre's schedules and calendars of site %s do not run: "
                      "%s (the file is left as it is)", path, site, err)
        return copy.with_source(path)

    def problems(self) -> list[str]:
        """The sites whose own file of the centre is wrong, each with what is wrong (their
        schedules of the centre do not run; health says so)."""
        return [f"{self.path(site)}: the centre's schedules and calendars of site {site} do not "
                f"run: {why}" for site, why in sorted(self._broken.items())]

    def write(self, running: SiteConfig, new: SiteConfig, path: Path) -> SiteConfig:
        """The runtime's ``write_site`` at the centre: keep the centre's own schedules and
        calendars of ``new`` in its file (the previous one as ``.bak``); a ConfigError refuses
        any other change, or a change to a calendar of the edge's."""
        site = new.site.id
        config = self._published.get(site)
        if config is None:
            raise ConfigError([ConfigIssue(str(path), 1, 1, f"site {site!r} is not served here")])

        def refuse(message: str) -> ConfigError:
            return ConfigError([ConfigIssue(str(path), 1, 1, message)])

        if site in self._broken:  # its schedules there are not served: a change would lose them
            raise refuse(f"the centre's own file of site {site!r} ({path.name}) is wrong "
                         f"({self._broken[site]}): fix it (or move it away) first; it is left as "
                         "it is")

        blank = {"schedules": (), "calendars": ()}
        if running.model_copy(update=blank) != new.model_copy(update=blank):
            raise refuse(f"site {site!r}: its configuration is its edge's; at the centre only the "
                         "centre's own schedules and calendars change (change the rest at the edge)")
        edge = {c.get("id") for c in config.get("calendars") or () if isinstance(c, dict)}
        before = {c.id: c for c in running.calendars}
        after = {c.id: c for c in new.calendars}
        for cid in sorted(str(c) for c in edge):
            if before.get(cid) != after.get(cid):
                raise refuse(f"calendar {cid!r} is the edge's (its published configuration): change "
                             "it at the edge")
        own = {"schedules": [s.model_dump(mode="json", exclude_defaults=True, by_alias=True)
                             for s in new.schedules],
               "calendars": [c.model_dump(mode="json", exclude_defaults=True, by_alias=True)
                             for c in new.calendars if c.id not in edge]}
        try:
            merged = self._merged(config, own)
        except ValueError as err:
            raise refuse(str(err)) from None
        text = (f"# The central openbms's own schedules and calendars of site {site}: the rest of\n"
                "# its configuration is its edge's. Written after a change through the API; the\n"
                f"# previous version is in {path.name}.bak. Comments are not kept.\n"
                + yaml.safe_dump(own, sort_keys=False, allow_unicode=True, width=100))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.new")
        tmp.write_text(text, encoding="utf-8")
        if path.exists():
            path.with_name(path.name + ".bak").write_bytes(path.read_bytes())
        os.replace(tmp, path)
        return merged.with_source(path)


def _values(schedule: Schedule) -> list[Any]:
    """Every value a schedule may command (its default, its weekly and special days' events)."""
    events = [e for day in WEEKDAYS for e in getattr(schedule.weekly, day)]
    events += [e for x in schedule.exceptions for e in x.events]
    return [schedule.default, *(e.value for e in events)]


def _against_the_edge(schedules: Sequence[Schedule], config: dict[str, Any]) -> list[Problem]:
    """What the centre's ``schedules`` would do against the edge: write a slot (point, priority)
    that one of the edge's own schedules writes (the two would release each other's value), or
    command a value outside the point's limits (the edge would refuse it at every renewal)."""
    slots: dict[tuple[str, int], str] = {}
    for edge in config.get("schedules") or ():
        priority = edge.get("priority", 12) if isinstance(edge, dict) else None
        if isinstance(priority, int) and isinstance(edge, dict):
            for target in edge.get("targets") or ():
                slots[(str(target), priority)] = str(edge.get("id"))
    limits: dict[str, tuple[float | None, float | None]] = {}
    sid = (config.get("site") or {}).get("id")
    for equip in config.get("equipment") or ():
        for point in (equip.get("points") or ()) if isinstance(equip, dict) else ():
            lim = point.get("limits") if isinstance(point, dict) else None
            if isinstance(lim, dict):
                limits[f"{sid}/{equip.get('id')}/{point.get('name')}"] = (lim.get("min"),
                                                                         lim.get("max"))
    problems: list[Problem] = []
    for i, schedule in enumerate(schedules):
        for j, target in enumerate(schedule.targets):
            edge_id = slots.get((target, schedule.priority))
            if edge_id is not None:
                problems.append((("schedules", i, "priority"), f"priority {schedule.priority} of "
                                 f"{target!r} is written by the edge's own schedule {edge_id!r}: "
                                 "choose another priority"))
            low, high = limits.get(target, (None, None))
            for value in _values(schedule):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                if (low is not None and value < low) or (high is not None and value > high):
                    problems.append((("schedules", i, "targets", j), f"{value!r} is outside the "
                                     f"limits of {target!r} at its edge ({low} to {high})"))
                    break
    return problems
