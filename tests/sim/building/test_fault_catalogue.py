"""The faults a live building offers (``BuildingFaults``): by id, with their values and limits."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from openbms.service.faults import UnknownFault
from openbms.sim.building import BaselineSequence, Building
from openbms.sim.building.fault_catalogue import BuildingFaults
from openbms.sim.building.faults import ChillerTrip, FailedSensor, StuckDamper


@pytest.fixture
def building() -> Building:
    return Building(start=datetime(2025, 1, 13, 10))  # a Monday morning in January: heating, AHU on


def test_every_kind_of_fault_is_offered_on_what_it_applies_to(building):
    ids = [f.id for f in BuildingFaults(building).faults()]
    assert len(ids) == len(set(ids))
    assert {"stuck-damper:ahu-1", "stuck-damper:vav-s1", "failed-sensor:ahu-1/oat",
            "failed-sensor:vav-c3/zone-t", "fouled-coil:ahu-1/cooling", "fouled-coil:ahu-1/heating",
            "chiller-trip:ch-1", "chiller-trip:ch-2"} <= set(ids)
    assert sum(i.startswith("stuck-damper:vav-") for i in ids) == len(building.layout.ids)
    assert not any(f.active for f in BuildingFaults(building).faults())


def test_a_stuck_outdoor_air_damper_changes_the_physics_until_cleared(building):
    faults = BuildingFaults(building)
    seq = BaselineSequence()
    for _ in range(30):
        seq(building)
        building.step(60)
    assert building.get("ahu-1/oa-damper") < 60
    info = faults.inject("stuck-damper:ahu-1")
    assert info.active and info.value == 100.0
    assert building.faults == [StuckDamper("ahu-1", 100.0)]
    for _ in range(10):
        seq(building)
        building.step(60)
    assert building.get("ahu-1/oa-damper") == pytest.approx(100.0)
    cleared = faults.clear("stuck-damper:ahu-1")
    assert not cleared.active and building.faults == []
    for _ in range(30):
        seq(building)
        building.step(60)
    assert building.get("ahu-1/oa-damper") < 60


def test_injecting_again_replaces_the_value_and_clear_is_idempotent(building):
    faults = BuildingFaults(building)
    faults.inject("stuck-damper:vav-s1", 40)
    faults.inject("stuck-damper:vav-s1", 10)
    assert building.faults == [StuckDamper("vav-s1", 10.0)]
    (listed,) = [f for f in faults.faults() if f.active]
    assert listed.id == "stuck-damper:vav-s1" and listed.value == 10.0
    faults.clear("stuck-damper:vav-s1")
    faults.clear("stuck-damper:vav-s1")
    assert building.faults == []


def test_a_failed_sensor_reads_nothing_or_the_value_given(building):
    faults = BuildingFaults(building)
    info = faults.inject("failed-sensor:ahu-1/oat")
    assert info.active and info.value is None and math.isnan(building.get("ahu-1/oat"))
    faults.inject("failed-sensor:ahu-1/oat", 40.0)
    assert building.get("ahu-1/oat") == 40.0 and building.faults == [FailedSensor("ahu-1/oat", 40.0)]


def test_a_chiller_trip_sets_its_alarm_point(building):
    faults = BuildingFaults(building)
    faults.inject("chiller-trip:ch-2")
    assert building.faults == [ChillerTrip("ch-2")] and building.get("ch-2/alarm") is True
    faults.clear("chiller-trip:ch-2")
    assert building.get("ch-2/alarm") is False


@pytest.mark.parametrize(("fault", "value", "message"), [
    ("stuck-damper:ahu-1", 150.0, "the position of stuck-damper:ahu-1 must be from 0 to 100 %, not 150"),
    ("fouled-coil:ahu-1/cooling", -1.0, "the capacity of fouled-coil:ahu-1/cooling must be from 0 to 100 %"),
    ("chiller-trip:ch-1", 1.0, "chiller-trip:ch-1 takes no value"),
    ("failed-sensor:ahu-1/sat", math.inf, "must be a finite number"),
])
def test_a_bad_value_is_refused_with_what_was_expected(building, fault, value, message):
    with pytest.raises(ValueError, match=message):
        BuildingFaults(building).inject(fault, value)
    assert building.faults == []


def test_an_unknown_fault_is_refused_with_the_kinds(building):
    with pytest.raises(UnknownFault, match=r"no fault 'stuck-damper:ahu-9'.*chiller-trip, failed-sensor"):
        BuildingFaults(building).inject("stuck-damper:ahu-9")
    with pytest.raises(UnknownFault):
        BuildingFaults(building).clear("nothing")
