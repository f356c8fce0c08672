"""The hot-path values: a Sample (and a driver's Reading) is a plain tuple, cheap to create and to store."""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = [
    "FAULT",
    "OFFLINE",
    "OK",
    "OVERRIDDEN",
    "STALE",
    "STATUSES",
    "STATUS_CODES",
    "Reading",
    "Sample",
    "Value",
    "finite_or_fault",
]

#: Sample status values. Plain interned strings: comparing them is a pointer check.
OK = "ok"
STALE = "stale"
FAULT = "fault"
OFFLINE = "offline"
OVERRIDDEN = "overridden"
STATUSES = (OK, STALE, FAULT, OFFLINE, OVERRIDDEN)
#: Stable small integers for storage; never renumber, only append.
STATUS_CODES = {s: i for i, s in enumerate(STATUSES)}

Value = float | int | bool | str | None


class Sample(NamedTuple):
    """One value of one point at one instant.

    ``ts`` is seconds since the Unix epoch, UTC. ``value`` is ``None`` when the
    point has no value (``offline`` or ``fault``). A NamedTuple, not a pydantic
    model: per-sample code must stay lean, and the historian hands tuples
    straight to the database.
    """

    point: str
    ts: float
    value: Value
    status: str = OK


class Reading(NamedTuple):
    """One binding's result from a driver's read: a value and a status, or a status and an error.

    The driver manager stamps it with the clock (or with ``ts``, when the driver knows when the
    value was true: a subscribed driver's last message) and the point's id to make a ``Sample``.
    """

    value: Value
    status: str = OK
    error: str | None = None
    ts: float | None = None


_INF = math.inf


def finite_or_fault(value: Value, status: str) -> tuple[Value, str]:
    """``(value, status)``, or ``(None, FAULT)`` when ``value`` is a NaN or an infinity.

    Called where a driver's reading becomes a sample: a sensor that answers NaN
    (a broken thermistor, an unset register) is a faulty reading, not a number;
    stored as a number it would poison every rollup and alarm comparison after it.
    One type check and one chained comparison: cheap enough for every sample.
    """
    if value.__class__ is float and not -_INF < value < _INF:
        return None, FAULT
    return value, status
