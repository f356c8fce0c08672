"""On/off control with a deadband."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

import pydantic

from openbms.control.blocks.base import Block, BlockParams, Port, Value, as_bool, as_number, param_unit

__all__ = ["Hysteresis", "HysteresisParams"]


class HysteresisParams(BlockParams):
    """Either a setpoint with a deadband centred on it, or explicit ``on``/``off`` thresholds."""

    setpoint: float | None = pydantic.Field(
        None, description="centre of the band when the sp input is unknown",
        json_schema_extra=param_unit("unit of x"))
    deadband: float = pydantic.Field(1.0, ge=0, description="width of the band around the setpoint",
                                     json_schema_extra=param_unit("unit of x"))
    on: float | None = pydantic.Field(None, description="explicit threshold to turn on (with off)",
                                      json_schema_extra=param_unit("unit of x"))
    off: float | None = pydantic.Field(None, description="explicit threshold to turn off (with on)",
                                       json_schema_extra=param_unit("unit of x"))
    action: Literal["direct", "reverse"] = pydantic.Field(
        description="direct: on when x is high (cooling); reverse: on when x is low (heating)"
    )

    @pydantic.model_validator(mode="after")
    def _check_thresholds(self) -> HysteresisParams:
        if (self.on is None) != (self.off is None):
            raise ValueError(
                "give both 'on' and 'off' thresholds, or neither (then use setpoint and deadband)"
            )
        if self.on is not None and self.off is not None:
            if self.setpoint is not None:
                raise ValueError("give either 'on'/'off' thresholds or 'setpoint', not both")
            if self.action == "direct" and self.on <= self.off:
                raise ValueError(f"direct action needs on ({self.on}) above off ({self.off})")
            if self.action == "reverse" and self.on >= self.off:
                raise ValueError(f"reverse action needs on ({self.on}) below off ({self.off})")
        return self


class Hysteresis(Block):
    """``out`` switches on past one threshold and off past the other, and holds in between.

    With a setpoint (the ``sp`` input when connected, else the ``setpoint``
    parameter) the thresholds are ``sp ± deadband/2``: direct action turns on
    above ``sp + deadband/2`` and off below ``sp − deadband/2``; reverse action
    the other way round. An unknown ``x`` (or no setpoint at all) holds the
    output; the output starts off.
    """

    kind: ClassVar[str] = "hysteresis"
    inputs: ClassVar[dict[str, Port]] = {
        "x": Port("number", unit="same"),
        "sp": Port("number", required=False, unit="same"),
    }
    outputs: ClassVar[dict[str, Port]] = {"out": Port("bool")}
    Params: ClassVar[type[BlockParams]] = HysteresisParams

    params: HysteresisParams

    def _reset(self) -> None:
        self._out = False

    def _thresholds(self, sp: float | None) -> tuple[float, float] | None:
        p = self.params
        if p.on is not None and p.off is not None:
            return p.on, p.off
        centre = sp if sp is not None else p.setpoint
        if centre is None:
            return None
        half = p.deadband / 2
        return (centre + half, centre - half) if p.action == "direct" else (centre - half, centre + half)

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        x = as_number(inputs["x"])
        thresholds = self._thresholds(as_number(inputs["sp"]))
        if x is None or thresholds is None:
            return {"out": self._out}
        on, off = thresholds
        if self.params.action == "direct":
            if x > on:
                self._out = True
            elif x < off:
                self._out = False
        elif x < on:
            self._out = True
        elif x > off:
            self._out = False
        return {"out": self._out}

    def _state(self) -> dict[str, Value]:
        return {"out": self._out}

    def _restore(self, state: Mapping[str, Value]) -> None:
        self._out = as_bool(state.get("out")) or False
