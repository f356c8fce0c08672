"""The HVAC plant: a VAV air handler, VAV boxes with reheat, a chiller plant, a boiler plant.

Equipment-level loops live here, as they live in real unitary controllers:
each VAV box's zone temperature loops and airflow tracking, the AHU's
supply-air temperature control (coils and economiser dampers sequenced to
the setpoint, within coil capacity), the chillers and boilers holding their
loop's supply setpoint within their capacity. Supervisory decisions (start
and stop, setpoints, resets, staging) are plain attributes set from outside.

Each class keeps its inputs (supervisory), its parameters and its last
outputs as attributes; ``Building`` wires them together every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from openbms.sim.building.config import BuildingConfig
from openbms.sim.building.weather import PATM, saturation_pressure
from openbms.sim.building.zones import CP_AIR, H_FG, RHO_AIR, Layout

__all__ = ["AirHandler", "BoilerPlant", "ChillerPlant", "Sizing", "VavBoxes", "size"]

CP_WATER = 4186.0
DESIGN_SAT = 12.8
DESIGN_HW = 70.0
BOX_PRESSURE = 150.0  # Pa across a fully open box at its maximum flow
BOX_MIN_PRESSURE = 25.0  # Pa a box needs before any air moves
PLANT_ROOM = 20.0  # °C around the water loops


def w_sat(t: float) -> float:
    """Humidity ratio of saturated air at ``t`` °C."""
    p = float(saturation_pressure(t))
    return 0.622 * p / (PATM - p)


@dataclass(frozen=True, slots=True)
class Sizing:
    """Equipment sizes, from a design-day estimate of each zone's peak loads."""

    max_flow: np.ndarray  # m³/s per box
    min_flow: np.ndarray
    heat_flow: np.ndarray  # dual-maximum heating flow
    reheat_cap: np.ndarray  # W
    fan_flow: float  # m³/s, AHU design
    cc_ua: float  # W/K
    hc_ua: float
    chiller_cap: float  # W, each
    boiler_cap: float  # W, each
    chw_pump_kw: float
    hw_pump_kw: float
    chw_capacity: float  # J/K, the chilled-water loop's water
    hw_capacity: float
    chw_flow: float  # kg/s, constant-speed primary pumps
    hw_flow: float


def size(lay: Layout, cfg: BuildingConfig) -> Sizing:
    """Size boxes, fan, coils and plants with the usual rules of thumb."""
    internal = lay.area * (75.0 / cfg.area_per_person + cfg.lighting + cfg.plugs)
    solar = (lay.window * cfg.shgc) @ np.array([150.0, 450.0, 450.0, 450.0])
    opaque = (lay.wall - lay.window).sum(axis=1)
    ua = cfg.u_window * lay.window.sum(axis=1) + cfg.u_wall * opaque + cfg.u_roof * lay.roof
    peak = internal + solar + 10.0 * ua
    max_flow = np.maximum(1.15 * peak / (RHO_AIR * CP_AIR * (24.0 - DESIGN_SAT)), 1e-3 * lay.area)
    heat_flow = cfg.heating_flow_fraction * max_flow
    fan_flow = 0.9 * float(max_flow.sum())
    m = fan_flow * RHO_AIR * CP_AIR  # W/K
    cc_design = 1.3 * m * (26.5 - DESIGN_SAT)  # sensible plus latent
    reheat_cap = heat_flow * RHO_AIR * CP_AIR * (cfg.max_discharge - DESIGN_SAT)
    heat_design = 0.6 * float(reheat_cap.sum()) + 0.3 * m * 12.0
    chiller_cap = cc_design * (0.6 if cfg.chillers == 2 else 1.1)
    boiler_cap = heat_design * (0.6 if cfg.boilers == 2 else 1.1)
    chw_total, hw_total = chiller_cap * cfg.chillers, boiler_cap * cfg.boilers
    return Sizing(
        max_flow=max_flow, min_flow=cfg.min_flow_fraction * max_flow, heat_flow=heat_flow,
        reheat_cap=reheat_cap, fan_flow=fan_flow,
        cc_ua=-math.log(1 - 0.75) * m, hc_ua=1.0 * m,
        chiller_cap=chiller_cap, boiler_cap=boiler_cap,
        chw_pump_kw=0.015 * chw_total / 1000.0, hw_pump_kw=0.008 * hw_total / 1000.0,
        chw_capacity=5.0 * chw_total / 1000.0 * CP_WATER, hw_capacity=5.0 * hw_total / 1000.0 * CP_WATER,
        chw_flow=chw_total / (CP_WATER * 5.5), hw_flow=hw_total / (CP_WATER * 11.0),
    )


class VavBoxes:
    """Every zone's VAV box with hot-water reheat, vectorised over zones.

    Two PI loops per box compare the zone temperature with the active heating
    and cooling setpoints (occupied or unoccupied). Cooling raises airflow from
    minimum to maximum; heating opens the reheat valve over the first half of
    its signal and raises airflow to the heating maximum over the second
    (ASHRAE Guideline 36's dual maximum). The damper then tracks the airflow
    setpoint as far as duct static pressure allows.
    """

    kp = 1.0  # 1/K
    ti = 600.0  # s

    def __init__(self, sizing: Sizing, n: int, max_discharge: float) -> None:
        self.max_flow, self.min_flow, self.heat_flow = sizing.max_flow, sizing.min_flow, sizing.heat_flow
        self.reheat_cap = sizing.reheat_cap
        self.max_discharge = max_discharge
        # Supervisory inputs
        self.occupied = np.ones(n, dtype=bool)
        self.occ_heat = np.full(n, 21.0)
        self.occ_cool = np.full(n, 24.0)
        self.unocc_heat = np.full(n, 15.0)
        self.unocc_cool = np.full(n, 30.0)
        # Faults: a stuck damper's position (0-1), NaN when free
        self.stuck = np.full(n, np.nan)
        # State and outputs
        self.i_c = np.zeros(n)
        self.i_h = np.zeros(n)
        self.u_c = np.zeros(n)
        self.u_h = np.zeros(n)
        self.flow_sp = np.zeros(n)
        self.flow = np.zeros(n)
        self.damper = np.zeros(n)
        self.valve = np.zeros(n)
        self.q_reheat = np.zeros(n)
        self.t_dis = np.zeros(n)

    def setpoints(self) -> tuple[np.ndarray, np.ndarray]:
        """The active (heating, cooling) setpoints."""
        occ = self.occupied
        return np.where(occ, self.occ_heat, self.unocc_heat), np.where(occ, self.occ_cool, self.unocc_cool)

    def _pi(self, e: np.ndarray, i: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        i = i + e * (dt / self.ti)
        raw = self.kp * (e + i)
        u = np.clip(raw, 0.0, 1.0)
        i = np.where(raw != u, u / self.kp - e, i)  # anti-windup: the integrator tracks saturation
        return u, i

    def control(self, dt: float, t_sensed: np.ndarray, on: bool) -> None:
        """Run the zone loops; sets ``flow_sp`` (m³/s) and ``valve`` (0-1)."""
        if not on:
            self.i_c[:] = self.i_h[:] = self.u_c[:] = self.u_h[:] = 0.0
            self.flow_sp = np.zeros_like(self.flow_sp)
            self.valve = np.zeros_like(self.valve)
            return
        heat_sp, cool_sp = self.setpoints()
        valid = ~np.isnan(t_sensed)
        ts = np.where(valid, t_sensed, 0.5 * (heat_sp + cool_sp))
        u_c, i_c = self._pi(ts - cool_sp, self.i_c, dt)
        u_h, i_h = self._pi(heat_sp - ts, self.i_h, dt)
        if not valid.all():  # no reading: hold the loops and fall back to minimum flow, no reheat
            u_c, u_h = np.where(valid, u_c, 0.0), np.where(valid, u_h, 0.0)
            i_c, i_h = np.where(valid, i_c, self.i_c), np.where(valid, i_h, self.i_h)
        self.u_c, self.i_c, self.u_h, self.i_h = u_c, i_c, u_h, i_h
        cool = self.min_flow + self.u_c * (self.max_flow - self.min_flow)
        heat = self.min_flow + np.clip(2.0 * self.u_h - 1.0, 0.0, 1.0) * (self.heat_flow - self.min_flow)
        self.flow_sp = np.maximum(cool, heat)
        self.valve = np.clip(2.0 * self.u_h, 0.0, 1.0)

    def deliver(self, dsp: float) -> np.ndarray:
        """Airflow each box achieves at duct static pressure ``dsp`` (Pa); sets ``flow`` and ``damper``."""
        frac = self.flow_sp / self.max_flow
        free = np.isnan(self.stuck)
        head = max(dsp - BOX_MIN_PRESSURE, 0.0)
        need = BOX_PRESSURE * float(np.max(np.where(free, frac, 0.0)) ** 2)
        scale = 1.0 if head >= need else math.sqrt(head / need)
        flow = self.flow_sp * scale
        damper = np.clip(frac * scale * math.sqrt(BOX_PRESSURE / max(head, 1.0)), 0.0, 1.0)
        if not free.all():
            stuck = np.nan_to_num(self.stuck)
            flow = np.where(free, flow, stuck * self.max_flow * min(math.sqrt(head / BOX_PRESSURE), 1.3))
            damper = np.where(free, damper, stuck)
        self.flow, self.damper = flow, damper
        return flow

    def reheat(self, sat: float, hw_t: float, hw_ok: bool) -> None:
        """Reheat the supply air; sets ``q_reheat`` (W) and ``t_dis`` (°C)."""
        mcp = self.flow * (RHO_AIR * CP_AIR)
        factor = min(max((hw_t - sat) / (DESIGN_HW - DESIGN_SAT), 0.0), 1.3) if hw_ok else 0.0
        cap = np.maximum(np.minimum(self.reheat_cap * factor, mcp * (self.max_discharge - sat)), 0.0)
        self.q_reheat = self.valve * cap
        self.t_dis = sat + self.q_reheat / np.maximum(mcp, 1e-9)


class AirHandler:
    """A VAV air handler: supply fan on a VFD, economiser, cooling and heating coils.

    The supply fan holds duct static pressure at its setpoint (its speed
    follows the boxes' total flow). Mixed air comes from the minimum
    outdoor-air position, or more when the economiser can cool for free
    (differential dry bulb with a high limit); the coils then bring the
    air to the supply-air temperature setpoint as far as their capacity
    (water temperature, effectiveness, fouling) allows. The fan is upstream
    of the coils, so its heat is in the air they treat.
    """

    econ_high_limit = 24.0  # °C: no economiser above this outdoor temperature

    def __init__(self, sizing: Sizing, cfg: BuildingConfig) -> None:
        self.design_flow = sizing.fan_flow
        self.max_flow = 1.1 * sizing.fan_flow
        self.cc_ua, self.hc_ua = sizing.cc_ua, sizing.hc_ua
        self.p_internal = cfg.fan_internal_pressure
        self.eta = cfg.fan_efficiency
        # Supervisory inputs
        self.enable = False
        self.sat_sp = 13.0
        self.dsp_sp = 250.0  # Pa
        self.oa_min = 0.25  # minimum outdoor-air damper position (fraction of supply air)
        self.econ_enable = False
        # Faults
        self.oa_stuck = math.nan
        self.cc_foul = 1.0
        self.hc_foul = 1.0
        # Outputs
        self.on = False
        self.flow = 0.0  # m³/s
        self.dsp = 0.0
        self.speed = 0.0
        self.fan_kw = 0.0
        self.oa_frac = 0.0
        self.mat = self.rat = self.sat = 20.0
        self.w_ret = self.w_sup = 0.008
        self.q_cc = self.q_hc = 0.0  # W, total coil loads (cooling includes latent)
        self.ccv = self.hcv = 0.0

    def step(self, flow: float, dsp: float, rat: float, w_ret: float, oat: float, w_out: float,
             oat_sensed: float, chw_t: float, chw_ok: bool, hw_t: float, hw_ok: bool) -> None:
        """Treat ``flow`` m³/s of return and outdoor air; sets the outputs."""
        self.rat, self.w_ret = rat, w_ret
        if not self.on or flow <= 0.0:
            self.flow = self.dsp = self.speed = self.fan_kw = self.oa_frac = 0.0
            self.q_cc = self.q_hc = self.ccv = self.hcv = 0.0
            self.mat = self.sat = rat
            self.w_sup = w_ret
            return
        mcp = flow * RHO_AIR * CP_AIR
        self.flow, self.dsp = flow, dsp
        s = flow / self.design_flow
        self.speed = max(s, 0.2)
        self.fan_kw = flow * (dsp + self.p_internal * s * s) / self.eta / 1000.0
        dt_fan = self.fan_kw * 1000.0 / mcp
        x = self.oa_min
        if self.econ_enable and oat_sensed < rat - 0.5 and oat_sensed < self.econ_high_limit:
            x = min(max((self.sat_sp - dt_fan - rat) / (oat_sensed - rat), self.oa_min), 1.0)
        if not math.isnan(self.oa_stuck):
            x = self.oa_stuck
        self.oa_frac = x
        self.mat = x * oat + (1.0 - x) * rat
        w_mix = x * w_out + (1.0 - x) * w_ret
        t = self.mat + dt_fan
        self.q_cc = self.q_hc = self.ccv = self.hcv = 0.0
        self.w_sup = w_mix
        if t > self.sat_sp:
            cap = 0.0
            if chw_ok:
                eff = 1.0 - math.exp(-self.cc_ua * self.cc_foul / mcp)
                cap = eff * mcp * max(t - chw_t, 0.0)
            q = min(mcp * (t - self.sat_sp), cap)
            self.ccv = q / cap if cap > 0 else 1.0
            t -= q / mcp
            if q > 0:
                self.w_sup = min(w_mix, 0.95 * w_sat(t))
                q += flow * RHO_AIR * (w_mix - self.w_sup) * H_FG
            self.q_cc = q
        elif t < self.sat_sp:
            cap = 0.0
            if hw_ok:
                eff = 1.0 - math.exp(-self.hc_ua * self.hc_foul / mcp)
                cap = eff * mcp * max(hw_t - t, 0.0)
            q = min(mcp * (self.sat_sp - t), cap)
            self.hcv = q / cap if cap > 0 else 1.0
            t += q / mcp
            self.q_hc = q
        self.sat = t


def _eir_plr(plr: float) -> float:
    """Chiller power at part load, of its full-load power (DOE-2 quadratic), cycling below 15 %."""
    if plr <= 0.0:
        return 0.0
    p = max(plr, 0.15)
    eir = 0.06369 + 0.58488 * p + 0.35280 * p * p
    return eir * min(plr / 0.15, 1.0)


class ChillerPlant:
    """Air-cooled chillers on a chilled-water loop with a constant-speed primary pump.

    An enabled chiller runs when the pump proves flow and it is not tripped;
    running chillers share the load equally and hold the supply setpoint
    within their capacity. Efficiency falls with lift (outdoor air minus
    chilled water) and at part load.
    """

    def __init__(self, sizing: Sizing, n: int, cop: float) -> None:
        self.n = n
        self.cap = sizing.chiller_cap
        self.cop_ref = cop
        self.capacity = sizing.chw_capacity
        self.flow = sizing.chw_flow
        self.pump_rated = sizing.chw_pump_kw
        self.ua_room = self.capacity / (6 * 3600.0)
        # Supervisory inputs
        self.enable = [False] * n
        self.pump_enable = False
        self.sp = 7.0
        # Faults
        self.tripped = [False] * n
        # State and outputs
        self.t_supply = PLANT_ROOM
        self.t_return = PLANT_ROOM
        self.pump_on = False
        self.pump_kw = 0.0
        self.status = [False] * n
        self.kw = [0.0] * n
        self.load = [0.0] * n  # W each
        self.cop = 0.0
        self.q_load = 0.0

    def _cop(self, oat: float) -> float:
        te = self.t_supply - 2.0 + 273.15
        tc = max(oat + 10.0 + 273.15, te + 8.0)
        ref = (6.7 - 2.0 + 273.15) / 40.3
        return self.cop_ref * min(max((te / (tc - te) / ref) ** 0.8, 0.5), 2.2)

    def step(self, dt: float, q_load: float, oat: float) -> None:
        """Absorb ``q_load`` W from the coils for ``dt`` seconds."""
        self.pump_on = self.pump_enable
        self.pump_kw = self.pump_rated if self.pump_on else 0.0
        self.status = [e and self.pump_on and not t for e, t in zip(self.enable, self.tripped, strict=True)]
        running = sum(self.status)
        cap = self.cap * min(max(1.0 + 0.01 * (35.0 - oat), 0.8), 1.15)
        q_room = self.ua_room * (PLANT_ROOM - self.t_supply)
        q_ch = 0.0
        if running:
            q_need = max(q_load + q_room + self.capacity * (self.t_supply - self.sp) / dt, 0.0)
            q_ch = min(q_need, running * cap)
            plr = q_ch / (running * cap)
            self.cop = self._cop(oat)
            each = cap / self.cop * _eir_plr(plr) / 1000.0
            self.kw = [each if s else 0.0 for s in self.status]
            self.load = [q_ch / running if s else 0.0 for s in self.status]
        else:
            self.cop = 0.0
            self.kw = [0.0] * self.n
            self.load = [0.0] * self.n
        self.q_load = q_load
        self.t_supply += (q_load + q_room - q_ch) * dt / self.capacity
        self.t_return = self.t_supply + (q_load / (self.flow * CP_WATER) if self.pump_on else 0.0)


class BoilerPlant:
    """Gas boilers on a hot-water loop with a constant-speed primary pump.

    Efficiency is the full-load figure shaped by part load, plus condensing
    gains when the return water is below 55 °C.
    """

    def __init__(self, sizing: Sizing, n: int, efficiency: float) -> None:
        self.n = n
        self.cap = sizing.boiler_cap
        self.eta_ref = efficiency
        self.capacity = sizing.hw_capacity
        self.flow = sizing.hw_flow
        self.pump_rated = sizing.hw_pump_kw
        self.ua_room = self.capacity / (6 * 3600.0)
        self.enable = [False] * n
        self.pump_enable = False
        self.sp = 70.0
        self.tripped = [False] * n
        self.t_supply = PLANT_ROOM
        self.t_return = PLANT_ROOM
        self.pump_on = False
        self.pump_kw = 0.0
        self.status = [False] * n
        self.gas_kw = [0.0] * n
        self.load = [0.0] * n
        self.efficiency = 0.0
        self.q_load = 0.0

    def step(self, dt: float, q_load: float) -> None:
        """Deliver ``q_load`` W to the coils for ``dt`` seconds."""
        self.pump_on = self.pump_enable
        self.pump_kw = self.pump_rated if self.pump_on else 0.0
        self.status = [e and self.pump_on and not t for e, t in zip(self.enable, self.tripped, strict=True)]
        running = sum(self.status)
        q_room = self.ua_room * (PLANT_ROOM - self.t_supply)
        self.t_return = self.t_supply - (q_load / (self.flow * CP_WATER) if self.pump_on else 0.0)
        q_b = 0.0
        if running:
            q_need = max(q_load - q_room + self.capacity * (self.sp - self.t_supply) / dt, 0.0)
            q_b = min(q_need, running * self.cap)
            plr = q_b / (running * self.cap)
            condensing = 0.1 * min(max((55.0 - self.t_return) / 25.0, 0.0), 1.0)
            self.efficiency = self.eta_ref * (0.95 + 0.1 * plr - 0.05 * plr * plr) + condensing
            self.gas_kw = [q_b / running / self.efficiency / 1000.0 if s else 0.0 for s in self.status]
            self.load = [q_b / running if s else 0.0 for s in self.status]
        else:
            self.efficiency = 0.0
            self.gas_kw = [0.0] * self.n
            self.load = [0.0] * self.n
        self.q_load = q_load
        self.t_supply += (q_b + q_room - q_load) * dt / self.capacity
