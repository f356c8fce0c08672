"""The field types every configuration model shares: ids, point kinds and bounded numbers.

Every number a configuration holds is finite (NaN and infinities are refused:
a NaN limit switches a limit off, since every comparison with NaN is false)
and bounded where a sane bound exists: values that may reach a device or
limit one are at most :data:`MAX_VALUE` in magnitude, intervals at most
:data:`MAX_INTERVAL_S`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

__all__ = [
    "MAX_INTERVAL_S",
    "MAX_RETENTION_DAYS",
    "MAX_VALUE",
    "Delay",
    "Id",
    "Interval",
    "PointKind",
    "Quantity",
    "state_number",
    "value_problem",
]

#: Ids are short, URL-safe and lower-case: they become parts of point ids and URLs.
Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]

PointKind = Literal["number", "bool", "enum"]

#: The largest magnitude of a value that may be written to a device, limit one, or be a
#: point's default: far beyond any physical setpoint, far below where a float stops
#: being exact to a unit (so a typo of 1e300 is refused, not sent).
MAX_VALUE = 1e9
#: The longest interval (poll, write spacing, minimum on/off, history interval): a week.
MAX_INTERVAL_S = 7 * 86400.0
#: The longest retention: a century.
MAX_RETENTION_DAYS = 36500.0


def value_problem(value: object) -> str | None:
    """Why ``value`` is a number that no device may be given, or None when it is not one.

    Booleans, text and None pass (whether they fit a point is another question).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return (f"{value!r} is not a finite number: expected a number from {-MAX_VALUE:g} to "
                f"{MAX_VALUE:g}")
    if not -MAX_VALUE <= value <= MAX_VALUE:
        # A huge int has no float and (past 4 300 digits) no str: say how big it is instead.
        shown = (f"{value:g}" if isinstance(value, float) else
                 f"{value}" if value.bit_length() < 64 else
                 f"a whole number of about {int(value.bit_length() * 0.30103) + 1} digits")
        return f"{shown} is out of bounds: expected a number from {-MAX_VALUE:g} to {MAX_VALUE:g}"
    return None


def state_number(states: Sequence[str] | None, value: object) -> int | None:
    """An enum point's value as its state number, or None when it is not one of its states.

    Enum values count from 1, as BACnet's multi-state objects do: state 1 is the first
    of ``states``. A label becomes its number; a whole number from 1 to the number of
    states (also 2.0, as some protocols send it) is one. True and false are not states.
    """
    states = states or ()
    if isinstance(value, str):
        return states.index(value) + 1 if value in states else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value) if 1 <= value <= len(states) else None


#: A value bound for a device or its limits: finite, ``|x| <= MAX_VALUE``.
Quantity = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_VALUE, le=MAX_VALUE)]
#: Seconds: finite, positive (or zero where said), at most a week.
Interval = Annotated[float, Field(allow_inf_nan=False, gt=0, le=MAX_INTERVAL_S)]
Delay = Annotated[float, Field(allow_inf_nan=False, ge=0, le=MAX_INTERVAL_S)]
