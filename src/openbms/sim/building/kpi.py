"""Key performance indicators as the BOPTEST benchmark defines them.

BOPTEST's core KPIs (IBPSA Project 1, "Core KPI Specification and
Calculation"): energy is the integral of every metered power; peak demand
the largest 15-minute average of electric power; thermal discomfort the
integral over time of each zone's deviation from its comfort band, summed
over zones (K·h); operational cost the integral of power times a price
profile. Unlike BOPTEST, which reports per m² or per zone and HVAC energy
only, these are whole-building totals, lighting and plug loads included
(a BMS meters the building), with kWh/m² as well.

Comfort band: 21-24 °C zone air temperature during occupied hours
(weekdays 07:00-18:00, when the occupancy schedule is at least 20 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["KpiMeter", "Kpis", "Tariff"]


@dataclass(frozen=True, slots=True)
class Tariff:
    """A time-of-use electricity tariff and a flat gas price, per kWh."""

    peak: float = 0.30
    off_peak: float = 0.15
    gas: float = 0.07
    peak_start: float = 8.0  # hour, weekdays
    peak_end: float = 20.0

    def electricity(self, weekday: int, hour: float) -> float:
        """The price of a kWh of electricity at local ``hour`` of a ``weekday`` (0 Monday)."""
        return self.peak if weekday < 5 and self.peak_start <= hour < self.peak_end else self.off_peak


@dataclass(frozen=True, slots=True)
class Kpis:
    """The KPIs of a run."""

    energy_elec_kwh: float
    energy_gas_kwh: float
    energy_total_kwh: float
    energy_kwh_per_m2: float
    peak_kw: float
    discomfort_kh: float
    cost: float
    days: float

    def lines(self) -> list[tuple[str, float, str]]:
        """``(name, value, unit)`` rows as ``openbms sim run`` prints them."""
        return [
            ("kpi.energy_total_kwh", self.energy_total_kwh, "kWh"),
            ("kpi.energy_kwh_per_m2", self.energy_kwh_per_m2, "kWh/m2"),
            ("kpi.peak_kw", self.peak_kw, "kW"),
            ("kpi.discomfort_kh", self.discomfort_kh, "Kh"),
            ("kpi.cost", self.cost, "currency"),
            ("kpi.energy_elec_kwh", self.energy_elec_kwh, "kWh"),
            ("kpi.energy_gas_kwh", self.energy_gas_kwh, "kWh"),
        ]


class KpiMeter:
    """Integrates a run's KPIs step by step."""

    def __init__(self, area: float, tariff: Tariff | None = None,
                 band: tuple[float, float] = (21.0, 24.0)) -> None:
        self.area = area
        self.tariff = tariff or Tariff()
        self.band = band
        self.reset()

    def reset(self) -> None:
        """Start counting again (after a warm-up)."""
        self.elec_kwh = 0.0
        self.gas_kwh = 0.0
        self.cost = 0.0
        self.discomfort_kh = 0.0
        self.seconds = 0.0
        self.peak_kw = 0.0
        self._bin: int | None = None
        self._bin_kwh = 0.0
        self._bin_s = 0.0

    def add(self, t: float, dt: float, weekday: int, hour: float, elec_kw: float, gas_kw: float,
            zone_t: np.ndarray, occupied: bool) -> None:
        """Account one step that started at ``t`` (local seconds) and lasted ``dt`` seconds."""
        h = dt / 3600.0
        e = elec_kw * h
        g = gas_kw * h
        self.elec_kwh += e
        self.gas_kwh += g
        self.cost += e * self.tariff.electricity(weekday, hour) + g * self.tariff.gas
        self.seconds += dt
        if occupied:
            lo, hi = self.band
            self.discomfort_kh += float(np.maximum(lo - zone_t, 0.0).sum()
                                        + np.maximum(zone_t - hi, 0.0).sum()) * h
        b = int(t // 900)
        if b != self._bin:
            self._close_bin()
            self._bin = b
        self._bin_kwh += e
        self._bin_s += dt

    def _close_bin(self) -> None:
        if self._bin_s > 0:
            self.peak_kw = max(self.peak_kw, self._bin_kwh / (self._bin_s / 3600.0))
        self._bin_kwh = self._bin_s = 0.0

    def result(self) -> Kpis:
        """The KPIs so far."""
        self._close_bin()
        total = self.elec_kwh + self.gas_kwh
        return Kpis(energy_elec_kwh=self.elec_kwh, energy_gas_kwh=self.gas_kwh, energy_total_kwh=total,
                    energy_kwh_per_m2=total / self.area, peak_kw=self.peak_kw,
                    discomfort_kh=self.discomfort_kh, cost=self.cost, days=self.seconds / 86400.0)
