"""The block interface shared by every control block, and the value coercions they use.

A block is a small, pure, deterministic object: ``step(now, inputs)`` maps the
current time and input values to every output, keeping whatever state it needs
between steps. No I/O, no clock (time only arrives as ``now``), no asyncio.
The logic-program runner wires blocks point → block → point and the program
validator reads the class metadata (``inputs``, ``outputs``, ``time_based``,
``breaks_cycles``, ``Params``) without creating an instance.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pydantic

from openbms.model.sample import Value

__all__ = [
    "Block",
    "BlockParams",
    "NoParams",
    "Port",
    "Value",
    "as_bool",
    "as_number",
    "clamp",
    "param_unit",
    "shifted",
    "suggest",
]

_TRUE_WORDS = frozenset({"true", "on", "1", "yes", "active"})
_FALSE_WORDS = frozenset({"false", "off", "0", "no", "inactive"})


@dataclass(frozen=True, slots=True)
class Port:
    """One input or output of a block.

    ``type`` is ``"number"``, ``"bool"`` or ``"any"``. A missing optional input
    takes ``default``. ``unit`` is the unit the port expects, ``"same"`` when it
    must match the block's other ``"same"`` ports, or ``None`` when it does not
    matter.
    """

    type: Literal["number", "bool", "any"]
    required: bool = True
    default: Value = None
    unit: str | None = None


class BlockParams(pydantic.BaseModel):
    """Base of every block's parameter model: unknown parameters are an error."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


def param_unit(unit: str) -> dict[str, Any]:
    """The unit the block catalogue shows: ``Field(..., json_schema_extra=param_unit("s"))``.

    A unit symbol (``s``, ``h``; ``1``: a plain ratio) or, where it follows a port, ``"unit of <port>"``.
    """
    return {"unit": unit}


class NoParams(BlockParams):
    """The parameters of a block that has none."""


def as_number(value: Value) -> float | None:
    """A value as a finite float, or ``None`` when it has none (offline, NaN, text that is no number)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # text that is no number; an int beyond float range
        return None
    return number if math.isfinite(number) else None


def as_bool(value: Value) -> bool | None:
    """A value as a bool, or ``None`` when unknown: numbers are true when non-zero, text by its word."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return None if math.isnan(value) else value != 0
    word = value.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    return None


def shifted(ts: float | None, delta: float) -> float | None:
    """An instant moved by ``delta`` seconds; ``None`` (no instant) stays ``None``."""
    return None if ts is None else ts + delta


def clamp(value: float, low: float | None, high: float | None) -> float:
    """``value`` limited to ``[low, high]``; a ``None`` limit does not limit."""
    if high is not None and value > high:
        value = high
    if low is not None and value < low:
        value = low
    return value


def suggest(name: str, known: list[str]) -> str | None:
    """The known name closest to ``name`` (ignoring case), or ``None`` when nothing is close."""
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
    return by_lower[close[0]] if close else None


def _describe_validation_error(
    kind: str, model: type[pydantic.BaseModel], err: pydantic.ValidationError
) -> str:
    known = sorted(model.model_fields)
    problems = []
    for issue in err.errors(include_url=False):
        where = ".".join(str(part) for part in issue["loc"])
        if issue["type"] == "extra_forbidden":
            hint = suggest(where, known)
            suggestion = f"; did you mean {hint!r}?" if hint else ""
            problems.append(
                f"unknown parameter {where!r}{suggestion} (known parameters: {', '.join(known) or 'none'})"
            )
        elif issue["type"] == "missing":
            problems.append(f"parameter {where!r} is required")
        elif where:
            problems.append(f"parameter {where!r}: {issue['msg']} (got {issue['input']!r})")
        else:
            problems.append(issue["msg"].removeprefix("Value error, "))
    return f"block {kind!r}: invalid parameters: " + "; ".join(problems)


class Block:
    """Base of every control block.

    Subclasses declare the class metadata and implement ``_compute`` (and, when
    they keep state, ``_reset``, ``_state`` and ``_restore``). The public
    ``step`` does the shared work: it fills missing optional inputs with their
    port default, coerces values to each port's type (a value that cannot be
    coerced becomes ``None``), and works out ``dt`` from successive ``now``
    values (0 on the first step, and 0 if time goes backwards). When the clock
    steps back, ``_shift`` moves the block's stored instants back by as much,
    so a timer keeps the time it had already counted instead of waiting out
    the size of the step.

    ``inputs`` and ``outputs`` list every port the kind can have; blocks whose
    ports depend on a parameter (``leadlag``, ``staging``) narrow them per
    instance in ``active_inputs``/``active_outputs``.
    """

    kind: ClassVar[str]
    inputs: ClassVar[dict[str, Port]]
    outputs: ClassVar[dict[str, Port]]
    #: Needs periodic evaluation even when no input changes (timers, PID, rate limiter…).
    time_based: ClassVar[bool] = False
    #: Output at step n depends only on inputs before step n: a feedback loop through it is allowed.
    breaks_cycles: ClassVar[bool] = False
    #: The parameter that names an instance's inputs (``expression``'s formula); ``inputs`` is then empty.
    dynamic_inputs: ClassVar[str | None] = None
    Params: ClassVar[type[BlockParams]]

    params: BlockParams

    def __init__(self, **params: Any) -> None:
        self.params = self.validate_params(params)
        self._last_now: float | None = None
        self._reset()

    @classmethod
    def validate_params(cls, params: Mapping[str, Any]) -> Any:
        """The validated parameter model, or ``ValueError`` naming each bad parameter and what it expects."""
        try:
            return cls.Params.model_validate(dict(params))
        except pydantic.ValidationError as err:
            raise ValueError(_describe_validation_error(cls.kind, cls.Params, err)) from None

    def active_inputs(self) -> dict[str, Port]:
        """The input ports this instance uses (all of ``inputs`` unless a parameter narrows them)."""
        return self.inputs

    def active_outputs(self) -> dict[str, Port]:
        """The outputs ``step`` returns for this instance."""
        return self.outputs

    def step(self, now: float, inputs: Mapping[str, Value]) -> dict[str, Value]:
        """Advance to ``now`` (epoch seconds) with these input values; return every output."""
        values: dict[str, Value] = {}
        for name, port in self.active_inputs().items():
            value = inputs.get(name, port.default)
            if port.type == "number":
                values[name] = as_number(value)
            elif port.type == "bool":
                values[name] = as_bool(value)
            else:
                values[name] = value
        last = self._last_now
        if last is not None and now < last:
            self._shift(now - last)  # the clock stepped back: no time passed, timers re-anchor
            dt = 0.0
        else:
            dt = 0.0 if last is None else now - last
        self._last_now = now
        return self._compute(now, dt, values)

    def reset(self) -> None:
        """Back to the state of a new block with the same parameters."""
        self._last_now = None
        self._reset()

    def state(self) -> dict[str, Value]:
        """The internal state as JSON-able values, for ``restore`` after a redeploy."""
        return {"now": self._last_now, **self._state()}

    def inspect(self, now: float) -> dict[str, Value]:
        """The internal state for people watching the program run (PID terms, a timer's remaining
        seconds, lead-lag order…): ``_state`` unless a block says more, long texts left out."""
        return {k: v for k, v in self._inspect(now).items() if not (isinstance(v, str) and len(v) > 200)}

    def restore(self, state: Mapping[str, Value]) -> None:
        """Continue from a ``state()``; keys it lacks keep their initial value."""
        self.reset()
        self._last_now = as_number(state.get("now"))
        self._restore(state)

    # -- for subclasses -------------------------------------------------------------------------------

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        raise NotImplementedError

    def _reset(self) -> None:
        """Initialise the internal state (called by ``__init__`` and ``reset``)."""

    def _shift(self, delta: float) -> None:
        """Move every stored instant (epoch seconds) by ``delta`` (< 0): the clock stepped back."""

    def _state(self) -> dict[str, Value]:
        return {}

    def _restore(self, state: Mapping[str, Value]) -> None:
        """Load what ``_state`` saved; called after ``_reset``."""

    def _inspect(self, now: float) -> dict[str, Value]:
        return self._state()
