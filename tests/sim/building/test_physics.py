"""Physics acceptance: energy balance, thermal lag, glazing, occupancy, plausible energy use."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from openbms.sim.building import BaselineSequence, Building, BuildingConfig, SyntheticWeather
from openbms.sim.building.gains import PERSON_SENSIBLE
from openbms.sim.building.zones import CP_AIR, RHO_AIR


def test_energy_balance_closes_over_a_day_within_one_percent():
    b = Building(start=datetime(2025, 4, 8))
    seq = BaselineSequence()
    internal_j = 0.0
    for _ in range(1440):
        seq(b)
        b.step(60)
        internal_j += (b.gains.electric_w + float(b.gains.people.sum()) * PERSON_SENSIBLE) * 60
    bal = b.net.balance
    assert bal.heat_in() > 0 and bal.heat_out() > 0
    assert abs(bal.residual()) <= 0.01 * bal.heat_in()
    # The terms are the model's own: internal heat is the metered lighting and plugs plus people,
    assert bal.internal == pytest.approx(internal_j, rel=1e-9)
    # the HVAC ran and the open-plan exchange only moves heat between zones.
    assert bal.hvac != 0.0
    assert abs(bal.interzone) < 1e-6 * bal.heat_in()


def _hourly(series: list[float]) -> np.ndarray:
    return np.array(series).reshape(-1, 60).mean(axis=1)


def _diurnal(x: np.ndarray) -> np.ndarray:
    """The series minus its 24-hour moving average (what is left is the daily swing)."""
    trend = np.convolve(x, np.ones(24) / 24, mode="same")
    return (x - trend)[24:-24]


def test_a_free_floating_building_follows_the_weather_late_and_damped():
    b = Building(start=datetime(2025, 5, 5))  # no sequence: the AHU stays off
    b.gains.enabled = False
    oat, zone = [], []
    for _ in range(10 * 1440):
        b.step(60)
        oat.append(b.ws.t_out)
        zone.append(float(b.net.ta @ b.layout.area / b.layout.area.sum()))
    o, z = _diurnal(_hourly(oat)), _diurnal(_hourly(zone))
    lags = range(-8, 13)
    xcorr = [float(np.corrcoef(o[12:-12], np.roll(z, -lag)[12:-12])[0, 1]) for lag in lags]
    best = list(lags)[int(np.argmax(xcorr))]
    assert best > 0, f"zone peaks {best} h after outdoors"
    assert max(xcorr) > 0.5
    assert z.std() < 0.5 * o.std()


def _noon_cooling(glazing: tuple[float, float, float, float]) -> tuple[float, float]:
    """Mean cooling coil load and south zones' sensible cooling, W, 11:00-13:00 on a fair day."""
    b = Building(BuildingConfig(glazing=glazing), start=datetime(2025, 9, 22), seed=0)
    south = np.array([z.startswith("s") for z in b.layout.ids])
    seq = BaselineSequence()
    coil, zones = [], []
    for _ in range(int(36.5 * 60)):
        seq(b)
        b.step(60)
        if 11 <= b.now.hour < 13 and b.now.day == 23:
            coil.append(b.ahu.q_cc)
            mcp = b.vav.flow * RHO_AIR * CP_AIR
            zones.append(float((mcp * (b.net.ta - b.vav.t_dis))[south].sum()))
    return float(np.mean(coil)), float(np.mean(zones))


def test_more_south_glazing_raises_the_cooling_load_at_noon():
    coil, zones = _noon_cooling((0.3, 0.3, 0.3, 0.3))
    coil_south, zones_south = _noon_cooling((0.3, 0.3, 0.7, 0.3))
    assert coil_south > 1.1 * coil
    assert zones_south > 1.5 * zones


def test_occupancy_gains_raise_zone_temperature():
    temps = {}
    for occupied in (True, False):
        b = Building(start=datetime(2025, 3, 3))  # free-floating: the AHU stays off
        b.gains.enabled = occupied
        while b.now < datetime(2025, 3, 5, 17):
            b.step(60)
        temps[occupied] = b.net.ta.copy()
    assert (temps[True] > temps[False] + 1.0).all()


@pytest.mark.slow
def test_an_annual_baseline_run_gives_a_plausible_office_eui():
    """Four representative weeks (one a season) scaled by 13 stand for the year; see docs/emulator.md."""
    eui = 0.0
    weeks = (datetime(2025, 1, 13), datetime(2025, 4, 14), datetime(2025, 7, 14), datetime(2025, 10, 13))
    for start in weeks:
        b = Building(start=start, weather=SyntheticWeather(0))
        eui += 13 * b.run(7 * 86400, BaselineSequence(), warmup=86400).energy_kwh_per_m2
    # CBECS offices: about 300 kWh/m²·yr for the 1990s stock, a third less for new buildings.
    assert 100.0 < eui < 350.0
