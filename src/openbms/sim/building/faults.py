"""Faults to inject into the emulated plant, for alarm and fault-detection tests.

Each fault is a frozen dataclass, so ``Building.clear(fault)`` removes the
equal fault that ``Building.inject(fault)`` added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ChillerTrip", "FailedSensor", "Fault", "FouledCoil", "StuckDamper"]


@dataclass(frozen=True, slots=True)
class StuckDamper:
    """A damper that no longer moves: a VAV box's (``"vav-s1"``) or the AHU's outdoor-air one (``"ahu-1"``).

    ``position`` is in percent open.
    """

    device: str
    position: float


@dataclass(frozen=True, slots=True)
class FailedSensor:
    """A sensor point that reads ``value`` (NaN by default: no reading) whatever the truth.

    Equipment loops that use the sensor see the failed reading too (a zone
    temperature read NaN sends its box to minimum flow; a constant one drives
    it the wrong way), as a real controller would.
    """

    point: str
    value: float = math.nan

    def __eq__(self, other: object) -> bool:  # NaN != NaN would make the default unclearable
        if not isinstance(other, FailedSensor):
            return NotImplemented
        same = self.value == other.value or (math.isnan(self.value) and math.isnan(other.value))
        return self.point == other.point and same

    def __hash__(self) -> int:
        return hash((self.point, "nan" if math.isnan(self.value) else self.value))


@dataclass(frozen=True, slots=True)
class FouledCoil:
    """An AHU coil whose heat transfer (UA) has fallen to ``factor`` of clean."""

    coil: str = "cooling"  # or "heating"
    factor: float = 0.3
    device: str = "ahu-1"


@dataclass(frozen=True, slots=True)
class ChillerTrip:
    """A chiller that has tripped on a safety: it stops and its alarm point is set."""

    chiller: str = "ch-1"


Fault = StuckDamper | FailedSensor | FouledCoil | ChillerTrip
