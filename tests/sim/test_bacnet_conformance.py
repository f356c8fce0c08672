"""What simulated devices answer a BACnet client (bacpypes3's, over loopback) is what the standard asks."""

from __future__ import annotations

import pytest
from bacpypes3.apdu import (
    ErrorPDU,
    ErrorRejectAbortNack,
    ReadRangeRequest,
    RejectPDU,
    RejectReason,
    WritePropertyMultipleError,
    WritePropertyMultipleRequest,
    WritePropertyRequest,
)
from bacpypes3.app import Application
from bacpypes3.basetypes import PropertyValue, WriteAccessSpecification
from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import CharacterString, Null, Real

from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.manager import DriverManager, PointBinding
from openbms.model import DriverSettings, parse_binding
from openbms.runtime.bus import Bus
from openbms.runtime.clock import WallClock
from openbms.sim.bacnet import ObjectSpec, SimulatedDevice
from tests.fixtures.network import free_udp_port, random_subnet
from tests.fixtures.waiting import eventually

SPECS = (
    ObjectSpec("analog-input", 1, "SA-T", 13.5, "degreesCelsius", "Supply air temperature"),
    ObjectSpec("analog-output", 2, "VLV", 42.25, "percent", "Valve"),
    ObjectSpec("analog-value", 3, "SA-SP", 13.0, "degreesCelsius", "Supply air setpoint"),
    ObjectSpec("binary-input", 4, "SF-S", True, description="Supply fan status"),
    ObjectSpec("binary-output", 5, "SF-C", False, description="Supply fan command"),
    ObjectSpec("binary-value", 6, "OCC", True, description="Occupied"),
    ObjectSpec("multi-state-value", 7, "MODE", 2, states=("off", "occupied", "unoccupied")),
)
OBJECTS = [f"{s.type},{s.instance}" for s in SPECS]


@pytest.fixture
async def peer():
    """A simulated device and a bacpypes3 client application on a random 127.x subnet."""
    subnet = random_subnet()
    device = SimulatedDevice(3101, f"{subnet}.1", SPECS, port=free_udp_port())
    device.start()
    client = Application.from_object_list([
        DeviceObject(objectIdentifier=("device", 3999), objectName="client", vendorIdentifier=999),
        NetworkPortObject(f"{subnet}.2/8:{free_udp_port()}", objectIdentifier=("network-port", 1),
                          objectName="NetworkPort-1"),
    ])
    try:
        yield device, client, Address(device.address)
    finally:
        client.close()
        device.stop()


async def _answer(client: Application, request) -> object:
    try:
        return await client.request(request)
    except ErrorRejectAbortNack as answer:
        return answer


async def test_every_object_says_it_is_in_service_normal_and_without_fault_before_anything_is_written(peer):
    _, client, address = peer
    for obj in OBJECTS:
        assert await client.read_property(address, obj, "out-of-service") == 0, obj
        assert str(await client.read_property(address, obj, "event-state")) == "normal", obj
        assert str(await client.read_property(address, obj, "reliability")) == "no-fault-detected", obj


@pytest.mark.parametrize("which", ["all", "required"])
async def test_all_and_required_reads_include_event_state_and_out_of_service(peer, which):
    _, client, address = peer
    request: list = []
    for obj in OBJECTS:
        request += [obj, [which]]
    answers = await client.read_property_multiple(address, request)
    for obj in OBJECTS:
        got = {str(prop): value for oid, prop, _, value in answers
               if f"{oid[0]},{oid[1]}" == obj}
        assert got["out-of-service"] == 0, (obj, sorted(got))
        assert str(got["event-state"]) == "normal", (obj, sorted(got))
        assert str(got["present-value"]) != "", obj


async def test_the_device_object_lists_the_object_types_it_serves(peer):
    _, client, address = peer
    types = await client.read_property(address, "device,3101", "protocol-object-types-supported")
    assert set(str(types).split(";")) == {
        "analog-input", "analog-output", "analog-value", "binary-input", "binary-output",
        "binary-value", "multi-state-value", "device", "network-port"}


async def test_the_device_object_lists_the_services_it_executes(peer):
    _, client, address = peer
    services = await client.read_property(address, "device,3101", "protocol-services-supported")
    assert set(str(services).split(";")) == {
        "read-property", "read-property-multiple", "write-property", "write-property-multiple",
        "subscribe-cov", "who-is", "i-am", "who-has", "i-have"}


@pytest.mark.parametrize("obj", ["analog-input,1", "analog-input,99", "trend-log,1"])
async def test_read_range_is_rejected_as_an_unsupported_service(peer, obj):
    _, client, address = peer
    answer = await _answer(client, ReadRangeRequest(
        objectIdentifier=obj, propertyIdentifier="present-value", destination=address))
    assert isinstance(answer, RejectPDU), answer
    assert answer.apduAbortRejectReason == RejectReason.unrecognizedService


async def test_a_value_of_the_wrong_type_is_an_invalid_data_type_error_and_the_value_stays(peer):
    device, client, address = peer
    wrong = WritePropertyRequest(objectIdentifier="analog-value,3", propertyIdentifier="present-value",
                                 propertyValue=AnyValue(CharacterString("warm")), priority=8,
                                 destination=address)
    answer = await _answer(client, wrong)
    assert isinstance(answer, ErrorPDU), answer
    assert (str(answer.errorClass), str(answer.errorCode)) == ("property", "invalid-data-type")
    assert device.value(("analog-value", 3)) == 13.0

    right = WritePropertyRequest(objectIdentifier="analog-value,3", propertyIdentifier="present-value",
                                 propertyValue=AnyValue(Real(16.5)), priority=8, destination=address)
    await client.request(right)  # a SimpleAck; an error would raise
    assert device.value(("analog-value", 3)) == 16.5
    assert device.priority_array(("analog-value", 3))[7] == 16.5

    # An input in service still refuses its present value, as before.
    denied = await _answer(client, WritePropertyRequest(
        objectIdentifier="analog-input,1", propertyIdentifier="present-value",
        propertyValue=AnyValue(Real(1.0)), destination=address))
    assert isinstance(denied, ErrorPDU) and str(denied.errorCode) == "write-access-denied"


async def test_writing_a_property_the_object_does_not_have_is_unknown_property(peer):
    _, client, address = peer
    answer = await _answer(client, WritePropertyRequest(
        objectIdentifier="analog-input,1", propertyIdentifier="priority-array",
        propertyValue=AnyValue(Real(1.0)), destination=address))
    assert isinstance(answer, ErrorPDU), answer
    assert (str(answer.errorClass), str(answer.errorCode)) == ("property", "unknown-property")


def _wpm(address: Address, *writes: tuple[str, object, int | None]) -> WritePropertyMultipleRequest:
    return WritePropertyMultipleRequest(listOfWriteAccessSpecs=[
        WriteAccessSpecification(objectIdentifier=obj, listOfProperties=[
            PropertyValue(propertyIdentifier="present-value", value=AnyValue(value), priority=priority)])
        for obj, value, priority in writes], destination=address)


def _failed(answer: object) -> tuple[str, str, str]:
    assert isinstance(answer, WritePropertyMultipleError), answer
    where = answer.firstFailedWriteAttempt.objectIdentifier
    return (str(answer.errorType.errorCode), f"{where[0]},{where[1]}",
            str(answer.firstFailedWriteAttempt.propertyIdentifier))


async def test_write_property_multiple_follows_the_same_rules_and_stops_at_the_first_failure(peer):
    device, client, address = peer
    # Writes are made in order; the one before the failure stays, the one after is not made.
    answer = await _answer(client, _wpm(address, ("analog-value,3", Real(17.0), 8),
                                        ("analog-output,2", CharacterString("half"), 8),
                                        ("analog-output,2", Real(10.0), 8)))
    assert _failed(answer) == ("invalid-data-type", "analog-output,2", "present-value")
    assert device.value(("analog-value", 3)) == 17.0 and device.value(("analog-output", 2)) == 42.25

    answer = await _answer(client, _wpm(address, ("analog-input,1", Real(1.0), None)))
    assert _failed(answer) == ("write-access-denied", "analog-input,1", "present-value")
    assert device.value(("analog-input", 1)) == 13.5

    answer = await _answer(client, _wpm(address, ("analog-value,99", Real(1.0), 8)))  # was never answered
    assert _failed(answer) == ("unknown-object", "analog-value,99", "present-value")

    await client.request(_wpm(address, ("analog-output,2", Real(55.5), 8), ("binary-value,6", Null(()), 8)))
    assert device.value(("analog-output", 2)) == 55.5
    await client.request(_wpm(address, ("analog-value,3", Null(()), 8)))  # a release
    assert device.value(("analog-value", 3)) == 13.0 and device.priority_array(("analog-value", 3))[7] is None


async def test_a_commandable_binary_value_has_status_flags(peer):
    device, client, address = peer
    assert str(await client.read_property(address, "binary-value,6", "status-flags")) == ""
    device.objects[("binary-value", 6)].outOfService = True
    assert str(await client.read_property(address, "binary-value,6", "status-flags")) == "out-of-service"


async def test_a_commandable_binary_value_reports_changes_to_the_driver_by_cov():
    subnet = random_subnet()
    device = SimulatedDevice(3102, f"{subnet}.1", (ObjectSpec("binary-value", 6, "OCC", False),),
                             port=free_udp_port())
    device.start()
    settings = DriverSettings(address=f"{subnet}.2/8:{free_udp_port()}", devices={3102: device.address},
                              poll_interval=3600)
    driver = BACnetDriver(settings)
    await driver.start()
    bus = Bus()
    got: list = []
    bus.subscribe_callback("*", got.extend)
    manager = DriverManager(bus, WallClock(), {"bacnet": driver},
                            [PointBinding("hq/occ", parse_binding("bacnet://3102/binary-value,6"), 1.0)],
                            {"bacnet": settings})
    await manager.start()
    try:
        await eventually(lambda: manager.health()["bacnet://3102"].reads >= 1, "the first poll")
        assert manager.health()["bacnet://3102"].subscribed  # was refused: cov-subscription-failed
        reads = driver.rpm_requests
        device.set_value(("binary-value", 6), True)
        await eventually(lambda: any(s.point == "hq/occ" and s.value is True for s in got),
                         "the change on the bus")
        assert driver.rpm_requests == reads  # by notification, not by a poll
        assert [s.status for s in got if s.point == "hq/occ"][-1] == "ok"
    finally:
        await manager.stop()
        await driver.stop()
        device.stop()
