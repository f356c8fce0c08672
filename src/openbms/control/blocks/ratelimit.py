"""Rate limiter: the output follows the input no faster than a given rate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pydantic

from openbms.control.blocks.base import Block, BlockParams, Port, Value, as_number, param_unit

__all__ = ["RateLimit", "RateLimitParams"]


class RateLimitParams(BlockParams):
    """Rates in input units per second; ``None`` leaves that direction unlimited."""

    rate_up: float | None = pydantic.Field(None, gt=0, description="fastest rise; empty: unlimited",
                                           json_schema_extra=param_unit("unit of x per s"))
    rate_down: float | None = pydantic.Field(None, gt=0, description="fastest fall; empty: unlimited",
                                             json_schema_extra=param_unit("unit of x per s"))


class RateLimit(Block):
    """``out`` moves towards ``x`` by at most ``rate_up·dt`` up or ``rate_down·dt`` down per step.

    The first known input passes straight through. An unknown ``x`` holds the
    output (``None`` until a first input is known).
    """

    kind: ClassVar[str] = "rate_limit"
    inputs: ClassVar[dict[str, Port]] = {"x": Port("number", unit="same")}
    outputs: ClassVar[dict[str, Port]] = {"out": Port("number", unit="same")}
    time_based: ClassVar[bool] = True
    Params: ClassVar[type[BlockParams]] = RateLimitParams

    params: RateLimitParams

    def _reset(self) -> None:
        self._out: float | None = None

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        x = as_number(inputs["x"])
        if x is None:
            return {"out": self._out}
        if self._out is None:
            self._out = x
            return {"out": x}
        p = self.params
        out = self._out
        if x > out:
            out = x if p.rate_up is None else min(x, out + p.rate_up * dt)
        elif x < out:
            out = x if p.rate_down is None else max(x, out - p.rate_down * dt)
        self._out = out
        return {"out": out}

    def _state(self) -> dict[str, Value]:
        return {"out": self._out}

    def _restore(self, state: Mapping[str, Value]) -> None:
        self._out = as_number(state.get("out"))
