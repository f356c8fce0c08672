"""The zones and their thermal RC network: an air node and a mass node per zone.

Per zone (numpy arrays over all zones)::

    outdoor ──H_win+H_inf── air ──H_ms── mass ──H_op── outdoor (sol-air)
                            │ │           └──H_gnd── ground (ground floor)
               HVAC supply ─┘ └─K── other zones' air (open plan)

The air node holds the room air and furniture; the mass node the slab,
walls and partitions (ISO 13790's 165 kJ/m²K for medium construction, and
its coupling 9.1 W/m²K over 2.5 m² of surface per m² of floor). Gains split
between the nodes: convective to air, radiant (and transmitted sun) to mass.

Integration is explicit (forward Euler), sub-stepped so that every step is
under half the smallest node time constant; with the default office and
60 s steps that is a single sub-step. Forward Euler conserves energy
exactly: every flow leaves one node and enters another with the same value,
so the energy balance in ``EnergyBalance`` closes to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from openbms.sim.building.config import BuildingConfig

__all__ = ["FACADES", "EnergyBalance", "Layout", "ThermalNetwork", "layout"]

FACADES = ("n", "e", "s", "w")
CP_AIR = 1006.0  # J/kgK
RHO_AIR = 1.2  # kg/m³
H_FG = 2.45e6  # J/kg, latent heat of vaporisation
FURNITURE = 3.0  # the air node's capacity, in multiples of the room air's


@dataclass(frozen=True, slots=True)
class Layout:
    """The zones of a building: ids, floor areas, envelope areas by facade, couplings."""

    ids: tuple[str, ...]  # "c1", "n1", "e1", "s1", "w1", "c2", ...
    floor: np.ndarray  # 1-based floor of each zone
    area: np.ndarray  # m²
    volume: np.ndarray  # m³
    wall: np.ndarray  # (zones, 4) gross exterior wall area per facade N E S W, m²
    window: np.ndarray  # (zones, 4) window area per facade, m²
    roof: np.ndarray  # m²
    ground: np.ndarray  # m²
    boundary: np.ndarray  # (zones, zones) length of open boundary between zones, m
    facade_azimuth: np.ndarray  # radians, clockwise from north, of N E S W

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def perimeter(self) -> np.ndarray:
        """True for zones with an exterior wall."""
        return self.wall.sum(axis=1) > 0


def layout(cfg: BuildingConfig) -> Layout:
    """Zone a rectangular plan: per floor a core and N, E, S, W perimeter zones."""
    length = math.sqrt(cfg.floor_area * cfg.aspect_ratio)  # N and S facades
    depth = cfg.floor_area / length  # E and W facades
    d = cfg.perimeter_depth
    per_floor = {
        "c": ((length - 2 * d) * (depth - 2 * d), None),
        "n": ((length - d) * d, 0), "e": ((depth - d) * d, 1),
        "s": ((length - d) * d, 2), "w": ((depth - d) * d, 3),
    }
    facade_len = (length, depth, length, depth)
    ids: list[str] = []
    floor, area, roof, ground = [], [], [], []
    wall, window = [], []
    for f in range(1, cfg.floors + 1):
        for key, (a, side) in per_floor.items():
            ids.append(f"{key}{f}")
            floor.append(f)
            area.append(a)
            roof.append(a if f == cfg.floors else 0.0)
            ground.append(a if f == 1 else 0.0)
            w = [0.0] * 4
            g = [0.0] * 4
            if side is not None:
                w[side] = facade_len[side] * cfg.floor_height
                g[side] = w[side] * cfg.glazing[side]
            wall.append(w)
            window.append(g)
    n = len(ids)
    boundary = np.zeros((n, n))
    diag = d * math.sqrt(2.0)
    for f in range(cfg.floors):
        zc, zn, ze, zs, zw = (5 * f + i for i in range(5))
        for i, j, length_m in ((zc, zn, length - 2 * d), (zc, zs, length - 2 * d), (zc, ze, depth - 2 * d),
                               (zc, zw, depth - 2 * d), (zn, ze, diag), (ze, zs, diag), (zs, zw, diag),
                               (zw, zn, diag)):
            boundary[i, j] = boundary[j, i] = length_m
    area_a = np.array(area)
    return Layout(
        ids=tuple(ids), floor=np.array(floor), area=area_a, volume=area_a * cfg.ceiling_height,
        wall=np.array(wall), window=np.array(window), roof=np.array(roof), ground=np.array(ground),
        boundary=boundary,
        facade_azimuth=np.radians(cfg.orientation + np.array([0.0, 90.0, 180.0, 270.0])),
    )


@dataclass(slots=True)
class EnergyBalance:
    """Heat into the zones since the last reset, by path, in J (negative: out).

    ``stored`` is the change of the zones' stored heat; the paths sum to it.
    """

    solar: float = 0.0  # through windows, and absorbed by opaque walls and conducted in
    internal: float = 0.0  # people, lighting, plug loads
    hvac: float = 0.0  # supply air: flow × cp × (discharge − zone)
    windows: float = 0.0  # conduction through glazing
    opaque: float = 0.0  # conduction through walls and roof
    infiltration: float = 0.0
    ground: float = 0.0
    interzone: float = 0.0  # zero over the whole building
    stored: float = 0.0
    terms: tuple[str, ...] = field(default=("solar", "internal", "hvac", "windows", "opaque",
                                            "infiltration", "ground", "interzone"), repr=False)

    def heat_in(self) -> float:
        """The sum of the positive paths."""
        return sum(max(getattr(self, t), 0.0) for t in self.terms)

    def heat_out(self) -> float:
        """The sum of the negative paths, as a positive number."""
        return -sum(min(getattr(self, t), 0.0) for t in self.terms)

    def residual(self) -> float:
        """Heat in − heat out − stored: zero when the balance closes."""
        return self.heat_in() - self.heat_out() - self.stored

    def reset(self) -> None:
        for f in fields(self):
            if f.name != "terms":
                setattr(self, f.name, 0.0)


class ThermalNetwork:
    """The zones' temperatures and humidity, advanced by ``step``."""

    def __init__(self, lay: Layout, cfg: BuildingConfig, t_init: float = 21.0, w_init: float = 0.008) -> None:
        self.layout = lay
        self.c_air = RHO_AIR * CP_AIR * lay.volume * FURNITURE
        self.c_mass = cfg.mass * lay.area
        self.m_air = RHO_AIR * lay.volume  # kg of room air, for the moisture balance
        self.h_win = cfg.u_window * lay.window.sum(axis=1)
        opaque = lay.wall - lay.window
        self.h_op = cfg.u_wall * opaque.sum(axis=1) + cfg.u_roof * lay.roof
        self.h_gnd = cfg.u_slab * lay.ground
        self.h_ms = 9.1 * 2.5 * lay.area
        self.inf_flow = RHO_AIR * cfg.infiltration_ach * lay.volume / 3600.0  # kg/s
        self.k = cfg.interzone_per_m * lay.boundary
        self.k_sum = self.k.sum(axis=1)
        # Sol-air: absorbed sun conducted in = absorptance × R_se (0.04 m²K/W) × U × A × irradiance.
        self.solair_walls = cfg.wall_absorptance * 0.04 * cfg.u_wall * opaque  # (zones, 4)
        self.solair_roof = cfg.wall_absorptance * 0.04 * cfg.u_roof * lay.roof
        self.ta = np.full(lay.n, t_init)
        self.tm = np.full(lay.n, t_init)
        self.w = np.full(lay.n, w_init)
        self.balance = EnergyBalance()
        self.max_supply_mcp = np.zeros(lay.n)  # W/K at each zone's largest supply airflow
        self._substeps: dict[float, int] = {}

    def substeps(self, dt: float) -> int:
        """Sub-steps that keep forward Euler well inside its stability limit."""
        n = self._substeps.get(dt)
        if n is None:
            g_air = (self.h_win + self.inf_flow * CP_AIR + self.h_ms + self.k_sum
                     + self.max_supply_mcp) / self.c_air
            g_mass = (self.h_ms + self.h_op + self.h_gnd) / self.c_mass
            rate = float(max(g_air.max(), g_mass.max()))
            n = self._substeps[dt] = max(1, math.ceil(dt * rate / 0.5))
        return n

    def step(self, dt: float, t_out: float, w_out: float, t_ground: float, inf_factor: float,
             q_solar_air: np.ndarray, q_solar_mass: np.ndarray, q_int_air: np.ndarray,
             q_int_mass: np.ndarray, supply_m: np.ndarray, supply_t: np.ndarray, supply_w: float,
             moisture: np.ndarray) -> None:
        """Advance ``dt`` seconds with boundary conditions held over the step.

        ``supply_m`` (kg/s) and ``supply_t`` (°C) are each zone's supply air;
        ``q_solar_mass`` includes sun absorbed by the opaque envelope;
        ``moisture`` is each zone's vapour gain, kg/s.
        """
        n = self.substeps(dt)
        h = dt / n
        b = self.balance
        ta, tm = self.ta, self.tm
        mcp = supply_m * CP_AIR
        h_inf = self.inf_flow * CP_AIR * inf_factor
        q_air_in = q_solar_air + q_int_air
        q_mass_in = q_solar_mass + q_int_mass
        q_sol = float(q_solar_air.sum() + q_solar_mass.sum())
        q_int = float(q_int_air.sum() + q_int_mass.sum())
        stored0 = float(self.c_air @ ta + self.c_mass @ tm)
        for _ in range(n):
            q_win = self.h_win * (t_out - ta)
            q_inf = h_inf * (t_out - ta)
            q_ms = self.h_ms * (tm - ta)
            q_iz = self.k @ ta - self.k_sum * ta
            q_hv = mcp * (supply_t - ta)
            q_op = self.h_op * (t_out - tm)
            q_gnd = self.h_gnd * (t_ground - tm)
            ta = ta + (q_win + q_inf + q_ms + q_iz + q_hv + q_air_in) * (h / self.c_air)
            tm = tm + (q_op + q_gnd - q_ms + q_mass_in) * (h / self.c_mass)
            b.windows += float(q_win.sum()) * h
            b.infiltration += float(q_inf.sum()) * h
            b.interzone += float(q_iz.sum()) * h
            b.hvac += float(q_hv.sum()) * h
            b.opaque += float(q_op.sum()) * h
            b.ground += float(q_gnd.sum()) * h
        b.solar += q_sol * dt
        b.internal += q_int * dt
        self.ta, self.tm = ta, tm
        b.stored += float(self.c_air @ ta + self.c_mass @ tm) - stored0
        m_inf = self.inf_flow * inf_factor
        dw = supply_m * (supply_w - self.w) + m_inf * (w_out - self.w) + moisture
        self.w = np.maximum(self.w + dw * (dt / self.m_air), 1e-4)
