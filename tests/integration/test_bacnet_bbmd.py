"""openbms as a foreign device of a BBMD (issue 15, item 10), against bacpypes3's BBMD.

The BBMD and the devices share a UDP port on one loopback subnet; openbms
is elsewhere (its own port, a broadcast that reaches nobody), as a client on
another subnet is: only broadcasts distributed by the BBMD reach the devices.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.bacnet.discovery import who_is
from openbms.errors import DeviceUnreachable
from openbms.model import DriverSettings
from openbms.model.binding import parse_binding
from openbms.sim.bacnet import ObjectSpec, SimulatedBBMD, SimulatedDevice
from tests.fixtures.network import free_udp_port, random_subnet

SPECS = (ObjectSpec("analog-input", 1, "OA-T", 8.5, "degreesCelsius"),)
AI1 = [parse_binding("bacnet://7001/analog-input,1")]


@dataclass
class Subnet:
    bbmd: SimulatedBBMD
    devices: list[SimulatedDevice]


@pytest.fixture
async def subnet() -> AsyncIterator[Subnet]:
    """A BBMD at <subnet>.1 and devices 7001, 7002 at .2, .3, all on one port."""
    port, net = free_udp_port(), random_subnet()
    bbmd = SimulatedBBMD(7000, f"{net}.1", port=port)
    devices = [SimulatedDevice(7001 + i, f"{net}.{i + 2}", SPECS, port=port) for i in range(2)]
    bbmd.start()
    for d in devices:
        d.start()
    yield Subnet(bbmd, devices)
    for d in devices:
        d.stop()
    bbmd.stop()


def client(**extra: object) -> BACnetDriver:
    # Broadcasts of its own go to a port nobody listens on: another subnet.
    return BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}", cov=False,
                                       broadcast=f"127.255.255.255:{free_udp_port()}", **extra))


async def registered(driver: BACnetDriver, state: str = "registered") -> None:
    for _ in range(100):
        if driver.registration() == state:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"registration is {driver.registration()!r}, not {state!r}")


async def test_broadcasts_reach_the_devices_only_through_the_bbmd(subnet):
    alone = client()
    await alone.start()
    try:
        assert alone.registration() is None
        with pytest.raises(DeviceUnreachable, match="did not answer Who-Is"):
            await alone.read("7001", AI1)
    finally:
        await alone.stop()
    foreign = client(bbmd=subnet.bbmd.address, bbmd_ttl=60)
    await foreign.start()
    try:
        await registered(foreign)
        ip, port = foreign.address.split("/")[0], foreign.address.rsplit(":", 1)[1]
        assert subnet.bbmd.foreign_devices() == [f"{ip}:{port}"]
        readings = await foreign.read("7001", AI1)
        assert readings[0].value == 8.5
        found = await who_is(foreign.app, [], listen=1.0, bbmd=foreign.bbmd)
        assert {7000, 7001, 7002} <= {d.instance for d in found}
    finally:
        await foreign.stop()


async def test_the_registration_is_renewed_so_a_restarted_bbmd_gets_it_back(subnet):
    foreign = client(bbmd=subnet.bbmd.address, bbmd_ttl=1)
    await foreign.start()
    try:
        await registered(foreign)
        subnet.bbmd.stop()  # its foreign device table is gone with it
        subnet.bbmd.start()
        assert subnet.bbmd.foreign_devices() == []
        for _ in range(100):  # renewed within a TTL or so
            if subnet.bbmd.foreign_devices():
                break
            await asyncio.sleep(0.05)
        assert len(subnet.bbmd.foreign_devices()) == 1
    finally:
        await foreign.stop()


async def test_a_refused_registration_is_reported_and_retried_until_accepted(subnet, caplog):
    # A plain device (not a BBMD) answers Register-Foreign-Device with a NAK.
    port, net = free_udp_port(), random_subnet()
    plain = SimulatedDevice(7100, f"{net}.1", SPECS, port=port)
    plain.start()
    foreign = client(bbmd=f"{net}.1:{port}", bbmd_ttl=60)
    foreign._registration_grace = 0.4
    caplog.set_level(logging.WARNING, "openbms.drivers.bacnet.driver")
    await foreign.start()
    try:
        await registered(foreign, "refused")
        for _ in range(40):
            if "was refused (the BBMD answered with a NAK" in caplog.text:
                break
            await asyncio.sleep(0.05)
        assert "BBMD " + f"{net}.1:{port} was refused" in caplog.text
        # The same address becomes a BBMD: the next retry registers (bacpypes3 alone would
        # ignore every answer after the NAK).
        plain.stop()
        bbmd = SimulatedBBMD(7101, f"{net}.1", port=port)
        bbmd.start()
        try:
            for _ in range(160):
                if foreign.registration() == "registered":
                    break
                await asyncio.sleep(0.05)
            assert foreign.registration() == "registered"
            await asyncio.sleep(0.3)
            assert "registered as a foreign device with BBMD" in caplog.text
        finally:
            bbmd.stop()
    finally:
        await foreign.stop()
        plain.stop()


async def test_an_unanswered_registration_is_reported(caplog):
    foreign = client(bbmd=f"{random_subnet()}.1:{free_udp_port()}")
    foreign._registration_grace = 0.4
    caplog.set_level(logging.WARNING, "openbms.drivers.bacnet.driver")
    await foreign.start()
    try:
        for _ in range(40):
            if "is not answered (is the BBMD at that address and port?)" in caplog.text:
                break
            await asyncio.sleep(0.05)
        assert "is not answered (is the BBMD at that address and port?)" in caplog.text
        assert foreign.registration() == "registering"
    finally:
        await foreign.stop()


async def test_a_refused_registration_shows_in_health_while_it_lasts(tmp_path):
    import httpx

    from openbms.api.server import serve
    from openbms.config import load_sites
    from openbms.service.runtime import Runtime

    port, net = free_udp_port(), random_subnet()
    plain = SimulatedDevice(7200, f"{net}.1", SPECS, port=port)  # answers registrations with a NAK
    plain.start()
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "s.yaml").write_text(f"""\
site: {{id: s, name: S, timezone: UTC}}
drivers:
  bacnet:
    address: 127.0.0.1/8:{free_udp_port()}
    bbmd: {net}.1:{port}
    devices: {{7200: {net}.1:{port}}}
equipment:
- id: oa
  type: other
  points:
  - {{name: oat, unit: degC, tags: [temp, sensor], binding: "bacnet://7200/analog-input,1"}}
""")
    runtime = Runtime(load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
            for _ in range(100):
                health = (await client.get("/api/v1/health")).json()
                if "driver_bacnet" in health["components"]:
                    break
                await asyncio.sleep(0.1)
            assert health["status"] == "degraded"
            assert health["components"]["driver_bacnet"]["status"] == "degraded"
            assert any(f"BBMD {net}.1:{port} was refused" in r for r in health["reasons"])
    finally:
        await runtime.stop()
        plain.stop()


def whois_counter(device: SimulatedDevice) -> list[int]:
    """Count the Who-Is requests a simulated device receives."""
    count = [0]
    assert device.app is not None
    handler = device.app.do_WhoIsRequest

    async def counted(apdu: object) -> None:
        count[0] += 1
        await handler(apdu)

    device.app.do_WhoIsRequest = counted  # type: ignore[method-assign]
    return count


async def test_a_resolution_sends_one_who_is_not_two(subnet):
    # Before: bacpypes3's who_is distributed a Who-Is of its own through the BBMD besides the
    # driver's, so every device on the BBMD's subnet answered twice.
    received = whois_counter(subnet.devices[0])
    foreign = client(bbmd=subnet.bbmd.address, bbmd_ttl=60)
    await foreign.start()
    try:
        await registered(foreign)
        assert (await foreign.read("7001", AI1))[0].value == 8.5
        await asyncio.sleep(0.3)  # a second Who-Is would have arrived by now
        assert received[0] == 1
    finally:
        await foreign.stop()


async def test_the_registration_is_left_at_stop(subnet):
    foreign = client(bbmd=subnet.bbmd.address, bbmd_ttl=60)
    await foreign.start()
    await registered(foreign)
    assert len(subnet.bbmd.foreign_devices()) == 1
    await foreign.stop()
    for _ in range(40):
        if not subnet.bbmd.foreign_devices():
            break
        await asyncio.sleep(0.05)
    assert subnet.bbmd.foreign_devices() == []


async def test_a_bbmd_that_forgot_the_registration_gets_it_again_at_its_first_refusal(
        subnet, caplog):
    # A restarted BBMD refuses the next broadcast (NAK 0x0060): registering again at once
    # (before: reported as "refused (does it accept foreign devices?)" and retried in 5 s).
    foreign = client(bbmd=subnet.bbmd.address, bbmd_ttl=600)
    caplog.set_level(logging.WARNING, "openbms.drivers.bacnet.driver")
    await foreign.start()
    try:
        await registered(foreign)
        subnet.bbmd.stop()
        subnet.bbmd.start()
        with pytest.raises(DeviceUnreachable):  # this Who-Is is refused …
            await foreign.read("7002", [parse_binding("bacnet://7002/analog-input,1")])
        await registered(foreign)  # … and the registration made again at once
        assert (await foreign.read("7002", [parse_binding("bacnet://7002/analog-input,1")])
                )[0].value == 8.5
        assert "does it accept foreign devices" not in caplog.text
    finally:
        await foreign.stop()


async def test_an_answer_from_elsewhere_does_not_leave_the_registration_pending(caplog):
    # bacpypes3 takes any BVLC-Result while a registration is pending as the answer, and then
    # ignores the BBMD's: the driver registers again while it stays pending.
    import socket

    port, net = free_udp_port(), random_subnet()
    foreign = client(bbmd=f"{net}.1:{port}", bbmd_ttl=60)
    foreign._registration_grace = 0.4
    await foreign.start()
    stray = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stray.bind((f"{random_subnet()}.9", 0))
    bbmd = SimulatedBBMD(7300, f"{net}.1", port=port)
    try:
        ip, client_port = foreign.address.split("/")[0], int(foreign.address.rsplit(":", 1)[1])
        stray.sendto(bytes([0x81, 0x00, 0x00, 0x06, 0x00, 0x00]), (ip, client_port))
        await asyncio.sleep(0.2)
        bbmd.start()  # the BBMD comes up: its answers must be taken
        for _ in range(200):
            if foreign.registration() == "registered":
                break
            await asyncio.sleep(0.05)
        assert foreign.registration() == "registered"
    finally:
        stray.close()
        bbmd.stop()
        await foreign.stop()
