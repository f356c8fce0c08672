"""The emulated building served over BACnet/IP on loopback: discovery, writes, releases, faults."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.bacnet.discovery import read_objects, who_is
from openbms.model import DriverSettings, parse_binding
from openbms.runtime.clock import ManualClock
from openbms.sim.building import BaselineSequence, Building, FailedSensor, device_of
from openbms.sim.building.bacnet import OBJECT_NAMES, BuildingFace, object_name, object_type
from openbms.sim.building.live import LiveEmulator
from tests.integration.test_bacnet import free_udp_port

START = datetime(2025, 4, 8, 9, 0)  # a Tuesday morning in spring


@pytest.fixture
async def served() -> AsyncIterator[tuple[LiveEmulator, BACnetDriver]]:
    building = Building(start=START)
    face = BuildingFace(building, subnet="127.0.31", port=free_udp_port())
    emulator = LiveEmulator(building, ManualClock(building.timestamp), face=face, step=60)
    face.start()
    await face.bound()
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices=face.address_map(), timeout=2, cov=False))
    await driver.start()
    try:
        yield emulator, driver
    finally:
        await driver.stop()
        face.stop()


def run(emulator: LiveEmulator, seconds: float) -> None:
    """Simulate ``seconds`` more, applying writes before each step and publishing after."""
    emulator.advance_to(emulator.building.timestamp + seconds)


async def read(driver: BACnetDriver, face: BuildingFace, point: str) -> tuple[object, str]:
    binding = parse_binding(face.binding(point))
    (reading,) = await driver.read(binding.device, [binding])
    return reading.value, reading.status


async def write(driver: BACnetDriver, face: BuildingFace, point: str, value: object, priority: int) -> None:
    await driver.write(parse_binding(face.binding(point)), value, priority)


def test_every_point_has_an_object_name_and_names_are_unique_per_device():
    building = Building()
    names: dict[str, Counter[str]] = {}
    for spec in building.point_specs():
        names.setdefault(device_of(spec.name), Counter())[object_name(spec.name)] += 1
    assert set(names) == {"ahu-1", "chiller-plant", "boiler-plant", "meters"} | {
        f"vav-{z}" for z in building.layout.ids}
    assert all(n == 1 for counter in names.values() for n in counter.values())
    assert object_name("vav-s2/zone-t") == "ZN-T" and object_name("ch-2/enable") == "CH-2-EN"
    assert len({row.point for row in OBJECT_NAMES}) == len(OBJECT_NAMES)


async def test_discovery_finds_every_device_and_every_point(served):
    emulator, driver = served
    face, building = emulator.face, emulator.building
    assert face is not None
    port = face.port
    devices = await who_is(driver.app, [f"127.255.255.255:{port}"], listen=2)
    assert {d.instance for d in devices} == {d.instance for d in face.devices.values()}
    by_instance = {d.instance: d.group for d in face.devices.values()}
    specs = {s.name: s for s in building.point_specs()}
    found: dict[str, set[tuple[str, str]]] = {}
    for dev in devices:
        await read_objects(driver.app, dev)
        group = by_instance[dev.instance]
        assert dev.name == group.upper()
        found[group] = {(o.type, o.name) for o in dev.objects}
        for o in dev.objects:
            assert o.description  # every object says what it is
    expected: dict[str, set[tuple[str, str]]] = {}
    for name, spec in specs.items():
        expected.setdefault(device_of(name), set()).add((object_type(spec), object_name(name)))
    assert found == expected
    assert sum(len(v) for v in found.values()) == len(specs)
    ahu = next(d for d in devices if by_instance[d.instance] == "ahu-1")
    sat = next(o for o in ahu.objects if o.name == "SA-T")
    assert sat.units == "degC" and sat.type == "analog-input"
    assert math.isclose(float(sat.value), building.get("ahu-1/sat"), abs_tol=1e-3)


async def test_sat_setpoint_written_at_priority_8_drives_the_plant_and_its_release_restores_it(served):
    emulator, driver = served
    face, building = emulator.face, emulator.building
    assert face is not None
    for point in ("ahu-1/enable", "chwp-1/enable", "hwp-1/enable", "ch-1/enable", "blr-1/enable"):
        await write(driver, face, point, True, 12)
    default = building.get("ahu-1/sat-sp")
    run(emulator, 1800)
    assert building.get("ahu-1/enable") is True
    assert (await read(driver, face, "ahu-1/fan-status")) == (True, "ok")
    assert (await read(driver, face, "ahu-1/sat"))[0] == pytest.approx(default, abs=0.3)

    await write(driver, face, "ahu-1/sat-sp", default + 3.0, 8)
    array = await driver.priority_array(parse_binding(face.binding("ahu-1/sat-sp")))
    assert array[7] == default + 3.0
    run(emulator, 600)
    assert building.get("ahu-1/sat-sp") == default + 3.0
    assert (await read(driver, face, "ahu-1/sat"))[0] == pytest.approx(default + 3.0, abs=0.3)

    await write(driver, face, "ahu-1/sat-sp", None, 8)  # release
    run(emulator, 600)
    assert building.get("ahu-1/sat-sp") == default  # the relinquish default is the building's default
    assert (await read(driver, face, "ahu-1/sat-sp"))[0] == default
    assert (await read(driver, face, "ahu-1/sat"))[0] == pytest.approx(default, abs=0.3)


async def test_raising_a_zones_cooling_setpoint_lowers_its_airflow(served):
    emulator, driver = served
    face, building = emulator.face, emulator.building
    assert face is not None
    for point in ("ahu-1/enable", "chwp-1/enable", "hwp-1/enable", "ch-1/enable", "blr-1/enable"):
        await write(driver, face, point, True, 12)
    zone = "vav-s2"
    # Cool the zone hard: the box goes to its maximum airflow.
    await write(driver, face, f"{zone}/occ-heat-sp", 15.0, 8)
    await write(driver, face, f"{zone}/occ-cool-sp", 17.0, 8)
    run(emulator, 1200)
    high, status = await read(driver, face, f"{zone}/airflow")
    assert status == "ok"
    await write(driver, face, f"{zone}/occ-cool-sp", 28.0, 8)
    run(emulator, 1200)
    low, _ = await read(driver, face, f"{zone}/airflow")
    assert building.get(f"{zone}/cool-sp") == 28.0
    assert float(low) < 0.6 * float(high)


async def test_a_failed_sensor_shows_fault_status_flags_until_cleared(served):
    emulator, driver = served
    face, building = emulator.face, emulator.building
    assert face is not None
    fault = FailedSensor("vav-e1/zone-t")
    building.inject(fault)
    face.publish()
    value, status = await read(driver, face, "vav-e1/zone-t")
    assert status == "fault"
    assert (await read(driver, face, "vav-e2/zone-t"))[1] == "ok"
    building.clear(fault)
    face.publish()
    value, status = await read(driver, face, "vav-e1/zone-t")
    assert status == "ok" and value == pytest.approx(building.get("vav-e1/zone-t"), abs=1e-3)


async def test_a_local_sequence_sets_relinquish_defaults_and_a_network_command_wins(served):
    emulator, driver = served
    face, building = emulator.face, emulator.building
    assert face is not None
    emulator.sequence = BaselineSequence()
    run(emulator, 120)
    assert building.get("ahu-1/enable") is True  # the baseline runs the plant at 09:00 on a Tuesday
    assert (await read(driver, face, "ahu-1/enable"))[0] is True
    await write(driver, face, "ahu-1/enable", False, 8)
    run(emulator, 120)
    assert building.get("ahu-1/enable") is False
    await write(driver, face, "ahu-1/enable", None, 8)
    run(emulator, 120)
    assert building.get("ahu-1/enable") is True


async def test_only_changed_values_are_set_on_the_objects(served):
    emulator, _driver = served
    face = emulator.face
    assert face is not None
    device, oid = face.object_of("meter-elec/kwh")
    calls = []
    original = device.set_value
    device.set_value = lambda o, v: (calls.append(o), original(o, v))  # type: ignore[method-assign]
    face.publish()  # nothing moved since the last publish
    assert calls == []
    run(emulator, 60)
    assert oid in calls
