"""The hot-path value: a Sample is a plain tuple, cheap to create and to store."""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "FAULT",
    "OFFLINE",
    "OK",
    "OVERRIDDEN",
    "STALE",
    "STATUSES",
    "STATUS_CODES",
    "Sample",
    "Value",
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
