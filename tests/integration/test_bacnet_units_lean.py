"""The units check reads through the lean codec, not bacpypes3's generic decoder (issue 15).

At 1 000 devices the once-per-device units check was most of the generic decoding in
the profile: six ReadPropertyMultiple replies a device, each built into bacpypes3's
objects. It now reads the same units with the polling path's codec.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bacpypes3.apdu import APCISequence, ConfirmedRequestPDU, ReadPropertyMultipleRequest
from bacpypes3.basetypes import EngineeringUnits

from openbms.drivers.bacnet import BACnetDriver, wire
from openbms.model import DriverSettings, parse_binding
from openbms.sim.bacnet import ObjectSpec, SimulatedBACnet
from tests.drivers.test_bacnet_wire import _ack, _element
from tests.fixtures.network import free_udp_port

SPECS = (
    ObjectSpec("analog-input", 1, "SA-T", 13.5, "degreesCelsius", "Supply air temperature"),
    ObjectSpec("analog-value", 2, "SA-P", 250.0, "pascals", "Duct static pressure"),
    ObjectSpec("binary-output", 3, "FAN-C", False, description="Supply fan command"),
)


@pytest.fixture
async def bacnet() -> AsyncIterator[tuple[SimulatedBACnet, BACnetDriver]]:
    sim = SimulatedBACnet.build(2, SPECS, port=free_udp_port(), subnet="127.0.9")
    sim.start()
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices=sim.address_map(), timeout=2, cov=False))
    await driver.start()
    try:
        yield sim, driver
    finally:
        await driver.stop()
        sim.stop()


def test_the_units_request_is_what_bacpypes3_decodes_as_units():
    pdu = ConfirmedRequestPDU(14, 1)
    pdu.put_data(wire.encode_rpm_request([(0, 1), (2, 4194303)], units=True))
    request = APCISequence.decode(pdu)
    assert isinstance(request, ReadPropertyMultipleRequest)
    assert [(str(s.objectIdentifier), [str(r.propertyIdentifier) for r in s.listOfPropertyReferences])
            for s in request.listOfReadAccessSpecs] == [("analog-input,1", ["units"]),
                                                        ("analog-value,4194303", ["units"])]


def test_units_in_an_ack_decode_as_their_numbers_and_errors_as_errors():
    data = _ack([("analog-input,1", [_element("units", EngineeringUnits("degrees-celsius"))]),
                 ("analog-input,2", [_element("units", error=("property", "unknown-property"))])])
    assert wire.decode_rpm_ack(data, wire.UNITS) == {(0, 1): (62, None, None),
                                                     (0, 2): (None, None, "2/32")}


async def test_units_are_read_without_bacpypes3s_generic_decoder(bacnet):
    _sim, driver = bacnet
    generic = []
    assert driver.app is not None
    original = driver.app.read_property_multiple

    async def counted(*args, **kwargs):
        generic.append(args)
        return await original(*args, **kwargs)

    driver.app.read_property_multiple = counted  # the real service, counted
    bindings = [parse_binding(f"bacnet://1001/{o}") for o in
                ("analog-input,1", "binary-output,3", "analog-input,99", "analog-value,2")]
    assert await driver.units("1001", bindings) == ["degC", None, None, "Pa"]
    assert generic == []
