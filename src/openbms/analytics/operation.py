"""What the building is doing, per equipment, from the points' tags and current values.

Nothing here is drawn by hand for a building: every answer comes from the
Haystack-style tags a site file (or BACnet discovery) gives each point, so a
new building gets it without configuration::

    tags of a point                         what it tells
    ─────────────────────────────────────   ─────────────────────────────────────────────
    occupied cmd / occupied sensor (bool)  ─▶ occupancy: occupied | unoccupied (the cmd first)
    heat valve, cool valve (number, %)     ─▶ conditioning: heating | cooling | heating and
    heat|cool … run sensor (bool)               cooling | idle (valves above VALVE_OPEN %, or a
    equipment tags hot/chilled + running        plant of hot or chilled water that runs)
    run sensor (bool)                      ─▶ running: on when any runs
    zone air temp sensor, and the zone's   ─▶ comfort: below | within | above its band, the
    heating/cooling sp (effective first,        band widened by COMFORT_TOLERANCE
    else occ/unocc as occupied)
    a writable bool held on by a schedule  ─▶ off while scheduled on: a schedule's slot says on
    while no run sensor runs                    (whatever wins now) and every run sensor says off

and ``KEY_ROLES`` (a table: a row adds a key value) picks the few values an
overview shows per equipment. Pure: a site configuration, the current samples
and the priority arrays' slots in, answers out; no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from openbms.model.command import Command, CommandSource
from openbms.model.sample import FAULT, OFFLINE, Sample
from openbms.model.site import Equipment, Point, SiteConfig

__all__ = [
    "COMFORT_TOLERANCE",
    "KEY_ROLES",
    "VALVE_OPEN",
    "Comfort",
    "EquipmentOperation",
    "KeyRole",
    "KeyValue",
    "ScheduledOn",
    "site_operation",
]

#: A valve open more than this (%) heats or cools.
VALVE_OPEN = 5.0
#: A zone is outside its band only this far past a setpoint (°C; 1.8 for °F points): a zone a
#: tenth of a degree under its heating setpoint is being controlled, not uncomfortable.
COMFORT_TOLERANCE = 1.0

Occupancy = Literal["occupied", "unoccupied"]
Conditioning = Literal["heating", "cooling", "heating and cooling", "idle"]


@dataclass(frozen=True, slots=True)
class KeyRole:
    """A key value an overview shows: the first point of an equipment carrying all ``tags``
    (of an equipment of one of ``types``, when given) not already shown under another role."""

    label: str
    tags: frozenset[str]
    types: frozenset[str] | None = None


def _role(label: str, *tags: str, types: tuple[str, ...] | None = None) -> KeyRole:
    return KeyRole(label, frozenset(tags), None if types is None else frozenset(types))


_AIR_HANDLERS = ("ahu", "rtu", "fcu")


#: The key values per equipment, in the order shown (a row adds one).
KEY_ROLES: tuple[KeyRole, ...] = (
    _role("zone temperature", "zone", "air", "temp", "sensor"),
    # An air handler's discharge air is the building's supply air; a VAV box's is its own (reheated).
    _role("supply air", "discharge", "air", "temp", "sensor", types=_AIR_HANDLERS),
    _role("supply air setpoint", "discharge", "air", "temp", "sp", types=_AIR_HANDLERS),
    _role("discharge air", "discharge", "air", "temp", "sensor"),
    _role("chilled water", "chilled", "water", "leaving", "temp", "sensor"),
    _role("hot water", "hot", "water", "leaving", "temp", "sensor"),
    _role("fan speed", "fan", "speed"),
    _role("power", "elec", "power", "sensor"),
)


@dataclass(frozen=True, slots=True)
class KeyValue:
    label: str
    point: str


@dataclass(frozen=True, slots=True)
class Comfort:
    """A zone temperature against its band: ``state`` below, within or above."""

    point: str
    value: float
    low: float | None
    high: float | None
    state: Literal["below", "within", "above"]


@dataclass(frozen=True, slots=True)
class ScheduledOn:
    """A point a schedule holds on while the equipment does not run."""

    point: str
    schedule: str  # who wrote the slot: "schedule:<id>"
    priority: int
    winning_priority: int | None  # the slot that wins now (None: the relinquish default)
    winning_source: str | None


@dataclass(frozen=True, slots=True)
class EquipmentOperation:
    """What one equipment is doing now; None where its points do not tell."""

    id: str
    type: str
    name: str
    occupancy: Occupancy | None
    conditioning: Conditioning | None
    running: bool | None
    key_values: tuple[KeyValue, ...]
    comfort: Comfort | None
    scheduled_on_but_off: tuple[ScheduledOn, ...]


Lookup = Callable[[str], Sample | None]
Slots = Callable[[str], Sequence[Command | None]]


def site_operation(cfg: SiteConfig, sample: Lookup, slots: Slots) -> list[EquipmentOperation]:
    """Every equipment of ``cfg`` (in its order), from the current ``sample`` of each point and the
    ``slots`` of its writable points' priority arrays."""
    return [_equipment(cfg, equip, sample, slots) for equip in cfg.equipment]


def _has(point: Point, *tags: str) -> bool:
    return all(t in point.tags for t in tags)


def _usable(s: Sample | None) -> bool:
    return s is not None and s.status not in (OFFLINE, FAULT) and s.value is not None


def _number(s: Sample | None) -> float | None:
    if not _usable(s):
        return None
    assert s is not None
    v = s.value
    if not isinstance(v, int | float) or isinstance(v, bool):
        return None
    return float(v) if math.isfinite(v) else None


def _flag(s: Sample | None) -> bool | None:
    if not _usable(s):
        return None
    assert s is not None
    v = s.value
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    return None


def _equipment(cfg: SiteConfig, equip: Equipment, sample: Lookup, slots: Slots) -> EquipmentOperation:
    pid = {p.name: cfg.point_id(equip, p) for p in equip.points}
    value = {p.name: sample(pid[p.name]) for p in equip.points}
    running = _running(equip, value)
    occupancy = _occupancy(equip, value)
    keys: list[KeyValue] = []
    for role in KEY_ROLES:
        if role.types is not None and equip.type not in role.types:
            continue
        found = next((p for p in equip.points if role.tags <= set(p.tags)
                      and all(k.point != pid[p.name] for k in keys)), None)
        if found is not None:
            keys.append(KeyValue(role.label, pid[found.name]))
    return EquipmentOperation(
        id=equip.id, type=equip.type, name=equip.name, occupancy=occupancy,
        conditioning=_conditioning(equip, value, running), running=running, key_values=tuple(keys),
        comfort=_comfort(equip, value, pid, occupancy),
        scheduled_on_but_off=_scheduled_on(equip, pid, slots) if running is False else ())


def _running(equip: Equipment, value: dict[str, Sample | None]) -> bool | None:
    """Whether any run sensor says it runs; None without one that answers."""
    known = [f for p in equip.points if p.kind == "bool" and _has(p, "run", "sensor")
             if (f := _flag(value[p.name])) is not None]
    return any(known) if known else None


def _occupancy(equip: Equipment, value: dict[str, Sample | None]) -> Occupancy | None:
    for wanted in ("cmd", "sensor"):  # the mode the equipment runs in, then what a sensor sees
        for p in equip.points:
            if p.kind == "bool" and _has(p, "occupied", wanted):
                f = _flag(value[p.name])
                if f is not None:
                    return "occupied" if f else "unoccupied"
    return None


def _conditioning(equip: Equipment, value: dict[str, Sample | None],
                  running: bool | None) -> Conditioning | None:
    heat = cool = False
    known = False
    for p in equip.points:
        if not (_has(p, "valve", "sensor") or _has(p, "run", "sensor")):
            continue
        side = "heat" if "heat" in p.tags else "cool" if "cool" in p.tags else None
        if side is None:
            continue
        n = _number(value[p.name]) if p.kind == "number" else None
        f = _flag(value[p.name]) if p.kind == "bool" else None
        if n is None and f is None:
            continue
        known = True
        on = (n is not None and n > VALVE_OPEN) or f is True
        heat, cool = heat or (on and side == "heat"), cool or (on and side == "cool")
    # A plant of hot or chilled water heats or cools while it runs.
    if running is not None and ({"hot", "chilled"} & set(equip.tags) or {"boiler", "chiller"} & {equip.type}):
        known = True
        heat = heat or (running and ("hot" in equip.tags or equip.type == "boiler"))
        cool = cool or (running and ("chilled" in equip.tags or equip.type == "chiller"))
    if not known:
        return None
    if heat and cool:
        return "heating and cooling"
    return "heating" if heat else "cooling" if cool else "idle"


def _comfort(equip: Equipment, value: dict[str, Sample | None], pid: dict[str, str],
             occupancy: Occupancy | None) -> Comfort | None:
    zone = next((p for p in equip.points if _has(p, "zone", "air", "temp", "sensor")), None)
    if zone is None:
        return None
    temp = _number(value[zone.name])
    if temp is None:
        return None

    def setpoint(side: str) -> float | None:
        sps = [p for p in equip.points if _has(p, "zone", "air", "temp", "sp", side)]
        preferred = ["effective"] + (["occ"] if occupancy == "occupied" else ["unocc"] if occupancy else [])
        for marker in preferred:
            for p in sps:
                if marker in p.tags and (n := _number(value[p.name])) is not None:
                    return n
        return None

    low, high = setpoint("heating"), setpoint("cooling")
    if low is None and high is None:
        return None
    tolerance = COMFORT_TOLERANCE * (1.8 if zone.unit == "degF" else 1.0)
    state: Literal["below", "within", "above"] = (
        "below" if low is not None and temp < low - tolerance
        else "above" if high is not None and temp > high + tolerance
        else "within")
    return Comfort(pid[zone.name], temp, low, high, state)


def _scheduled_on(equip: Equipment, pid: dict[str, str], slots: Slots) -> tuple[ScheduledOn, ...]:
    found = []
    for p in equip.points:
        if not (p.writable and p.kind == "bool"):
            continue
        held = slots(pid[p.name])
        winner = next((c for c in held if c is not None), None)
        for c in held:
            if c is not None and c.source == CommandSource.SCHEDULE and c.value is True:
                found.append(ScheduledOn(
                    point=pid[p.name], schedule=c.requested_by, priority=c.priority,
                    winning_priority=None if winner is None else winner.priority,
                    winning_source=None if winner is None else str(winner.source)))
                break
    return tuple(found)
