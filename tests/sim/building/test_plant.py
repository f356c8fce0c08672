"""The plant: economiser, faults, and the points API the protocol faces will use."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from openbms.sim.building import (
    BaselineSequence,
    Building,
    ChillerTrip,
    FailedSensor,
    FouledCoil,
    StuckDamper,
    device_of,
)
from tests.sim.building.stub import SteadyWeather

MONDAY_9 = datetime(2025, 4, 7, 9)


def _plant_on(b: Building, chillers: tuple[int, ...] = (1, 2)) -> None:
    for name in ("ahu-1/enable", "chwp-1/enable", "hwp-1/enable", "blr-1/enable"):
        b.set(name, True)
    for k in chillers:
        b.set(f"ch-{k}/enable", True)


def _minutes(b: Building, n: int, sequence=None) -> None:
    for _ in range(n):
        if sequence is not None:
            sequence(b)
        b.step(60)


def test_the_economiser_uses_outdoor_air_when_it_is_cool():
    loads = {}
    for econ in (False, True):
        b = Building(weather=SteadyWeather(11.0), start=MONDAY_9)
        _plant_on(b)
        b.set("ahu-1/econ-enable", econ)
        _minutes(b, 90)
        p = b.points()
        loads[econ] = p["ahu-1/cc-kw"]
        if econ:
            assert p["ahu-1/oa-damper"] > 50.0
            assert p["ahu-1/mat"] < p["ahu-1/rat"] - 3.0
            assert p["ahu-1/sat"] == pytest.approx(p["ahu-1/sat-sp"], abs=0.3)
        else:
            assert p["ahu-1/oa-damper"] == pytest.approx(25.0)
    assert loads[True] < 0.2 * loads[False]


def test_the_economiser_stays_at_minimum_when_outdoor_air_is_hot():
    b = Building(weather=SteadyWeather(30.0, dew_point=18.0), start=MONDAY_9)
    _plant_on(b)
    b.set("ahu-1/econ-enable", True)
    _minutes(b, 30)
    assert b.get("ahu-1/oa-damper") == pytest.approx(25.0)


def test_a_stuck_vav_damper_lets_its_zone_drift():
    temps = {}
    for stuck in (False, True):
        b = Building(weather=SteadyWeather(28.0, dew_point=15.0), start=MONDAY_9)
        seq = BaselineSequence()
        if stuck:
            b.inject(StuckDamper("vav-s2", 0.0))
        _minutes(b, 180, seq)
        temps[stuck] = b.get("vav-s2/zone-t")
        if stuck:
            assert b.get("vav-s2/damper") == 0.0
            assert b.get("vav-s2/airflow") == 0.0
    assert temps[False] <= 24.3
    assert temps[True] > temps[False] + 1.0


def test_a_stuck_outdoor_air_damper_overrides_the_economiser():
    b = Building(weather=SteadyWeather(11.0), start=MONDAY_9)
    _plant_on(b)
    b.set("ahu-1/econ-enable", True)
    b.inject(StuckDamper("ahu-1", 100.0))
    _minutes(b, 10)
    assert b.get("ahu-1/oa-damper") == 100.0


def test_a_chiller_trip_stops_it_raises_its_alarm_and_the_supply_air_warms():
    b = Building(weather=SteadyWeather(30.0, dew_point=16.0), start=MONDAY_9)
    _plant_on(b, chillers=(1,))
    _minutes(b, 60)
    assert b.get("ahu-1/sat") == pytest.approx(13.0, abs=0.3)
    assert b.get("ch-1/status") and not b.get("ch-1/alarm")
    trip = ChillerTrip("ch-1")
    b.inject(trip)
    _minutes(b, 30)
    assert not b.get("ch-1/status") and b.get("ch-1/alarm")
    assert b.get("ch-1/kw") == 0.0
    assert b.get("chw/supply-t") > 12.0
    assert b.get("ahu-1/sat") > 15.0
    b.clear(trip)
    _minutes(b, 60)
    assert not b.get("ch-1/alarm")
    assert b.get("ahu-1/sat") == pytest.approx(13.0, abs=0.3)


def test_a_fouled_cooling_coil_cannot_hold_the_supply_air_setpoint():
    sats = {}
    for fouled in (False, True):
        b = Building(weather=SteadyWeather(32.0, dew_point=18.0), start=MONDAY_9)
        _plant_on(b)
        if fouled:
            b.inject(FouledCoil("cooling", 0.15))
        _minutes(b, 90, BaselineSequence())
        sats[fouled] = b.get("ahu-1/sat")
    assert sats[False] == pytest.approx(13.0, abs=0.3)
    assert sats[True] > 14.0


def test_a_failed_sensor_reads_its_failed_value_and_the_box_fails_safe():
    b = Building(weather=SteadyWeather(28.0, dew_point=15.0), start=MONDAY_9)
    seq = BaselineSequence()
    _minutes(b, 120, seq)
    fault = FailedSensor("vav-e1/zone-t")
    b.inject(fault)
    _minutes(b, 5, seq)
    assert math.isnan(b.get("vav-e1/zone-t")) and math.isnan(b.points()["vav-e1/zone-t"])
    i = b.layout.ids.index("e1")
    assert b.vav.flow_sp[i] == pytest.approx(b.vav.min_flow[i])
    b.clear(FailedSensor("vav-e1/zone-t"))  # an equal fault clears it, NaN or not
    assert not math.isnan(b.get("vav-e1/zone-t"))
    b.inject(FailedSensor("vav-e1/zone-t", 35.0))
    _minutes(b, 30, seq)
    assert b.get("vav-e1/zone-t") == 35.0
    assert b.vav.flow_sp[i] == pytest.approx(b.vav.max_flow[i])  # it cools flat out
    assert float(b.net.ta[i]) < 23.0


def test_faults_on_things_that_do_not_exist_are_refused():
    b = Building()
    with pytest.raises(ValueError):
        b.inject(StuckDamper("vav-x9", 50))
    with pytest.raises(ValueError):
        b.inject(ChillerTrip("ch-7"))
    with pytest.raises(ValueError):
        b.inject(FailedSensor("ahu-1/sat-sp"))  # a setpoint, not a sensor
    with pytest.raises(ValueError):
        b.inject(FouledCoil("steam"))


def test_points_and_specs_describe_the_same_stable_names():
    b = Building()
    specs = b.point_specs()
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert set(b.points()) == set(names)
    for name in ("ahu-1/sat", "ahu-1/sat-sp", "vav-n1/zone-t", "ch-1/enable", "meter-elec/kw",
                 "meter-gas/kwh", "chw/supply-t-sp", "hw/supply-t-sp", "hwp-1/enable", "ahu-1/dsp-sp",
                 "ahu-1/oa-min", "ahu-1/econ-enable", "vav-s3/occupied", "vav-s3/occ-heat-sp",
                 "blr-2/enable"):
        assert name in names
    spec = {s.name: s for s in specs}
    assert spec["ahu-1/sat"][:4] == ("ahu-1/sat", "degC", False, "analog")
    assert spec["ch-1/enable"].writable and spec["ch-1/enable"].kind == "binary"
    assert all(s.kind in ("analog", "binary") and s.description for s in specs)
    assert len(specs) == len(Building().point_specs())  # the same building, the same points
    assert device_of("ch-2/kw") == device_of("chw/supply-t") == "chiller-plant"
    assert device_of("hwp-1/enable") == "boiler-plant"
    assert device_of("vav-n1/zone-t") == "vav-n1"


def test_set_writes_supervisory_inputs_and_refuses_sensors():
    b = Building()
    b.set("ahu-1/sat-sp", 14.5)
    b.set("vav-w2/occ-cool-sp", 25)
    b.set("ch-2/enable", 1)
    b.set("ahu-1/oa-min", 30)
    assert b.get("ahu-1/sat-sp") == 14.5 and b.ahu.sat_sp == 14.5
    assert b.get("vav-w2/occ-cool-sp") == 25.0
    assert b.get("ch-2/enable") is True
    assert b.ahu.oa_min == pytest.approx(0.3)
    with pytest.raises(ValueError, match="read-only"):
        b.set("ahu-1/sat", 10)
    with pytest.raises(KeyError):
        b.set("ahu-9/sat-sp", 10)
    with pytest.raises(ValueError, match="finite"):
        b.set("ahu-1/sat-sp", float("nan"))


def test_meters_add_up_and_count_energy():
    b = Building(weather=SteadyWeather(30.0, dew_point=16.0), start=MONDAY_9)
    _minutes(b, 60, BaselineSequence())
    p = b.points()
    parts = (p["ahu-1/sf-kw"] + p["ch-1/kw"] + p["ch-2/kw"] + p["chwp-1/kw"] + p["hwp-1/kw"]
             + p["meter-elec/lighting-kw"] + p["meter-elec/plugs-kw"])
    assert p["meter-elec/kw"] == pytest.approx(parts)
    assert p["meter-elec/hvac-kw"] > 0
    assert p["meter-elec/kwh"] > 0.5 * p["meter-elec/kw"]
    assert p["meter-gas/kw"] == pytest.approx(p["blr-1/gas-kw"] + p["blr-2/gas-kw"])
