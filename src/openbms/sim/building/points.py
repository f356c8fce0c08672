"""The emulator's points: one declarative table per kind of device.

A point is ``device/name`` (``ahu-1/sat``, ``vav-s2/zone-t``, ``ch-1/enable``).
Each row says how to read it from a ``Building`` and, for writable points,
how to write it. ``kind`` is ``analog`` or ``binary``; a protocol face maps
analog read-only points to inputs and writable ones to commandable values
(BACnet analog-input / analog-value, binary-input / binary-value).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from openbms.sim.building.weather import relative_humidity

__all__ = ["PointSpec", "device_of"]

Value = float | bool


class PointSpec(NamedTuple):
    """What a point is: for building protocol objects from."""

    name: str
    unit: str  # "degC", "%", "%RH", "Pa", "L/s", "kW", "kWh", "" (binary)
    writable: bool
    kind: str  # "analog" or "binary"
    description: str


@dataclass(frozen=True, slots=True)
class _Row:
    name: str
    unit: str
    description: str
    get: Callable[[Any, int], Value]
    put: Callable[[Any, int, Value], None] | None = None

    @property
    def kind(self) -> str:
        return "binary" if self.unit == "" else "analog"


def _pct(x: float) -> float:
    return 100.0 * x


def _set_list(attr: str) -> Callable[[Any, int, Value], None]:
    def put(b: Any, i: int, v: Value) -> None:
        obj, name = attr.split(".")
        getattr(getattr(b, obj), name)[i] = bool(v)
    return put


def _set_array(attr: str, scale: float = 1.0) -> Callable[[Any, int, Value], None]:
    def put(b: Any, i: int, v: Value) -> None:
        getattr(b.vav, attr)[i] = float(v) * scale
    return put


AHU = (
    _Row("enable", "", "AHU enable: supervisory start/stop", lambda b, i: b.ahu.enable,
         lambda b, i, v: setattr(b.ahu, "enable", bool(v))),
    _Row("fan-status", "", "Supply fan running (current switch)", lambda b, i: b.ahu.flow > 0),
    _Row("sf-speed", "%", "Supply fan VFD speed", lambda b, i: _pct(b.ahu.speed)),
    _Row("sf-kw", "kW", "Supply fan electric power", lambda b, i: b.ahu.fan_kw),
    _Row("sat", "degC", "Supply-air temperature", lambda b, i: b.ahu.sat),
    _Row("sat-sp", "degC", "Supply-air temperature setpoint", lambda b, i: b.ahu.sat_sp,
         lambda b, i, v: setattr(b.ahu, "sat_sp", float(v))),
    _Row("mat", "degC", "Mixed-air temperature", lambda b, i: b.ahu.mat),
    _Row("rat", "degC", "Return-air temperature", lambda b, i: b.ahu.rat),
    _Row("ra-rh", "%RH", "Return-air relative humidity",
         lambda b, i: float(relative_humidity(b.ahu.rat, b.ahu.w_ret))),
    _Row("oat", "degC", "Outdoor-air temperature", lambda b, i: b.ws.t_out),
    _Row("oa-rh", "%RH", "Outdoor-air relative humidity", lambda b, i: b.ws.rh),
    _Row("oa-damper", "%", "Outdoor-air damper position (outdoor-air fraction)",
         lambda b, i: _pct(b.ahu.oa_frac)),
    _Row("oa-min", "%", "Minimum outdoor-air damper position", lambda b, i: _pct(b.ahu.oa_min),
         lambda b, i, v: setattr(b.ahu, "oa_min", min(max(float(v) / 100.0, 0.0), 1.0))),
    _Row("econ-enable", "", "Economiser enable", lambda b, i: b.ahu.econ_enable,
         lambda b, i, v: setattr(b.ahu, "econ_enable", bool(v))),
    _Row("dsp", "Pa", "Duct static pressure", lambda b, i: b.ahu.dsp),
    _Row("dsp-sp", "Pa", "Duct static pressure setpoint", lambda b, i: b.ahu.dsp_sp,
         lambda b, i, v: setattr(b.ahu, "dsp_sp", min(max(float(v), 0.0), 1000.0))),
    _Row("ccv", "%", "Cooling coil valve", lambda b, i: _pct(b.ahu.ccv)),
    _Row("hcv", "%", "Heating coil valve", lambda b, i: _pct(b.ahu.hcv)),
    _Row("airflow", "L/s", "Supply airflow", lambda b, i: 1000.0 * b.ahu.flow),
    _Row("oa-flow", "L/s", "Outdoor airflow", lambda b, i: 1000.0 * b.ahu.flow * b.ahu.oa_frac),
    _Row("cc-kw", "kW", "Cooling coil load (sensible and latent)", lambda b, i: b.ahu.q_cc / 1000.0),
    _Row("hc-kw", "kW", "Heating coil load", lambda b, i: b.ahu.q_hc / 1000.0),
)

VAV = (
    _Row("zone-t", "degC", "Zone air temperature", lambda b, i: float(b.net.ta[i])),
    _Row("zone-rh", "%RH", "Zone relative humidity",
         lambda b, i: float(relative_humidity(b.net.ta[i], b.net.w[i]))),
    _Row("occ-sensor", "", "Occupancy sensor: someone is in", lambda b, i: bool(b.gains.people[i] >= 0.5)),
    _Row("occupied", "", "Occupancy mode: occupied setpoints apply", lambda b, i: bool(b.vav.occupied[i]),
         lambda b, i, v: b.vav.occupied.__setitem__(i, bool(v))),
    _Row("occ-heat-sp", "degC", "Occupied heating setpoint", lambda b, i: float(b.vav.occ_heat[i]),
         _set_array("occ_heat")),
    _Row("occ-cool-sp", "degC", "Occupied cooling setpoint", lambda b, i: float(b.vav.occ_cool[i]),
         _set_array("occ_cool")),
    _Row("unocc-heat-sp", "degC", "Unoccupied heating setpoint", lambda b, i: float(b.vav.unocc_heat[i]),
         _set_array("unocc_heat")),
    _Row("unocc-cool-sp", "degC", "Unoccupied cooling setpoint", lambda b, i: float(b.vav.unocc_cool[i]),
         _set_array("unocc_cool")),
    _Row("heat-sp", "degC", "Active heating setpoint", lambda b, i: float(b.vav.setpoints()[0][i])),
    _Row("cool-sp", "degC", "Active cooling setpoint", lambda b, i: float(b.vav.setpoints()[1][i])),
    _Row("airflow", "L/s", "Box airflow", lambda b, i: 1000.0 * float(b.vav.flow[i])),
    _Row("airflow-sp", "L/s", "Box airflow setpoint", lambda b, i: 1000.0 * float(b.vav.flow_sp[i])),
    _Row("damper", "%", "Box damper position", lambda b, i: _pct(float(b.vav.damper[i]))),
    _Row("reheat-valve", "%", "Reheat valve position", lambda b, i: _pct(float(b.vav.valve[i]))),
    _Row("reheat-kw", "kW", "Reheat coil output", lambda b, i: float(b.vav.q_reheat[i]) / 1000.0),
    _Row("discharge-t", "degC", "Discharge-air temperature",
         lambda b, i: float(b.vav.t_dis[i]) if b.vav.flow[i] > 0 else float(b.net.ta[i])),
)

CHILLER = (
    _Row("enable", "", "Chiller enable", lambda b, i: b.chw.enable[i], _set_list("chw.enable")),
    _Row("status", "", "Chiller running", lambda b, i: b.chw.status[i]),
    _Row("alarm", "", "Chiller tripped on a safety", lambda b, i: b.chw.tripped[i]),
    _Row("kw", "kW", "Chiller electric power", lambda b, i: b.chw.kw[i]),
    _Row("load-kw", "kW", "Chiller cooling output", lambda b, i: b.chw.load[i] / 1000.0),
    _Row("capacity-kw", "kW", "Chiller capacity (nameplate)", lambda b, i: b.chw.cap / 1000.0),
    _Row("cop", "W/W", "Chiller coefficient of performance",
         lambda b, i: b.chw.cop if b.chw.status[i] else 0.0),
)

CHW = (
    _Row("supply-t", "degC", "Chilled-water supply temperature", lambda b, i: b.chw.t_supply),
    _Row("return-t", "degC", "Chilled-water return temperature", lambda b, i: b.chw.t_return),
    _Row("supply-t-sp", "degC", "Chilled-water supply temperature setpoint", lambda b, i: b.chw.sp,
         lambda b, i, v: setattr(b.chw, "sp", min(max(float(v), 4.0), 16.0))),
    _Row("load-kw", "kW", "Chilled-water load", lambda b, i: b.chw.q_load / 1000.0),
)

BOILER = (
    _Row("enable", "", "Boiler enable", lambda b, i: b.hw.enable[i], _set_list("hw.enable")),
    _Row("status", "", "Boiler firing", lambda b, i: b.hw.status[i]),
    _Row("gas-kw", "kW", "Boiler gas input", lambda b, i: b.hw.gas_kw[i]),
    _Row("load-kw", "kW", "Boiler heat output", lambda b, i: b.hw.load[i] / 1000.0),
    _Row("capacity-kw", "kW", "Boiler capacity (nameplate)", lambda b, i: b.hw.cap / 1000.0),
    _Row("efficiency", "%", "Boiler efficiency",
         lambda b, i: _pct(b.hw.efficiency) if b.hw.status[i] else 0.0),
)

HW = (
    _Row("supply-t", "degC", "Hot-water supply temperature", lambda b, i: b.hw.t_supply),
    _Row("return-t", "degC", "Hot-water return temperature", lambda b, i: b.hw.t_return),
    _Row("supply-t-sp", "degC", "Hot-water supply temperature setpoint", lambda b, i: b.hw.sp,
         lambda b, i, v: setattr(b.hw, "sp", min(max(float(v), 30.0), 90.0))),
    _Row("load-kw", "kW", "Hot-water load", lambda b, i: b.hw.q_load / 1000.0),
)


def _pump(plant: str, what: str) -> tuple[_Row, ...]:
    return (
        _Row("enable", "", f"{what} pump enable", lambda b, i: getattr(b, plant).pump_enable,
             lambda b, i, v: setattr(getattr(b, plant), "pump_enable", bool(v))),
        _Row("status", "", f"{what} pump running", lambda b, i: getattr(b, plant).pump_on),
        _Row("kw", "kW", f"{what} pump electric power", lambda b, i: getattr(b, plant).pump_kw),
    )


METER_ELEC = (
    _Row("kw", "kW", "Building electric demand", lambda b, i: b.elec_kw),
    _Row("kwh", "kWh", "Building electric energy (since the emulator started)", lambda b, i: b.elec_kwh),
    _Row("lighting-kw", "kW", "Lighting demand", lambda b, i: float(b.gains.lighting.sum()) / 1000.0),
    _Row("plugs-kw", "kW", "Plug-load demand", lambda b, i: float(b.gains.plugs.sum()) / 1000.0),
    _Row("hvac-kw", "kW", "HVAC demand: fans, chillers, pumps",
         lambda b, i: b.elec_kw - float(b.gains.lighting.sum() + b.gains.plugs.sum()) / 1000.0),
)

METER_GAS = (
    _Row("kw", "kW", "Gas demand", lambda b, i: b.gas_kw),
    _Row("kwh", "kWh", "Gas energy (since the emulator started)", lambda b, i: b.gas_kwh),
)


def devices(b: Any) -> list[tuple[str, int, tuple[_Row, ...]]]:
    """Every device of a building: (name, index, rows)."""
    out: list[tuple[str, int, tuple[_Row, ...]]] = [("ahu-1", 0, AHU)]
    out += [(f"vav-{z}", i, VAV) for i, z in enumerate(b.layout.ids)]
    out += [(f"ch-{k + 1}", k, CHILLER) for k in range(b.chw.n)]
    out += [("chw", 0, CHW), ("chwp-1", 0, _pump("chw", "Chilled-water"))]
    out += [(f"blr-{k + 1}", k, BOILER) for k in range(b.hw.n)]
    out += [("hw", 0, HW), ("hwp-1", 0, _pump("hw", "Hot-water"))]
    out += [("meter-elec", 0, METER_ELEC), ("meter-gas", 0, METER_GAS)]
    return out


def device_of(name: str) -> str:
    """The controller a point belongs to: ``ahu-1``, ``vav-s1``, ``chiller-plant``, ``boiler-plant``,
    or ``meters``."""
    dev = name.split("/", 1)[0]
    if dev.startswith(("ch-", "chw")):
        return "chiller-plant"
    if dev.startswith(("blr-", "hw")):
        return "boiler-plant"
    if dev.startswith("meter-"):
        return "meters"
    return dev


def check_value(spec: PointSpec, value: Value) -> Value:
    """Validate a written value: finite numbers for analog points, anything truthy for binary ones."""
    if spec.kind == "binary":
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{spec.name}: NaN is not a binary value")
        return bool(value)
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{spec.name}: {value!r} is not a finite number")
    return v

