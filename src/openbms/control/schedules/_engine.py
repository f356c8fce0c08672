"""Evaluating schedules: the value at an instant, and every change of value in a window.

Time is epoch seconds (UTC floats), as everywhere in openbms; wall-clock
event times are turned into instants in the schedule's time zone, one local
day at a time, so DST changes move nothing but the UTC offset.

Everything here is built on one idea: each local day contributes a list of
*assertions* (instant, value, why). At the day's first instant the value
carried over from earlier days is asserted, then each event of the day. The
value at ``t`` is the last assertion at or before ``t``; the transitions are
the assertions that change the value. Since both derive from the same
per-day lists, ``value_at`` and ``transitions`` always agree.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from openbms.model.calendar import Calendar, CalendarRef, When
from openbms.model.sample import Value
from openbms.model.schedule import Event, Schedule

__all__ = ["Calendars", "Transition", "next_transition", "transitions", "value_at"]

#: Calendars for evaluation: by id, or a plain list.
Calendars = Mapping[str, Calendar] | Iterable[Calendar]

#: How many earlier days a day looks at for the value it starts with.
CARRY_DAYS = 7
_DAY = dt.timedelta(days=1)
_MIDNIGHT = dt.time(0, 0)


@dataclass(frozen=True, slots=True)
class Transition:
    """From ``ts`` (epoch seconds, UTC) the schedule's value is ``value``.

    ``source`` says why: ``"weekly"``, ``"exception:<name>"`` or ``"default"``.
    """

    ts: float
    value: Value
    source: str


def value_at(schedule: Schedule, ts: float, calendars: Calendars = (), *,
             timezone: str | None = None) -> tuple[Value, Transition]:
    """The schedule's value at ``ts`` and why: the latest event at or before ``ts``.

    The transition returned is that event (possibly on an earlier day, when
    the value carries over), or a ``"default"`` one dated from the start of
    the local day when no event in the last seven days applies.
    ``timezone`` is the site's, used when the schedule has none.
    """
    ev = _Evaluator(schedule, calendars, timezone)
    day = ev.local_date(ts)
    current: Transition | None = None
    for at, reason in ev.assertions(day - _DAY, day + _DAY):
        if at > ts:
            break
        current = reason
    assert current is not None  # the first assertion is at the start of the day before
    return current.value, current


def transitions(schedule: Schedule, start: float, end: float, calendars: Calendars = (), *,
                timezone: str | None = None) -> list[Transition]:
    """Every change of value with ``start <= ts < end``, in time order.

    Only real changes: an event that repeats the value in force is not a
    transition, and of several events at the same instant the last listed
    wins. The value before the first transition is ``value_at(start)`` when
    there is no transition at ``start`` itself.
    """
    if end <= start:
        return []
    ev = _Evaluator(schedule, calendars, timezone)
    out: list[Transition] = []
    current: Value = None
    pending: tuple[float, Transition] | None = None  # the last assertion of the instant being read

    def settle() -> None:
        nonlocal current
        if pending is None:
            return
        at, reason = pending
        if at >= start and not same_value(reason.value, current):
            out.append(Transition(at, reason.value, reason.source))
        current = reason.value

    for at, reason in ev.assertions(ev.local_date(start) - _DAY, ev.local_date(end) + _DAY):
        if at >= end:
            break
        if pending is not None and at != pending[0]:
            settle()
        pending = (at, reason)
    settle()
    return out


def next_transition(schedule: Schedule, ts: float, calendars: Calendars = (), *,
                    timezone: str | None = None, horizon: float = 400 * 86400.0) -> Transition | None:
    """The first change of value strictly after ``ts``, or None within ``horizon`` seconds."""
    step = 14 * 86400.0
    start = ts
    while start < ts + horizon:
        end = min(start + step, ts + horizon)
        found = [t for t in transitions(schedule, start, end, calendars, timezone=timezone) if t.ts > ts]
        if found:
            return found[0]
        start = end
    return None


def same_value(a: Value, b: Value) -> bool:
    """Whether two values are the same command (1 and 1.0 are; True and 1, or 1 and "1", are not)."""
    # True == 1 in Python; a state 1 and a label "1" differ, as do a release and a zero.
    return (type(a) is type(b) and a == b) or (
        isinstance(a, int | float) and isinstance(b, int | float)
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


class _Evaluator:
    """One evaluation of one schedule: its time zone, its calendars, and a memo of its days."""

    def __init__(self, schedule: Schedule, calendars: Calendars, timezone: str | None) -> None:
        self.schedule = schedule
        name = schedule.timezone or timezone
        if name is None:
            raise ValueError(f"schedule {schedule.id!r} has no time zone: pass the site's "
                             "(timezone='Europe/London')")
        self.tz = ZoneInfo(name)
        self.calendars = dict(calendars) if isinstance(calendars, Mapping) else {c.id: c for c in calendars}
        self._days: dict[dt.date, tuple[tuple[Event, ...], str]] = {}
        self._sorted_weekly = [sorted(schedule.weekly.day(d), key=_event_time) for d in range(7)]
        self._sorted_exceptions = [tuple(sorted(e.events, key=_event_time)) for e in schedule.exceptions]

    def local_date(self, ts: float) -> dt.date:
        return dt.datetime.fromtimestamp(ts, self.tz).date()

    def day(self, day: dt.date) -> tuple[tuple[Event, ...], str]:
        """The events of a local day, in time order, and their source."""
        found = self._days.get(day)
        if found is None:
            best: tuple[int, int] | None = None
            for j, exc in enumerate(self.schedule.exceptions):
                if (best is None or (exc.precedence, j) < best) and self._matches(exc.when, day, exc.name):
                    best = (exc.precedence, j)
            if best is None:
                found = tuple(self._sorted_weekly[day.weekday()]), "weekly"
            else:
                j = best[1]
                found = self._sorted_exceptions[j], f"exception:{self.schedule.exceptions[j].name}"
            self._days[day] = found
        return found

    def _matches(self, when: When, day: dt.date, name: str) -> bool:
        if isinstance(when, CalendarRef):
            calendar = self.calendars.get(when.calendar)
            if calendar is None:
                raise LookupError(f"schedule {self.schedule.id!r}, exception {name!r}: unknown calendar "
                                  f"{when.calendar!r} (calendars given: {sorted(self.calendars) or 'none'})")
            return calendar.matches(day)
        return when.matches(day)

    def carried(self, day: dt.date) -> Transition:
        """The value a day starts with: the last event of the nearest earlier day that has events."""
        for back in range(1, CARRY_DAYS + 1):
            earlier = day - back * _DAY
            events, source = self.day(earlier)
            if events:
                last = events[-1]
                return Transition(self.instant(earlier, last.time), last.value, source)
        return Transition(self.instant(day, _MIDNIGHT), self.schedule.default, "default")

    def assertions(self, first: dt.date, last: dt.date) -> list[tuple[float, Transition]]:
        """``(instant, why)`` for each day from ``first`` to ``last``, in time order."""
        out: list[tuple[float, Transition]] = []
        day = first
        while day <= last:
            out.append((self.instant(day, _MIDNIGHT), self.carried(day)))
            events, source = self.day(day)
            for event in events:
                at = self.instant(day, event.time)
                out.append((at, Transition(at, event.value, source)))
            day += _DAY
        out.sort(key=lambda item: item[0])  # stable; only exotic zones are ever out of order
        return out

    def instant(self, day: dt.date, time: dt.time) -> float:
        """The epoch instant of a wall-clock time on a local day, DST-correct.

        An ambiguous time (the repeated hour when clocks go back) is its first
        occurrence. A time that does not exist (the hour skipped when clocks go
        forward) is the instant the clock jumps, so the event still happens
        that day, at the first moment after its time.
        """
        naive = dt.datetime.combine(day, time)
        first = naive.replace(tzinfo=self.tz)  # fold=0: the first of two, or after a gap
        ts = first.timestamp()
        if dt.datetime.fromtimestamp(ts, self.tz).replace(tzinfo=None) == naive:
            return ts
        # In a gap, fold=0 reads the time with the offset from before the jump (an instant after
        # it) and fold=1 with the offset from after (an instant before it). The jump is between.
        lo = math.floor(naive.replace(tzinfo=self.tz, fold=1).timestamp())
        hi = math.ceil(ts)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if dt.datetime.fromtimestamp(mid, self.tz).replace(tzinfo=None) >= naive:
                hi = mid
            else:
                lo = mid
        return float(hi)


def _event_time(event: Event) -> dt.time:
    return event.time

