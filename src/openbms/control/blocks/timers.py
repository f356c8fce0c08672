"""Timers: on-delay, off-delay, pulse, and the value delay that lets feedback loops through.

Time comes only from ``now``. For ``delay_on`` and ``delay_off`` an unknown
input counts as false (a condition that cannot be confirmed is not held
true); ``pulse`` ignores unknown inputs when looking for a rising edge. A
clock stepped back counts as no time passing: each timer keeps what it had
already counted (``Block._shift``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar

import pydantic

from openbms.control.blocks.base import (
    Block,
    BlockParams,
    Port,
    Value,
    as_bool,
    as_number,
    param_unit,
    shifted,
)

__all__ = ["Delay", "DelayOff", "DelayOn", "Pulse"]


class TimerParams(BlockParams):
    """``t``: the delay in seconds."""

    t: float = pydantic.Field(ge=0, description="the delay", json_schema_extra=param_unit("s"))


class PulseParams(BlockParams):
    """``t``: the pulse length in seconds; ``retrigger``: a new edge during a pulse restarts it."""

    t: float = pydantic.Field(gt=0, description="the pulse length", json_schema_extra=param_unit("s"))
    retrigger: bool = pydantic.Field(False, description="a new rising edge during a pulse restarts it")


class DelayParams(BlockParams):
    """Parameters of ``delay``."""

    t: float = pydantic.Field(0.0, ge=0, description="the delay; 0 = the previous step's input",
                             json_schema_extra=param_unit("s"))
    initial: Value = pydantic.Field(None, description="output before any delayed input is available")
    max_samples: int = pydantic.Field(10_000, ge=1, description="input history kept for t > 0")


def _remaining(t: float, since: float | None, now: float) -> float | None:
    """Seconds a timer started at ``since`` still runs at ``now`` (None: not running)."""
    return None if since is None else max(0.0, t - (now - since))


class DelayOn(Block):
    """``out`` turns true once ``x`` has been true for ``t`` seconds, and false as soon as ``x`` is not."""

    kind: ClassVar[str] = "delay_on"
    inputs: ClassVar[dict[str, Port]] = {"x": Port("bool")}
    outputs: ClassVar[dict[str, Port]] = {"out": Port("bool")}
    time_based: ClassVar[bool] = True
    Params: ClassVar[type[BlockParams]] = TimerParams

    params: TimerParams

    def _reset(self) -> None:
        self._since: float | None = None

    def _shift(self, delta: float) -> None:
        self._since = shifted(self._since, delta)

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        if inputs["x"] is not True:
            self._since = None
            return {"out": False}
        if self._since is None:
            self._since = now
        return {"out": now - self._since >= self.params.t}

    def _state(self) -> dict[str, Value]:
        return {"since": self._since}

    def _inspect(self, now: float) -> dict[str, Value]:
        return {"since": self._since, "remaining_s": _remaining(self.params.t, self._since, now)}

    def _restore(self, state: Mapping[str, Value]) -> None:
        self._since = as_number(state.get("since"))


class DelayOff(Block):
    """``out`` turns true with ``x``, and false once ``x`` has been false for ``t`` seconds."""

    kind: ClassVar[str] = "delay_off"
    inputs: ClassVar[dict[str, Port]] = {"x": Port("bool")}
    outputs: ClassVar[dict[str, Port]] = {"out": Port("bool")}
    time_based: ClassVar[bool] = True
    Params: ClassVar[type[BlockParams]] = TimerParams

    params: TimerParams

    def _reset(self) -> None:
        self._out = False
        self._off_since: float | None = None

    def _shift(self, delta: float) -> None:
        self._off_since = shifted(self._off_since, delta)

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        if inputs["x"] is True:
            self._out, self._off_since = True, None
        elif self._out:
            if self._off_since is None:
                self._off_since = now
            if now - self._off_since >= self.params.t:
                self._out, self._off_since = False, None
        return {"out": self._out}

    def _state(self) -> dict[str, Value]:
        return {"out": self._out, "off_since": self._off_since}

    def _inspect(self, now: float) -> dict[str, Value]:
        return {**self._state(), "remaining_s": _remaining(self.params.t, self._off_since, now)}

    def _restore(self, state: Mapping[str, Value]) -> None:
        self._out = as_bool(state.get("out")) or False
        self._off_since = as_number(state.get("off_since"))


class Pulse(Block):
    """A true pulse of ``t`` seconds on each rising edge of ``x``.

    As in IEC 61131-3 ``R_TRIG``, the input before the first step counts as
    false, so a program that starts with ``x`` true pulses once.
    """

    kind: ClassVar[str] = "pulse"
    inputs: ClassVar[dict[str, Port]] = {"x": Port("bool")}
    outputs: ClassVar[dict[str, Port]] = {"out": Port("bool")}
    time_based: ClassVar[bool] = True
    Params: ClassVar[type[BlockParams]] = PulseParams

    params: PulseParams

    def _reset(self) -> None:
        self._previous = False
        self._started: float | None = None

    def _shift(self, delta: float) -> None:
        self._started = shifted(self._started, delta)

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        x = inputs["x"]
        if x is not None:
            if x and not self._previous and (self._started is None or self.params.retrigger):
                self._started = now
            self._previous = bool(x)
        if self._started is not None and now - self._started >= self.params.t:
            self._started = None
        return {"out": self._started is not None}

    def _state(self) -> dict[str, Value]:
        return {"previous": self._previous, "started": self._started}

    def _inspect(self, now: float) -> dict[str, Value]:
        return {**self._state(), "remaining_s": _remaining(self.params.t, self._started, now)}

    def _restore(self, state: Mapping[str, Value]) -> None:
        self._previous = as_bool(state.get("previous")) or False
        self._started = as_number(state.get("started"))


class Delay(Block):
    """``out`` is ``x`` as it was ``t`` seconds ago, or at the previous step when ``t`` is 0.

    Its output never depends on the input of the same step, so a feedback
    loop through it is allowed (``breaks_cycles``). Until a delayed input
    exists the output is ``initial``. With ``t > 0`` the block keeps the inputs
    of the last ``t`` seconds (at most ``max_samples``, oldest dropped first).
    """

    kind: ClassVar[str] = "delay"
    inputs: ClassVar[dict[str, Port]] = {"x": Port("any")}
    outputs: ClassVar[dict[str, Port]] = {"out": Port("any")}
    time_based: ClassVar[bool] = True
    breaks_cycles: ClassVar[bool] = True
    Params: ClassVar[type[BlockParams]] = DelayParams

    params: DelayParams

    def _reset(self) -> None:
        self._out: Value = self.params.initial
        self._history: list[tuple[float, Value]] = []

    def _shift(self, delta: float) -> None:
        self._history = [(ts + delta, value) for ts, value in self._history]

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        x = inputs["x"]
        p = self.params
        if p.t == 0:
            out, self._out = self._out, x
            return {"out": out}
        history = self._history
        cutoff = now - p.t
        due = 0
        while due < len(history) and history[due][0] <= cutoff:
            due += 1
        if due:
            self._out = history[due - 1][1]
            del history[:due]
        history.append((now, x))
        if len(history) > p.max_samples:
            del history[: len(history) - p.max_samples]
        return {"out": self._out}

    def _state(self) -> dict[str, Value]:
        return {"out": self._out, "history": json.dumps(self._history)}

    def _inspect(self, now: float) -> dict[str, Value]:
        return {"out": self._out, "held": len(self._history)}

    def _restore(self, state: Mapping[str, Value]) -> None:
        self._out = state.get("out", self.params.initial)
        raw = state.get("history")
        if isinstance(raw, str):
            self._history = [(float(ts), value) for ts, value in json.loads(raw)]
