"""Schedules: weekly time→value events, exception days and holiday calendars, DST-correct.

Modelled on BACnet's Schedule and Calendar objects. A :class:`Schedule`
writes its value into the arbiter at its priority for each of its target
points; a null value releases that priority slot. Times are epoch seconds
(UTC floats); event times are wall clock in the schedule's (or site's) time
zone. See ``docs/schedules.md`` for the semantics and the YAML form.

- models and loading: :class:`Schedule`, :class:`Calendar`, :func:`load_schedules`, part of
  the site model (``openbms.model.schedule``, ``openbms.model.calendar``) and named here too
  because the functions below take them
- evaluation (pure): :func:`value_at`, :func:`transitions`, :func:`next_transition`
- running: :class:`ScheduleRunner`, driven by a clock
"""

from openbms.control.schedules._engine import Calendars, Transition, next_transition, transitions, value_at
from openbms.control.schedules._runner import ApplyFn, ScheduleRunner
from openbms.model.calendar import Calendar, CalendarRef, DateRule, RangeRule, RecurringRule
from openbms.model.schedule import (
    Event,
    Schedule,
    ScheduleDocument,
    ScheduleException,
    Weekly,
    load_schedules,
)

__all__ = [
    "ApplyFn",
    "Calendar",
    "CalendarRef",
    "Calendars",
    "DateRule",
    "Event",
    "RangeRule",
    "RecurringRule",
    "Schedule",
    "ScheduleDocument",
    "ScheduleException",
    "ScheduleRunner",
    "Transition",
    "Weekly",
    "load_schedules",
    "next_transition",
    "transitions",
    "value_at",
]
