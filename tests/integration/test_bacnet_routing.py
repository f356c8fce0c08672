"""Devices behind BACnet routers (issue 15, item 9), and devices found by broadcast at run time.

A bacpypes3 router (its network layer, in this process) joins BACnet/IP on
loopback to two virtual networks, as an IP-to-MS/TP router joins its trunks;
the devices on them announce 480-byte APDUs and no segmentation, as MS/TP
controllers do. The driver reaches them by network number and MAC.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.bacnet.discovery import read_objects, site_document, who_is
from openbms.errors import DeviceUnreachable, DriverError
from openbms.model import DriverSettings
from openbms.model.binding import parse_binding
from openbms.sim.bacnet import ObjectSpec, SimulatedDevice, SimulatedRouter
from tests.fixtures.network import free_udp_port, random_subnet

POINTS = 40  # more than one 480-byte request holds (17 objects)
SPECS = (*(ObjectSpec("analog-input", i, f"AI-{i}", float(i), "degreesCelsius")
            for i in range(1, POINTS + 1)),
         ObjectSpec("analog-value", 1, "ZN-T-SP", 21.0, "degreesCelsius"))


@dataclass
class Routed:
    router: SimulatedRouter
    devices: dict[int, SimulatedDevice]
    broadcast: str


@pytest.fixture
async def routed() -> AsyncIterator[Routed]:
    """Router 9001 at <subnet>.1 with networks 2 and 3; devices 2005 (2:5), 2006 (2:6), 3007 (3:7)."""
    tag = uuid.uuid4().hex[:8]
    port = free_udp_port()
    subnet = random_subnet()
    router = SimulatedRouter(9001, f"{subnet}.1", {2: f"trunk-a-{tag}", 3: f"trunk-b-{tag}"},
                             port=port)
    devices = {instance: SimulatedDevice(instance, str(mac), SPECS, vlan=f"trunk-{vlan}-{tag}",
                                         max_apdu=480, segmentation="no-segmentation")
               for instance, mac, vlan in ((2005, 5, "a"), (2006, 6, "a"), (3007, 7, "b"))}
    yield Routed(router, devices, f"127.255.255.255:{port}")
    for d in devices.values():
        d.stop()
    router.stop()


def start(routed: Routed) -> None:
    routed.router.start()
    for d in routed.devices.values():
        d.start()


def driver(**extra: object) -> BACnetDriver:
    return BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}", cov=False,
                                       **extra))


def bindings(device: str) -> list:
    return [parse_binding(f"bacnet://{device}/analog-input,{i}") for i in range(1, POINTS + 1)]


async def test_a_device_without_an_address_is_found_by_a_who_is_to_the_broadcast():
    # Before: the driver's Who-Is waited for an I-Am *from the broadcast address*, so a device
    # without a devices: entry was never found, whatever the broadcast.
    port = free_udp_port()
    device = SimulatedDevice(5001, f"{random_subnet()}.1", SPECS, port=port)
    device.start()
    client = driver(broadcast=f"127.255.255.255:{port}")
    await client.start()
    try:
        readings = await client.read("5001", bindings("5001")[:3])
        assert [r.value for r in readings] == [1.0, 2.0, 3.0]
    finally:
        await client.stop()
        device.stop()


async def test_devices_behind_a_router_are_read_by_network_and_mac_in_480_byte_requests(routed):
    start(routed)
    client = driver(broadcast=routed.broadcast, devices={"2005": "2:5", "3007": "3:0x07"})
    await client.start()
    try:
        readings = await client.read("2005", bindings("2005"))
        assert [r.value for r in readings] == [float(i) for i in range(1, POINTS + 1)]
        assert all(r.status == "ok" for r in readings)
        # Sized by the I-Am's 480 bytes: 17 objects a request, three requests, each answered
        # in one APDU (none refused or aborted for size).
        assert client._objects["2005"] == 17
        assert routed.devices[2005].app.lean_answers == math.ceil(POINTS / 17)
        readings = await client.read("3007", bindings("3007")[:5])
        assert [r.value for r in readings] == [1.0, 2.0, 3.0, 4.0, 5.0]
        # Writes and releases go through the router too.
        setpoint = parse_binding("bacnet://2005/analog-value,1")
        await client.write(setpoint, 23.5, 8)
        assert routed.devices[2005].priority_array(("analog-value", 1))[7] == 23.5
        await client.write(setpoint, None, 8)
        assert routed.devices[2005].value(("analog-value", 1)) == 21.0
        await asyncio.wait_for(client.confirm("3007"), 5)
    finally:
        await client.stop()


async def test_a_routed_device_without_an_address_is_found_by_the_global_who_is(routed):
    start(routed)
    client = driver(broadcast=routed.broadcast)
    await client.start()
    try:
        readings = await client.read("2006", bindings("2006")[:2])
        assert [r.value for r in readings] == [1.0, 2.0]
        assert str(client._addresses["2006"]) == "2:6"
    finally:
        await client.stop()


async def test_a_binding_may_name_the_device_by_its_network_and_mac(routed):
    start(routed)
    client = driver(broadcast=routed.broadcast)
    await client.start()
    try:
        readings = await client.read("3:7", bindings("3:7")[:2])
        assert [r.value for r in readings] == [1.0, 2.0]
        await asyncio.wait_for(client.confirm("3:7"), 5)  # device,4194303: "whoever you are"
    finally:
        await client.stop()


async def test_a_router_broadcasts_do_not_reach_is_named_under_routers(routed):
    start(routed)
    nowhere = f"127.255.255.255:{free_udp_port()}"
    lost = driver(broadcast=nowhere, devices={"2005": "2:5"})
    await lost.start()
    try:
        with pytest.raises(DeviceUnreachable, match=r"no router to network 2 answered "
                           r"Who-Is-Router-To-Network .*drivers\.bacnet\.routers"):
            await lost.read("2005", bindings("2005")[:1])
    finally:
        await lost.stop()
    named = driver(broadcast=nowhere, devices={"2005": "2:5"},
                   routers={2: routed.router.address})
    await named.start()
    try:
        assert [r.value for r in await named.read("2005", bindings("2005")[:2])] == [1.0, 2.0]
    finally:
        await named.stop()


async def test_many_reads_at_once_share_one_who_is(routed):
    start(routed)
    client = driver(broadcast=routed.broadcast)
    await client.start()
    sent = 0
    original = client._who_is

    async def counted(instance: int):
        nonlocal sent
        sent += 1
        return await original(instance)

    client._who_is = counted  # type: ignore[method-assign]
    try:
        reads = [client.read("2005", bindings("2005")[i:i + 5]) for i in range(0, 20, 5)]
        results = await asyncio.gather(*reads)
        assert [r.value for chunk in results for r in chunk] == [float(i) for i in range(1, 21)]
        assert sent == 1
    finally:
        await client.stop()


async def test_discovery_finds_routed_devices_and_reads_their_objects(routed):
    start(routed)
    client = driver()
    await client.start()
    try:
        found = await who_is(client.app, [routed.broadcast], listen=1.5)
        by_instance = {d.instance: d for d in found}
        assert {9001, 2005, 2006, 3007} <= set(by_instance)
        assert by_instance[2005].address == "2:5" and by_instance[3007].address == "3:7"
        assert by_instance[2005].max_apdu == 480
        await read_objects(client.app, by_instance[3007])
        assert len(by_instance[3007].objects) == POINTS + 1
        doc = site_document("plant", [by_instance[3007]], {"broadcast": routed.broadcast})
        assert doc["equipment"][0]["points"][0]["binding"] == "bacnet://3007/analog-input,1"
    finally:
        await client.stop()


@pytest.mark.parametrize("extra, message", [
    ({"devices": {"2005": "5"}}, "drivers.bacnet.devices.2005 '5' is not a BACnet device "
                                 "address: expected ip:port"),
    ({"devices": {"2005": "0:5"}}, "network:mac for a device behind a router"),
    ({"routers": {"x": "127.0.0.1:47808"}}, "routers: 'x' is not a network number"),
    ({"routers": {2: "2:5"}}, "routers.2: '2:5' is not a BACnet/IP address"),
    ({"routers": ["127.0.0.1:47808"]}, "routers: expected a map of network number"),
])
def test_bad_addresses_and_routers_are_refused_with_the_form(extra, message):
    with pytest.raises(DriverError, match=message):
        driver(**extra)



async def test_a_resolution_cut_short_by_a_timeout_is_made_again(routed):
    # Before: the read's timeout cancelled every waiter of the route lookup, whose failure
    # then stayed in place and was returned to every later read, router back or not.
    for d in routed.devices.values():
        d.start()  # the router is not there yet
    client = driver(broadcast=routed.broadcast, devices={"2005": "2:5"})
    await client.start()
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.read("2005", bindings("2005")[:1]), 0.5)
        await asyncio.sleep(2.2)  # the lookup ends (no router) by itself
        routed.router.start()
        assert [r.value for r in await client.read("2005", bindings("2005")[:1])] == [1.0]
    finally:
        await client.stop()


async def test_a_device_that_moves_is_looked_up_again_after_it_stops_answering():
    # Before: the address from the first I-Am was kept for good.
    port, subnet = free_udp_port(), random_subnet()
    first = SimulatedDevice(5002, f"{subnet}.1", SPECS, port=port)
    first.start()
    client = driver(broadcast=f"127.255.255.255:{port}")
    await client.start()
    try:
        assert [r.value for r in await client.read("5002", bindings("5002")[:1])] == [1.0]
        first.stop()
        moved = SimulatedDevice(5002, f"{subnet}.2", SPECS, port=port)
        moved.start()
        moved.set_value(("analog-input", 1), 42.0)
        try:
            with pytest.raises(TimeoutError):  # the manager's timeout, as in a poll
                await asyncio.wait_for(client.read("5002", bindings("5002")[:1]), 1.0)
            assert [r.value for r in await client.read("5002", bindings("5002")[:1])] == [42.0]
        finally:
            moved.stop()
    finally:
        await client.stop()
        first.stop()


def i_am_router(network: int) -> bytes:
    """An I-Am-Router-To-Network datagram (BVLC original unicast) for one network."""
    return bytes([0x81, 0x0A, 0x00, 0x09, 0x01, 0x80, 0x01]) + network.to_bytes(2, "big")


async def test_a_router_under_routers_is_not_moved_by_what_the_network_says(routed, caplog):
    # Before: one I-Am-Router-To-Network from any host took network 2 to that host.
    import socket

    start(routed)
    fixed = driver(devices={"2005": "2:5"}, routers={2: routed.router.address})
    learnt = driver(broadcast=routed.broadcast, devices={"2005": "2:5"})
    await fixed.start()
    await learnt.start()
    attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attacker.bind((f"{random_subnet()}.66", 0))
    caplog.set_level(logging.WARNING, "openbms.drivers.bacnet.noise")
    try:
        for client in (fixed, learnt):
            assert [r.value for r in await client.read("2005", bindings("2005")[:1])] == [1.0]
            ip, port = client.address.split("/")[0], int(client.address.rsplit(":", 1)[1])
            attacker.sendto(i_am_router(2), (ip, port))
        await asyncio.sleep(0.3)
        assert [r.value for r in await fixed.read("2005", bindings("2005")[:1])] == [1.0]
        assert "network 2: " in caplog.text and "says it is the router to it" in caplog.text
    finally:
        attacker.close()
        await fixed.stop()
        await learnt.stop()
