"""A site file: the building (:class:`SiteConfig`) plus its supervisory control.

The building's description (site, drivers, spaces, equipment, points) is the
core model; a site file may also carry what runs on it: holiday
``calendars``, ``schedules``, ``alarms`` and alarm ``notifications``. They
live in the same file so that a site is configured as code in one place, and
are checked against the site's points when the file loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from openbms.alarms.notify import NotificationsConfig
from openbms.alarms.rules import AlarmRule, check_rules
from openbms.control.programs import (
    ProgramError,
    ProgramIssue,
    catalog_from_sites,
    parse_program,
    validate_program,
)
from openbms.control.schedules import Calendar, Schedule
from openbms.model.site import SiteConfig

__all__ = ["SiteFile", "check_control"]

Problem = tuple[tuple[str | int, ...], str]


class SiteFile(SiteConfig):
    """A whole site file, control sections included."""

    calendars: tuple[Calendar, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    alarms: tuple[AlarmRule, ...] = ()
    notifications: NotificationsConfig = NotificationsConfig()
    programs: tuple[str, ...] = Field(
        default=(), description="logic program files (JSON), relative to this file")
    _source: Path | None = PrivateAttr(default=None)

    def program_paths(self) -> list[Path]:
        """The program files, resolved against the site file's folder."""
        base = self._source.parent if self._source is not None else Path.cwd()
        return [base / p for p in self.programs]

    @model_validator(mode="before")
    @classmethod
    def _schedules_belong_to_the_site(cls, data: Any) -> Any:
        """A schedule in a site file need not repeat ``site:``; it is the file's site."""
        if not isinstance(data, dict):
            return data
        site = data.get("site")
        schedules = data.get("schedules")
        if isinstance(site, dict) and isinstance(schedules, list):
            data = dict(data)
            data["schedules"] = [{"site": site.get("id"), **s} if isinstance(s, dict) and "site" not in s
                                 else s for s in schedules]
        return data


def check_control(cfg: SiteFile) -> list[Problem]:
    """What needs the whole file: references between schedules, calendars, alarms and points."""
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
            elif not point.writable:
                problems.append((where, f"schedule '{sched.id}' targets '{target}', which is not "
                                 "writable"))
            elif point.kind != sched.kind:
                problems.append((where, f"schedule '{sched.id}' is a {sched.kind} schedule but "
                                 f"'{target}' is a {point.kind} point"))
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
