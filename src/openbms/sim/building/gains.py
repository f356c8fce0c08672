"""Heat and moisture from people, lighting, plug loads and the sun.

Hourly schedules follow the US DOE medium-office prototype (fractions of
peak; weekday, Saturday, Sunday). Each zone draws, per day, how full it is
and how much equipment is left on, and per hour a little noise, from a
seeded generator, so two runs with the same seed are identical.
"""

from __future__ import annotations

import numpy as np

from openbms.sim.building.config import BuildingConfig
from openbms.sim.building.solar import surface_irradiance
from openbms.sim.building.weather import WeatherSample
from openbms.sim.building.zones import Layout

__all__ = ["OCCUPANCY", "InternalGains", "SolarGains", "is_occupied_hour"]

# Hour 0 is 00:00-01:00. Index 0 weekday, 1 Saturday, 2 Sunday and holidays.
OCCUPANCY = (
    (0, 0, 0, 0, 0, 0, 0.1, 0.2, 0.95, 0.95, 0.95, 0.95, 0.5, 0.95, 0.95, 0.95, 0.95, 0.3, 0.1, 0.1,
     0.1, 0.1, 0.05, 0.05),
    (0, 0, 0, 0, 0, 0, 0.1, 0.1, 0.3, 0.3, 0.3, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0, 0, 0, 0, 0),
    (0,) * 24,
)
LIGHTING = (
    (0.05, 0.05, 0.05, 0.05, 0.05, 0.1, 0.1, 0.3, 0.9, 0.9, 0.9, 0.9, 0.8, 0.9, 0.9, 0.9, 0.9, 0.7, 0.5,
     0.5, 0.3, 0.3, 0.1, 0.05),
    (0.05,) * 6 + (0.1, 0.1, 0.3, 0.3, 0.3, 0.3, 0.15, 0.15, 0.15, 0.15, 0.15, 0.05) + (0.05,) * 6,
    (0.05,) * 24,
)
PLUGS = (
    (0.4,) * 7 + (0.6, 0.9, 0.9, 0.9, 0.9, 0.8, 0.9, 0.9, 0.9, 0.9, 0.6, 0.5, 0.4) + (0.4,) * 4,
    (0.3,) * 7 + (0.4, 0.5, 0.5, 0.5, 0.5, 0.35, 0.35, 0.35, 0.35, 0.35, 0.3) + (0.3,) * 6,
    (0.3,) * 24,
)

PERSON_SENSIBLE = 75.0  # W, office work (ASHRAE: 130 W total)
PERSON_LATENT = 55.0  # W
CONVECTIVE = {"people": 0.5, "lighting": 0.4, "plugs": 0.5, "sun": 0.3}  # the rest is radiant, to mass


def day_type(weekday: int) -> int:
    """0 weekday, 1 Saturday, 2 Sunday (``weekday`` as datetime.weekday())."""
    return 0 if weekday < 5 else weekday - 4


def is_occupied_hour(weekday: int, hour: float) -> bool:
    """The occupied hours for comfort KPIs: weekdays when the schedule has at least 20 % in (07:00-18:00).

    Saturdays' few occupants are left out: a conventional plant does not run for them.
    """
    return weekday < 5 and OCCUPANCY[0][int(hour) % 24] >= 0.2


class InternalGains:
    """People, lighting and plug loads per zone, refreshed each hour."""

    def __init__(self, lay: Layout, cfg: BuildingConfig, seed: int = 0) -> None:
        self.layout = lay
        self.people_peak = lay.area / cfg.area_per_person
        self.lighting_peak = lay.area * cfg.lighting
        self.plugs_peak = lay.area * cfg.plugs
        self.rng = np.random.default_rng(seed)
        self.enabled = True  # False: an empty building, nothing on
        self._day: int | None = None
        self._hour: int | None = None
        n = lay.n
        self._occ_scale = np.ones(n)
        self._plug_scale = np.ones(n)
        self.people = np.zeros(n)
        self.lighting = np.zeros(n)
        self.plugs = np.zeros(n)
        self.q_air = np.zeros(n)
        self.q_mass = np.zeros(n)
        self.moisture = np.zeros(n)

    def update(self, day: int, weekday: int, hour: int) -> None:
        """Recompute at the start of each hour (``day`` is any running day number)."""
        if day == self._day and hour == self._hour:
            return
        n = self.layout.n
        if day != self._day:
            self._day = day
            self._occ_scale = np.clip(self.rng.normal(1.0, 0.12, n), 0.6, 1.2)
            self._plug_scale = np.clip(self.rng.normal(1.0, 0.08, n), 0.75, 1.2)
        self._hour = hour
        kind = day_type(weekday)
        noise = np.clip(self.rng.normal(1.0, 0.05, n), 0.8, 1.2)
        occ = OCCUPANCY[kind][hour] * self._occ_scale * noise
        on = 1.0 if self.enabled else 0.0
        self.people = on * np.minimum(occ, 1.1) * self.people_peak
        # Lighting follows people a little: a fuller floor turns more lights on.
        light_frac = np.clip(LIGHTING[kind][hour] * (0.85 + 0.15 * noise), 0.0, 1.0)
        self.lighting = on * light_frac * self.lighting_peak
        self.plugs = on * np.clip(PLUGS[kind][hour] * self._plug_scale, 0.0, 1.0) * self.plugs_peak
        sensible = self.people * PERSON_SENSIBLE
        c = CONVECTIVE
        self.q_air = c["people"] * sensible + c["lighting"] * self.lighting + c["plugs"] * self.plugs
        self.q_mass = (sensible + self.lighting + self.plugs) - self.q_air
        self.moisture = self.people * PERSON_LATENT / 2.45e6

    @property
    def electric_w(self) -> float:
        """Lighting and plug loads, W: they are metered electricity and zone heat alike."""
        return float(self.lighting.sum() + self.plugs.sum())


class SolarGains:
    """Sun through each zone's windows and absorbed by its walls and roof."""

    def __init__(self, lay: Layout, cfg: BuildingConfig, solair_walls: np.ndarray,
                 solair_roof: np.ndarray) -> None:
        self.layout = lay
        self.window_shgc = lay.window * cfg.shgc  # (zones, 4)
        self.solair_walls = solair_walls
        self.solair_roof = solair_roof
        self.q_air = np.zeros(lay.n)
        self.q_mass = np.zeros(lay.n)
        self.transmitted = np.zeros(lay.n)

    def update(self, ws: WeatherSample) -> None:
        """Gains for the sun and sky in ``ws``."""
        if ws.sin_alt <= 0.01 and ws.ghi <= 0.0:
            self.q_air = self.q_mass = self.transmitted = np.zeros(self.layout.n)
            return
        beam, diffuse, cos_inc = surface_irradiance(ws.sin_alt, ws.cos_alt, ws.azimuth, ws.dni, ws.dhi,
                                                    ws.ghi, self.layout.facade_azimuth)
        # Glass transmits less at grazing angles (ASHRAE incidence modifier, b0 = 0.1),
        # and about 0.9 of its normal value for diffuse light.
        iam = np.clip(1.0 - 0.1 * (1.0 / np.maximum(cos_inc, 1e-3) - 1.0), 0.0, 1.0)
        through = beam * iam + 0.9 * diffuse
        self.transmitted = self.window_shgc @ through
        absorbed = self.solair_walls @ (beam + diffuse) + self.solair_roof * ws.ghi
        self.q_air = CONVECTIVE["sun"] * self.transmitted
        self.q_mass = self.transmitted - self.q_air + absorbed
