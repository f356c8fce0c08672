"""PID loop: positional form, derivative on measurement, back-calculation anti-windup, bumpless transfer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import pydantic

from openbms.control.blocks.base import Block, BlockParams, Port, Value, as_number, clamp, param_unit

__all__ = ["Pid", "PidParams"]


class PidParams(BlockParams):
    """Parameters of ``pid``. Times in seconds; gains in output units per input unit."""

    kp: float = pydantic.Field(gt=0, description="proportional gain (output units per pv unit)",
                              json_schema_extra=param_unit("unit of out per unit of pv"))
    ti: float = pydantic.Field(0.0, ge=0, description="integral time, s; 0 = no integral action",
                              json_schema_extra=param_unit("s"))
    td: float = pydantic.Field(0.0, ge=0, description="derivative time, s; 0 = no derivative action",
                              json_schema_extra=param_unit("s"))
    d_filter: float = pydantic.Field(
        10.0, ge=1, description="derivative filter: the filter time constant is td / d_filter",
        json_schema_extra=param_unit("1"),
    )
    out_min: float = pydantic.Field(0.0, description="lowest output (below out_max)",
                                    json_schema_extra=param_unit("unit of out"))
    out_max: float = pydantic.Field(100.0, description="highest output (above out_min)",
                                    json_schema_extra=param_unit("unit of out"))
    action: Literal["direct", "reverse"] = pydantic.Field(
        description="direct: output rises when pv > sp (cooling); reverse: when pv < sp (heating)"
    )
    deadband: float = pydantic.Field(0.0, ge=0, description="error band, in pv units, treated as no error",
                                    json_schema_extra=param_unit("unit of pv"))
    anti_windup: bool = pydantic.Field(
        True, description="back-calculation: the integral stops winding up while the output is at a limit")
    tt: float | None = pydantic.Field(
        None, gt=0, description="anti-windup tracking time, s; default sqrt(ti*td), or ti without td",
        json_schema_extra=param_unit("s")
    )
    max_dt_s: float = pydantic.Field(
        60.0,
        gt=0,
        description="longest step integrated, s; a longer gap (an outage, a restore) integrates this much "
        "and continues bumplessly",
        json_schema_extra=param_unit("s"),
    )

    @pydantic.model_validator(mode="after")
    def _check_limits(self) -> PidParams:
        if self.out_min >= self.out_max:
            raise ValueError(f"out_min ({self.out_min}) must be below out_max ({self.out_max})")
        return self

    @property
    def tracking_time(self) -> float:
        """The back-calculation time constant (0 would mean: reset the integral to the limit at once)."""
        if self.tt is not None:
            return self.tt
        return math.sqrt(self.ti * self.td) if self.td > 0 else self.ti


class Pid(Block):
    """PID controller.

    ``out = P + I + D + feedforward``, clamped to ``[out_min, out_max]``, with

    * ``e = sp - pv`` for ``reverse`` action (heating: output rises when pv < sp)
      and ``e = pv - sp`` for ``direct`` action (cooling), shrunk towards 0 by
      ``deadband`` (continuous: no step at the band's edge);
    * ``P = kp·e``; ``dI/dt = kp·e/ti``;
    * derivative on the measurement (no kick on a setpoint change) through a
      first-order filter of time constant ``td/d_filter``;
    * anti-windup by back-calculation: while the output is clamped the
      integral is pulled towards the limit with time constant ``tt``, using an
      exact exponential update so it stays stable for any step size.

    Bumpless transfer (with integral action, ``ti > 0``): whenever the loop
    (re)starts driving the output (after being disabled, after pv/sp were
    unknown, after a parameter change, after ``restore``, or after a gap
    between steps longer than ``max_dt_s``) the integral is rebalanced so the
    output continues from its last value. The integral and the anti-windup
    never integrate more than ``max_dt_s`` in one step: an outage of two hours
    is not two hours of error. The derivative compares ``pv`` with the value
    of the last step where time advanced, so a second step at the same
    instant cannot hide a change of ``pv`` from it.

    While ``enable`` is false the output is ``track`` when given, otherwise
    ``out_min``. With ``pv``, ``sp`` or
    ``enable`` unknown (``None``) the output holds.
    """

    kind: ClassVar[str] = "pid"
    inputs: ClassVar[dict[str, Port]] = {
        "pv": Port("number", unit="same"),
        "sp": Port("number", unit="same"),
        "enable": Port("bool", required=False, default=True),
        "track": Port("number", required=False),
        "feedforward": Port("number", required=False, default=0.0),
    }
    outputs: ClassVar[dict[str, Port]] = {"out": Port("number")}
    time_based: ClassVar[bool] = True
    Params: ClassVar[type[BlockParams]] = PidParams

    params: PidParams

    def _reset(self) -> None:
        self._integral = 0.0
        self._derivative = 0.0
        self._last_pv: float | None = None
        self._out: float | None = None
        self._rebalance = False
        self._p: float | None = None  # the last proportional term, for inspect

    def update_params(self, **params: Any) -> None:
        """Retune the running loop; the output continues without a bump."""
        self.params = self.validate_params(params)
        self._rebalance = True

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        p = self.params
        pv = as_number(inputs["pv"])
        sp = as_number(inputs["sp"])
        enable = inputs["enable"]
        if enable is False:
            track = as_number(inputs["track"])
            self._out = clamp(track if track is not None else p.out_min, p.out_min, p.out_max)
            self._last_pv = pv
            self._derivative = 0.0
            self._rebalance = True
            return {"out": self._out}
        if enable is None or pv is None or sp is None:
            # Unknown state: hold; forget the derivative history so the return makes no kick.
            self._last_pv = None
            self._derivative = 0.0
            self._rebalance = True
            return {"out": self._out}
        sign = 1.0 if p.action == "reverse" else -1.0
        error = sign * (sp - pv)
        if p.deadband > 0:
            error = math.copysign(max(0.0, abs(error) - p.deadband), error)
        feedforward = as_number(inputs["feedforward"]) or 0.0

        if dt > p.max_dt_s:
            # A gap (an outage, a stalled runner): what happened in it is unknown. Start the derivative
            # afresh and let the output continue from where it was, as after a restart.
            self._last_pv = None
            self._derivative = 0.0
            self._rebalance = True
            dt = p.max_dt_s
        if p.td == 0:
            self._derivative = 0.0
            self._last_pv = pv
        elif self._last_pv is None:
            self._last_pv = pv
        elif dt > 0:
            # Only where time advanced: a same-instant step keeps the older pv, so its change still counts.
            tf = p.td / p.d_filter
            self._derivative = (tf * self._derivative - sign * p.kp * p.td * (pv - self._last_pv)) / (tf + dt)
            self._last_pv = pv
        proportional = p.kp * error
        self._p = proportional

        if p.ti > 0:
            if self._rebalance and self._out is not None:
                self._integral = self._out - proportional - self._derivative - feedforward
            self._integral += p.kp * error * dt / p.ti
        else:
            # No integral action, so nothing to rebalance: a P or PD loop has no bias of its own.
            self._integral = 0.0
        self._rebalance = False

        raw = proportional + self._integral + self._derivative + feedforward
        out = clamp(raw, p.out_min, p.out_max)
        if out != raw and p.anti_windup and p.ti > 0:
            # Exact solution of dI/dt = (out - raw)/tt over dt: stable for any dt, and with dt >> tt
            # it becomes plain clamping of the integral at the limit.
            self._integral -= (raw - out) * -math.expm1(-dt / p.tracking_time)
        self._out = out
        return {"out": out}

    def _state(self) -> dict[str, Value]:
        p = self.params
        return {
            "integral": self._integral,
            "derivative": self._derivative,
            "last_pv": self._last_pv,
            "out": self._out,
            "tuning": f"{p.kp}/{p.ti}/{p.td}/{p.action}",
        }

    def _inspect(self, now: float) -> dict[str, Value]:
        return {"p": self._p, "i": self._integral, "d": self._derivative, "out": self._out,
                "tracking": self._rebalance}

    def _restore(self, state: Mapping[str, Value]) -> None:
        p = self.params
        self._integral = as_number(state.get("integral")) or 0.0
        self._derivative = as_number(state.get("derivative")) or 0.0
        self._last_pv = as_number(state.get("last_pv"))
        self._out = as_number(state.get("out"))
        if self._out is not None:
            self._out = clamp(self._out, p.out_min, p.out_max)
        # Same tuning: the saved integral continues exactly. A restore after a long pause is caught as a
        # gap longer than max_dt_s by the first step, which then rebalances.
        self._rebalance = state.get("tuning") != f"{p.kp}/{p.ti}/{p.td}/{p.action}"
