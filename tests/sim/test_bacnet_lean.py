"""Simulated devices answer the driver's polls without bacpypes3's generic service, with the same bytes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bacpypes3.apdu import APCISequence, ConfirmedRequestPDU
from bacpypes3.basetypes import EventState, Reliability
from bacpypes3.pdu import PDU, Address

from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.bacnet.wire import encode_rpm_request
from openbms.model import DriverSettings, parse_binding
from openbms.sim.bacnet import ObjectSpec, SimulatedDevice, flagless, lean_rpm_ack
from tests.fixtures.network import free_udp_port, random_subnet

SPECS = (
    ObjectSpec("analog-input", 1, "SA-T", 13.5, "degreesCelsius", "Supply air temperature"),
    ObjectSpec("analog-output", 2, "VLV", 42.25, "percent", "Valve"),
    ObjectSpec("analog-value", 3, "SA-SP", 13.0, "degreesCelsius", "Supply air setpoint"),
    ObjectSpec("binary-input", 4, "SF-S", True, description="Supply fan status"),
    ObjectSpec("binary-output", 5, "SF-C", False, description="Supply fan command"),
    ObjectSpec("binary-value", 6, "OCC", True, description="Occupied"),
    ObjectSpec("multi-state-value", 7, "MODE", 2, states=("off", "occupied", "unoccupied")),
    ObjectSpec("multi-state-value", 8, "BIG", 300, states=tuple(f"s{i}" for i in range(400))),
)
NUMBERS = {"analog-input": 0, "analog-output": 1, "analog-value": 2, "binary-input": 3,
           "binary-output": 4, "binary-value": 5, "multi-state-value": 19}


async def _generic(device: SimulatedDevice, data: bytes) -> bytes:
    """What bacpypes3's own ReadPropertyMultiple service answers to ``data`` (service data only)."""
    request = ConfirmedRequestPDU(14)
    request.pduSource = Address("127.0.0.1:47999")
    request.put_data(data)
    decoded = APCISequence.decode(request)
    answers: list[Any] = []
    app = device.app
    assert app is not None

    async def capture(apdu: Any) -> None:
        answers.append(apdu)

    app.response = capture  # the service's answer, before the transport
    await app.do_ReadPropertyMultipleRequest(decoded)
    (ack,) = answers
    return bytes(ack.encode().pduData)


@pytest.fixture
async def device():
    d = SimulatedDevice(3001, f"{random_subnet()}.1", SPECS, port=free_udp_port())
    d.start()
    try:
        yield d
    finally:
        d.stop()


def _ids(device: SimulatedDevice) -> dict[int, Any]:
    return {(NUMBERS[t] << 22) | i: o for (t, i), o in device.objects.items()}


async def test_every_kind_of_object_in_every_state_gets_the_bytes_bacpypes3_would_send(device):
    request = encode_rpm_request([(NUMBERS[s.type], s.instance) for s in SPECS])
    lean = lean_rpm_ack(_ids(device), request, flagless(device.objects.values()))
    assert lean == await _generic(device, request)

    # Values written over the network and from Python, and every status flag bacpypes3 works out.
    device.set_value(("analog-input", 1), -3.0625)
    device.set_value(("binary-output", 5), True)
    device.set_value(("multi-state-value", 7), 3)
    ai, ao, msv = (device.objects[k] for k in (("analog-input", 1), ("analog-output", 2),
                                                ("multi-state-value", 7)))
    ai.outOfService = True
    ao.reliability = Reliability.overRange
    msv.eventState = EventState.offnormal
    got = lean_rpm_ack(_ids(device), request, flagless(device.objects.values()))
    assert got == await _generic(device, request)
    assert b"\x82\x04\x10" in got and b"\x82\x04\x40" in got and b"\x82\x04\x80" in got  # each flag seen


async def test_a_request_of_another_shape_is_left_to_bacpypes3(device):
    ids = _ids(device)
    assert lean_rpm_ack(ids, encode_rpm_request([(0, 99)])) is None  # no such object
    other = b"\x0c" + ((0 << 22) | 1).to_bytes(4, "big") + b"\x1e\x09\x4d\x1f"  # object-name
    assert lean_rpm_ack(ids, other) is None
    assert lean_rpm_ack(ids, encode_rpm_request([(0, 1)])[:-1]) is None  # cut short
    assert lean_rpm_ack(ids, b"") is None


async def test_the_driver_polls_through_the_lean_answers_and_misbehaviour_still_goes_the_usual_way(device):
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices={3001: device.address}, timeout=2, cov=False,
                                         rpm_refusals=1))
    await driver.start()
    try:
        bindings = [parse_binding(f"bacnet://3001/{s.type},{s.instance}") for s in SPECS]
        readings = await driver.read("3001", bindings)
        assert [r.value for r in readings] == [13.5, 42.25, 13.0, True, False, True, 2, 300]
        assert device.app is not None and device.app.lean_answers == 1

        device.reject_rpm()  # an old controller: bacpypes3's path answers with a reject
        readings = await driver.read("3001", bindings[:2])
        assert [r.value for r in readings] == [13.5, 42.25]  # read one property at a time instead
        assert device.app.lean_answers == 1 and driver.rp_requests > 0
    finally:
        await driver.stop()


MANY = (*(ObjectSpec("analog-input", i, f"AI-{i}", float(i)) for i in range(1, 40)),
        ObjectSpec("binary-value", 100, "BV", True),
        ObjectSpec("multi-state-value", 101, "M", 3, states=("a", "b", "c")))


async def _sent(device: SimulatedDevice, header: bytes, body: bytes, lean: bool) -> list[bytes]:
    """What the device's application layer hands the network for one request (lean or bacpypes3's path)."""
    app = device.app
    assert app is not None
    sent: list[bytes] = []

    async def capture(apdu: Any) -> None:
        sent.append(bytes((apdu if isinstance(apdu, PDU) else apdu.encode()).pduData))

    app.asap.request = capture
    pdu = PDU(header + body, source=Address("127.0.0.1:47999"))
    if lean:
        await app.asap.confirmation(pdu)
    else:
        await type(app.asap).confirmation(app.asap, pdu)  # bacpypes3's own, past the lean answers
    for _ in range(50):  # the server transaction answers on later turns of the loop
        await asyncio.sleep(0)
    return [x[:1] + x[2:] for x in sent]  # the invoke ids (second octet) differ: 7 and 8


@pytest.fixture
async def small_device():
    # A controller that cannot segment and takes 480 bytes: big answers are aborted.
    d = SimulatedDevice(3002, f"{random_subnet()}.1", MANY, port=free_udp_port(), max_apdu=480,
                        segmentation="no-segmentation")
    d.start()
    try:
        yield d
    finally:
        d.stop()


@pytest.mark.parametrize("objects", [1, 12, 20, 41])
@pytest.mark.parametrize("client_max", [0, 2, 3, 5])  # 50, 206, 480, 1476 bytes
async def test_through_the_application_layer_the_lean_answer_is_what_bacpypes3_sends(small_device, objects,
                                                                                      client_max):
    body = encode_rpm_request([(NUMBERS[s.type], s.instance) for s in MANY[:objects]])
    lean = await _sent(small_device, bytes([0x02, 0x50 | client_max, 7, 14]), body, True)
    generic = await _sent(small_device, bytes([0x02, 0x50 | client_max, 8, 14]), body, False)
    assert lean == generic and len(lean) == 1


async def test_a_reserved_max_apdu_code_goes_to_bacpypes3_which_refuses_it(small_device):
    body = encode_rpm_request([(0, 1)])
    with pytest.raises(ValueError, match="invalid max APDU length accepted: 15"):
        await _sent(small_device, bytes([0x00, 0x0F, 7, 14]), body, True)
    assert small_device.app.lean_answers == 0
