"""Zone occupants and CO2: the well-mixed balance against its closed forms, and in the building."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from openbms.sim.building import BaselineSequence, Building, StuckDamper
from openbms.sim.building.air import CO2_PER_PERSON, OUTDOOR_CO2, ZoneAir


def _run(air: ZoneAir, seconds: float, supply, oa: float, inf, dt: float = 60.0) -> None:
    for _ in range(round(seconds / dt)):
        air.step(dt, np.asarray(supply, dtype=float), oa, np.asarray(inf, dtype=float))


def test_steady_state_is_outdoor_plus_generation_over_outdoor_air():
    # Two identical zones: the return air is theirs, so each sees outdoor air x·Q plus infiltration.
    air = ZoneAir(np.array([300.0, 300.0]))
    air.count(np.array([10.2, 9.8]))  # whole people: 10 each
    assert air.occupants.tolist() == [10, 10]
    q, x, q_inf = 0.5, 0.2, 0.01
    _run(air, 86400, [q, q], x, [q_inf, q_inf])
    expected = OUTDOOR_CO2 + 10 * CO2_PER_PERSON * 1e6 / (x * q + q_inf)
    assert air.co2 == pytest.approx([expected, expected], abs=0.01)
    assert 800 < expected < 1000  # 10 people on 110 L/s of outdoor air: a plausible office


def test_the_building_balance_closes_with_zones_that_differ():
    # Steady state: everything breathed out leaves with the exhausted air (outdoor air in
    # pushes as much return air out) and the infiltration.
    air = ZoneAir(np.array([200.0, 800.0, 150.0]))
    air.count(np.array([3.0, 40.0, 0.0]))
    supply, inf, x = np.array([0.3, 1.2, 0.2]), np.array([0.005, 0.0, 0.01]), 0.3
    _run(air, 5 * 86400, supply, x, inf)
    generated = air.occupants.sum() * CO2_PER_PERSON * 1e6
    returned = float(supply @ air.co2) / supply.sum()
    removed = x * supply.sum() * (returned - OUTDOOR_CO2) + float(inf @ (air.co2 - OUTDOOR_CO2))
    assert removed == pytest.approx(generated, rel=1e-6)
    assert air.co2[1] > air.co2[0] > OUTDOOR_CO2  # the crowded zone is the stuffiest
    assert air.co2[2] > OUTDOOR_CO2  # an empty zone gets the others' return air


def test_an_empty_zone_decays_to_outdoor_with_its_air_change_time_constant():
    air = ZoneAir(np.array([360.0]))
    air.co2[:] = 1420.0
    _run(air, 360.0, [0.0], 0.0, [1.0], dt=9.0)  # 1 m³/s through 360 m³: tau = 360 s
    assert air.co2[0] - OUTDOOR_CO2 == pytest.approx(1000.0 / math.e, rel=1e-9)


def test_without_any_airflow_the_co2_accumulates():
    air = ZoneAir(np.array([100.0]))
    air.count(np.array([2.0]))
    _run(air, 3600.0, [0.0], 0.0, [0.0])
    assert air.co2[0] == pytest.approx(OUTDOOR_CO2 + 2 * CO2_PER_PERSON * 1e6 * 3600 / 100.0)


def _day(fault: StuckDamper | None = None, seed: int = 0) -> Building:
    b = Building(start=datetime(2025, 4, 7), seed=seed)  # a Monday
    if fault is not None:
        b.inject(fault)
    seq = BaselineSequence()
    for _ in range(11 * 60):  # to 11:00
        seq(b)
        b.step(60.0)
    return b


def test_occupants_follow_the_schedule_and_co2_follows_them_and_the_outdoor_air():
    b = _day()
    assert b.air.occupants.dtype.kind == "i"
    assert (b.air.occupants > 0).all()  # a weekday morning: everyone at work
    expected = np.rint(b.gains.people)
    assert b.air.occupants.tolist() == expected.astype(int).tolist()
    assert (b.air.co2 > OUTDOOR_CO2 + 200).all() and (b.air.co2 < 2000).all()
    again = _day()
    assert again.air.co2.tolist() == b.air.co2.tolist()  # deterministic
    shut = _day(StuckDamper("ahu-1", 0.0))  # no outdoor air: only infiltration dilutes
    assert (shut.air.co2 > b.air.co2 + 300).all()


def test_nobody_is_in_at_night_and_the_co2_is_outdoor():
    b = Building(start=datetime(2025, 4, 6))  # a Sunday
    for _ in range(6 * 60):
        b.step(60.0)
    assert b.air.occupants.sum() == 0
    assert b.air.co2 == pytest.approx(np.full(b.layout.n, OUTDOOR_CO2))
