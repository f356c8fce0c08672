"""Comparison and boolean logic. Unknown (``None``) inputs follow three-valued (Kleene) logic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

import pydantic

from openbms.control.blocks.base import (
    Block,
    BlockParams,
    NoParams,
    Port,
    Value,
    as_bool,
    as_number,
    param_unit,
)

__all__ = ["And", "Compare", "CompareParams", "Not", "Or", "Xor"]

MAX_INPUTS = 8
_NAMES = tuple(f"in{i}" for i in range(1, MAX_INPUTS + 1))


class CompareParams(BlockParams):
    """Parameters of ``compare``."""

    op: Literal["gt", "ge", "lt", "le", "eq", "ne"] = pydantic.Field(
        description="a > b, a ≥ b, a < b, a ≤ b, a = b (within deadband), a ≠ b")
    b: float | None = pydantic.Field(
        None, description="the value compared against when the b input is unknown",
        json_schema_extra=param_unit("unit of a")
    )
    deadband: float = pydantic.Field(
        0.0, ge=0, description="gt/ge/lt/le: hysteresis before turning false again; eq/ne: tolerance",
        json_schema_extra=param_unit("unit of a")
    )


class Compare(Block):
    """``out = a <op> b`` with optional hysteresis.

    ``gt``/``ge`` turn true when ``a > b`` (``a ≥ b``) and stay true until
    ``a < b − deadband``; ``lt``/``le`` mirror that (false again above
    ``b + deadband``). ``eq`` is true when ``|a − b| ≤ deadband`` and ``ne`` is
    its negation. ``b`` is the input when known, else the ``b`` parameter.
    An unknown ``a`` (or ``b`` with no parameter) gives ``None``.
    """

    kind: ClassVar[str] = "compare"
    inputs: ClassVar[dict[str, Port]] = {
        "a": Port("number", unit="same"),
        "b": Port("number", required=False, unit="same"),
    }
    outputs: ClassVar[dict[str, Port]] = {"out": Port("bool")}
    Params: ClassVar[type[BlockParams]] = CompareParams

    params: CompareParams

    def _reset(self) -> None:
        self._out = False

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        p = self.params
        a = as_number(inputs["a"])
        b = as_number(inputs["b"])
        if b is None:
            b = p.b
        if a is None or b is None:
            return {"out": None}
        op, band = p.op, p.deadband
        if op in ("eq", "ne"):
            return {"out": (abs(a - b) <= band) == (op == "eq")}
        if op in ("gt", "ge"):
            turn_on = a > b if op == "gt" else a >= b
            turn_off = a < b - band if band > 0 else not turn_on
        else:
            turn_on = a < b if op == "lt" else a <= b
            turn_off = a > b + band if band > 0 else not turn_on
        if turn_on:
            self._out = True
        elif turn_off:
            self._out = False
        return {"out": self._out}

    def _state(self) -> dict[str, Value]:
        return {"out": self._out}

    def _restore(self, state: Mapping[str, Value]) -> None:
        self._out = as_bool(state.get("out")) or False


def _operands(neutral: bool) -> dict[str, Port]:
    # Unconnected in3…in8 take the neutral element, so only a connected but unknown input matters.
    return {
        name: Port("bool") if i < 2 else Port("bool", required=False, default=neutral)
        for i, name in enumerate(_NAMES)
    }


class And(Block):
    """True when every input is true; false when any is false, even if others are unknown; else ``None``."""

    kind: ClassVar[str] = "and"
    inputs: ClassVar[dict[str, Port]] = _operands(True)
    outputs: ClassVar[dict[str, Port]] = {"out": Port("bool")}
    Params: ClassVar[type[BlockParams]] = NoParams

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        values = [inputs[name] for name in _NAMES]
        if False in values:
            return {"out": False}
        return {"out": None if None in values else True}


class Or(Block):
    """True when any input is true, even if others are unknown; false when all are false; else ``None``."""

    kind: ClassVar[str] = "or"
    inputs: ClassVar[dict[str, Port]] = _operands(False)
    outputs: ClassVar[dict[str, Port]] = {"out": Port("bool")}
    Params: ClassVar[type[BlockParams]] = NoParams

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        values = [inputs[name] for name in _NAMES]
        if True in values:
            return {"out": True}
        return {"out": None if None in values else False}


class Xor(Block):
    """True when an odd number of inputs is true; ``None`` if any is unknown."""

    kind: ClassVar[str] = "xor"
    inputs: ClassVar[dict[str, Port]] = _operands(False)
    outputs: ClassVar[dict[str, Port]] = {"out": Port("bool")}
    Params: ClassVar[type[BlockParams]] = NoParams

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        values = [inputs[name] for name in _NAMES]
        if None in values:
            return {"out": None}
        return {"out": sum(1 for v in values if v) % 2 == 1}


class Not(Block):
    """``out = not x``; ``None`` when ``x`` is unknown."""

    kind: ClassVar[str] = "not"
    inputs: ClassVar[dict[str, Port]] = {"x": Port("bool")}
    outputs: ClassVar[dict[str, Port]] = {"out": Port("bool")}
    Params: ClassVar[type[BlockParams]] = NoParams

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        x = inputs["x"]
        return {"out": None if x is None else not x}
