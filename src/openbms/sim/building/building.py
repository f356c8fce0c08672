"""The emulated building: zones, weather, gains and plant advanced together by ``step``.

One ``step(dt)`` (60 s by default) reads the weather and schedules, runs
the VAV boxes' zone loops, moves the air (duct static pressure, fan limits),
treats it in the air handler, reheats it in the boxes, lets the chilled- and
hot-water plants answer their loads, advances the zones' RC network and
moisture balance, and meters electricity and gas. Supervisory inputs are
points written with ``set``; everything is readable with ``points``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from openbms.sim.building import points as pt
from openbms.sim.building.air import ZoneAir
from openbms.sim.building.config import BuildingConfig
from openbms.sim.building.faults import ChillerTrip, FailedSensor, Fault, FouledCoil, StuckDamper
from openbms.sim.building.gains import InternalGains, SolarGains, is_occupied_hour
from openbms.sim.building.hvac import AirHandler, BoilerPlant, ChillerPlant, VavBoxes, size
from openbms.sim.building.kpi import KpiMeter, Kpis, Tariff
from openbms.sim.building.points import PointSpec, Value
from openbms.sim.building.weather import SyntheticWeather, Weather, local_seconds
from openbms.sim.building.zones import CP_AIR, RHO_AIR, ThermalNetwork, layout

__all__ = ["MAX_STEP", "Building", "Sequence"]

#: The longest step the equipment loops (zone PI loops, plant setpoints) stay well behaved at;
#: longer steps are split.
MAX_STEP = 60.0

#: A control sequence: called with the building before every step.
Sequence = Callable[["Building"], None]


class Building:
    """A multi-zone office with its VAV system and central plant, in batch (as-fast-as-possible) time.

    ``start`` is local standard time (a naive datetime; an aware one is
    converted to the weather's standard time). ``seed`` drives the occupants;
    synthetic weather has its own seed (``SyntheticWeather(seed)``), the same
    one by default.
    """

    def __init__(self, config: BuildingConfig | None = None, *, weather: Weather | None = None,
                 start: datetime | None = None, seed: int = 0, tariff: Tariff | None = None) -> None:
        self.config = cfg = config or BuildingConfig()
        self.weather = weather or SyntheticWeather(seed)
        start = start or datetime(2025, 4, 7)
        if start.tzinfo is not None:
            std = start.astimezone(UTC) + timedelta(hours=self.weather.utc_offset)
            start = std.replace(tzinfo=None)
        self.start = start
        self.t = local_seconds(start)
        self.layout = lay = layout(cfg)
        self.sizing = sz = size(lay, cfg)
        ws = self.weather.at(self.t)
        self.net = ThermalNetwork(lay, cfg, t_init=21.0, w_init=min(ws.w_out, 0.009))
        self.net.max_supply_mcp = sz.max_flow * RHO_AIR * CP_AIR * 1.3
        self.gains = InternalGains(lay, cfg, seed)
        self.solar = SolarGains(lay, cfg, self.net.solair_walls, self.net.solair_roof)
        self.air = ZoneAir(lay.volume)  # occupants and CO2 (not BACnet points: the MQTT sensors')
        self.vav = VavBoxes(sz, lay.n, cfg.max_discharge)
        self.ahu = AirHandler(sz, cfg)
        self.chw = ChillerPlant(sz, cfg.chillers, cfg.chiller_cop)
        self.hw = BoilerPlant(sz, cfg.boilers, cfg.boiler_efficiency)
        self.kpi = KpiMeter(cfg.area, tariff)
        self.ws = ws
        self.elec_kw = self.gas_kw = 0.0
        self.elec_kwh = self.gas_kwh = 0.0
        self.faults: list[Fault] = []
        self._failed: dict[str, float] = {}
        self._zone_index = {z: i for i, z in enumerate(lay.ids)}
        self._get: dict[str, Callable[[], Value]] = {}
        self._put: dict[str, Callable[[Value], None]] = {}
        self._specs: dict[str, PointSpec] = {}
        for dev, i, rows in pt.devices(self):
            for r in rows:
                name = f"{dev}/{r.name}"
                self._specs[name] = PointSpec(name, r.unit, r.put is not None, r.kind, r.description)
                self._get[name] = (lambda g, k: lambda: g(self, k))(r.get, i)
                if r.put is not None:
                    self._put[name] = (lambda p, k: lambda v: p(self, k, v))(r.put, i)

    # --- time -----------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The building's local standard time."""
        return datetime.fromtimestamp(self.t, UTC).replace(tzinfo=None)

    @property
    def timestamp(self) -> float:
        """The building's time as POSIX seconds (UTC)."""
        return self.t - self.weather.utc_offset * 3600.0

    # --- points ---------------------------------------------------------------------------------

    def point_specs(self) -> list[PointSpec]:
        """Every point: (name, unit, writable, kind, description), in a stable order."""
        return list(self._specs.values())

    def points(self) -> dict[str, Value]:
        """Every point's present value (failed sensors read their failed value)."""
        out = {name: get() for name, get in self._get.items()}
        out.update(self._failed)
        return out

    def get(self, name: str) -> Value:
        """One point's present value."""
        if name in self._failed:
            return self._failed[name]
        try:
            return self._get[name]()
        except KeyError:
            raise KeyError(f"no point {name!r}") from None

    def set(self, name: str, value: Value) -> None:
        """Write a writable point (a supervisory input)."""
        spec = self._specs.get(name)
        if spec is None:
            raise KeyError(f"no point {name!r}")
        if not spec.writable:
            raise ValueError(f"{name} is read-only")
        self._put[name](pt.check_value(spec, value))

    # --- faults ---------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Make a fault happen (until ``clear``)."""
        self._apply(fault, on=True)
        if fault not in self.faults:
            self.faults.append(fault)

    def clear(self, fault: Fault) -> None:
        """Repair a fault."""
        if fault in self.faults:
            self.faults.remove(fault)
            self._apply(fault, on=False)
            for other in self.faults:  # another fault on the same thing stays in force
                self._apply(other, on=True)

    def _apply(self, fault: Fault, on: bool) -> None:
        if isinstance(fault, StuckDamper):
            pos = min(max(fault.position / 100.0, 0.0), 1.0) if on else math.nan
            if fault.device == "ahu-1":
                self.ahu.oa_stuck = pos
            elif fault.device.startswith("vav-") and fault.device[4:] in self._zone_index:
                self.vav.stuck[self._zone_index[fault.device[4:]]] = pos
            else:
                raise ValueError(f"no damper on {fault.device!r}: expected ahu-1 or vav-<zone>")
        elif isinstance(fault, FailedSensor):
            spec = self._specs.get(fault.point)
            if spec is None or spec.writable or spec.kind != "analog":
                raise ValueError(f"{fault.point!r} is not an analog sensor point")
            if on:
                self._failed[fault.point] = fault.value
            else:
                self._failed.pop(fault.point, None)
        elif isinstance(fault, FouledCoil):
            if fault.device != "ahu-1" or fault.coil not in ("cooling", "heating"):
                raise ValueError("a fouled coil is ahu-1's 'cooling' or 'heating' coil")
            setattr(self.ahu, "cc_foul" if fault.coil == "cooling" else "hc_foul",
                    min(max(fault.factor, 0.0), 1.0) if on else 1.0)
        elif isinstance(fault, ChillerTrip):
            k = int(fault.chiller.removeprefix("ch-")) - 1 if fault.chiller.startswith("ch-") else -1
            if not 0 <= k < self.chw.n:
                raise ValueError(f"no chiller {fault.chiller!r}")
            self.chw.tripped[k] = on
        else:
            raise TypeError(f"not a fault: {fault!r}")

    def _zone_sensed(self) -> np.ndarray:
        ta = self.net.ta
        if not self._failed:
            return ta
        sensed = ta.copy()
        for name, v in self._failed.items():
            if name.endswith("/zone-t") and name.startswith("vav-"):
                sensed[self._zone_index[name[4:-7]]] = v
        return sensed

    # --- simulation -----------------------------------------------------------------------------

    def step(self, dt: float = 60.0) -> None:
        """Advance the building ``dt`` seconds (in steps of at most ``MAX_STEP``)."""
        n = max(1, math.ceil(dt / MAX_STEP - 1e-9))
        for _ in range(n):
            self._step(dt / n)

    def _step(self, dt: float) -> None:
        d = datetime.fromtimestamp(self.t, UTC)
        weekday = d.weekday()
        hour = d.hour + d.minute / 60.0 + d.second / 3600.0
        self.ws = ws = self.weather.at(self.t)
        self.gains.update(d.toordinal(), weekday, d.hour)
        self.solar.update(ws)
        ahu, vav, chw, hw, net = self.ahu, self.vav, self.chw, self.hw, self.net

        on = ahu.enable
        ahu.on = on
        vav.control(dt, self._zone_sensed(), on)
        dsp = ahu.dsp_sp
        if on:
            flows = vav.deliver(dsp)
            total = float(flows.sum())
            if total > ahu.max_flow:  # the fan is at full speed: everyone gets less
                k = ahu.max_flow / total
                flows = vav.flow = flows * k
                dsp *= k * k
                total = ahu.max_flow
        else:
            flows = vav.flow = np.zeros(self.layout.n)
            vav.damper = np.where(np.isnan(vav.stuck), 0.0, np.nan_to_num(vav.stuck))
            total = 0.0
        m = flows * RHO_AIR
        if total > 0:
            rat = float(m @ net.ta) / float(m.sum())
            w_ret = float(m @ net.w) / float(m.sum())
        else:
            rat = float(net.ta @ self.layout.area) / float(self.layout.area.sum())
            w_ret = float(net.w.mean())
        oat_sensed = self._failed.get("ahu-1/oat", ws.t_out)
        chw_ok, hw_ok = chw.pump_enable, hw.pump_enable
        ahu.step(total, dsp, rat, w_ret, ws.t_out, ws.w_out, oat_sensed, chw.t_supply, chw_ok,
                 hw.t_supply, hw_ok)
        vav.reheat(ahu.sat, hw.t_supply, hw_ok and on)
        chw.step(dt, ahu.q_cc, ws.t_out)
        hw.step(dt, ahu.q_hc + float(vav.q_reheat.sum()))

        inf = self.config.infiltration_fan_on if on else 1.0
        t_zone = net.ta
        net.step(dt, ws.t_out, ws.w_out, self.weather.annual_mean, inf, self.solar.q_air, self.solar.q_mass,
                 self.gains.q_air, self.gains.q_mass, m, vav.t_dis, ahu.w_sup, self.gains.moisture)
        self.air.count(self.gains.people)
        self.air.step(dt, flows, ahu.oa_frac, net.inf_flow * (inf / RHO_AIR))

        self.elec_kw = (ahu.fan_kw + sum(chw.kw) + chw.pump_kw + hw.pump_kw
                        + self.gains.electric_w / 1000.0)
        self.gas_kw = sum(hw.gas_kw)
        self.elec_kwh += self.elec_kw * dt / 3600.0
        self.gas_kwh += self.gas_kw * dt / 3600.0
        self.kpi.add(self.t, dt, weekday, hour, self.elec_kw, self.gas_kw, t_zone,
                     is_occupied_hour(weekday, hour))
        self.t += dt

    def run(self, seconds: float, sequence: Sequence | None = None, dt: float = 60.0,
            warmup: float = 0.0, progress: Callable[[float], None] | None = None) -> Kpis:
        """Simulate ``warmup`` seconds uncounted, then ``seconds`` counted; return the KPIs.

        ``sequence`` (if any) is called before every step; ``progress`` with
        the fraction done, about every simulated hour.
        """
        total_steps = round((warmup + seconds) / dt)
        warm_steps = round(warmup / dt)
        every = max(1, int(3600 / dt))
        for k in range(total_steps):
            if k == warm_steps:
                self.kpi.reset()
            if sequence is not None:
                sequence(self)
            self.step(dt)
            if progress is not None and k % every == 0:
                progress((k + 1) / total_steps)
        if warm_steps >= total_steps:
            self.kpi.reset()
        return self.kpi.result()
