"""The alarm engine: rules watch samples, alarms go through their lifecycle, events go out.

::

                 condition                 acknowledge
    normal ───────────────▶ active-unacked ───────────▶ active-acked
      ▲                        │      ▲                      │
      │ acknowledge   cleared  │      │ condition again      │ cleared
      │                        ▼      │                      │
      └──────────────── returned-unacked                     │
      ▲                                                      │
      └──────────────────────────────────────────────────────┘

An event-type alarm (``change_of_state``) goes ``normal → active-unacked``
and back to ``normal`` when acknowledged. Shelving is a flag beside the
state: a shelved alarm still changes state, but its events carry
``shelved=True`` and no notification goes out for them. Shelving always
ends (at most ``max_shelve_s`` ahead), and when it ends, by an operator or
by expiry, with the alarm still active, a ``reannunciate`` event follows the
``unshelve`` one, so what was raised in silence is notified after all.

A service may also raise and clear alarms of its own (``raise_external``,
``clear_external``: anomaly detection's, source ``analytics``): they have no
rule and no tracker, but the same lifecycle, acknowledgement, shelving,
notes, events and snapshot as a rule's alarm, and carry their evidence in
``context``.

The engine is fed batches of samples (``feed``, the bus callback) and ticked
(``tick``) for what depends on time alone: delays, silence, the end of a
flapping hold, shelving expiry. Both are synchronous and cheap: rules are
indexed by point id, a sample costs a dict lookup and a comparison, and
nothing is logged or validated per sample. Time comes from the injected
clock (not from sample timestamps, which a device's clock may skew), so a
delay measured by ``feed`` and one measured by ``tick`` agree.

Messages are written for people: given the site's points (``texts``, from
:func:`point_texts`), ``{point}`` is the point's display name and ``{value}``,
``{limit}`` and ``{deadband}`` are rounded to its precision with its unit
("Zone temperature is 15.3 °C, below the limit 16.0 °C"); a template that
gives a format of its own (``{value:.3f}``) gets the plain number.
"""

from __future__ import annotations

import logging
import math
import string
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from openbms.errors import OpenBMSError
from openbms.model.alarm import (
    AlarmRule,
    ChangeOfStateRule,
    CommRule,
    ExpressionRule,
    HighLimitRule,
    LowLimitRule,
    StateRule,
)
from openbms.model.fields import state_number
from openbms.model.sample import OK, OVERRIDDEN, Sample, Value
from openbms.model.site import SiteConfig
from openbms.model.units import unit_symbol
from openbms.runtime.clock import Clock

__all__ = [
    "ACTIVE_ACKED",
    "ACTIVE_UNACKED",
    "ALARM_STATES",
    "NORMAL",
    "RETURNED_UNACKED",
    "RULE_SOURCE",
    "Alarm",
    "AlarmEngine",
    "AlarmError",
    "AlarmEvent",
    "Note",
    "PointText",
    "Transition",
    "point_texts",
]

log = logging.getLogger(__name__)

NORMAL = "normal"
ACTIVE_UNACKED = "active-unacked"
ACTIVE_ACKED = "active-acked"
RETURNED_UNACKED = "returned-unacked"
ALARM_STATES = (NORMAL, ACTIVE_UNACKED, ACTIVE_ACKED, RETURNED_UNACKED)
_ACTIVE = frozenset({ACTIVE_UNACKED, ACTIVE_ACKED})
_GOOD = frozenset({OK, OVERRIDDEN})  # statuses whose value can be trusted

SNAPSHOT_VERSION = 1
#: The longest an alarm may be shelved by default: shelving is for a job in hand, not for ever.
MAX_SHELVE_S = 7 * 86400.0
#: The ``source`` of an alarm raised by a rule (any other is an external alarm's raiser).
RULE_SOURCE = "rule"
#: A rule whose evaluation fails is logged at most this often (seconds of the engine's clock).
RULE_ERROR_LOG_S = 300.0


class AlarmError(OpenBMSError):
    """An alarm operation was refused: unknown alarm, nothing to acknowledge, bad shelving time."""


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """Something happened to an alarm; what the lead persists and pushes to clients.

    ``action`` is one of ``raise`` (normal → active), ``reactivate`` (returned
    → active before an acknowledgement), ``return`` (the condition cleared),
    ``repeat`` (an event-type alarm fired again before it was acknowledged),
    ``flapping`` (the flapping guard now holds the alarm), ``ack``, ``note``,
    ``shelve``, ``unshelve`` and ``reannunciate`` (shelving ended while the
    alarm is active: notified like a ``raise``). For the last six and
    ``flapping``, ``from_state == to_state`` unless an acknowledgement ended
    the alarm.
    """

    alarm_id: str
    rule_id: str
    point: str
    ts: float
    action: str
    from_state: str
    to_state: str
    value: Value
    message: str
    who: str | None = None
    note: str | None = None
    priority: int = 100
    alarm_class: str = ""
    shelved: bool = False
    flap_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Transition:
    """One line of an alarm's history."""

    ts: float
    action: str
    from_state: str
    to_state: str
    value: Value = None
    who: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Note:
    """A note an operator added to an alarm."""

    ts: float
    who: str
    text: str


@dataclass(slots=True)
class Alarm:
    """The alarm of one rule: its state and what happened to it. ``get`` and ``active`` return copies."""

    id: str
    rule_id: str
    point: str
    name: str
    priority: int
    alarm_class: str
    event_type: bool = False
    state: str = NORMAL
    value: Value = None
    message: str = ""
    active_since: float | None = None
    changed_ts: float | None = None
    acked_by: str | None = None
    acked_ts: float | None = None
    shelved_until: float | None = None
    shelved_by: str | None = None
    shelve_reason: str | None = None
    flapping: bool = False
    flap_count: int = 0
    count: int = 0
    notes: list[Note] = field(default_factory=list)
    history: deque[Transition] = field(default_factory=deque)
    #: ``rule`` for a rule's alarm; else the service that raises it (``raise_external``).
    source: str = RULE_SOURCE
    #: What an external alarm's raiser gave as evidence (JSON-able); None for a rule's alarm.
    context: dict[str, Any] | None = None

    @property
    def shelved(self) -> bool:
        """True while shelved."""
        return self.shelved_until is not None

    @property
    def active(self) -> bool:
        """True while the alarm is anything but normal."""
        return self.state != NORMAL

    def copy(self) -> Alarm:
        """A copy that the caller may keep and change."""
        return Alarm(**{f: getattr(self, f) for f in _ALARM_FIELDS if f not in ("notes", "history")},
                     notes=list(self.notes), history=deque(self.history, maxlen=self.history.maxlen))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the API's view, and part of the engine's snapshot)."""
        d = {f: getattr(self, f) for f in _ALARM_FIELDS if f not in ("notes", "history")}
        d["shelved"] = self.shelved
        d["notes"] = [asdict(n) for n in self.notes]
        d["history"] = [asdict(t) for t in self.history]
        return d


_ALARM_FIELDS = tuple(Alarm.__dataclass_fields__)
_RESTORED = ("state", "value", "message", "active_since", "changed_ts", "acked_by", "acked_ts",
             "shelved_until", "shelved_by", "shelve_reason", "flapping", "flap_count", "count", "context")


class _Message(dict[str, Any]):
    """Template fields; a field without a value renders as a dash."""

    def __missing__(self, key: str) -> str:
        return "-"


@dataclass(frozen=True, slots=True)
class PointText:
    """How a point reads in a message: its display name, its decimals and its unit's symbol."""

    name: str
    decimals: int
    unit: str
    states: tuple[str, ...] = ()  # an enum point's labels: state 1 first


def point_texts(site: SiteConfig) -> dict[str, PointText]:
    """The :class:`PointText` of every point of ``site``, by id (built once per configuration)."""
    return {pid: PointText(p.label, p.decimals, unit_symbol(p.unit) if p.kind == "number" else "",
                           (p.states or ()) if p.kind == "enum" else ())
            for pid, _e, p in site.points()}


class _Quantity(float):
    """A number that writes itself rounded and with its unit ("15.3 °C") unless a format is given."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, value: float, decimals: int, unit: str) -> _Quantity:
        q = super().__new__(cls, value)
        number = f"{value:.{decimals}f}"
        q.text = number if not unit else f"{number}{unit}" if unit.startswith("%") else f"{number} {unit}"
        return q

    def __str__(self) -> str:
        return self.text

    def __format__(self, spec: str) -> str:
        return self.text if not spec else float(self).__format__(spec)


# ---------------------------------------------------------------------- trackers


class _Tracker:
    """Watches one rule: turns samples into a condition (True, False, or None for unknown)."""

    __slots__ = ("alarm", "cond", "due", "hold_until", "pending", "rule", "status", "toggles", "value")

    def __init__(self, rule: AlarmRule, alarm: Alarm) -> None:
        self.rule = rule
        self.alarm = alarm
        self.cond = False  # the condition in force (after delays)
        self.pending: bool | None = None  # a condition waiting for its delay
        self.due = 0.0
        self.hold_until: float | None = None  # the flapping guard's release time
        self.toggles: deque[float] = deque()
        self.status: str = OK
        self.value: Value = None  # the last trusted value seen

    def delays(self) -> tuple[float, float]:
        return getattr(self.rule, "on_delay_s", 0.0), getattr(self.rule, "off_delay_s", 0.0)

    def observe(self, s: Sample, engine: AlarmEngine) -> bool | None:
        """The raw condition this sample shows."""
        raise NotImplementedError

    def context(self, value: Value) -> _Message:
        r = self.rule
        return _Message(name=r.name or r.id, rule=r.id, point=r.display_point, value=value,
                        priority=r.priority, status=self.status, **{"class": r.alarm_class})


class _High(_Tracker):
    __slots__ = ("clear_below", "limit")

    def __init__(self, rule: HighLimitRule, alarm: Alarm) -> None:
        super().__init__(rule, alarm)
        self.limit = rule.limit
        self.clear_below = rule.limit - rule.deadband

    def observe(self, s: Sample, engine: AlarmEngine) -> bool | None:
        v = s[2]
        # A stale, offline or faulty value proves nothing: comm rules report those.
        if s[3] not in _GOOD or v is None or isinstance(v, str):
            return None
        self.value = v
        if v > self.limit:
            return True
        if v < self.clear_below:
            return False
        return self.cond  # inside the deadband nothing changes (and a pending change is cancelled)

    def context(self, value: Value) -> _Message:
        m = super().context(value)
        m.update(limit=self.limit, deadband=self.limit - self.clear_below)
        return m


class _Low(_High):
    __slots__ = ()

    def __init__(self, rule: LowLimitRule, alarm: Alarm) -> None:
        _Tracker.__init__(self, rule, alarm)
        self.limit = rule.limit
        self.clear_below = rule.limit + rule.deadband  # here: clear above

    def observe(self, s: Sample, engine: AlarmEngine) -> bool | None:
        v = s[2]
        if s[3] not in _GOOD or v is None or isinstance(v, str):
            return None
        self.value = v
        if v < self.limit:
            return True
        if v > self.clear_below:
            return False
        return self.cond

    def context(self, value: Value) -> _Message:
        m = _Tracker.context(self, value)
        m.update(limit=self.limit, deadband=self.clear_below - self.limit)
        return m


class _State(_Tracker):
    __slots__ = ("states",)

    def __init__(self, rule: StateRule, alarm: Alarm, labels: tuple[str, ...] = ()) -> None:
        super().__init__(rule, alarm)
        # (type, value) pairs, so that the state `1` never matches `true`. An enum point's
        # label also matches its state number (1 = the first), which is what devices report.
        states: set[tuple[type, Value]] = {(type(x), x) for x in rule.alarm_states}
        for x in rule.alarm_states:
            if isinstance(x, str) and (n := state_number(labels, x)) is not None:
                states.add((int, n))
        self.states = frozenset(states)

    def observe(self, s: Sample, engine: AlarmEngine) -> bool | None:
        v = s[2]
        if s[3] not in _GOOD or v is None:
            return None
        self.value = v
        if isinstance(v, float) and v.is_integer():
            v = int(v)  # enum states arrive as 2.0 from some protocols
        return (type(v), v) in self.states

    def context(self, value: Value) -> _Message:
        m = super().context(value)
        m["states"] = ", ".join(str(x) for x in getattr(self.rule, "alarm_states", ()))
        return m


class _ChangeOfState(_Tracker):
    __slots__ = ()

    def observe(self, s: Sample, engine: AlarmEngine) -> bool | None:
        v = s[2]
        if s[3] not in _GOOD or v is None:
            return None
        last, self.value = self.value, v
        if last is not None and v != last:
            engine._fire(self, v)
        return None


class _Comm(_Tracker):
    __slots__ = ("last_seen", "silence", "statuses")

    def __init__(self, rule: CommRule, alarm: Alarm, now: float) -> None:
        super().__init__(rule, alarm)
        self.statuses = frozenset(rule.statuses)
        self.silence = rule.silence_after
        self.last_seen = now

    def delays(self) -> tuple[float, float]:
        return getattr(self.rule, "delay_s", 0.0), 0.0

    def observe(self, s: Sample, engine: AlarmEngine) -> bool | None:
        self.last_seen = engine._now
        self.status = self.value = s[3]
        return s[3] in self.statuses

    def context(self, value: Value) -> _Message:
        m = super().context(value)
        m["delay"] = getattr(self.rule, "delay_s", 0.0)
        return m


class _Expression(_Tracker):
    __slots__ = ("expr",)

    def __init__(self, rule: ExpressionRule, alarm: Alarm) -> None:
        super().__init__(rule, alarm)
        self.expr = rule.compiled

    def observe(self, s: Sample, engine: AlarmEngine) -> bool | None:
        result = self.expr.evaluate(engine._values)
        return None if result is None else bool(result)

    def context(self, value: Value) -> _Message:
        m = super().context(value)
        m["expression"] = self.expr.text
        return m


# ---------------------------------------------------------------------- the engine


class AlarmEngine:
    """Evaluates alarm rules on samples and runs each alarm's lifecycle.

    ``on_event`` receives every :class:`AlarmEvent`, synchronously; it must be
    quick (queue the work) and an exception it raises is counted and logged,
    never propagated. Disabled rules are left out. ``max_shelve_s`` bounds
    how far ahead ``shelve`` may set the end of shelving. ``texts`` (from
    :func:`point_texts`) makes messages name points and round their values
    as people read them; without it they say ids and raw numbers.
    """

    def __init__(self, rules: Iterable[AlarmRule], clock: Clock,
                 on_event: Callable[[AlarmEvent], None] | None = None, *, history_limit: int = 100,
                 max_shelve_s: float = MAX_SHELVE_S, texts: Mapping[str, PointText] | None = None) -> None:
        if not (math.isfinite(max_shelve_s) and max_shelve_s > 0):
            raise ValueError(f"max_shelve_s must be a positive number of seconds, not {max_shelve_s!r}")
        self.max_shelve_s = max_shelve_s
        self._texts: Mapping[str, PointText] = texts or {}
        self._clock = clock
        self._on_event = on_event
        self._history_limit = history_limit
        self._now = clock.now()
        self._alarms: dict[str, Alarm] = {}
        self._trackers: dict[str, _Tracker] = {}
        self._by_point: dict[str, tuple[_Tracker, ...]] = {}
        self._comm: list[_Comm] = []
        self._values: dict[str, Value] = {}  # latest trusted values of points expressions read
        self._expr_points: frozenset[str] = frozenset()
        self._timed: dict[_Tracker, None] = {}  # trackers with a pending delay or a flapping hold
        self._shelved: dict[str, None] = {}
        self.samples = 0
        self.events = 0
        self.event_errors = 0
        self.rule_errors = 0  # evaluations that raised: counted, logged at most every RULE_ERROR_LOG_S
        self._rule_errors_logged = 0
        self._rule_error_logged_at: float | None = None
        index: dict[str, list[_Tracker]] = {}
        expr_points: set[str] = set()
        for rule in rules:
            if not rule.enabled:
                continue
            if rule.id in self._alarms:
                raise AlarmError(f"alarm rule '{rule.id}' is defined twice")
            alarm = Alarm(id=rule.id, rule_id=rule.id, point=rule.display_point, name=rule.name or rule.id,
                          priority=rule.priority, alarm_class=rule.alarm_class, event_type=rule.event_type,
                          history=deque(maxlen=history_limit))
            tracker = self._tracker(rule, alarm)
            self._alarms[rule.id] = alarm
            self._trackers[rule.id] = tracker
            for p in rule.points:
                index.setdefault(p, []).append(tracker)
            if isinstance(tracker, _Expression):
                expr_points.update(rule.points)
        self._by_point = {p: tuple(ts) for p, ts in index.items()}
        self._expr_points = frozenset(expr_points)

    def _tracker(self, rule: AlarmRule, alarm: Alarm) -> _Tracker:
        if isinstance(rule, HighLimitRule):
            return _High(rule, alarm)
        if isinstance(rule, LowLimitRule):
            return _Low(rule, alarm)
        if isinstance(rule, StateRule):
            text = self._texts.get(rule.point)
            return _State(rule, alarm, text.states if text is not None else ())
        if isinstance(rule, ChangeOfStateRule):
            return _ChangeOfState(rule, alarm)
        if isinstance(rule, CommRule):
            comm = _Comm(rule, alarm, self._now)
            self._comm.append(comm)
            return comm
        return _Expression(rule, alarm)

    # ------------------------------------------------------------------ input

    @property
    def points(self) -> frozenset[str]:
        """The point ids the rules read (what to subscribe to on the bus)."""
        return frozenset(self._by_point)

    def feed(self, samples: Sequence[Sample]) -> None:
        """Evaluate a batch of samples (the bus callback)."""
        by_point = self._by_point
        now = self._now = self._clock.now()
        expr_points = self._expr_points
        self.samples += len(samples)
        for s in samples:
            trackers = by_point.get(s[0])
            if trackers is None:
                continue
            if s[0] in expr_points:
                self._values[s[0]] = s[2] if s[3] in _GOOD else None
            for t in trackers:
                try:
                    self._condition(t, t.observe(s, self), now)
                except Exception as err:  # MemoryError and RecursionError too: one rule never stops a batch
                    self._rule_failed(t, err, now)

    def _rule_failed(self, t: _Tracker, err: Exception, now: float) -> None:
        """Count a rule whose evaluation raised; warn at most once every ``RULE_ERROR_LOG_S`` seconds."""
        self.rule_errors += 1
        last = self._rule_error_logged_at
        if last is not None and 0 <= now - last < RULE_ERROR_LOG_S:
            return
        since = self.rule_errors - self._rule_errors_logged
        self._rule_error_logged_at, self._rule_errors_logged = now, self.rule_errors
        log.warning("alarm rule '%s' could not be evaluated (%s: %s); its alarm is left as it was "
                    "(%d rule evaluation errors since the last warning, %d in all)",
                    t.rule.id, type(err).__name__, err, since, self.rule_errors)

    def tick(self, now: float | None = None) -> None:
        """Apply what time alone decides: delays, silence, flapping holds, shelving expiry."""
        now = self._now = self._clock.now() if now is None else now
        for t in list(self._timed):
            if t.pending is not None and now >= t.due:
                cond, t.pending = t.pending, None
                self._apply(t, cond, now)
            if t.hold_until is not None and now >= t.hold_until:
                t.hold_until = None
                if not t.cond:
                    self._clear(t, now)
            if t.pending is None and t.hold_until is None:
                self._timed.pop(t, None)
        for c in self._comm:
            if c.silence is not None and not c.cond and c.pending is not True \
                    and now - c.last_seen >= c.silence:
                c.status = c.value = "silent"
                self._apply(c, True, now)
        for alarm_id in list(self._shelved):
            alarm = self._alarms[alarm_id]
            if alarm.shelved_until is not None and now >= alarm.shelved_until:
                self._unshelve(alarm, "system", "shelving expired", now)

    async def run(self, interval: float = 1.0) -> None:
        """Tick every ``interval`` seconds of the engine's clock, until cancelled."""
        while True:
            self.tick()
            await self._clock.sleep(interval)

    # ------------------------------------------------------------------ conditions and lifecycle

    def _condition(self, t: _Tracker, raw: bool | None, now: float) -> None:
        if raw is None:  # unknown: hold what is in force, forget what was pending
            t.pending = None
            return
        if raw is t.cond:
            t.pending = None
            return
        if t.pending is raw:
            if now >= t.due:
                t.pending = None
                self._apply(t, raw, now)
            return
        on_delay, off_delay = t.delays()
        delay = on_delay if raw else off_delay
        if delay <= 0:
            self._apply(t, raw, now)
            return
        t.pending = raw
        t.due = now + delay
        self._timed[t] = None

    def _apply(self, t: _Tracker, cond: bool, now: float) -> None:
        """The condition in force changes (its delay, if any, has passed)."""
        t.cond = cond
        a = t.alarm
        flap = t.rule.flapping
        toggles = t.toggles
        if flap.enabled:
            toggles.append(now)
            while toggles and toggles[0] <= now - flap.window_s:
                toggles.popleft()
        value = self._value_of(t)
        if cond:
            if a.state in _ACTIVE:  # held by the flapping guard: one alarm, counted
                t.hold_until = None
                a.flap_count += 1
                a.value = value
                return
            a.value = value
            a.message = self._render(t, value)
            a.count += 1
            if a.state == NORMAL:
                a.active_since = now
                a.acked_by = a.acked_ts = None
                a.flapping = False
                a.flap_count = 0
                self._transition(a, "raise", ACTIVE_UNACKED, now)
            else:
                self._transition(a, "reactivate", ACTIVE_UNACKED, now)
            return
        if a.state not in _ACTIVE:
            return
        if flap.enabled and len(toggles) > flap.changes:
            if not a.flapping:
                a.flapping = True
                a.flap_count = len(toggles)
                self._transition(a, "flapping", a.state, now,
                                 note=f"{len(toggles)} changes within {flap.window_s:g} s")
            else:
                a.flap_count += 1
            t.hold_until = now + flap.window_s
            self._timed[t] = None
            return
        self._clear(t, now)

    def _clear(self, t: _Tracker, now: float) -> None:
        a = t.alarm
        if a.state not in _ACTIVE:
            return
        a.flapping = False
        a.value = self._value_of(t)
        self._transition(a, "return", RETURNED_UNACKED if a.state == ACTIVE_UNACKED else NORMAL, now)

    def _fire(self, t: _Tracker, value: Value) -> None:
        """An event-type alarm fires (a change of state)."""
        now = self._now
        a = t.alarm
        flap = t.rule.flapping
        a.value = value
        a.message = self._render(t, value)
        a.count += 1
        if a.state == NORMAL:
            t.toggles.clear()
            a.active_since = now
            a.acked_by = a.acked_ts = None
            a.flapping = False
            a.flap_count = 0
            self._transition(a, "raise", ACTIVE_UNACKED, now)
            return
        if flap.enabled:
            t.toggles.append(now)
            while t.toggles and t.toggles[0] <= now - flap.window_s:
                t.toggles.popleft()
            if len(t.toggles) >= flap.changes:
                if not a.flapping:
                    a.flapping = True
                    self._transition(a, "flapping", a.state, now,
                                     note=f"{len(t.toggles) + 1} changes within {flap.window_s:g} s")
                a.flap_count += 1
                return
        self._transition(a, "repeat", a.state, now)

    def _value_of(self, t: _Tracker) -> Value:
        if isinstance(t, _Expression):
            return self._values.get(t.rule.display_point)
        return t.value

    def _render(self, t: _Tracker, value: Value) -> str:
        template = t.rule.template
        ctx = t.context(value)
        text = self._texts.get(t.rule.display_point)
        if text is not None:
            ctx["point"] = text.name
            for key in ("value", "limit", "deadband"):
                v = ctx.get(key)
                if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                    ctx[key] = _Quantity(v, text.decimals, text.unit)
        try:
            return template.format_map(ctx)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            # A format spec that does not fit the value (``{value:.1f}`` of None): plain values.
            return "".join(text + ("" if f is None else str(ctx[f]))
                           for text, f, _, _ in string.Formatter().parse(template))

    def _transition(self, a: Alarm, action: str, to_state: str, now: float, *, who: str | None = None,
                    note: str | None = None) -> None:
        from_state = a.state
        a.state = to_state
        if from_state != to_state:
            a.changed_ts = now
        # empty text is none: the event reads the same once stored (empty text is how the table
        # keeps none) as when published
        who, note = who or None, note or None
        a.history.append(Transition(now, action, from_state, to_state, a.value, who, note))
        event = AlarmEvent(a.id, a.rule_id, a.point, now, action, from_state, to_state, a.value, a.message,
                           who, note, a.priority, a.alarm_class, a.shelved, a.flap_count)
        self.events += 1
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            self.event_errors += 1
            if self.event_errors == 1:  # once: a broken consumer would otherwise log per event
                log.exception("the alarm event consumer failed (counted in event_errors from now on)")

    # ------------------------------------------------------------------ operators

    def _alarm(self, alarm_id: str) -> Alarm:
        try:
            return self._alarms[alarm_id]
        except KeyError:
            raise AlarmError(f"no alarm '{alarm_id}'") from None

    def acknowledge(self, alarm_id: str, who: str, note: str | None = None) -> Alarm:
        """Acknowledge an unacknowledged alarm; returns it (a copy) in its new state."""
        a = self._alarm(alarm_id)
        now = self._now = self._clock.now()
        if a.state == ACTIVE_UNACKED:
            to_state = NORMAL if a.event_type else ACTIVE_ACKED
        elif a.state == RETURNED_UNACKED:
            to_state = NORMAL
        else:
            raise AlarmError(f"alarm '{alarm_id}' is {a.state}: there is nothing to acknowledge")
        a.acked_by, a.acked_ts = who, now
        if to_state == NORMAL:
            a.flapping = False
            t = self._trackers.get(alarm_id)  # an external alarm has none
            if a.event_type and t is not None:
                t.toggles.clear()
        self._transition(a, "ack", to_state, now, who=who, note=note)
        return a.copy()

    def add_note(self, alarm_id: str, who: str, note: str) -> None:
        """Add an operator's note to an alarm (in any state)."""
        a = self._alarm(alarm_id)
        now = self._now = self._clock.now()
        a.notes.append(Note(now, who, note))
        self._transition(a, "note", a.state, now, who=who, note=note)

    def shelve(self, alarm_id: str, until_ts: float, who: str, reason: str = "") -> None:
        """Shelve an alarm until ``until_ts``: it keeps its lifecycle but notifies no one.

        ``until_ts`` must be finite, in the future and at most ``max_shelve_s`` ahead (else ``AlarmError``).
        """
        a = self._alarm(alarm_id)
        now = self._now = self._clock.now()
        if not isinstance(until_ts, int | float) or not math.isfinite(until_ts):
            raise AlarmError(f"cannot shelve alarm '{alarm_id}' until {until_ts!r}: "
                             "give a time in Unix seconds")
        if until_ts <= now:
            raise AlarmError(f"cannot shelve alarm '{alarm_id}' until {until_ts}: that is not in the future")
        if until_ts - now > self.max_shelve_s:
            raise AlarmError(f"cannot shelve alarm '{alarm_id}' for {until_ts - now:.0f} s: at most "
                             f"{self.max_shelve_s:.0f} s ({self.max_shelve_s / 86400:g} days) at a time")
        a.shelved_until, a.shelved_by, a.shelve_reason = until_ts, who, reason
        self._shelved[alarm_id] = None
        self._transition(a, "shelve", a.state, now, who=who, note=reason)

    def unshelve(self, alarm_id: str, who: str, note: str | None = None) -> None:
        """End an alarm's shelving now."""
        a = self._alarm(alarm_id)
        if not a.shelved:
            raise AlarmError(f"alarm '{alarm_id}' is not shelved")
        self._unshelve(a, who, note, self._clock.now())

    def _unshelve(self, a: Alarm, who: str, note: str | None, now: float) -> None:
        a.shelved_until = a.shelved_by = a.shelve_reason = None
        self._shelved.pop(a.id, None)
        self._transition(a, "unshelve", a.state, now, who=who, note=note)
        if a.state in _ACTIVE:
            # Whatever was raised (or still stood) in silence is announced now that someone listens.
            self._transition(a, "reannunciate", a.state, now, who=who)

    # ------------------------------------------------------------------ views

    def get(self, alarm_id: str) -> Alarm:
        """One alarm (a copy); ``AlarmError`` when there is no such alarm."""
        return self._alarm(alarm_id).copy()

    def active(self) -> list[Alarm]:
        """Alarms not in ``normal`` (copies), most urgent first, then oldest first."""
        found = [a for a in self._alarms.values() if a.state != NORMAL]
        found.sort(key=lambda a: (a.priority, a.active_since or 0.0, a.id))
        return [a.copy() for a in found]

    def alarms(self) -> list[Alarm]:
        """Every alarm (copies), in rule order."""
        return [a.copy() for a in self._alarms.values()]

    def history(self, alarm_id: str) -> list[Transition]:
        """An alarm's latest transitions, oldest first (bounded by ``history_limit``)."""
        return list(self._alarm(alarm_id).history)

    def stats(self) -> dict[str, int]:
        """Counters for metrics."""
        return {"rules": len(self._trackers), "active": sum(a.state != NORMAL for a in self._alarms.values()),
                "shelved": len(self._shelved), "samples": self.samples, "events": self.events,
                "event_errors": self.event_errors, "rule_errors": self.rule_errors}

    # ------------------------------------------------------------------ persistence

    def snapshot(self) -> dict[str, Any]:
        """The engine's state as JSON-able data, for ``restore`` after a restart.

        Alarms in ``normal`` with no history are left out. Pending delays are
        not kept: the next samples start them again.
        """
        alarms: dict[str, Any] = {}
        for rule_id, a in self._alarms.items():
            if a.state == NORMAL and not a.history and not a.notes and not a.shelved:
                continue
            t = self._trackers.get(rule_id)
            d = a.to_dict()
            if t is not None:
                d["condition"] = t.cond
                d["hold_until"] = t.hold_until
                d["last_value"] = t.value
            alarms[rule_id] = d
        return {"version": SNAPSHOT_VERSION, "ts": self._clock.now(), "alarms": alarms}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back a ``snapshot``. Alarms of rules that no longer exist are ignored.

        Silence timers start again from now: a restart is not a loss of communication.
        """
        if state.get("version") != SNAPSHOT_VERSION:
            raise AlarmError(f"cannot restore an alarm snapshot of version {state.get('version')!r} "
                             f"(this openbms reads version {SNAPSHOT_VERSION})")
        now = self._now = self._clock.now()
        for rule_id, d in state.get("alarms", {}).items():
            a = self._alarms.get(rule_id)
            if a is None and d.get("source", RULE_SOURCE) != RULE_SOURCE:
                a = self._external(rule_id, d.get("source"), d.get("point"), d.get("name"), d.get("priority"),
                                   d.get("alarm_class"))
            if a is None:
                continue
            if d.get("state") not in ALARM_STATES:
                raise AlarmError(f"alarm snapshot: '{rule_id}' has an unknown state {d.get('state')!r}")
            for f in _RESTORED:
                if f in d:
                    setattr(a, f, d[f])
            a.notes = [Note(**n) for n in d.get("notes", ())]
            a.history = deque((Transition(**h) for h in d.get("history", ())), maxlen=self._history_limit)
            t = self._trackers.get(rule_id)
            if t is None:  # an external alarm: its state is all it has
                self._shelve_restored(a, rule_id, now)
                continue
            t.cond = bool(d.get("condition", a.state in _ACTIVE))
            t.value = d.get("last_value")
            t.pending = None
            t.toggles.clear()
            t.hold_until = d.get("hold_until")
            if t.hold_until is not None:
                self._timed[t] = None
            self._shelve_restored(a, rule_id, now)
        for c in self._comm:
            c.last_seen = now

    def _shelve_restored(self, a: Alarm, rule_id: str, now: float) -> None:
        if a.shelved:
            until = a.shelved_until
            if not isinstance(until, int | float) or not math.isfinite(until) \
                    or until - now > self.max_shelve_s:
                a.shelved_until = now + self.max_shelve_s  # a snapshot from before the limit existed
            self._shelved[rule_id] = None
        else:
            self._shelved.pop(rule_id, None)

    # ------------------------------------------------------------------ external alarms

    def _external(self, alarm_id: str, source: Any, point: Any, name: Any, priority: Any,
                  alarm_class: Any) -> Alarm:
        """The external alarm ``alarm_id``, made on first use."""
        a = self._alarms.get(alarm_id)
        if a is not None:
            if a.source == RULE_SOURCE:
                raise AlarmError(f"alarm '{alarm_id}' is a rule's: a service cannot raise or clear it")
            return a
        if not isinstance(source, str) or not source or source == RULE_SOURCE:
            raise AlarmError(f"external alarm '{alarm_id}': its source must name the service that raises it "
                             f"(such as 'analytics'), not {source!r}")
        if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 255:
            raise AlarmError(f"external alarm '{alarm_id}': priority must be a whole number from 1 "
                             f"(most urgent) to 255, not {priority!r}")
        a = Alarm(id=alarm_id, rule_id=alarm_id, point=str(point or ""), name=str(name or alarm_id),
                  priority=priority, alarm_class=str(alarm_class or ""), source=source,
                  history=deque(maxlen=self._history_limit))
        self._alarms[alarm_id] = a
        return a

    def raise_external(self, alarm_id: str, *, source: str, message: str, point: str = "", name: str = "",
                       priority: int = 100, alarm_class: str = "", value: Value = None,
                       context: Mapping[str, Any] | None = None) -> Alarm:
        """Raise (or raise again) an alarm that a service decides, not a rule: ``source`` names the
        service (``analytics``), ``context`` is its evidence (JSON-able). Returns it (a copy).

        A normal alarm goes active-unacked (``raise``); a returned one active-unacked again
        (``reactivate``); an active one keeps its state and takes the new message, value and
        context (a ``repeat`` event, so the new evidence is recorded and notified). The alarm
        then has the lifecycle of any other: acknowledge, shelve, note, ``clear_external``.
        """
        a = self._external(alarm_id, source, point, name, priority, alarm_class)
        now = self._now = self._clock.now()
        a.value = value
        a.message = message
        a.context = dict(context) if context is not None else None
        a.count += 1
        if a.state == NORMAL:
            a.active_since = now
            a.acked_by = a.acked_ts = None
            a.flapping = False
            a.flap_count = 0
            self._transition(a, "raise", ACTIVE_UNACKED, now)
        elif a.state == RETURNED_UNACKED:
            self._transition(a, "reactivate", ACTIVE_UNACKED, now)
        else:
            self._transition(a, "repeat", a.state, now)
        return a.copy()

    def clear_external(self, alarm_id: str, *, value: Value = None, note: str | None = None) -> Alarm | None:
        """The condition of an external alarm has gone: an active one returns (to returned-unacked,
        or to normal once acknowledged). Returns it (a copy); None when there is no such alarm."""
        a = self._alarms.get(alarm_id)
        if a is None:
            return None
        if a.source == RULE_SOURCE:
            raise AlarmError(f"alarm '{alarm_id}' is a rule's: a service cannot raise or clear it")
        if a.state in _ACTIVE:
            now = self._now = self._clock.now()
            a.value = value
            self._transition(a, "return", RETURNED_UNACKED if a.state == ACTIVE_UNACKED else NORMAL, now,
                             note=note)
        return a.copy()
