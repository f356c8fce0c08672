"""The BACnet driver against simulated bacpypes3 devices over loopback UDP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.manager import DriverManager, PointBinding
from openbms.errors import DriverError, PointError, WriteRefused
from openbms.model import DriverSettings, parse_binding
from openbms.runtime.bus import Bus
from openbms.runtime.clock import ManualClock, WallClock
from openbms.sim.bacnet import ObjectSpec, SimulatedBACnet, SimulatedDevice
from tests.fixtures.network import free_udp_port
from tests.fixtures.waiting import eventually

SPECS = (
    ObjectSpec("analog-input", 1, "SA-T", 13.5, "degreesCelsius", "Supply air temperature"),
    ObjectSpec("analog-value", 2, "SA-SP", 13.0, "degreesCelsius", "Supply air setpoint"),
    ObjectSpec("binary-output", 3, "FAN-C", False, description="Supply fan command"),
    ObjectSpec("multi-state-value", 4, "MODE", 2, states=("off", "occupied", "unoccupied")),
)


@pytest.fixture
async def bacnet() -> AsyncIterator[tuple[SimulatedBACnet, BACnetDriver]]:
    # Devices and the client on different free ports: SO_REUSEPORT would let a second
    # bind to a busy port succeed silently and steal packets.
    sim = SimulatedBACnet.build(4, SPECS, port=free_udp_port(), subnet="127.0.7")
    sim.start()
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices=sim.address_map(), timeout=2, cov=False))
    await driver.start()
    try:
        yield sim, driver
    finally:
        await driver.stop()
        sim.stop()


def b(device: int, obj: str) -> object:
    return parse_binding(f"bacnet://{device}/{obj}")


async def test_values_of_every_object_type_are_read_in_one_rpm(bacnet):
    _sim, driver = bacnet
    readings = await driver.read("1002", [b(1002, "analog-input,1"), b(1002, "analog-value,2"),
                                          b(1002, "binary-output,3"),
                                          b(1002, "multi-state-value,4")])
    assert [r.value for r in readings] == [13.5, 13.0, False, 2]
    assert all(r.status == "ok" for r in readings)
    assert driver.rpm_requests == 1 and driver.rp_requests == 0


async def test_values_set_in_the_device_reach_the_bus_through_the_manager(bacnet):
    sim, driver = bacnet
    bus = Bus()
    got = []
    bus.subscribe_callback("*", got.extend)
    points = [PointBinding(f"hq/ahu-{d}/sat", b(d, "analog-input,1"), 0.2) for d in (1001, 1002)]
    manager = DriverManager(bus, WallClock(), {"bacnet": driver}, points,
                            {"bacnet": driver.settings})
    sim[1002].set_value(("analog-input", 1), 21.25)
    await manager.start()
    try:
        await eventually(lambda: {s.point for s in got} >= {"hq/ahu-1001/sat", "hq/ahu-1002/sat"},
                         "both devices' samples")
    finally:
        await manager.stop()
    latest = {s.point: s for s in got}
    assert latest["hq/ahu-1002/sat"].value == 21.25
    assert latest["hq/ahu-1001/sat"].value == 13.5


async def test_a_device_that_rejects_rpm_three_times_in_a_row_is_read_object_by_object(bacnet):
    sim, driver = bacnet
    sim[1003].reject_rpm()
    bindings = [b(1003, "analog-input,1"), b(1003, "analog-value,2")]
    for _ in range(3):  # each rejected read is made with ReadProperty
        assert [r.value for r in await driver.read("1003", bindings)] == [13.5, 13.0]
    assert driver.rpm_requests == 3 and driver.rp_requests == 6
    assert [r.value for r in await driver.read("1003", bindings)] == [13.5, 13.0]
    assert driver.rpm_requests == 3  # not tried again before the re-probe
    assert driver.rp_requests == 8


async def test_rpm_is_probed_again_after_a_back_off_that_doubles_up_to_its_cap():
    clock = ManualClock()
    sim = SimulatedBACnet([SimulatedDevice(2101, "127.0.8.2", _analog_specs(2), port=free_udp_port())])
    sim.start()
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices=sim.address_map(), timeout=2, cov=False,
                                         rpm_refusals=2, rpm_reprobe=600, rpm_reprobe_max=1500),
                          clock=clock)
    await driver.start()
    bindings = [b(2101, "analog-input,1"), b(2101, "analog-input,2")]

    async def read() -> tuple[int, int]:
        """Read; how many RPM and RP requests that took."""
        rpm, rp = driver.rpm_requests, driver.rp_requests
        assert [r.value for r in await driver.read("2101", bindings)] == [1.0, 2.0]
        return driver.rpm_requests - rpm, driver.rp_requests - rp

    try:
        sim[2101].reject_rpm()
        assert [await read(), await read()] == [(1, 2), (1, 2)]  # two rejects: object by object
        await clock.advance(599)
        assert await read() == (0, 2)
        await clock.advance(1)
        assert await read() == (1, 2)  # the probe, refused: 1 200 s to the next
        await clock.advance(1199)
        assert await read() == (0, 2)
        await clock.advance(1)
        assert await read() == (1, 2)  # refused again: 2 400 s, capped at 1 500
        sim[2101].reject_rpm(False)  # e.g. a firmware update, or the rejects were spoofed
        await clock.advance(1499)
        assert await read() == (0, 2)
        await clock.advance(1)
        assert [await read(), await read()] == [(1, 0), (1, 0)]  # RPM is back, and stays
    finally:
        await driver.stop()
        sim.stop()


async def test_bad_rpm_fallback_settings_are_refused_with_the_setting_named():
    for name, value in (("rpm_refusals", 0), ("rpm_reprobe", -1), ("rpm_reprobe", "soon"),
                        ("rpm_reprobe_max", 1e9), ("rpm_refusals", True),
                        ("max_in_flight", 0), ("max_batch", -1), ("max_objects", "many"),
                        ("cov_lifetime", 1e9)):
        with pytest.raises(DriverError, match=rf"drivers\.bacnet\.{name}: expected a number from"):
            BACnetDriver(DriverSettings(**{name: value}))


async def test_write_at_priority_8_and_release_change_the_value_and_the_priority_array(bacnet):
    sim, driver = bacnet
    sp = b(1001, "analog-value,2")
    await driver.write(sp, 15.5, 8)
    assert (await driver.read("1001", [sp]))[0].value == 15.5
    array = await driver.priority_array(sp)
    assert array[7] == 15.5 and array.count(None) == 15
    assert sim[1001].value(("analog-value", 2)) == 15.5  # visible to the emulator
    await driver.write(sp, None, 8)
    assert (await driver.read("1001", [sp]))[0].value == 13.0  # relinquish default
    assert (await driver.priority_array(sp)) == [None] * 16
    fan = b(1001, "binary-output,3")
    await driver.write(fan, True, 8)
    assert sim[1001].value(("binary-output", 3)) is True


async def test_unknown_objects_and_malformed_bindings_are_faults_not_crashes(bacnet):
    _sim, driver = bacnet
    readings = await driver.read("1001", [b(1001, "analog-input,99"), b(1001, "no-such,1"),
                                          b(1001, "analog-input,1")])
    assert [r.status for r in readings] == ["fault", "fault", "ok"]
    assert "unknown-object" in readings[0].error
    assert "is not a BACnet object" in readings[1].error


async def test_a_refused_write_is_a_write_refused_error(bacnet):
    _, driver = bacnet
    with pytest.raises(WriteRefused, match="refused"):
        await driver.write(b(1001, "analog-input,1"), 50.0, 8)  # inputs are not writable


async def test_a_device_that_stops_answering_goes_offline_and_returns_by_itself(bacnet):
    sim, driver = bacnet
    bus = Bus()
    got = []
    bus.subscribe_callback("*", got.extend)
    settings = DriverSettings(timeout=0.5, retries=0, max_backoff=0.5, cov=False)
    manager = DriverManager(bus, WallClock(), {"bacnet": driver},
                            [PointBinding("hq/d/sat", b(1004, "analog-input,1"), 0.2)],
                            {"bacnet": settings})
    await manager.start()
    try:
        await eventually(lambda: bool(got), "a first sample")
        sim[1004].set_silent(True)
        await eventually(lambda: manager.health()["bacnet://1004"].state == "offline", "offline")
        assert got[-1].status == "offline" and got[-1].value is None
        sim[1004].set_silent(False)
        await eventually(lambda: manager.health()["bacnet://1004"].state == "ok", "recovery")
    finally:
        await manager.stop()
    assert got[-1].status == "ok" and got[-1].value == 13.5


def _analog_specs(n: int) -> list[ObjectSpec]:
    return [ObjectSpec("analog-input", k, f"T-{k}", float(k), "degreesCelsius") for k in range(1, n + 1)]


async def _small_device(max_apdu: int, n: int, clock: ManualClock | None = None):
    sim = SimulatedBACnet([SimulatedDevice(2001, "127.0.8.1", _analog_specs(n), port=free_udp_port(),
                                           max_apdu=max_apdu, segmentation="no-segmentation")])
    sim.start()
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices=sim.address_map(), timeout=2, cov=False),
                          clock=clock)
    await driver.start()
    return sim, driver


async def test_batches_fit_the_apdu_the_device_announces_in_its_i_am():
    sim, driver = await _small_device(480, 40)
    try:
        readings = await driver.read("2001", [b(2001, f"analog-input,{k}") for k in range(1, 41)])
        assert [r.value for r in readings] == [float(k) for k in range(1, 41)]
        assert all(r.status == "ok" for r in readings)
        # 17 objects' replies fit 480 bytes: 17 + 17 + 6.
        assert driver.rpm_requests == 3
    finally:
        await driver.stop()
        sim.stop()


async def test_a_device_that_aborts_for_size_gets_smaller_batches_and_keeps_them():
    sim, driver = await _small_device(480, 40)
    try:
        driver._objects["2001"] = 40  # as if its I-Am had overstated its buffer
        readings = await driver.read("2001", [b(2001, f"analog-input,{k}") for k in range(1, 41)])
        assert [r.value for r in readings] == [float(k) for k in range(1, 41)]
        assert driver._objects["2001"] == 20  # 40 aborted; 20 (23 bytes each) fit 480
        before = driver.rpm_requests
        await driver.read("2001", [b(2001, f"analog-input,{k}") for k in range(1, 41)])
        assert driver.rpm_requests - before == 2
    finally:
        await driver.stop()
        sim.stop()


async def test_a_device_that_really_aborts_for_size_is_tried_at_its_announced_size_less_often():
    clock = ManualClock()
    sim, driver = await _small_device(480, 40, clock)
    bindings = [b(2001, f"analog-input,{k}") for k in range(1, 41)]

    async def requests() -> int:
        before = driver.rpm_requests
        readings = await driver.read("2001", bindings)
        assert [r.value for r in readings] == [float(k) for k in range(1, 41)]
        return driver.rpm_requests - before

    try:
        driver._objects["2001"] = driver._announced["2001"] = 40  # as if its I-Am overstated
        assert await requests() == 3  # 40 aborted, then 20 + 20
        assert await requests() == 2
        await clock.advance(600)
        assert await requests() == 3  # the announced 40 tried again: aborted; next in 1 200 s
        await clock.advance(600)
        assert await requests() == 2
        await clock.advance(600)
        assert await requests() == 3
    finally:
        await driver.stop()
        sim.stop()


async def test_a_garbled_reply_fails_that_read_only_and_the_driver_reads_on(bacnet):
    sim, driver = bacnet
    sim[1002].garble_rpm()
    with pytest.raises(PointError, match="malformed ReadPropertyMultiple reply"):
        await driver.read("1002", [b(1002, "analog-input,1")])
    sim[1002].garble_rpm(None)
    readings = await driver.read("1002", [b(1002, "analog-input,1")])
    assert readings[0].value == 13.5 and readings[0].status == "ok"
    assert "1002" not in driver._no_lean  # a glitch is not remembered against the device


# An RPM acknowledgement for analog-input,1 whose present value is constructed ([0] {1}):
# bacpypes3 reads it, the lean codec does not.
_CONSTRUCTED = bytes.fromhex("0c00000001" "1e" "2955" "4e" "0e2101" "0f" "4f" "1f")


async def test_the_lean_codec_is_tried_again_after_a_device_needed_the_generic_decoder():
    clock = ManualClock()
    sim = SimulatedBACnet([SimulatedDevice(2201, "127.0.8.3", _analog_specs(1), port=free_udp_port())])
    sim.start()
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices=sim.address_map(), timeout=2, cov=False),
                          clock=clock)
    await driver.start()

    async def lean_tries() -> int:
        """Read; how many replies the lean codec was given and could not read."""
        before = driver.decode_errors
        try:
            await driver.read("2201", [b(2201, "analog-input,1")])
        except PointError as err:  # bacpypes3 decodes the sequence but not the value's type
            assert "malformed ReadPropertyMultiple reply (InvalidTag" in str(err)
        return driver.decode_errors - before

    try:
        sim[2201].garble_rpm(_CONSTRUCTED)
        with pytest.raises(PointError, match="malformed ReadPropertyMultiple reply"):
            await driver.read("2201", [b(2201, "analog-input,1")])  # not bacpypes3's InvalidTag
        assert driver.decode_errors == 1  # the lean codec failed: bacpypes3's decoder for 600 s
        assert await lean_tries() == 0
        await clock.advance(600)
        assert await lean_tries() == 1  # still unreadable: 1 200 s to the next try
        await clock.advance(600)
        assert await lean_tries() == 0
        await clock.advance(600)
        assert await lean_tries() == 1  # and 2 400 s to the one after
        sim[2201].garble_rpm(None)
        await clock.advance(2400)
        assert await lean_tries() == 0 and "2201" not in driver._no_lean  # lean again
        sim[2201].garble_rpm(_CONSTRUCTED)
        assert await lean_tries() == 1  # the very next read used it
    finally:
        await driver.stop()
        sim.stop()


async def test_units_the_device_reports_are_checked_against_the_points(bacnet):
    _sim, driver = bacnet
    assert await driver.units("1001", [b(1001, "analog-input,1"), b(1001, "binary-output,3"),
                                       b(1001, "analog-input,99")]) == ["degC", None, None]
    bus = Bus()
    points = [PointBinding("hq/ahu/sat", b(1001, "analog-input,1"), 0.2, "degC"),
              PointBinding("hq/ahu/sp", b(1001, "analog-value,2"), 0.2, "°F")]
    manager = DriverManager(bus, WallClock(), {"bacnet": driver}, points, {"bacnet": driver.settings})
    await manager.start()
    try:
        health = manager.health()["bacnet://1001"]
        await eventually(lambda: bool(health.unit_mismatches), "a unit mismatch")
    finally:
        await manager.stop()
    assert health.unit_mismatches == ["hq/ahu/sp: configured in °F, the device reports degC"]


async def test_stopping_with_a_request_in_flight_leaves_no_retry_to_fail_on_the_closed_socket(caplog):
    # A read to a silent device is cancelled by the stop; bacpypes3 keeps the transaction's retry
    # timer, which used to fire after the socket closed: "Task exception was never retrieved".
    import asyncio
    import gc

    sim = SimulatedBACnet.build(1, SPECS, port=free_udp_port(), subnet="127.0.7")
    sim.start()
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices=sim.address_map(), timeout=5, cov=False))
    await driver.start()
    try:
        device = str(next(iter(sim.address_map())))
        await driver.read(device, [b(int(device), "analog-input,1")])  # the device is known
        sim[int(device)].set_silent(True)
        read = asyncio.create_task(driver.read(device, [b(int(device), "analog-input,1")]))
        await asyncio.sleep(0.3)
        read.cancel()
        await asyncio.gather(read, return_exceptions=True)
        await driver.stop()
        caplog.set_level("ERROR", logger="asyncio")
        await asyncio.sleep(4.0)  # past bacpypes3's 3 s APDU timeout, when the retry would go out
        gc.collect()
        await asyncio.sleep(0)
    finally:
        await driver.stop()
        sim.stop()
    errors = [r for r in caplog.records if r.name == "asyncio"]
    assert not errors, [r.getMessage() for r in errors]
