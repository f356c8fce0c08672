"""Equipment graphics and floor plans, from the equipment type and its points' Brick classes and tags.

A building found by discovery gets a schematic per equipment without anyone
drawing one: the equipment type picks a template, and each point lands on an
element of it by what the point *is*, never by its name::

    equipment type                         template        elements
    ───────────────────────────────────    ─────────────   ──────────────────────────────────────────
    ahu, rtu                            ─▶ ahu             ducts, outside-air/return/exhaust dampers,
                                                           filter, heating and cooling coils with
                                                           their valves, supply and return fans,
                                                           sensors in the airstream (OAT → MAT →
                                                           after the coils SAT; RAT in the return),
                                                           static pressure, airflow
    vav                                 ─▶ vav             damper with airflow, reheat coil and valve,
                                                           discharge air, the zone with its setpoints
    plant of chilled water, chiller     ─▶ chiller-plant   chillers, pumps, supply/return headers,
    plant of hot water, boiler          ─▶ boiler-plant    boilers, pumps, supply/return headers,
                                                           supply/return temperatures, flow, load
    meter                               ─▶ meter           one meter per commodity: power and energy
    anything else                       ─▶ generic         one box, its points as labelled values

A point goes to the element of the first rule its **Brick class** matches; a
point whose class no rule knows goes by its **tags** (all of a rule's tags).
What no rule takes is ``unplaced`` (the dashboard lists it under the drawing).
The units of a plant (chiller 1, pump 1…) are the equipment that ``feeds`` the
plant and, within the plant's own points, the groups a numbered name prefix
makes (``ch-1-…``, ``chwp-1-…``): the prefix says which points belong
together, their Brick classes and tags what the unit is (a unit with a
thermal output, capacity or efficiency makes chilled or hot water; one with
only an enable, a status and power is a pump) and what each point is.

Element ids are stable within a template (a saved layout refers to them):
the AHU's ``supply-fan`` is always ``supply-fan``. A saved placement
(``Placement`` by element id, ``openbms.config.graphics`` reads it from the
site folder) moves or resizes an element; a duct or pipe keeps its path.

``plan(cfg, space)`` lays out a floor's zones (``plans(cfg)`` lists the spaces
that have one): core in the middle, north/east/south/west perimeters around
it from the compass words in a zone's name or id, other zones on a grid; each
zone with the point measuring its temperature and its heating and cooling
setpoints (effective first, as ``openbms.analytics.operation`` judges comfort,
with its ``COMFORT_TOLERANCE``).

Pure: a site configuration in, frozen dataclasses out; no I/O, no pydantic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from openbms.analytics.operation import COMFORT_TOLERANCE
from openbms.model.site import Equipment, Point, SiteConfig, Space

__all__ = [
    "DEFAULT_BAND",
    "Element",
    "Graphic",
    "GraphicPoint",
    "Placement",
    "Plan",
    "PlanSummary",
    "PlanZone",
    "graphic",
    "plan",
    "plans",
]

Kind = Literal["duct", "pipe", "fan", "pump", "damper", "filter", "heating-coil", "cooling-coil", "valve",
               "sensor", "chiller", "boiler", "tower", "meter", "zone", "box", "label"]
Role = Literal["value", "setpoint", "command", "status", "speed", "position", "alarm"]
Flow = Literal["air", "chw", "hw", "cw"]
Template = Literal["ahu", "vav", "chiller-plant", "boiler-plant", "meter", "generic"]

#: The band (°C) a zone is judged by when no setpoint point tells it (heating, cooling).
DEFAULT_BAND = (21.0, 24.0)


@dataclass(frozen=True, slots=True)
class GraphicPoint:
    id: str
    role: Role


@dataclass(frozen=True, slots=True)
class Element:
    """One symbol of a graphic: the box (x, y, w, h) it fills in viewBox coordinates."""

    id: str
    kind: Kind
    x: float
    y: float
    w: float
    h: float
    label: str
    points: tuple[GraphicPoint, ...] = ()
    flow: Flow | None = None
    path: tuple[tuple[float, float], ...] | None = None


@dataclass(frozen=True, slots=True)
class Graphic:
    equipment: str
    name: str
    type: str
    template: Template
    width: float
    height: float
    saved: bool
    elements: tuple[Element, ...]
    unplaced: tuple[str, ...]

    def element_ids(self) -> frozenset[str]:
        return frozenset(e.id for e in self.elements)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an integrator put an element: its top-left corner, and its size when changed."""

    x: float
    y: float
    w: float | None = None
    h: float | None = None


# ------------------------------------------------------------------------------ matching points


@dataclass(frozen=True, slots=True)
class Rule:
    """Points of a Brick class in ``brick`` (with every tag of ``also``), or else carrying every tag of
    ``tags`` and none of ``without``, go to ``element`` as ``role``."""

    element: str
    role: Role
    brick: frozenset[str] = frozenset()
    tags: frozenset[str] | None = None
    without: frozenset[str] = frozenset()
    also: frozenset[str] = frozenset()


def _rule(element: str, role: Role, brick: str = "", tags: str | None = None, without: str = "",
          also: str = "") -> Rule:
    return Rule(element, role, frozenset(brick.split()), None if tags is None else frozenset(tags.split()),
                frozenset(without.split()), frozenset(also.split()))


def _by_brick(point: Point, rules: Sequence[Rule]) -> Rule | None:
    if point.brick is None:
        return None
    return next((r for r in rules if point.brick in r.brick and r.also <= set(point.tags)), None)


def _by_tags(point: Point, rules: Sequence[Rule]) -> Rule | None:
    tags = set(point.tags)
    return next((r for r in rules if r.tags is not None and r.tags <= tags and not (r.without & tags)), None)


def _match(point: Point, rules: Sequence[Rule]) -> Rule | None:
    """The rule of ``point``: by its Brick class first, by its tags when no rule knows the class."""
    return _by_brick(point, rules) or _by_tags(point, rules)


def _generic_role(point: Point) -> Role:
    tags = set(point.tags)
    if "alarm" in tags or "fault" in tags:
        return "alarm"
    if "sp" in tags:
        return "setpoint"
    if "speed" in tags:
        return "speed"
    if {"damper", "valve"} & tags:
        return "position"
    if point.kind == "bool" and "run" in tags and "sensor" in tags:
        return "status"
    if point.writable and ("cmd" in tags or point.kind == "bool"):
        return "command"
    return "value"


# ------------------------------------------------------------------------------ drawing helpers


@dataclass(slots=True)
class _Slot:
    """An element of a template before its points are known; ``always`` draws it without points."""

    id: str
    kind: Kind
    box: tuple[float, float, float, float]
    label: str
    always: bool = False
    flow: Flow | None = None
    path: tuple[tuple[float, float], ...] | None = None
    points: list[GraphicPoint] = field(default_factory=list)
    with_: str | None = None  # drawn too when this slot has points (a coil with its valve)


def _line(id_: str, kind: Kind, label: str, flow: Flow, *path: tuple[float, float]) -> _Slot:
    xs, ys = [p[0] for p in path], [p[1] for p in path]
    box = (min(xs), min(ys), max(max(xs) - min(xs), 1.0), max(max(ys) - min(ys), 1.0))
    return _Slot(id_, kind, box, label, always=True, flow=flow, path=tuple(path))


_ROLE_ORDER: dict[Role, int] = {"command": 0, "status": 1, "value": 2, "speed": 3, "position": 4,
                                "setpoint": 5, "alarm": 6}


#: The kinds drawn as a labelled box with their values inside (the dashboard's BOXED_KINDS).
_BOXED = frozenset({"chiller", "boiler", "tower", "meter", "zone", "box"})
#: A line of the dashboard's text, in viewBox units (web/src/lib/graphic.ts textBox).
_LINE = 21.0


def _boxed_height(values: int) -> float:
    """The height a labelled box needs for its label's line and ``values`` lines, with a margin."""
    return _LINE + 6 + values * _LINE + 6 + 6


def _finish(slots: Sequence[_Slot],
            layout: Mapping[str, Placement] | None) -> tuple[tuple[Element, ...], bool]:
    """The elements drawn (those with points, and those always drawn), placed by ``layout``."""
    out: list[Element] = []
    saved = False
    has_points = {s.id for s in slots if s.points}
    for s in slots:
        if not s.points and not s.always and s.with_ not in has_points:
            continue
        x, y, w, h = s.box
        placed = (layout or {}).get(s.id)
        if placed is not None:
            saved = True
            x, y = placed.x, placed.y
            w = placed.w if placed.w is not None else w
            h = placed.h if placed.h is not None else h
        if s.kind in _BOXED and (placed is None or placed.h is None):
            h = max(h, _boxed_height(len(s.points)))
        points = tuple(sorted(s.points, key=lambda p: _ROLE_ORDER[p.role]))
        out.append(Element(s.id, s.kind, x, y, w, h, s.label, points, s.flow, s.path))
    return tuple(out), saved


def _place(cfg: SiteConfig, equip: Equipment, slots: Sequence[_Slot], rules: Sequence[Rule]) -> list[str]:
    """Put each point of ``equip`` on the slot its rule names; the ids no rule takes."""
    by_id = {s.id: s for s in slots}
    unplaced = []
    for p in equip.points:
        rule = _match(p, rules)
        pid = cfg.point_id(equip, p)
        if rule is None or rule.element not in by_id:
            unplaced.append(pid)
        else:
            by_id[rule.element].points.append(GraphicPoint(pid, rule.role))
    return unplaced


# ------------------------------------------------------------------------------ air handler

_AHU_W, _AHU_H = 1000.0, 420.0
_SUPPLY_Y, _RETURN_Y = 260.0, 60.0

#: Brick classes first (``also``: tags that tell which of several dampers or fans), then tags.
AHU_RULES: tuple[Rule, ...] = (
    # dampers
    _rule("outside-air-damper", "position", "Outside_Air_Damper_Position_Sensor "
          "Outside_Air_Damper_Position_Command Outside_Air_Damper_Command"),
    _rule("outside-air-damper", "setpoint", "Min_Position_Setpoint Outside_Air_Damper_Min_Position_Setpoint"),
    _rule("return-damper", "position", "Return_Air_Damper_Position_Sensor Return_Air_Damper_Position_Command "
          "Return_Air_Damper_Command"),
    _rule("exhaust-damper", "position", "Exhaust_Air_Damper_Position_Sensor "
          "Exhaust_Air_Damper_Position_Command Exhaust_Air_Damper_Command"),
    _rule("outside-air-damper", "position", "Damper_Position_Sensor Damper_Position_Command", also="outside"),
    _rule("return-damper", "position", "Damper_Position_Sensor Damper_Position_Command", also="return"),
    _rule("exhaust-damper", "position", "Damper_Position_Sensor Damper_Position_Command", also="exhaust"),
    _rule("outside-air-damper", "command", "Enable_Command", also="economizer"),
    # coils and their valves
    _rule("heating-valve", "position", "Hot_Water_Valve Hot_Water_Valve_Command Heating_Valve "
          "Heating_Valve_Command"),
    _rule("cooling-valve", "position", "Chilled_Water_Valve Chilled_Water_Valve_Command Cooling_Valve "
          "Cooling_Valve_Command"),
    _rule("heating-coil", "value", "Thermal_Power_Sensor Heating_Thermal_Power_Sensor", also="heat"),
    _rule("cooling-coil", "value", "Thermal_Power_Sensor Cooling_Thermal_Power_Sensor", also="cool"),
    _rule("heating-coil", "value", "Heating_Thermal_Power_Sensor"),
    _rule("cooling-coil", "value", "Cooling_Thermal_Power_Sensor"),
    _rule("filter", "value", "Filter_Differential_Pressure_Sensor Filter_Status"),
    # fans
    _rule("return-fan", "command", "Start_Stop_Command Fan_Start_Stop_Command Run_Enable_Command",
          also="return"),
    _rule("return-fan", "status", "Fan_Status Run_Status", also="return"),
    _rule("return-fan", "speed", "Frequency_Sensor Fan_Speed_Command Speed_Status", also="return"),
    _rule("return-fan", "value", "Electric_Power_Sensor", also="return"),
    _rule("supply-fan", "command", "Start_Stop_Command Supply_Fan_Start_Stop_Command Fan_Start_Stop_Command "
          "Run_Enable_Command"),
    _rule("supply-fan", "status", "Fan_Status Supply_Fan_Status Run_Status"),
    _rule("supply-fan", "speed", "Frequency_Sensor Fan_Speed_Command Speed_Status Supply_Fan_Speed_Command"),
    _rule("supply-fan", "value", "Electric_Power_Sensor"),
    # sensors in the airstream
    _rule("outside-air", "value", "Outside_Air_Temperature_Sensor Outside_Air_Humidity_Sensor "
          "Outside_Air_Flow_Sensor"),
    _rule("mixed-air", "value", "Mixed_Air_Temperature_Sensor"),
    _rule("supply-air", "value", "Supply_Air_Temperature_Sensor Discharge_Air_Temperature_Sensor "
          "Supply_Air_Humidity_Sensor"),
    _rule("supply-air", "setpoint", "Supply_Air_Temperature_Setpoint Discharge_Air_Temperature_Setpoint"),
    _rule("return-air", "value", "Return_Air_Temperature_Sensor Return_Air_Humidity_Sensor"),
    _rule("static-pressure", "value", "Supply_Air_Static_Pressure_Sensor Static_Pressure_Sensor"),
    _rule("static-pressure", "setpoint", "Supply_Air_Static_Pressure_Setpoint Static_Pressure_Setpoint"),
    _rule("supply-airflow", "value", "Supply_Air_Flow_Sensor Discharge_Air_Flow_Sensor"),
    _rule("supply-airflow", "setpoint", "Supply_Air_Flow_Setpoint"),
    # by tags, for points without a Brick class these rules know
    _rule("outside-air-damper", "setpoint", tags="outside air damper min sp"),
    _rule("outside-air-damper", "position", tags="outside damper", without="sp"),
    _rule("return-damper", "position", tags="return damper", without="sp"),
    _rule("exhaust-damper", "position", tags="exhaust damper", without="sp"),
    _rule("outside-air-damper", "command", tags="economizer enable"),
    _rule("heating-valve", "position", tags="heat valve"),
    _rule("cooling-valve", "position", tags="cool valve"),
    _rule("filter", "value", tags="filter"),
    _rule("return-fan", "command", tags="return fan cmd", without="speed"),
    _rule("return-fan", "status", tags="return fan run sensor"),
    _rule("return-fan", "speed", tags="return fan speed"),
    _rule("supply-fan", "command", tags="fan run cmd", without="speed"),
    _rule("supply-fan", "command", tags="fan enable cmd", without="speed"),
    _rule("supply-fan", "status", tags="fan run sensor"),
    _rule("supply-fan", "speed", tags="fan speed"),
    _rule("outside-air", "value", tags="outside air sensor"),
    _rule("mixed-air", "value", tags="mixed air temp sensor"),
    _rule("supply-air", "value", tags="discharge air temp sensor"),
    _rule("supply-air", "value", tags="discharge air humidity sensor"),
    _rule("supply-air", "setpoint", tags="discharge air temp sp"),
    _rule("return-air", "value", tags="return air temp sensor"),
    _rule("return-air", "value", tags="return air humidity sensor"),
    _rule("static-pressure", "value", tags="discharge air pressure sensor"),
    _rule("static-pressure", "setpoint", tags="discharge air pressure sp"),
    _rule("supply-airflow", "value", tags="discharge air flow sensor"),
    _rule("supply-airflow", "setpoint", tags="discharge air flow sp"),
    _rule("heating-coil", "value", tags="heat thermal power sensor"),
    _rule("cooling-coil", "value", tags="cool thermal power sensor"),
)


def _ahu_slots() -> list[_Slot]:
    # Room for text by the dashboard's rule (tests/analytics/test_graphics.py checks it): a sensor's box
    # is as wide as its text (114), other symbols have theirs below (a coil or filter above), a damper's
    # and a fan's up to five lines (420 high: the drawing grows for more); the duct labels lie on the
    # ducts' open ends.
    s, r = _SUPPLY_Y, _RETURN_Y
    return [
        _line("supply-duct", "duct", "Supply air", "air", (0, s), (_AHU_W, s)),
        _line("return-duct", "duct", "Return air", "air", (_AHU_W, r), (0, r)),
        _line("mixing-duct", "duct", "", "air", (235, r), (235, s)),
        _Slot("label-outside", "label", (4, s - 12, 110, 24), "Outside air", always=True),
        _Slot("label-exhaust", "label", (4, r - 12, 110, 24), "Exhaust air", always=True),
        _Slot("label-supply", "label", (_AHU_W - 96, s - 12, 92, 24), "Supply air", always=True),
        _Slot("label-return", "label", (_AHU_W - 96, r - 12, 92, 24), "Return air", always=True),
        _Slot("outside-air", "sensor", (4, s - 110, 114, 44), "Outside air"),
        _Slot("outside-air-damper", "damper", (140, s - 30, 50, 60), "Outside-air damper", always=True),
        _Slot("exhaust-damper", "damper", (140, r - 30, 50, 60), "Exhaust damper"),
        _Slot("return-damper", "damper", (210, (r + s) / 2 - 30, 50, 60), "Return damper"),
        _Slot("mixed-air", "sensor", (246, s + 44, 114, 44), "Mixed air"),
        _Slot("filter", "filter", (330, s - 40, 30, 80), "Filter", always=True),
        _Slot("heating-coil", "heating-coil", (410, s - 40, 40, 80), "Heating coil", with_="heating-valve"),
        _Slot("heating-valve", "valve", (410, s + 60, 40, 40), "Heating valve"),
        _Slot("cooling-coil", "cooling-coil", (490, s - 40, 40, 80), "Cooling coil", with_="cooling-valve"),
        _Slot("cooling-valve", "valve", (490, s + 60, 40, 40), "Cooling valve"),
        _Slot("supply-fan", "fan", (600, s - 35, 70, 70), "Supply fan", always=True),
        _Slot("supply-air", "sensor", (700, s + 40, 114, 44), "Supply air"),
        _Slot("static-pressure", "sensor", (830, s + 40, 114, 44), "Static pressure"),
        _Slot("supply-airflow", "sensor", (830, s - 110, 114, 44), "Supply airflow"),
        _Slot("return-fan", "fan", (600, r - 35, 70, 70), "Return fan"),
        _Slot("return-air", "sensor", (700, r + 40, 114, 44), "Return air"),
    ]


# ------------------------------------------------------------------------------ VAV box

_VAV_W, _VAV_H = 700.0, 360.0

VAV_RULES: tuple[Rule, ...] = (
    _rule("damper", "position", "Damper_Position_Sensor Damper_Position_Command Damper_Command"),
    _rule("airflow", "value", "Supply_Air_Flow_Sensor Discharge_Air_Flow_Sensor Air_Flow_Sensor"),
    _rule("airflow", "setpoint", "Supply_Air_Flow_Setpoint Discharge_Air_Flow_Setpoint Air_Flow_Setpoint"),
    _rule("reheat-valve", "position", "Hot_Water_Valve Hot_Water_Valve_Command Valve_Position_Command "
          "Valve_Position_Sensor Heating_Valve Reheat_Valve_Command"),
    _rule("reheat-coil", "value", "Thermal_Power_Sensor Heating_Thermal_Power_Sensor"),
    _rule("discharge-air", "value", "Discharge_Air_Temperature_Sensor Supply_Air_Temperature_Sensor"),
    _rule("zone", "value", "Zone_Air_Temperature_Sensor Zone_Air_Humidity_Sensor"),
    _rule("zone", "status", "Occupancy_Sensor"),
    _rule("zone", "command", "Occupancy_Command"),
    _rule("zone", "setpoint", "Zone_Air_Temperature_Setpoint Effective_Air_Temperature_Heating_Setpoint "
          "Effective_Air_Temperature_Cooling_Setpoint Occupied_Air_Temperature_Heating_Setpoint "
          "Occupied_Air_Temperature_Cooling_Setpoint Unoccupied_Air_Temperature_Heating_Setpoint "
          "Unoccupied_Air_Temperature_Cooling_Setpoint Effective_Air_Temperature_Setpoint"),
    _rule("damper", "position", tags="damper", without="sp"),
    _rule("airflow", "value", tags="air flow sensor"),
    _rule("airflow", "setpoint", tags="air flow sp"),
    _rule("reheat-valve", "position", tags="valve"),
    _rule("reheat-coil", "value", tags="thermal power sensor"),
    _rule("discharge-air", "value", tags="discharge air temp sensor"),
    _rule("zone", "value", tags="zone air sensor"),
    _rule("zone", "setpoint", tags="zone air temp sp"),
    _rule("zone", "status", tags="occupied sensor"),
    _rule("zone", "command", tags="occupied cmd"),
)


def _vav_slots() -> list[_Slot]:
    # The zone's box grows to hold its values (``_finish``); its setpoints' names need 200 units.
    y = 160.0
    return [
        _line("supply-duct", "duct", "Supply air", "air", (0, y), (490, y)),
        _Slot("label-supply", "label", (4, y - 12, 180, 24), "From the air handler", always=True),
        _Slot("airflow", "sensor", (20, 30, 114, 44), "Airflow"),
        _Slot("damper", "damper", (200, y - 30, 50, 60), "Damper", always=True),
        _Slot("reheat-coil", "heating-coil", (290, y - 40, 40, 80), "Reheat coil", with_="reheat-valve"),
        _Slot("reheat-valve", "valve", (290, y + 60, 40, 40), "Reheat valve"),
        _Slot("discharge-air", "sensor", (360, 30, 114, 44), "Discharge air"),
        _Slot("zone", "zone", (490, 20, 200, 240), "Zone", always=True),
    ]


# ------------------------------------------------------------------------------ plants


_UNIT = re.compile(r"^([a-z]+-?\d+)-")

UNIT_RULES: tuple[Rule, ...] = (
    _rule("unit", "command", "Enable_Command Start_Stop_Command Run_Enable_Command On_Off_Command"),
    _rule("unit", "status", "Run_Status Fan_Status Pump_Status Status On_Off_Status"),
    _rule("unit", "alarm", "Alarm Fault_Status"),
    _rule("unit", "speed", "Frequency_Sensor Speed_Status Pump_Speed_Command"),
    _rule("unit", "setpoint", "Chilled_Water_Supply_Temperature_Setpoint "
          "Hot_Water_Supply_Temperature_Setpoint"),
    _rule("unit", "alarm", tags="alarm"),
    _rule("unit", "alarm", tags="fault"),
    _rule("unit", "status", tags="run sensor"),
    _rule("unit", "command", tags="enable cmd"),
    _rule("unit", "command", tags="run cmd"),
    _rule("unit", "speed", tags="speed"),
    _rule("unit", "setpoint", tags="sp"),
    _rule("unit", "value", tags="sensor"),
)

#: A unit with one of these makes chilled or hot water; one without them is a pump.
_MAKES = frozenset({"Thermal_Power_Sensor", "Efficiency_Sensor", "COP_Sensor"})
_MAKES_TAGS = frozenset({"thermal", "capacity", "efficiency", "chiller", "boiler"})

PLANT_RULES: tuple[Rule, ...] = (
    _rule("supply-temp", "value", "Chilled_Water_Supply_Temperature_Sensor "
          "Hot_Water_Supply_Temperature_Sensor "
          "Leaving_Chilled_Water_Temperature_Sensor Leaving_Hot_Water_Temperature_Sensor"),
    _rule("supply-temp", "setpoint", "Chilled_Water_Supply_Temperature_Setpoint "
          "Hot_Water_Supply_Temperature_Setpoint"),
    _rule("return-temp", "value", "Chilled_Water_Return_Temperature_Sensor "
          "Hot_Water_Return_Temperature_Sensor "
          "Entering_Chilled_Water_Temperature_Sensor Entering_Hot_Water_Temperature_Sensor"),
    _rule("flow", "value", "Chilled_Water_Flow_Sensor Hot_Water_Flow_Sensor Water_Flow_Sensor"),
    _rule("differential-pressure", "value", "Chilled_Water_Differential_Pressure_Sensor "
          "Hot_Water_Differential_Pressure_Sensor Differential_Pressure_Sensor"),
    _rule("differential-pressure", "setpoint", "Chilled_Water_Differential_Pressure_Setpoint "
          "Hot_Water_Differential_Pressure_Setpoint Differential_Pressure_Setpoint"),
    _rule("load", "value", "Thermal_Power_Sensor"),
    _rule("supply-temp", "value", tags="water leaving temp sensor"),
    _rule("supply-temp", "setpoint", tags="water leaving temp sp"),
    _rule("return-temp", "value", tags="water entering temp sensor"),
    _rule("flow", "value", tags="water flow sensor"),
    _rule("differential-pressure", "value", tags="pressure sensor"),
    _rule("differential-pressure", "setpoint", tags="pressure sp"),
    _rule("load", "value", tags="thermal power sensor"),
)

_PLANT_W, _PLANT_H = 1000.0, 460.0


def _makes_water(points: Iterable[Point]) -> bool:
    return any(p.brick in _MAKES or (_MAKES_TAGS & set(p.tags)) or (p.brick and ("Chiller" in p.brick
               or "Boiler" in p.brick)) for p in points)


def _is_pump(points: Sequence[Point], equip: Equipment | None = None) -> bool:
    """Whether a unit of a plant is a pump: by the feeding equipment's type, else its points' tags and
    Brick classes (a unit that makes no chilled or hot water moves it)."""
    if equip is not None and equip.type in ("pump", "chiller", "boiler"):
        return equip.type == "pump"
    tags = {t for p in points for t in p.tags} | (set(equip.tags) if equip else set())
    if "pump" in tags or any(p.brick and "Pump" in p.brick for p in points):
        return True
    return not _makes_water(points)


def _plant(cfg: SiteConfig, equip: Equipment, template: Template) -> tuple[list[_Slot], list[str]]:
    chilled = template == "chiller-plant"
    flow: Flow = "chw" if chilled else "hw"
    maker: Kind = "chiller" if chilled else "boiler"
    water = "Chilled-water" if chilled else "Hot-water"
    # units: the equipment that feeds this plant, then the numbered groups of its own points
    units: list[tuple[str, str, list[tuple[Equipment, Point]], bool]] = []  # id, label, points, pump
    if equip.type in ("chiller", "boiler"):
        own = [(equip, p) for p in equip.points]
        units.append((equip.id, equip.name or equip.id, own, False))
        rest: list[Point] = []
    else:
        for other in cfg.equipment:
            if equip.id in other.feeds and other.type in ("chiller", "boiler", "pump"):
                units.append((other.id, other.name or other.id, [(other, p) for p in other.points],
                              _is_pump(other.points, other)))
        groups: dict[str, list[Point]] = {}
        rest = []
        for p in equip.points:
            m = _UNIT.match(p.name)
            if m is not None:
                groups.setdefault(m.group(1), []).append(p)
            else:
                rest.append(p)
        for key, pts in groups.items():
            if len(pts) < 2:  # a lone numbered point is a plant point
                rest.extend(pts)
                continue
            units.append((key, "", [(equip, p) for p in pts], _is_pump(pts)))
    # a unit's element id is its equipment id or point prefix; one the template uses itself gets "unit-"
    fixed = {"supply-pipe", "return-pipe", "supply-temp", "flow", "load", "differential-pressure",
             "return-temp"}
    units = [(f"unit-{uid}" if uid in fixed or uid.endswith("-branch") else uid, label, pts, pump)
             for uid, label, pts, pump in units]
    makers = [u for u in units if not u[3]]
    pumps = [u for u in units if u[3]]
    sy, ry = 40.0, 320.0
    slots = [
        _line("supply-pipe", "pipe", f"{water} supply", flow, (0, sy), (_PLANT_W, sy)),
        _line("return-pipe", "pipe", f"{water} return", flow, (_PLANT_W, ry), (0, ry)),
    ]
    unplaced: list[str] = []
    # a chiller or boiler's box holds its label and values (``_finish`` grows it for more than 7)
    step = min(190.0, 560.0 / max(len(makers), 1))
    for i, (uid, label, _pts, _pump) in enumerate(makers):
        x = 30 + i * step
        w = min(170.0, step - 20)
        slots.append(_line(f"{uid}-branch", "pipe", "", flow, (x + w / 2, sy), (x + w / 2, ry)))
        slots.append(_Slot(uid, maker, (x, sy + 30, w, 190), label or f"{maker.capitalize()} {i + 1}",
                           always=True))
    pstep = min(110.0, 300.0 / max(len(pumps), 1))
    for j, (uid, label, _pts, _pump) in enumerate(pumps):
        slots.append(_Slot(uid, "pump", (610 + j * pstep, ry - 35, min(70.0, pstep - 10), 70),
                           label or f"Pump {j + 1}", always=True))
    slots += [
        # sensors between the headers, right of the units, as wide as their labels' two lines
        _Slot("supply-temp", "sensor", (840, sy + 16, 150, 44), f"{water} supply"),
        _Slot("flow", "sensor", (680, sy + 16, 140, 44), "Flow"),
        _Slot("load", "sensor", (840, sy + 120, 150, 44), "Load"),
        _Slot("differential-pressure", "sensor", (680, sy + 120, 140, 44), "Differential pressure"),
        _Slot("return-temp", "sensor", (840, ry + 16, 150, 44), f"{water} return"),
    ]
    by_id = {s.id: s for s in slots}
    for uid, _label, members, _pump in units:
        for owner, member in members:
            rule = _match(member, UNIT_RULES)
            pid = cfg.point_id(owner, member)
            if rule is not None:
                by_id[uid].points.append(GraphicPoint(pid, rule.role))
            elif owner is equip:
                unplaced.append(pid)
    for p in rest:
        rule = _match(p, PLANT_RULES)
        pid = cfg.point_id(equip, p)
        if rule is None:
            unplaced.append(pid)
        else:
            by_id[rule.element].points.append(GraphicPoint(pid, rule.role))
    return slots, unplaced


# ------------------------------------------------------------------------------ meters and the rest

_COMMODITIES = ("elec", "gas", "water", "steam", "thermal", "chilled", "hot")
_COMMODITY_LABEL = {"elec": "Electricity", "gas": "Gas", "water": "Water", "steam": "Steam",
                    "thermal": "Heat", "chilled": "Chilled water", "hot": "Hot water", "other": "Meter"}


def _commodity(point: Point) -> str:
    if point.brick is not None:
        low = point.brick.lower()
        if low.startswith("electric"):
            return "elec"
    return next((c for c in _COMMODITIES if c in point.tags), "other")


def _meter(cfg: SiteConfig, equip: Equipment) -> tuple[list[_Slot], list[str], float, float]:
    groups: dict[str, list[Point]] = {}
    for p in equip.points:
        groups.setdefault(_commodity(p), []).append(p)
    slots = []
    for i, (commodity, pts) in enumerate(groups.items()):
        s = _Slot(f"meter-{commodity}", "meter", (20 + i * 260, 20, 240, _boxed_height(len(pts))),
                  _COMMODITY_LABEL[commodity], always=True)
        s.points = [GraphicPoint(cfg.point_id(equip, p), _generic_role(p)) for p in pts]
        slots.append(s)
    width = max(300.0, 20 + 260 * len(groups))
    height = max(160.0, 40 + max((s.box[3] for s in slots), default=0))
    return slots, [], width, height


def _generic(cfg: SiteConfig, equip: Equipment) -> tuple[list[_Slot], list[str], float, float]:
    height = 80 + 36 * len(equip.points)
    box = _Slot("equipment", "box", (20, 20, 560, height - 40), equip.name or equip.id, always=True)
    box.points = [GraphicPoint(cfg.point_id(equip, p), _generic_role(p)) for p in equip.points]
    return [box], [], 600.0, float(height)


def template_of(equip: Equipment) -> Template:
    """The template that draws ``equip``: by its type, a plant by the water its tags say it makes."""
    if equip.type in ("ahu", "rtu"):
        return "ahu"
    if equip.type == "vav":
        return "vav"
    if equip.type == "chiller" or (equip.type == "plant" and "chilled" in equip.tags):
        return "chiller-plant"
    if equip.type == "boiler" or (equip.type == "plant" and {"hot", "steam"} & set(equip.tags)):
        return "boiler-plant"
    if equip.type == "meter":
        return "meter"
    return "generic"


def graphic(cfg: SiteConfig, equip_id: str, layout: Mapping[str, Placement] | None = None) -> Graphic | None:
    """The graphic of equipment ``equip_id`` of ``cfg`` (None when it has no such equipment), its elements
    moved where ``layout`` (element id → placement) puts them."""
    equip = next((e for e in cfg.equipment if e.id == equip_id), None)
    if equip is None:
        return None
    template = template_of(equip)
    if template == "ahu":
        slots, width, height = _ahu_slots(), _AHU_W, _AHU_H
        unplaced = _place(cfg, equip, slots, AHU_RULES)
    elif template == "vav":
        slots, width, height = _vav_slots(), _VAV_W, _VAV_H
        unplaced = _place(cfg, equip, slots, VAV_RULES)
    elif template in ("chiller-plant", "boiler-plant"):
        slots, unplaced = _plant(cfg, equip, template)
        width, height = _PLANT_W, _PLANT_H
    elif template == "meter":
        slots, unplaced, width, height = _meter(cfg, equip)
    else:
        slots, unplaced, width, height = _generic(cfg, equip)
    elements, saved = _finish(slots, layout)
    # a labelled box grown for its values may reach below the template's height
    height = max([height] + [e.y + e.h + 20 for e in elements if e.kind in _BOXED])
    return Graphic(equip.id, equip.name or equip.id, equip.type, template, width, height, saved, elements,
                   tuple(unplaced))


# ------------------------------------------------------------------------------ floor plans


@dataclass(frozen=True, slots=True)
class PlanZone:
    space: str
    name: str
    x: float
    y: float
    w: float
    h: float
    temperature: str | None
    low: str | None
    high: str | None
    band: tuple[float, float] | None
    tolerance: float
    equipment: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    space: str
    name: str
    width: float
    height: float
    saved: bool
    zones: tuple[PlanZone, ...]

    def element_ids(self) -> frozenset[str]:
        return frozenset(z.space for z in self.zones)


@dataclass(frozen=True, slots=True)
class PlanSummary:
    space: str
    name: str
    zones: int


_ZONE_KINDS = ("zone", "room")
_PLAN_W, _PLAN_H, _DEPTH = 600.0, 400.0, 80.0
#: West and east perimeters are deeper than north and south: their names wrap in a narrow column.
_SIDE = 110.0
_WORDS = {"north": "n", "south": "s", "east": "e", "west": "w", "core": "c", "centre": "c", "center": "c",
          "interior": "c", "middle": "c"}
_SHORT = re.compile(r"^([nsewc])\d*$")
#: Where each compass position goes on a floor: x, y, w, h.
_SIDES = {"n": (0, 0, _PLAN_W, _DEPTH), "s": (0, _PLAN_H - _DEPTH, _PLAN_W, _DEPTH),
          "w": (0, _DEPTH, _SIDE, _PLAN_H - 2 * _DEPTH),
          "e": (_PLAN_W - _SIDE, _DEPTH, _SIDE, _PLAN_H - 2 * _DEPTH),
          "c": (_SIDE, _DEPTH, _PLAN_W - 2 * _SIDE, _PLAN_H - 2 * _DEPTH)}
_CELL_W, _CELL_H = 200.0, 120.0


def _compass(space: Space) -> str | None:
    """n, s, e, w or c from the words of a zone's name, else of its id; None without one."""
    for text in (space.name, space.id):
        words = re.split(r"[^a-z0-9]+", text.lower())
        for w in words:
            if w in _WORDS:
                return _WORDS[w]
    for w in re.split(r"[^a-z0-9]+", space.id.lower()):
        m = _SHORT.match(w)
        if m is not None:
            return m.group(1)
    return None


def _zones_of(cfg: SiteConfig, space: Space) -> list[Space]:
    children = [s for s in cfg.spaces if s.parent == space.id]
    zones = [s for s in children if s.kind in _ZONE_KINDS]
    if space.kind == "building":
        for floor in (s for s in children if s.kind == "floor"):
            zones += [s for s in cfg.spaces if s.parent == floor.id and s.kind in _ZONE_KINDS]
    return zones


def _has(point: Point, brick: frozenset[str], tags: str) -> bool:
    return point.brick in brick or set(tags.split()) <= set(point.tags)


_ZONE_TEMP = frozenset({"Zone_Air_Temperature_Sensor"})
#: A zone's heating and cooling setpoints, effective first (as ``operation`` judges comfort), else occupied.
_HEATING = ((frozenset({"Effective_Air_Temperature_Heating_Setpoint"}), "zone air temp heating effective sp"),
            (frozenset({"Occupied_Air_Temperature_Heating_Setpoint"}), "zone air temp heating occ sp"))
_COOLING = ((frozenset({"Effective_Air_Temperature_Cooling_Setpoint"}), "zone air temp cooling effective sp"),
            (frozenset({"Occupied_Air_Temperature_Cooling_Setpoint"}), "zone air temp cooling occ sp"))
_SINGLE = frozenset({"Zone_Air_Temperature_Setpoint", "Effective_Air_Temperature_Setpoint"})


def _zone_points(cfg: SiteConfig,
                 zone: Space) -> tuple[str | None, str | None, str | None, bool, tuple[str, ...]]:
    """The temperature, heating and cooling setpoint point ids of ``zone``, whether °F, its equipment."""
    serving = [e for e in cfg.equipment if e.space == zone.id]
    temp = low = high = None
    fahrenheit = False
    for e in serving:
        for p in e.points:
            if temp is None and _has(p, _ZONE_TEMP, "zone air temp sensor"):
                temp, fahrenheit = cfg.point_id(e, p), p.unit == "degF"
        for brick, tags in _HEATING:
            found = next((p for p in e.points if _has(p, brick, tags)), None)
            if low is None and found is not None:
                low = cfg.point_id(e, found)
        for brick, tags in _COOLING:
            found = next((p for p in e.points if _has(p, brick, tags)), None)
            if high is None and found is not None:
                high = cfg.point_id(e, found)
        if low is None and high is None:
            single = next((p for p in e.points if p.brick in _SINGLE or (
                {"zone", "air", "temp", "sp"} <= set(p.tags) and not {"heating", "cooling"} & set(p.tags))),
                None)
            if single is not None:
                low = high = cfg.point_id(e, single)
    return temp, low, high, fahrenheit, tuple(e.id for e in serving)


def _split(box: tuple[float, float, float, float], n: int, i: int) -> tuple[float, float, float, float]:
    x, y, w, h = box
    if w >= h:
        return x + i * w / n, y, w / n, h
    return x, y + i * h / n, w, h / n


def _layout(zones: Sequence[Space]) -> tuple[dict[str, tuple[float, float, float, float]], float, float]:
    sides: dict[str, list[Space]] = {}
    others: list[Space] = []
    for z in zones:
        c = _compass(z)
        (sides.setdefault(c, []) if c is not None else others).append(z)
    boxes: dict[str, tuple[float, float, float, float]] = {}
    for side, members in sides.items():
        for i, z in enumerate(members):
            boxes[z.id] = _split(_SIDES[side], len(members), i)
    top = _PLAN_H if sides else 0.0
    cols = 3 if sides else max(1, math.ceil(math.sqrt(len(others))))
    for i, z in enumerate(others):
        boxes[z.id] = ((i % cols) * _CELL_W, top + (i // cols) * _CELL_H, _CELL_W, _CELL_H)
    rows = math.ceil(len(others) / cols) if others else 0
    width = _PLAN_W if sides else cols * _CELL_W
    return boxes, width, top + rows * _CELL_H


def plan(cfg: SiteConfig, space_id: str, layout: Mapping[str, Placement] | None = None) -> Plan | None:
    """The floor plan of ``space_id`` (a floor, or a building: all its floors' zones; a zone or room
    without zones in it: itself; a space without zones: none drawn); None when the site has no such
    space. ``layout`` moves zones by their space id."""
    space = next((s for s in cfg.spaces if s.id == space_id), None)
    if space is None:
        return None
    zones = _zones_of(cfg, space)
    if not zones and space.kind in _ZONE_KINDS:
        zones = [space]
    if not zones:
        return Plan(space.id, space.name or space.id, _PLAN_W, _PLAN_H, False, ())
    if space.kind == "building":
        floors = [s for s in cfg.spaces if s.parent == space.id and s.kind == "floor"]
        groups = [[z for z in zones if z.parent == f.id] for f in floors]
        groups = [g for g in groups if g] + [[z for z in zones if z.parent == space.id]]
    else:
        groups = [zones]
    out: list[PlanZone] = []
    width = height = 0.0
    saved = False
    for group in (g for g in groups if g):
        boxes, w, h = _layout(group)
        for z in group:
            x, y, zw, zh = boxes[z.id]
            y += height
            placed = (layout or {}).get(z.id)
            if placed is not None:
                saved = True
                x, y = placed.x, placed.y
                zw, zh = placed.w or zw, placed.h or zh
            temp, low, high, fahrenheit, serving = _zone_points(cfg, z)
            band = None
            if low is None and high is None:
                band = (69.8, 75.2) if fahrenheit else DEFAULT_BAND
            out.append(PlanZone(z.id, z.name or z.id, x, y, zw, zh, temp, low, high, band,
                                COMFORT_TOLERANCE * (1.8 if fahrenheit else 1.0), serving))
        width = max(width, w)
        height += h + (20.0 if len(groups) > 1 else 0.0)
    return Plan(space.id, space.name or space.id, width, height, saved, tuple(out))


def plans(cfg: SiteConfig) -> list[PlanSummary]:
    """The spaces that have a plan: the floors with zones; without such floors, the buildings with zones."""
    floors = [PlanSummary(s.id, s.name or s.id, len(_zones_of(cfg, s)))
              for s in cfg.spaces if s.kind == "floor" and _zones_of(cfg, s)]
    if floors:
        return floors
    return [PlanSummary(s.id, s.name or s.id, len(_zones_of(cfg, s)))
            for s in cfg.spaces if s.kind == "building" and _zones_of(cfg, s)]
