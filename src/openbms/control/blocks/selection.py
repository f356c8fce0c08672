"""Min, max, average and select over up to eight inputs; unknown inputs are left out.

(Named ``selection`` rather than ``select``/``math`` so it never shadows a standard-library module.)
"""

from __future__ import annotations

import math
from typing import ClassVar

from openbms.control.blocks.base import Block, BlockParams, NoParams, Port, Value, as_number

__all__ = ["Average", "Maximum", "Minimum", "Select"]

MAX_INPUTS = 8
INPUT_NAMES = tuple(f"in{i}" for i in range(1, MAX_INPUTS + 1))


def _known(inputs: dict[str, Value]) -> list[float]:
    values = (as_number(inputs[name]) for name in INPUT_NAMES)
    return [v for v in values if v is not None]


class _Reduce(Block):
    """``out`` = a reduction of the known inputs among ``in1``…``in8``; ``None`` when none is known."""

    inputs: ClassVar[dict[str, Port]] = {
        name: Port("number", required=False, unit="same") for name in INPUT_NAMES
    }
    outputs: ClassVar[dict[str, Port]] = {"out": Port("number", unit="same")}
    Params: ClassVar[type[BlockParams]] = NoParams

    @staticmethod
    def _reduce(values: list[float]) -> float:
        raise NotImplementedError

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        values = _known(inputs)
        return {"out": self._reduce(values) if values else None}


class Minimum(_Reduce):
    """The least known input."""

    kind: ClassVar[str] = "min"

    @staticmethod
    def _reduce(values: list[float]) -> float:
        return min(values)


class Maximum(_Reduce):
    """The greatest known input."""

    kind: ClassVar[str] = "max"

    @staticmethod
    def _reduce(values: list[float]) -> float:
        return max(values)


class Average(_Reduce):
    """The mean of the known inputs."""

    kind: ClassVar[str] = "average"

    @staticmethod
    def _reduce(values: list[float]) -> float:
        # fsum: exact sum, so the mean of equal values is that value and stays within [min, max].
        return min(max(values), max(min(values), math.fsum(values) / len(values)))


class Select(Block):
    """``out`` = the input ``in<index>`` (index 1…8, rounded); ``None`` for an unknown or invalid index."""

    kind: ClassVar[str] = "select"
    inputs: ClassVar[dict[str, Port]] = {
        "index": Port("number"),
        **{name: Port("any", required=False) for name in INPUT_NAMES},
    }
    outputs: ClassVar[dict[str, Port]] = {"out": Port("any")}
    Params: ClassVar[type[BlockParams]] = NoParams

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        index = as_number(inputs["index"])
        if index is None:
            return {"out": None}
        position = round(index)
        if not 1 <= position <= MAX_INPUTS:
            return {"out": None}
        return {"out": inputs[f"in{position}"]}
