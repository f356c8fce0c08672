"""The faults a live building offers to openbms: a catalogue by id, to inject and clear while it runs.

``BuildingFaults(building)`` answers ``openbms.service.faults.FaultControl``:
``openbms demo`` hands it to the Runtime, and the API
(``/api/v1/emulator/faults``), the dashboard's Admin page and ``openbms sim
fault`` call it. Every fault of ``faults.py`` is offered on what it applies to:

- ``stuck-damper:ahu-1`` (the outdoor-air damper, stuck open by default) and
  ``stuck-damper:vav-<zone>`` (a box's damper, stuck shut by default);
- ``failed-sensor:<point>`` for the sensors control and fault detection use
  (the AHU's air temperatures, humidities and duct pressure, the water
  supply temperatures, each zone's temperature): no reading by default, or a
  fixed one;
- ``fouled-coil:ahu-1/cooling`` and ``fouled-coil:ahu-1/heating`` (30 % of the
  clean capacity by default);
- ``chiller-trip:ch-<n>`` (the chiller stops and its alarm point is set).

Calls come on the event loop that steps the building, so a fault takes effect
from the next step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from openbms.service.faults import FaultInfo, UnknownFault
from openbms.sim.building.building import Building
from openbms.sim.building.faults import ChillerTrip, FailedSensor, Fault, FouledCoil, StuckDamper

__all__ = ["BuildingFaults", "fault_id"]

#: The AHU's and plants' sensors a failed-sensor fault is offered on (and every zone's temperature).
_SENSORS = ("ahu-1/sat", "ahu-1/mat", "ahu-1/rat", "ahu-1/oat", "ahu-1/ra-rh", "ahu-1/oa-rh", "ahu-1/dsp",
            "chw/supply-t", "hw/supply-t")


def fault_id(fault: Fault) -> str:
    """The catalogue id of ``fault``."""
    if isinstance(fault, StuckDamper):
        return f"stuck-damper:{fault.device}"
    if isinstance(fault, FailedSensor):
        return f"failed-sensor:{fault.point}"
    if isinstance(fault, FouledCoil):
        return f"fouled-coil:{fault.device}/{fault.coil}"
    if isinstance(fault, ChillerTrip):
        return f"chiller-trip:{fault.chiller}"
    raise TypeError(f"not a fault: {fault!r}")


def _value_of(fault: Fault) -> float | None:
    if isinstance(fault, StuckDamper):
        return fault.position
    if isinstance(fault, FailedSensor):
        return None if math.isnan(fault.value) else fault.value
    if isinstance(fault, FouledCoil):
        return round(fault.factor * 100.0, 6)
    return None


def _damper(device: str, default: float, value: float | None) -> Fault:
    return StuckDamper(device, default if value is None else value)


def _sensor(point: str, value: float | None) -> Fault:
    return FailedSensor(point, math.nan if value is None else value)


def _coil(coil: str, value: float | None) -> Fault:
    return FouledCoil(coil, (30.0 if value is None else value) / 100.0, "ahu-1")


def _trip(chiller: str, _value: float | None) -> Fault:
    return ChillerTrip(chiller)


@dataclass(frozen=True, slots=True)
class _Entry:
    info: FaultInfo
    make: Callable[[float | None], Fault]


class BuildingFaults:
    """The catalogue of ``building``'s faults, injected and cleared by id (``FaultControl``)."""

    def __init__(self, building: Building) -> None:
        self.building = building
        self._entries: dict[str, _Entry] = {}
        specs = {s.name: s for s in building.point_specs()}

        def offer(info: FaultInfo, make: Callable[[float | None], Fault]) -> None:
            self._entries[info.id] = _Entry(info, make)

        offer(FaultInfo("stuck-damper:ahu-1", "stuck-damper", "ahu-1", "AHU 1 outdoor-air damper stuck",
                        "The outdoor-air damper no longer moves: at 100 % the coils treat all outdoor air.",
                        "position", "%", 0.0, 100.0, 100.0),
              partial(_damper, "ahu-1", 100.0))
        for zone in building.layout.ids:
            name = zone.upper()
            offer(FaultInfo(f"stuck-damper:vav-{zone}", "stuck-damper", f"vav-{zone}",
                            f"VAV {name} damper stuck",
                            f"Zone {name}'s box damper no longer moves: shut, the zone drifts with the "
                            "weather and its people.", "position", "%", 0.0, 100.0, 0.0),
                  partial(_damper, f"vav-{zone}", 0.0))
        for point in (*_SENSORS, *(f"vav-{z}/zone-t" for z in building.layout.ids)):
            spec = specs[point]
            offer(FaultInfo(f"failed-sensor:{point}", "failed-sensor", point,
                            f"{spec.description} sensor failed ({point})",
                            "The sensor reads nothing (or the fixed reading given); loops that use it see "
                            "that too.", "reading", spec.unit or None, -1000.0, 10000.0),
                  partial(_sensor, point))
        for coil in ("cooling", "heating"):
            offer(FaultInfo(f"fouled-coil:ahu-1/{coil}", "fouled-coil", f"ahu-1/{coil}",
                            f"AHU 1 {coil} coil fouled",
                            f"The {coil} coil transfers only part of its clean capacity (its UA).",
                            "capacity", "%", 0.0, 100.0, 30.0),
                  partial(_coil, coil))
        for k in range(building.chw.n):
            offer(FaultInfo(f"chiller-trip:ch-{k + 1}", "chiller-trip", f"ch-{k + 1}",
                            f"Chiller {k + 1} tripped",
                            "The chiller stops on a safety and sets its alarm point until the fault is "
                            "cleared."),
                  partial(_trip, f"ch-{k + 1}"))

    # ------------------------------------------------------------------ FaultControl

    def faults(self) -> list[FaultInfo]:
        """Every fault of the catalogue, active ones with their value."""
        active = {fault_id(f): f for f in self.building.faults}
        return [self._state(e, active.get(fid)) for fid, e in self._entries.items()]

    def inject(self, fault_id: str, value: float | None = None) -> FaultInfo:
        """Make the fault happen (an active one is replaced with the new value)."""
        entry = self._entry(fault_id)
        info = entry.info
        if value is not None:
            if info.parameter is None:
                raise ValueError(f"{fault_id} takes no value: leave it out")
            if not math.isfinite(value):
                raise ValueError(f"the {info.parameter} of {fault_id} must be a finite number, not {value}")
            low, high = info.minimum, info.maximum
            if low is not None and high is not None and not low <= value <= high:
                unit = f" {info.unit}" if info.unit else ""
                raise ValueError(f"the {info.parameter} of {fault_id} must be from {low:g} to "
                                 f"{high:g}{unit}, not {value:g}")
        fault = entry.make(value)
        self._clear_all(fault_id)
        self.building.inject(fault)
        return self._state(entry, fault)

    def clear(self, fault_id: str) -> FaultInfo:
        """Repair the fault (nothing happens when it is not active)."""
        entry = self._entry(fault_id)
        self._clear_all(fault_id)
        return self._state(entry, None)

    # ------------------------------------------------------------------ internals

    def _entry(self, fid: str) -> _Entry:
        entry = self._entries.get(fid)
        if entry is None:
            kinds = sorted({e.info.kind for e in self._entries.values()})
            raise UnknownFault(f"no fault {fid!r} in the emulated building: ids are KIND:TARGET with KIND "
                               f"one of {', '.join(kinds)} (see 'openbms sim fault list')")
        return entry

    def _clear_all(self, fid: str) -> None:
        for fault in [f for f in self.building.faults if fault_id(f) == fid]:
            self.building.clear(fault)

    @staticmethod
    def _state(entry: _Entry, fault: Fault | None) -> FaultInfo:
        if fault is None:
            return entry.info
        return replace(entry.info, active=True, value=_value_of(fault))
