"""Co-simulation: the demo site's schedules and programs controlling the emulated building in-process."""

from __future__ import annotations

import math
import shutil
from datetime import datetime

import pytest
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.errors import WriteRefused
from openbms.model.binding import parse_binding
from openbms.service.assembly import Assembly
from openbms.sim.building import BaselineSequence, Building, FailedSensor
from openbms.sim.building.bacnet import BuildingFace
from openbms.sim.building.cosim import (
    BuildingDriver,
    CoSimulation,
    bacnet_points,
    building_timezone,
    cosimulate,
    demo_site_path,
    load_control,
)

NAMES = ["kpi.energy_total_kwh", "kpi.energy_kwh_per_m2", "kpi.peak_kw", "kpi.discomfort_kh", "kpi.cost",
         "kpi.energy_elec_kwh", "kpi.energy_gas_kwh"]


@pytest.fixture(scope="module")
def demo():
    return load_control(None)


def _driver(building: Building) -> BuildingDriver:
    return BuildingDriver(building, bacnet_points(building))


def _b(uri: str):
    return parse_binding(uri)


def test_bindings_name_the_objects_the_bacnet_face_serves():
    building = Building()
    objects = bacnet_points(building)
    face = BuildingFace(building)
    served = {face.binding(p).removeprefix("bacnet://"): p for p in face.points()}
    assert objects == served
    assert objects["2001/analog-value,1"] == "ahu-1/sat-sp"


def test_every_binding_of_the_demo_site_names_a_building_point(demo):
    site, _ = demo
    objects = bacnet_points(Building())
    bound = [parse_binding(p.binding) for _, _, p in site.points()
             if p.binding and p.binding.startswith("bacnet://")]  # not the MQTT sensors (iaq-*)
    assert len(bound) == len(objects) == 309
    assert {f"{b.device}/{b.path}" for b in bound} == set(objects)


async def test_read_gives_the_buildings_values_with_binaries_as_bools():
    building = Building()
    driver = _driver(building)
    sat, enable, oat = (_b("bacnet://2001/analog-value,1"), _b("bacnet://2001/binary-value,1"),
                        _b("bacnet://2001/analog-input,7"))
    readings = await driver.read("building", [sat, enable, oat])
    assert [r.status for r in readings] == ["ok"] * 3
    assert readings[0].value == building.get("ahu-1/sat-sp")
    assert readings[1].value is False
    assert readings[2].value == pytest.approx(float(building.get("ahu-1/oat")))
    many = await driver.read("building", [sat, enable, oat] * 3)  # a poll reads the whole building at once
    assert [r.value for r in many] == [r.value for r in readings] * 3


async def test_the_highest_priority_wins_and_releasing_restores_the_buildings_default():
    building = Building()
    driver = _driver(building)
    sat = _b("bacnet://2001/analog-value,1")
    default = building.get("ahu-1/sat-sp")
    await driver.write(sat, 15.0, 16)
    assert building.get("ahu-1/sat-sp") == 15.0
    await driver.write(sat, 12.0, 8)
    assert building.get("ahu-1/sat-sp") == 12.0
    await driver.write(sat, 17.0, 10)  # below priority 8: stored, not in effect
    assert building.get("ahu-1/sat-sp") == 12.0
    assert driver.priority_array(sat)[7] == 12.0 and driver.priority_array(sat)[9] == 17.0
    await driver.write(sat, None, 8)
    assert building.get("ahu-1/sat-sp") == 17.0
    await driver.write(sat, None, 10)
    await driver.write(sat, None, 16)
    assert building.get("ahu-1/sat-sp") == default
    assert driver.priority_array(sat) == [None] * 16
    await driver.write(_b("bacnet://2001/binary-value,1"), True, None)  # no priority: 16
    assert building.get("ahu-1/enable") is True
    assert (await driver.read("building", [sat]))[0].value == default


async def test_writes_the_building_cannot_take_are_refused_and_change_nothing():
    building = Building()
    driver = _driver(building)
    sat = _b("bacnet://2001/analog-value,1")
    await driver.write(sat, 14.0, 8)
    with pytest.raises(WriteRefused, match="read-only"):
        await driver.write(_b("bacnet://2001/analog-input,3"), 1.0, 8)
    with pytest.raises(WriteRefused, match="no such object"):
        await driver.write(_b("bacnet://2001/analog-value,99"), 1.0, 8)
    with pytest.raises(WriteRefused, match="priority"):
        await driver.write(sat, 1.0, 17)
    with pytest.raises(WriteRefused, match="refused"):
        await driver.write(sat, math.nan, 5)
    assert building.get("ahu-1/sat-sp") == 14.0
    assert driver.priority_array(sat)[4] is None
    (unknown,) = await driver.read("building", [_b("bacnet://2999/analog-input,1")])
    assert unknown.status == "fault" and unknown.value is None


async def test_a_failed_sensor_reads_fault():
    building = Building()
    driver = _driver(building)
    building.inject(FailedSensor("vav-c1/zone-t"))
    zone_t, oat = _b("bacnet://2011/analog-input,1"), _b("bacnet://2001/analog-input,7")
    failed, ok = await driver.read("building", [zone_t, oat])
    assert failed.status == "fault" and failed.value is None
    assert ok.status == "ok"


def test_schedules_run_on_the_buildings_standard_time():
    assert building_timezone(Building()) == "Etc/GMT+6"  # the temperate preset is UTC-6


async def test_the_schedules_start_the_ahu_and_the_programs_reach_the_building(demo):
    site, programs = demo
    building = Building(start=datetime(2025, 1, 6))  # a Monday in winter: optimal start may begin early
    async with CoSimulation(site, building, programs) as cosim:
        assert cosim.engine is not None and len(cosim.engine.loaded()) == len(programs) == 4
        await cosim.advance(3 * 3600 - 60)  # 02:59: the zones are still unoccupied
        assert building.get("vav-c1/occupied") is False
        await cosim.advance(60)  # 03:00 on Mondays: the zones take their occupied setpoints
        assert building.now == datetime(2025, 1, 6, 3, 0)
        assert building.get("vav-c1/occupied") is True
        await cosim.advance(4 * 3600)  # 07:00: office hours, the AHU schedule holds the fan on
        assert building.get("ahu-1/enable") is True
        assert cosim.arbiter is not None
        assert cosim.arbiter.priority_array("demo/ahu-1/fan-cmd")[11] is True
        await cosim.advance(3600)
        # The AHU program's supply-air reset (16 °C at 5 °C outdoors, 13 °C at 15 °C) is in the building.
        oat = float(building.get("ahu-1/oat"))
        expected = min(max(16.0 - 0.3 * (oat - 5.0), 13.0), 16.0)
        assert building.get("ahu-1/sat-sp") == pytest.approx(expected, abs=0.1)
        assert building.get("ahu-1/sat-sp") != 13.0  # not the building's default
        assert building.get("ahu-1/oa-min") == 20.0  # the ventilation schedule
        assert building.get("vav-c1/occ-heat-sp") == 21.2  # the zones program
        assert building.get("hwp-1/enable") is True  # the plant program: heating with the fan
        assert float(building.get("ahu-1/airflow")) > 0
        assert all(s.errors == 0 for s in cosim.engine.status().values())


async def test_the_cosimulation_is_wired_by_the_same_assembly_as_the_runtime(demo):
    site, programs = demo
    async with CoSimulation(site, Building(start=datetime(2025, 1, 6)), programs) as cosim:
        assert isinstance(cosim.assembly, Assembly)
        # No historian and no alarms here: the cache, the arbiter and the programs, in that order.
        assert cosim.assembly.subscriptions == ["cache", "arbiter", "programs"]
        assert set(cosim.bus.stats().subscribers) == set(cosim.assembly.subscriptions)
        assert cosim.arbiter is cosim.assembly.arbiter and cosim.engine is cosim.assembly.programs
        assert cosim.schedules is not None  # the demo's schedules, on the building's time
        await cosim.advance(600)
        assert all(s["delivered"] > 0 for s in cosim.bus.stats().subscribers.values())
        # Every point bound through an enabled driver (the demo's MQTT sensors' is off).
        assert len(cosim.cache) == sum(1 for _pid, _e, p in site.points() if p.binding and
                                       site.drivers[parse_binding(p.binding).scheme].enabled)


def test_the_example_programs_use_less_energy_than_the_baseline_without_more_discomfort(demo):
    # Two spring weekdays (Tuesday 8 and Wednesday 9 April 2025, after a warm-up day): the season where
    # the programs' margin over the baseline is narrowest (9 % less energy over a fortnight).
    site, programs = demo
    start = datetime(2025, 4, 7)
    ours = cosimulate(site, programs, Building(start=start), 2 * 86400.0)
    base = Building(start=start).run(2 * 86400.0, BaselineSequence(), warmup=86400.0)
    assert ours.energy_total_kwh < 0.95 * base.energy_total_kwh
    assert ours.discomfort_kh <= base.discomfort_kh


runner = CliRunner()


def test_sim_run_without_a_sequence_cosimulates_the_demo_and_prints_exactly_the_kpi_lines():
    result = runner.invoke(app, ["sim", "run", "--days", "0.25", "--start", "2025-04-08"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == NAMES
    for line in lines:
        _, value, unit = line.split(" ")
        assert float(value) >= 0 and unit


def test_sim_run_takes_a_folder_of_programs_or_a_site_folder(tmp_path):
    programs = tmp_path / "programs"
    shutil.copytree(demo_site_path().parent / "programs", programs)
    (programs / "start.json").unlink()
    result = runner.invoke(app, ["sim", "run", "--days", "0.05", "--programs", str(programs)])
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()] == NAMES
    site = tmp_path / "site"
    shutil.copytree(demo_site_path().parent, site)
    result = runner.invoke(app, ["sim", "run", "--days", "0.05", "--programs", str(site)])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 7


def test_sim_run_refuses_programs_with_a_sequence_and_a_folder_without_programs(tmp_path):
    both = runner.invoke(app, ["sim", "run", "--days", "1", "--baseline", "--programs", str(tmp_path)])
    assert both.exit_code == 2 and both.stdout == ""
    empty = runner.invoke(app, ["sim", "run", "--days", "1", "--programs", str(tmp_path)])
    assert empty.exit_code == 1 and empty.stdout == ""
    assert "program JSON files" in " ".join(empty.stderr.split())


async def test_a_demo_site_with_its_mqtt_sensors_on_cosimulates_them_from_the_building(demo):
    # As `openbms demo` runs it with Mosquitto installed: the mqtt driver enabled.
    site, programs = demo
    mqtt = site.drivers["mqtt"].model_copy(update={"enabled": True})
    site = site.model_copy(update={"drivers": {**site.drivers, "mqtt": mqtt}})
    building = Building(start=datetime(2025, 4, 7, 10))
    async with CoSimulation(site, building, programs) as cosim:
        await cosim.advance(600)
        # All 339 of the building's own (the Modbus and REST drivers are off, as in the shipped file)
        served = [p for _pid, _e, p in site.points()
                  if p.binding and _b(p.binding).scheme in ("bacnet", "mqtt")]
        assert len(cosim.cache) == len(served) == 339
        for i, zone in enumerate(building.layout.ids):
            co2 = cosim.cache.get(f"demo/iaq-{zone}/co2")
            people = cosim.cache.get(f"demo/iaq-{zone}/occupancy")
            assert co2 is not None and people is not None
            assert co2.value == round(building.air.co2[i]) and co2.value > 420
            assert people.value == building.air.occupants[i] and isinstance(people.value, int)
