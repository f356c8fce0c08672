"""Faults of an emulated building, offered by the process that runs one (``openbms demo``).

The building emulator (``openbms.sim``) sits above the API and the services:
neither may import it. So whoever starts the process with an emulator (the
demo's wiring in ``openbms.cli.run``) hands the ``Runtime`` an object that
answers :class:`FaultControl` (``openbms.sim.building.fault_catalogue.BuildingFaults``),
as it hands in the API front; the API's ``/api/v1/emulator/faults`` and
``openbms sim fault`` reach it as ``Services.faults``. A runtime over a
real building has none.

Each fault of the catalogue has an id (``kind:target``: ``chiller-trip:ch-1``,
``stuck-damper:vav-s1``, ``failed-sensor:ahu-1/oat``, ``fouled-coil:ahu-1/cooling``)
and at most one number (a damper's stuck position, a failed sensor's reading,
a fouled coil's remaining capacity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["FaultControl", "FaultInfo", "UnknownFault"]


class UnknownFault(LookupError):
    """No fault of the catalogue has this id."""


@dataclass(frozen=True, slots=True)
class FaultInfo:
    """One fault the building can have, and whether it has it now.

    ``parameter`` names the fault's number (``position``, ``reading``,
    ``capacity``; None: it has none), in ``unit``, between ``minimum`` and
    ``maximum``; ``default`` is used when an injection gives none (None for a
    failed sensor: it reads nothing). ``value`` is the number in force while
    ``active``.
    """

    id: str
    kind: str
    target: str
    label: str
    description: str
    parameter: str | None = None
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    default: float | None = None
    active: bool = False
    value: float | None = None


class FaultControl(Protocol):
    """Inject and clear the faults of an emulated building (called on the event loop that steps it)."""

    def faults(self) -> list[FaultInfo]:
        """Every fault of the catalogue, active ones with their value, in a stable order."""
        ...

    def inject(self, fault_id: str, value: float | None = None) -> FaultInfo:
        """Make the fault happen from the next step on (an active one takes the new value).

        Raises :class:`UnknownFault` for an id not in the catalogue and
        ``ValueError`` (saying what was expected) for a value out of range.
        """
        ...

    def clear(self, fault_id: str) -> FaultInfo:
        """Repair the fault (nothing happens if it is not active); :class:`UnknownFault` as ``inject``."""
        ...
