"""Schedule configuration (pydantic v2): what a schedule says, not what it does.

The shapes follow BACnet's Schedule object: a weekly list of time→value
events per weekday and exceptions for special days (their date rules and the
shared calendars are in ``openbms.model.calendar``). Evaluation and running
live in ``openbms.control.schedules``; these models only check that a
document makes sense.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import (
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails

from openbms.model.calendar import WEEKDAYS, Calendar, CalendarRef, WhenRule, _error, _Strict
from openbms.model.fields import Id, PointKind, value_problem
from openbms.model.sample import Value

__all__ = [
    "Event",
    "Schedule",
    "ScheduleDocument",
    "ScheduleException",
    "Weekly",
    "load_schedules",
]

PointId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*){2}$")]

_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


# ----------------------------------------------------------------------------------- values, times


def _scalar_value(value: Any) -> Value:
    """A schedule value is a JSON scalar; which scalar is checked against the schedule's kind.

    A number is finite and within ±``MAX_VALUE``: a schedule's values go to devices.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        problem = value_problem(value)
        if problem is not None:
            raise _error("schedule_value", problem)
        return value
    raise _error("schedule_value", "a value must be a number, true/false, a state (number or text) "
                 f"or null to release, not {type(value).__name__}")


ScheduleValue = Annotated[Value, PlainValidator(_scalar_value), WithJsonSchema(
    {"type": ["number", "boolean", "string", "null"], "description": "null releases"})]


def _parse_time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value.replace(microsecond=0)
    if isinstance(value, int) and not isinstance(value, bool):
        # PyYAML reads an unquoted 19:00 as the base-60 number 1140.
        raise _error("event_time", f"the time is the number {value}: an unquoted time such as 19:00 is "
                     "read by YAML as a base-60 number; put times in quotes: '19:00'")
    if not isinstance(value, str):
        raise _error("event_time", f"expected a time 'HH:MM' or 'HH:MM:SS', not {type(value).__name__}")
    match = _TIME.match(value.strip())
    if match is None:
        raise _error("event_time", f"{value!r} is not a time: expected 'HH:MM' or 'HH:MM:SS'")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise _error("event_time", f"{value!r} is not a time of day: hours run 00-23, minutes and "
                     "seconds 00-59 (a day ends at 23:59:59; midnight is 00:00 of the next day)")
    return dt.time(hour, minute, second)


class Event(_Strict):
    """At ``time`` (wall clock, the schedule's time zone) the value becomes ``value``; null releases."""

    time: Annotated[dt.time, PlainValidator(_parse_time), WithJsonSchema(
        {"type": "string", "pattern": r"^\d{1,2}:\d{2}(:\d{2})?$", "examples": ["07:00", "19:30:00"]})]
    value: ScheduleValue = None

    @field_serializer("time")
    def _time_text(self, value: dt.time) -> str:
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")


class Weekly(_Strict):
    """The normal week: events for each weekday (a day without events carries the previous value on)."""

    monday: tuple[Event, ...] = ()
    tuesday: tuple[Event, ...] = ()
    wednesday: tuple[Event, ...] = ()
    thursday: tuple[Event, ...] = ()
    friday: tuple[Event, ...] = ()
    saturday: tuple[Event, ...] = ()
    sunday: tuple[Event, ...] = ()

    def day(self, weekday: int) -> tuple[Event, ...]:
        """The events of a weekday, 0 for Monday as ``date.weekday()``."""
        events: tuple[Event, ...] = getattr(self, WEEKDAYS[weekday])
        return events




class ScheduleException(_Strict):
    """Special days: on a day ``when`` matches, ``events`` replace the weekly events.

    (Named after BACnet's exception schedule; not a Python exception.) When
    several exceptions match a day, the lowest ``precedence`` wins, and of
    equal ones the first listed.
    """

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    when: WhenRule
    events: tuple[Event, ...] = ()
    precedence: int = 10


# ------------------------------------------------------------------------------------ schedules


def _check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _error("timezone", f"expected an IANA time zone name as text, not {value!r}")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _error("timezone", f"unknown time zone {value!r}: expected an IANA name such as "
                     "'Europe/London' or 'America/New_York'") from None
    return value


_EXPECTED = {"bool": "true or false", "number": "a number",
             "enum": "a state: its number (from 1, the first state), or its label as text"}


def _fits(kind: PointKind, value: Value) -> bool:
    if value is None:
        return True
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "number":
        return isinstance(value, int | float)
    # enum: state numbers count from 1 (BACnet's multi-state convention); 0 is no state
    return (isinstance(value, int) and value >= 1) or (isinstance(value, str) and value != "")


class Schedule(_Strict):
    """Values in time for a set of points, written into the arbiter at ``priority``.

    ``timezone`` is the wall clock of the events; without it the site's time
    zone is used. ``default`` holds when nothing is scheduled (null: release).
    """

    id: Id
    name: str = ""
    site: Id
    timezone: Annotated[str | None, PlainValidator(_check_timezone), WithJsonSchema(
        {"type": ["string", "null"], "description": "IANA time zone; the site's when null"})] = None
    kind: PointKind = "number"
    default: ScheduleValue = None
    priority: int = Field(default=12, ge=1, le=16)
    targets: tuple[PointId, ...] = ()
    weekly: Weekly = Weekly()
    exceptions: tuple[ScheduleException, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        problems: list[InitErrorDetails] = []

        def fail(loc: tuple[str | int, ...], value: Any, message: str, kind: str = "schedule") -> None:
            problems.append(InitErrorDetails(type=_error(kind, message), loc=loc, input=value))

        def check(loc: tuple[str | int, ...], value: Value) -> None:
            if not _fits(self.kind, value):
                fail(loc, value, f"{value!r} does not fit a {self.kind!r} schedule: expected "
                     f"{_EXPECTED[self.kind]}, or null to release", "value_kind")

        check(("default",), self.default)
        for day in WEEKDAYS:
            for i, event in enumerate(getattr(self.weekly, day)):
                check(("weekly", day, i, "value"), event.value)
        names: dict[str, int] = {}
        for j, exc in enumerate(self.exceptions):
            if exc.name in names:
                fail(("exceptions", j, "name"), exc.name, f"exception {exc.name!r} is listed twice "
                     f"(also exceptions[{names[exc.name]}]): names must be unique in a schedule")
            names.setdefault(exc.name, j)
            for i, event in enumerate(exc.events):
                check(("exceptions", j, "events", i, "value"), event.value)
        seen: set[str] = set()
        for i, target in enumerate(self.targets):
            if target.split("/", 1)[0] != self.site:
                fail(("targets", i), target, f"{target!r} is not a point of site {self.site!r}: "
                     f"a schedule commands points of its own site")
            elif target in seen:
                fail(("targets", i), target, f"{target!r} is listed twice")
            seen.add(target)
        if problems:
            raise ValidationError.from_exception_data("Schedule", problems)
        return self

    def calendar_refs(self) -> list[tuple[int, str]]:
        """``(exception index, calendar id)`` of each exception that uses a calendar."""
        return [(j, exc.when.calendar) for j, exc in enumerate(self.exceptions)
                if isinstance(exc.when, CalendarRef)]


class ScheduleDocument(_Strict):
    """A schedules file: ``{calendars: [...], schedules: [...]}``, checked as a whole."""

    calendars: tuple[Calendar, ...] = ()
    schedules: tuple[Schedule, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> ScheduleDocument:
        problems = _duplicates("calendars", (c.id for c in self.calendars))
        problems += _duplicates("schedules", (s.id for s in self.schedules))
        known = {c.id for c in self.calendars}
        for i, schedule in enumerate(self.schedules):
            for j, ref in schedule.calendar_refs():
                if ref not in known:
                    listing = ", ".join(sorted(known)) or "none are defined"
                    problems.append(InitErrorDetails(
                        type=_error("calendar_ref", f"unknown calendar {ref!r} (calendars: {listing})"),
                        loc=("schedules", i, "exceptions", j, "when", "calendar"), input=ref))
        if problems:
            raise ValidationError.from_exception_data("ScheduleDocument", problems)
        return self


def _duplicates(field: str, ids: Iterable[str]) -> list[InitErrorDetails]:
    first: dict[str, int] = {}
    problems = []
    for i, ident in enumerate(ids):
        if ident in first:
            problems.append(InitErrorDetails(type=_error("duplicate_id", f"id {ident!r} is used twice "
                                                         f"(also {field}[{first[ident]}])"),
                                             loc=(field, i, "id"), input=ident))
        first.setdefault(ident, i)
    return problems


def load_schedules(doc: Any) -> tuple[list[Schedule], list[Calendar]]:
    """Schedules and calendars from a YAML-derived ``{"calendars": [...], "schedules": [...]}``.

    Raises ``pydantic.ValidationError`` naming the field of every problem,
    including references to calendars the document does not define.
    """
    document = ScheduleDocument.model_validate({} if doc is None else doc)
    return list(document.schedules), list(document.calendars)
