"""Interoperability: the BACnet driver against a device on a second, independent stack
(legacy ``bacpypes`` 0.19, its own codebase), running in another process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.bacnet.discovery import read_objects, who_is
from openbms.model import DriverSettings, parse_binding
from tests.fixtures.waiting import eventually
from tests.integration.test_bacnet import free_udp_port

IP = "127.0.14.1"


@pytest.fixture(scope="module")
def legacy_device() -> Iterator[str]:
    port = free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("legacy_device.py")), IP, str(port), "2001"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield f"{IP}:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


async def test_the_driver_reads_and_discovers_a_device_of_another_stack(legacy_device):
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices={"2001": legacy_device}, cov=False))
    await driver.start()
    try:
        (device,) = await who_is(driver.app, [], directed=[legacy_device], listen=2)
        assert (device.instance, device.max_apdu, device.vendor) == (2001, 1024, 15)
        readings = await driver.read("2001", [
            parse_binding("bacnet://2001/analog-input,1"),
            parse_binding("bacnet://2001/analog-value,2"),
            parse_binding("bacnet://2001/binary-output,3"),
            parse_binding("bacnet://2001/analog-input,7"),
        ])
        assert [(r.value, r.status) for r in readings[:3]] == [(21.5, "ok"), (22.0, "ok"),
                                                               (False, "ok")]
        assert readings[3].status == "fault" and "unknown-object" in (readings[3].error or "")
        assert driver.rpm_requests == 1  # the other stack accepts ReadPropertyMultiple
        await read_objects(driver.app, device)
        names = {o.name: o for o in device.objects}
        assert set(names) == {"ZN-T", "ZN-T-SP", "FAN-C"}
        assert names["ZN-T"].units == "degC" and names["ZN-T"].description == "Zone temperature"
    finally:
        await driver.stop()


async def test_writes_and_releases_at_a_priority_on_a_device_of_another_stack(legacy_device):
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices={"2001": legacy_device}, cov=False))
    await driver.start()
    sp = parse_binding("bacnet://2001/analog-value,2")
    fan = parse_binding("bacnet://2001/binary-output,3")
    try:
        await driver.write(sp, 19.5, 8)
        assert (await driver.read("2001", [sp]))[0].value == 19.5
        array = await driver.priority_array(sp)
        assert array[7] == 19.5 and array.count(None) == 15
        await driver.write(fan, True, 8)
        assert (await driver.read("2001", [fan]))[0].value is True
        await driver.write(sp, None, 8)
        await driver.write(fan, None, 8)
        assert [r.value for r in await driver.read("2001", [sp, fan])] == [22.0, False]
    finally:
        await driver.stop()


@pytest.mark.parametrize("confirmed", [False, True], ids=["unconfirmed", "confirmed"])
async def test_cov_notifications_from_a_device_of_another_stack(legacy_device, confirmed):
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices={"2001": legacy_device}, cov=True,
                                         cov_confirmed=confirmed, cov_lifetime=60))
    await driver.start()
    sp = parse_binding("bacnet://2001/analog-value,2")
    fan = parse_binding("bacnet://2001/binary-output,3")
    got: list[tuple[str, object, str]] = []
    try:
        assert await driver.subscribe("2001", [sp, fan], lambda b, v, s: got.append((b.path, v, s)))
        # The other stack sends the initial values on subscription, then each change.
        await eventually(lambda: {p for p, _, _ in got} == {"analog-value,2", "binary-output,3"},
                         "the initial notifications")
        await driver.write(sp, 18.5, 8)
        await driver.write(fan, True, 8)
        await eventually(lambda: ("analog-value,2", 18.5, "ok") in got, "the setpoint's change")
        await eventually(lambda: ("binary-output,3", True, "ok") in got, "the fan's change")
    finally:
        await driver.write(sp, None, 8)
        await driver.write(fan, None, 8)
        await driver.stop()
