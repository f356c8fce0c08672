"""Date rules and holiday calendars (pydantic v2): which days a schedule's exception applies to.

A rule matches local dates (the schedule's time zone decides what "today"
is). The YAML shorthands, a bare date, ``"12-25"`` and ``"start..end"``, are
expanded here, and the rule class is picked from the keys present, so an
error names the field of the rule that is wrong rather than every member of
a union.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from openbms.model.fields import Id

__all__ = [
    "WEEKDAYS",
    "Calendar",
    "CalendarRef",
    "DateEntry",
    "DateRule",
    "DateSpec",
    "RangeRule",
    "RecurringRule",
    "Weekday",
    "When",
    "WhenRule",
]

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
#: Weekday names in ``date.weekday()`` order (Monday is 0).
WEEKDAYS: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})$")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29: Feb 29 matches in leap years


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _error(kind: str, message: str) -> PydanticCustomError:
    # Messages are used as templates by pydantic: keep braces out of them.
    return PydanticCustomError(kind, message)


def _weekday(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


WeekdayName = Annotated[Weekday, BeforeValidator(_weekday)]


class DateRule(_Strict):
    """One day: ``{date: 2026-12-25}``, or just ``2026-12-25``."""

    date: dt.date

    def matches(self, day: dt.date) -> bool:
        """Whether the rule holds on ``day``."""
        return day == self.date


class RangeRule(_Strict):
    """Every day from ``start`` to ``end``, both included; with ``weekdays``, only those weekdays."""

    start: dt.date
    end: dt.date
    weekdays: tuple[WeekdayName, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> RangeRule:
        if self.end < self.start:
            raise ValidationError.from_exception_data("RangeRule", [InitErrorDetails(
                type=_error("date_range", f"the range ends ({self.end}) before it starts ({self.start})"),
                loc=("end",), input=self.end.isoformat())])
        return self

    def matches(self, day: dt.date) -> bool:
        """Whether the rule holds on ``day``."""
        if not self.start <= day <= self.end:
            return False
        return not self.weekdays or WEEKDAYS[day.weekday()] in self.weekdays


class RecurringRule(_Strict):
    """A day that comes back every year (or every month when ``month`` is left out).

    Either a fixed day, ``{month: 12, day: 25}`` (or just ``12-25``), or a
    weekday of the month: ``{month: 5, weekday: monday, nth: -1}`` is the last
    Monday of May; ``nth`` is 1 to 5, or -1 for the last. Without ``nth``,
    every such weekday of the month matches.
    """

    month: int | None = Field(default=None, ge=1, le=12)
    day: int | None = Field(default=None, ge=1, le=31)
    weekday: WeekdayName | None = None
    nth: int | None = None

    @field_validator("nth")
    @classmethod
    def _nth_range(cls, value: int | None) -> int | None:
        if value is not None and value not in (1, 2, 3, 4, 5, -1):
            raise _error("nth", f"nth is {value}: expected 1 to 5 (first to fifth), or -1 for the last")
        return value

    @model_validator(mode="after")
    def _one_shape(self) -> RecurringRule:
        if (self.day is None) == (self.weekday is None):
            raise ValueError("a recurring date needs either 'day' (a fixed day of the month) or "
                             "'weekday' (with 'nth' for the first…fifth or -1 for the last), not both")
        if self.nth is not None and self.weekday is None:
            raise ValueError("'nth' needs a 'weekday'")
        if self.day is not None and self.month is not None and self.day > _DAYS_IN_MONTH[self.month - 1]:
            raise ValidationError.from_exception_data("RecurringRule", [InitErrorDetails(
                type=_error("day_of_month", f"month {self.month} has no day {self.day}"),
                loc=("day",), input=self.day)])
        return self

    def matches(self, day: dt.date) -> bool:
        """Whether the rule holds on ``day``."""
        if self.month is not None and day.month != self.month:
            return False
        if self.day is not None:
            return day.day == self.day
        if self.weekday is None or WEEKDAYS[day.weekday()] != self.weekday:
            return False
        if self.nth is None:
            return True
        if self.nth == -1:
            return (day + dt.timedelta(days=7)).month != day.month
        return (day.day - 1) // 7 == self.nth - 1


class CalendarRef(_Strict):
    """The days of a named calendar: ``{calendar: uk-holidays}``."""

    calendar: Id


DateSpec = DateRule | RangeRule | RecurringRule
When = DateSpec | CalendarRef

_RULE_HELP = ("expected a date (2026-12-25), a range (start, end), a recurring date (month and day, "
              "or month, weekday and nth) or a calendar (calendar: id)")


def _date_rule(value: Any, *, calendars: bool) -> Any:
    """Pick the rule class from the keys present (and expand the string shorthands)."""
    if isinstance(value, DateRule | RangeRule | RecurringRule | CalendarRef):
        return value
    if isinstance(value, dt.datetime):
        raise _error("date_rule", f"{value} has a time of day: expected a date such as 2026-12-25")
    if isinstance(value, dt.date):
        return DateRule(date=value)
    if isinstance(value, str):
        text = value.strip()
        if ".." in text:
            start, _, end = text.partition("..")
            return RangeRule.model_validate({"start": start.strip(), "end": end.strip()})
        if _ISO_DATE.match(text):
            return DateRule.model_validate({"date": text})
        if match := _MONTH_DAY.match(text):
            return RecurringRule.model_validate({"month": int(match[1]), "day": int(match[2])})
        raise _error("date_rule", f"{value!r} is not a date rule: {_RULE_HELP}")
    if not isinstance(value, dict):
        raise _error("date_rule", f"{_RULE_HELP}, not {type(value).__name__}")
    keys = set(value)
    if "calendar" in keys:
        if not calendars:
            raise _error("date_rule", "a calendar's entries are dates, ranges or recurring dates; "
                         "it cannot refer to another calendar")
        return CalendarRef.model_validate(value)
    if "date" in keys:
        return DateRule.model_validate(value)
    if keys & {"start", "end"}:
        return RangeRule.model_validate(value)
    if keys & {"month", "day", "weekday", "nth"}:
        return RecurringRule.model_validate(value)
    raise _error("date_rule", _RULE_HELP)


DateEntry = Annotated[DateSpec, BeforeValidator(lambda v: _date_rule(v, calendars=False))]
WhenRule = Annotated[When, BeforeValidator(lambda v: _date_rule(v, calendars=True))]


class Calendar(_Strict):
    """A named list of days (holidays, shutdowns) that schedules refer to by ``id``."""

    id: Id
    name: str = ""
    entries: tuple[DateEntry, ...] = ()

    def matches(self, day: dt.date) -> bool:
        """Whether ``day`` is in the calendar."""
        return any(entry.matches(day) for entry in self.entries)

    def dates(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """The days of the calendar from ``start`` to ``end``, both included."""
        days = (start + dt.timedelta(days=n) for n in range((end - start).days + 1))
        return [day for day in days if self.matches(day)]

