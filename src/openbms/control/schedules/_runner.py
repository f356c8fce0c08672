"""Running schedules: apply each schedule's value when it changes, on an injected clock."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from openbms.control.schedules._engine import Calendars, next_transition, same_value, value_at
from openbms.model.calendar import Calendar
from openbms.model.sample import Value
from openbms.model.schedule import Schedule
from openbms.runtime.clock import Clock

__all__ = ["ApplyFn", "ScheduleRunner"]

logger = logging.getLogger(__name__)

#: ``apply(schedule, value, ts)``: write ``value`` (None: release) at the schedule's priority.
ApplyFn = Callable[[Schedule, Value, float], object]

@dataclass(slots=True)
class _State:
    applied: Value = None  # the value last applied…
    started: bool = False  # …once one has been
    due: float | None = None  # when to look at the schedule again
    failing: bool = False


class ScheduleRunner:
    """Applies every schedule's current value at start and each change of value after.

    It knows nothing of the arbiter: ``apply(schedule, value, ts)`` is called
    with the new value (None to release the schedule's priority slot) and
    the clock time it is applied at. ``apply`` must not block; an exception
    from it is logged once and the value is applied again on later ticks
    (every ``retry`` seconds under :meth:`run`) until it succeeds.

    Drive it with :meth:`run` (sleeps on the clock until the next change), or
    call :meth:`tick` periodically. A tick applies, per schedule, only the
    value in force now: after a jump of the clock, or a long pause, stale
    intermediate values are skipped. ``timezones`` maps site ids to their
    time zones, for schedules that have none of their own.
    """

    def __init__(self, schedules: Iterable[Schedule], calendars: Calendars, clock: Clock,
                 apply: ApplyFn, *, timezones: Mapping[str, str] | None = None,
                 max_sleep: float = 60.0, retry: float = 30.0) -> None:
        self._schedules = list(schedules)
        self._calendars: dict[str, Calendar] = (dict(calendars) if isinstance(calendars, Mapping)
                                                else {c.id: c for c in calendars})
        self._clock = clock
        self._apply = apply
        self._max_sleep = max_sleep
        self._retry = retry
        self._tz: dict[str, str] = {}
        seen: set[str] = set()
        for schedule in self._schedules:
            if schedule.id in seen:
                raise ValueError(f"schedule {schedule.id!r} is given twice")
            seen.add(schedule.id)
            tz = schedule.timezone or (timezones or {}).get(schedule.site)
            if tz is None:
                raise ValueError(f"schedule {schedule.id!r} has no time zone and none is given for "
                                 f"its site {schedule.site!r}")
            self._tz[schedule.id] = tz
            for _, ref in schedule.calendar_refs():
                if ref not in self._calendars:
                    raise ValueError(f"schedule {schedule.id!r} refers to unknown calendar {ref!r}")
        self._state = {s.id: _State() for s in self._schedules}
        self._last: float | None = None

    @property
    def schedules(self) -> list[Schedule]:
        """The schedules run."""
        return list(self._schedules)

    def tick(self, now: float | None = None) -> list[tuple[Schedule, Value]]:
        """Apply what changed since the last tick (everything on the first); returns what was applied.

        Idempotent: a second tick at the same time applies nothing.
        """
        if now is None:
            now = self._clock.now()
        went_back = self._last is not None and now < self._last
        applied: list[tuple[Schedule, Value]] = []
        for schedule in self._schedules:
            state = self._state[schedule.id]
            if not went_back and state.due is not None and now < state.due:
                continue
            tz = self._tz[schedule.id]
            value, _ = value_at(schedule, now, self._calendars, timezone=tz)
            if not state.started or not same_value(state.applied, value):
                if self._call(schedule, value, now, state):
                    applied.append((schedule, value))
                else:
                    state.due = now + self._retry
                    continue
            upcoming = next_transition(schedule, now, self._calendars, timezone=tz)
            state.due = upcoming.ts if upcoming is not None else now + 400 * 86400.0
        self._last = now
        return applied

    def next_due(self) -> float | None:
        """When the next tick has something to do (None before the first tick)."""
        dues = [s.due for s in self._state.values() if s.due is not None]
        return min(dues) if dues and self._last is not None else None

    async def run(self) -> None:
        """Tick now and at every change of value, sleeping on the clock in between; runs until cancelled.

        Sleeps are at most ``max_sleep`` seconds, so a wall clock set forward
        or back is noticed within that time.
        """
        while True:
            now = self._clock.now()
            self.tick(now)
            due = self.next_due()
            delay = self._max_sleep if due is None else min(max(due - now, 0.0), self._max_sleep)
            await self._clock.sleep(delay)

    def _call(self, schedule: Schedule, value: Value, now: float, state: _State) -> bool:
        try:
            self._apply(schedule, value, now)
        except Exception:
            if not state.failing:
                logger.exception("schedule %r: applying %r failed; retrying", schedule.id, value)
            state.failing = True
            return False
        if state.failing:
            logger.info("schedule %r: applying works again (%r applied)", schedule.id, value)
        state.failing = False
        state.applied = value
        state.started = True
        return True
