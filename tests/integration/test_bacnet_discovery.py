"""BACnet discovery against 20+ simulated devices over loopback."""

from __future__ import annotations

import pytest
import yaml
from bacpypes3.apdu import AbortPDU
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from openbms.config import load_site
from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.bacnet.discovery import (
    ObjectInfo,
    guess,
    read_objects,
    site_document,
    who_is,
    who_is_datagram,
)
from openbms.model import DriverSettings
from openbms.sim.bacnet import ObjectSpec, SimulatedBACnet, SimulatedDevice
from tests.integration.test_bacnet import free_udp_port

AHU = (
    ObjectSpec("analog-input", 1, "SA-T", 13.5, "degreesCelsius", "Supply air temperature"),
    ObjectSpec("analog-value", 2, "SA-T-SP", 13.0, "degreesCelsius", "Supply air setpoint"),
    ObjectSpec("analog-input", 3, "OAT", 8.0, "degreesCelsius"),
    ObjectSpec("binary-output", 4, "SF-C", False, description="Supply fan command"),
    ObjectSpec("binary-input", 5, "SF-S", False),
    ObjectSpec("analog-output", 6, "SF-SPD", 50.0, "percent"),
    ObjectSpec("multi-state-value", 7, "MODE", 1, states=("off", "occupied")),
    ObjectSpec("analog-input", 8, "ZN-T", 21.0, "degreesCelsius"),
)


async def test_who_is_finds_every_device_and_discovery_reads_complete_object_lists(tmp_path):
    port = free_udp_port()
    sim = SimulatedBACnet.build(22, AHU, port=port, subnet="127.0.8")
    for i, dev in enumerate(sim.devices.values()):
        dev.name = f"AHU-{i + 1}"
    sim.start()
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}"))
    await driver.start()
    try:
        devices = await who_is(driver.app, [f"127.255.255.255:{port}"], listen=2)
        assert [d.instance for d in devices] == list(range(1001, 1023))
        ranged = await who_is(driver.app, [f"127.255.255.255:{port}"], 1005, 1007, listen=2)
        assert [d.instance for d in ranged] == [1005, 1006, 1007]
        directed = await who_is(driver.app, [], directed=[sim[1010].address], listen=2)
        assert [d.instance for d in directed] == [1010]
        seen = []
        for dev in devices:
            await read_objects(driver.app, dev, seen.append)
        assert all(len(d.objects) == len(AHU) for d in devices)
        assert sum(seen) == 22 * len(AHU)
        first = devices[0]
        assert first.name == "AHU-1"
        sat = next(o for o in first.objects if o.name == "SA-T")
        assert (sat.units, sat.description, float(sat.value)) == ("degC", "Supply air temperature",
                                                                 13.5)
        doc = site_document("Discovered", devices, {"address": driver.address})
        path = tmp_path / "site.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        site = load_site(path)  # the generated file passes every check
        ahu1 = site.equipment[0]
        assert ahu1.id == "ahu-1" and ahu1.type == "ahu"
        names = {p.name: p for p in ahu1.points}
        assert set(names) >= {"sat", "sat-sp", "oat", "fan-cmd", "fan-status", "fan-speed",
                              "zone-temp"}
        assert names["sat"].binding == "bacnet://1001/analog-input,1"
        assert names["sat"].tags == ("discharge", "air", "temp", "sensor")
        assert names["fan-cmd"].kind == "bool" and names["fan-cmd"].writable
    finally:
        await driver.stop()
        sim.stop()


def test_who_is_datagrams_are_global_broadcasts_with_the_range():
    # DNET 0xFFFF, DLEN 0, hop count 255: routers pass it to the networks behind them.
    assert who_is_datagram() == bytes.fromhex("810b000c 0120ffff00ff 1008".replace(" ", ""))
    ranged = who_is_datagram(1005, 70000)
    assert ranged[-7:] == bytes.fromhex("0a03ed" "1b011170")  # tag0 len2 1005, tag1 len3 70000
    assert int.from_bytes(ranged[2:4], "big") == len(ranged)


def test_names_guess_points_tags_and_brick_classes():
    assert guess(ObjectInfo("analog-input", 1, "AHU1.DA-T"))[0] == "sat"
    assert guess(ObjectInfo("analog-value", 1, "ZN-T-SP"))[0] == "zone-sp"
    assert guess(ObjectInfo("analog-input", 1, "CHWST"))[2] == "Chilled_Water_Supply_Temperature_Sensor"
    name, tags, brick = guess(ObjectInfo("analog-input", 9, "Widget Level", units="degC"))
    assert (name, tags, brick) == ("widget-level", ("temp", "sensor"), None)


async def test_a_small_device_that_cannot_segment_is_read_index_by_index():
    specs = [ObjectSpec("analog-input", k, f"ZN-T-{k}", 20.0 + k, "degreesCelsius",
                        f"Zone {k} temperature") for k in range(1, 61)]
    port = free_udp_port()
    sim = SimulatedBACnet([SimulatedDevice(3001, "127.0.9.1", specs, port=port, max_apdu=206,
                                           segmentation="no-segmentation")])
    sim.start()
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}"))
    await driver.start()
    try:
        (dev,) = await who_is(driver.app, [], directed=[sim[3001].address], listen=2)
        assert (dev.max_apdu, dev.segmentation) == (206, "no-segmentation")
        whole = driver.app.read_property(Address(dev.address), ObjectIdentifier("device,3001"),
                                         "object-list")
        with pytest.raises(AbortPDU):  # 62 identifiers do not fit 206 bytes
            await whole
        await read_objects(driver.app, dev)
        assert [o.instance for o in dev.objects] == list(range(1, 61))  # complete, in order
        last = dev.objects[-1]
        assert (last.name, last.description, last.units, float(last.value)) == (
            "ZN-T-60", "Zone 60 temperature", "degC", 80.0)
    finally:
        await driver.stop()
        sim.stop()
