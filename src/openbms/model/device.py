"""A device's health as the driver manager tracks it: what the status line and the API show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DeviceHealth"]


@dataclass(slots=True)
class DeviceHealth:
    """What the manager knows about one device."""

    driver: str
    device: str
    points: int
    state: str = "unknown"  # unknown → ok | offline
    last_ok: float | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    reads: int = 0
    read_errors: int = 0
    point_faults: int = 0
    subscribed: bool = False
    unit_mismatches: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """For the API and status output."""
        return {k: getattr(self, k) for k in self.__slots__}
