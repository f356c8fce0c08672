"""Linear reset (outdoor-air reset): a straight line through two points, clamped outside them."""

from __future__ import annotations

from typing import ClassVar

import pydantic

from openbms.control.blocks.base import Block, BlockParams, Port, Value, as_number, param_unit

__all__ = ["LinearReset", "LinearResetParams"]


class LinearResetParams(BlockParams):
    """The line through ``(x1, y1)`` and ``(x2, y2)``; ``x1`` and ``x2`` must differ."""

    x1: float = pydantic.Field(
        description="input of the first end (e.g. the coldest outdoor temperature)",
        json_schema_extra=param_unit("unit of x"))
    y1: float = pydantic.Field(
        description="output at x1 and beyond", json_schema_extra=param_unit("unit of out"))
    x2: float = pydantic.Field(
        description="input of the other end", json_schema_extra=param_unit("unit of x"))
    y2: float = pydantic.Field(
        description="output at x2 and beyond", json_schema_extra=param_unit("unit of out"))

    @pydantic.model_validator(mode="after")
    def _check_points(self) -> LinearResetParams:
        if self.x1 == self.x2:
            raise ValueError(f"x1 and x2 must differ (both are {self.x1})")
        return self


class LinearReset(Block):
    """``out`` follows the line from ``(x1, y1)`` to ``(x2, y2)``, held at ``y1``/``y2`` beyond the ends.

    Either slope works (boiler reset: 82 °C at −10 °C outdoors down to 60 °C at
    15 °C). An unknown ``x`` gives an unknown ``out``.
    """

    kind: ClassVar[str] = "reset"
    inputs: ClassVar[dict[str, Port]] = {"x": Port("number")}
    outputs: ClassVar[dict[str, Port]] = {"out": Port("number")}
    Params: ClassVar[type[BlockParams]] = LinearResetParams

    params: LinearResetParams

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        x = as_number(inputs["x"])
        if x is None:
            return {"out": None}
        p = self.params
        fraction = min(1.0, max(0.0, (x - p.x1) / (p.x2 - p.x1)))
        return {"out": p.y1 + fraction * (p.y2 - p.y1)}
