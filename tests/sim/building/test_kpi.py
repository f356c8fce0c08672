"""KPIs as BOPTEST defines them: energy, 15-minute peak, discomfort, time-of-use cost."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from openbms.sim.building import BaselineSequence, Building, ImprovedSequence, Tariff
from openbms.sim.building.kpi import KpiMeter
from openbms.sim.building.weather import local_seconds

MONDAY = local_seconds(datetime(2025, 4, 7))
COMFY = np.array([22.0, 23.0])


def test_peak_demand_is_the_largest_fifteen_minute_average():
    m = KpiMeter(area=100.0)
    t = MONDAY + 10 * 3600
    for minute in range(30):
        kw = 100.0 if minute < 10 else 10.0  # a 10-minute spike in the first quarter hour
        m.add(t + 60 * minute, 60, 0, 10.0, kw, 0.0, COMFY, True)
    k = m.result()
    assert k.peak_kw == pytest.approx((10 * 100 + 5 * 10) / 15)
    assert k.energy_elec_kwh == pytest.approx((10 * 100 + 20 * 10) / 60)


def test_cost_follows_the_time_of_use_tariff():
    tariff = Tariff(peak=0.30, off_peak=0.15, gas=0.07)
    m = KpiMeter(area=100.0, tariff=tariff)
    m.add(MONDAY + 9 * 3600, 3600, 0, 9.0, 10.0, 20.0, COMFY, True)  # weekday peak
    m.add(MONDAY + 22 * 3600, 3600, 0, 22.0, 10.0, 0.0, COMFY, False)  # weekday night
    m.add(MONDAY + 5 * 86400 + 9 * 3600, 3600, 5, 9.0, 10.0, 0.0, COMFY, False)  # Saturday
    k = m.result()
    assert k.cost == pytest.approx(10 * 0.30 + 20 * 0.07 + 10 * 0.15 + 10 * 0.15)
    assert k.energy_total_kwh == pytest.approx(50.0)
    assert k.energy_kwh_per_m2 == pytest.approx(0.5)


def test_discomfort_integrates_each_zone_outside_the_band_when_occupied():
    m = KpiMeter(area=100.0)
    temps = np.array([20.0, 22.0, 25.5])  # 1 K too cold, fine, 1.5 K too warm
    m.add(MONDAY + 9 * 3600, 1800, 0, 9.0, 0.0, 0.0, temps, True)
    m.add(MONDAY + 23 * 3600, 1800, 0, 23.0, 0.0, 0.0, temps, False)  # nobody there: not counted
    assert m.result().discomfort_kh == pytest.approx(2.5 * 0.5)


def test_the_improved_sequence_saves_energy_without_losing_comfort():
    results = {}
    for name, seq in (("baseline", BaselineSequence()), ("improved", ImprovedSequence())):
        b = Building(start=datetime(2025, 4, 6))
        results[name] = b.run(3 * 86400, seq, warmup=86400)
    base, better = results["baseline"], results["improved"]
    assert better.energy_total_kwh < 0.9 * base.energy_total_kwh
    assert better.cost < base.cost
    assert better.discomfort_kh <= base.discomfort_kh + 1.0
