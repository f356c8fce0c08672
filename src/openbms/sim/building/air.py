"""Zone occupants and CO2: a people counter per zone and a well-mixed CO2 balance.

Per zone ``i`` (volume ``V``, CO2 ``C`` in ppm), each step with the air
flows held::

    V dC/dt = Q_sup (C_sup − C) + Q_inf (C_out − C) + 10⁶ g n
    C_sup   = x C_out + (1 − x) C_ret             x: the AHU's outdoor-air fraction
    C_ret   = Σ Q_sup,j C_j / Σ Q_sup,j            the zones' return air, mixed

``Q_sup`` is the box's supply airflow, ``Q_inf`` infiltration (less while the
AHU pressurises the building), ``n`` the zone's occupants and ``g`` the CO2
one person breathes out at office activity. With the flows and ``C_sup``
held over a step the equation is linear in ``C``, so each step is its exact
exponential solution: stable at any step, and at steady state
``C = C_out + 10⁶ g n / Q_oa`` where ``Q_oa`` is the zone's outdoor air.

An airflow that is not a flow (NaN, infinite, negative: a fault elsewhere in
the model) counts as no air in that zone, and an outdoor-air fraction that is
not a number as a shut damper, so one bad value stays in its zone instead of
reaching every zone through the mixed return air.

The occupant count is the whole number of people the gains model puts in the
zone (its schedule, daily fullness and hourly noise, all seeded), so CO2
follows the same people whose heat the zones feel.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CO2_PER_PERSON", "OUTDOOR_CO2", "ZoneAir"]

#: Outdoor CO2, ppm (the global mean was about 420 ppm in 2024).
OUTDOOR_CO2 = 420.0
#: CO2 breathed out per person at office activity (1.2 met), m³/s: 0.0052 L/s (ASHRAE 62.1, Appendix C).
CO2_PER_PERSON = 0.0052e-3


class ZoneAir:
    """Each zone's occupants (whole people) and CO2 (ppm), advanced by ``step``."""

    def __init__(self, volume: np.ndarray, outdoor: float = OUTDOOR_CO2,
                 per_person: float = CO2_PER_PERSON) -> None:
        self.volume = np.asarray(volume, dtype=float)
        self.outdoor = float(outdoor)
        self.per_person = float(per_person)
        self.co2 = np.full(self.volume.shape, self.outdoor)
        self.occupants = np.zeros(self.volume.shape, dtype=np.int64)

    def count(self, people: np.ndarray) -> None:
        """Set the occupants from the gains model's people (fractional) per zone: whole people."""
        self.occupants = np.rint(np.maximum(people, 0.0)).astype(np.int64)

    def supply_co2(self, supply: np.ndarray, oa_fraction: float) -> float:
        """The supply air's CO2, ppm: outdoor air mixed with the zones' return air."""
        supply = _flow(supply)
        total = float(supply.sum())
        if total <= 0.0:
            return self.outdoor
        returned = float(supply @ self.co2) / total
        x = min(max(oa_fraction, 0.0), 1.0) if math.isfinite(oa_fraction) else 0.0
        return x * self.outdoor + (1.0 - x) * returned

    def step(self, dt: float, supply: np.ndarray, oa_fraction: float, infiltration: np.ndarray) -> None:
        """Advance ``dt`` seconds: ``supply`` and ``infiltration`` are each zone's airflows, m³/s;
        ``oa_fraction`` is the outdoor-air fraction of the supply air (0–1)."""
        supply, infiltration = _flow(supply), _flow(infiltration)
        c_sup = self.supply_co2(supply, oa_fraction)
        generation = self.occupants * (self.per_person * 1e6)  # ppm·m³/s
        flow = supply + infiltration
        moving = flow > 0.0
        safe = np.where(moving, flow, 1.0)
        target = np.where(moving, (supply * c_sup + infiltration * self.outdoor + generation) / safe,
                          self.co2)
        decay = np.exp(-flow * dt / self.volume)
        # No air moving at all: the people's CO2 simply accumulates.
        still = np.where(moving, 0.0, generation * dt / self.volume)
        self.co2 = target + (self.co2 - target) * decay + still


def _flow(values: np.ndarray) -> np.ndarray:
    """Airflows, m³/s, with what is not a flow (NaN, infinite, negative) as none."""
    flows = np.asarray(values, dtype=float)
    return np.where(np.isfinite(flows) & (flows > 0.0), flows, 0.0)
