"""Add, subtract, multiply, divide and limit: small arithmetic for programs such as economisers and resets."""

from __future__ import annotations

import math
from typing import ClassVar

import pydantic

from openbms.control.blocks.base import (
    Block,
    BlockParams,
    NoParams,
    Port,
    Value,
    as_number,
    clamp,
    param_unit,
)

__all__ = ["Add", "Divide", "Limit", "LimitParams", "Multiply", "Subtract"]

MAX_INPUTS = 8


class LimitParams(BlockParams):
    """Fixed limits for ``limit``; the ``lo``/``hi`` inputs, when known, take precedence."""

    lo: float | None = pydantic.Field(
        None, description="lower limit when the lo input is unknown; empty: none",
        json_schema_extra=param_unit("unit of x"))
    hi: float | None = pydantic.Field(
        None, description="upper limit when the hi input is unknown; empty: none",
        json_schema_extra=param_unit("unit of x"))


def _operands(neutral: float, unit: str | None) -> dict[str, Port]:
    # Unconnected in3…in8 take the neutral element, so only a connected but unknown input spoils the result.
    return {
        f"in{i}": Port("number", unit=unit) if i <= 2 else Port("number", False, neutral, unit)
        for i in range(1, MAX_INPUTS + 1)
    }


def _all_known(inputs: dict[str, Value], names: tuple[str, ...]) -> list[float] | None:
    values = [as_number(inputs[name]) for name in names]
    known = [v for v in values if v is not None]
    return known if len(known) == len(values) else None


_NAMES = tuple(f"in{i}" for i in range(1, MAX_INPUTS + 1))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


class Add(Block):
    """``out = in1 + in2 + … + in8``; ``None`` if any connected input is unknown."""

    kind: ClassVar[str] = "add"
    inputs: ClassVar[dict[str, Port]] = _operands(0.0, "same")
    outputs: ClassVar[dict[str, Port]] = {"out": Port("number", unit="same")}
    Params: ClassVar[type[BlockParams]] = NoParams

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        values = _all_known(inputs, _NAMES)
        return {"out": None if values is None else _finite(math.fsum(values))}


class Multiply(Block):
    """``out = in1 · in2 · … · in8``; ``None`` if any connected input is unknown."""

    kind: ClassVar[str] = "multiply"
    inputs: ClassVar[dict[str, Port]] = _operands(1.0, None)
    outputs: ClassVar[dict[str, Port]] = {"out": Port("number")}
    Params: ClassVar[type[BlockParams]] = NoParams

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        values = _all_known(inputs, _NAMES)
        return {"out": None if values is None else _finite(math.prod(values))}


class Subtract(Block):
    """``out = in1 − in2``; ``None`` if either is unknown."""

    kind: ClassVar[str] = "subtract"
    inputs: ClassVar[dict[str, Port]] = {
        "in1": Port("number", unit="same"),
        "in2": Port("number", unit="same"),
    }
    outputs: ClassVar[dict[str, Port]] = {"out": Port("number", unit="same")}
    Params: ClassVar[type[BlockParams]] = NoParams

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        values = _all_known(inputs, ("in1", "in2"))
        return {"out": None if values is None else _finite(values[0] - values[1])}


class Divide(Block):
    """``out = in1 / in2``; ``None`` if either is unknown or ``in2`` is zero."""

    kind: ClassVar[str] = "divide"
    inputs: ClassVar[dict[str, Port]] = {"in1": Port("number"), "in2": Port("number")}
    outputs: ClassVar[dict[str, Port]] = {"out": Port("number")}
    Params: ClassVar[type[BlockParams]] = NoParams

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        values = _all_known(inputs, ("in1", "in2"))
        if values is None or values[1] == 0:
            return {"out": None}
        return {"out": _finite(values[0] / values[1])}


class Limit(Block):
    """``out`` = ``x`` clamped to ``[lo, hi]``.

    Each limit comes from its input when that is known, else from the
    parameter; a missing limit does not limit. ``None`` when ``x`` is unknown
    or ``lo > hi``.
    """

    kind: ClassVar[str] = "limit"
    inputs: ClassVar[dict[str, Port]] = {
        "x": Port("number", unit="same"),
        "lo": Port("number", required=False, unit="same"),
        "hi": Port("number", required=False, unit="same"),
    }
    outputs: ClassVar[dict[str, Port]] = {"out": Port("number", unit="same")}
    Params: ClassVar[type[BlockParams]] = LimitParams

    params: LimitParams

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        x = as_number(inputs["x"])
        lo = as_number(inputs["lo"])
        hi = as_number(inputs["hi"])
        lo = self.params.lo if lo is None else lo
        hi = self.params.hi if hi is None else hi
        if x is None or (lo is not None and hi is not None and lo > hi):
            return {"out": None}
        return {"out": clamp(x, lo, hi)}
