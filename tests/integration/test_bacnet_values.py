"""Both BACnet decoders give the same plain values, and one unreadable object fails that point only.

The lean codec (``openbms.drivers.bacnet.wire``) and bacpypes3's decoder (the driver's
fallback for an object the codec cannot read) are fed the same acknowledgements, encoded
by bacpypes3, and must agree value for value in the forms docs/bacnet.md documents.
The driver is then run over loopback against a simulated device whose replies carry
a color object (type 63, which bacpypes3 does not know) and other constructed values.
"""

from __future__ import annotations

import logging
import random
import subprocess
import sys
from collections.abc import Iterator

import pytest
from bacpypes3.apdu import APCISequence, ComplexAckPDU, ReadPropertyMultipleACK
from bacpypes3.basetypes import (
    BinaryPV,
    ReadAccessResult,
    ReadAccessResultElement,
    ReadAccessResultElementChoice,
    StatusFlags,
)
from bacpypes3.constructeddata import Any, AnyAtomic
from bacpypes3.object import (
    BitStringValueObject,
    CharacterStringValueObject,
    DateValueObject,
    IntegerValueObject,
    LargeAnalogValueObject,
    OctetStringValueObject,
    ScheduleObject,
    TimeValueObject,
)
from bacpypes3.primitivedata import (
    BitString,
    Boolean,
    CharacterString,
    Date,
    Double,
    Enumerated,
    Integer,
    Null,
    ObjectIdentifier,
    OctetString,
    Real,
    Time,
    Unsigned,
)
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.drivers.bacnet import BACnetDriver, wire
from openbms.drivers.bacnet.driver import _generic_present_value
from openbms.drivers.manager import DriverManager, PointBinding
from openbms.model import DriverSettings, parse_binding
from openbms.runtime.bus import Bus
from openbms.runtime.clock import WallClock
from openbms.sim.bacnet import ObjectSpec, SimulatedBACnet, SimulatedDevice
from tests.fixtures.network import free_udp_port
from tests.fixtures.waiting import eventually

# (object type, value as bacpypes3 encodes it, the plain value both decoders must give)
VALUES = [
    ("analog-value", Real(21.5), 21.5),
    ("large-analog-value", Double(-1.25e9), -1.25e9),
    ("positive-integer-value", Unsigned(70000), 70000),
    ("multi-state-value", Unsigned(3), 3),
    ("integer-value", Integer(-300), -300),
    ("binary-value", BinaryPV("active"), True),
    ("binary-input", BinaryPV("inactive"), False),
    ("characterstring-value", CharacterString("Zoné 3"), "Zoné 3"),
    ("characterstring-value", CharacterString(""), ""),
    ("bitstring-value", BitString([1, 0, 1, 1, 0, 0, 0, 0, 1]), "101100001"),
    ("bitstring-value", BitString([]), ""),
    ("octetstring-value", OctetString(b"\x01\xab\x00"), "01ab00"),
    ("octetstring-value", OctetString(b""), ""),
    ("date-value", Date("2024-05-01"), "2024-05-01"),
    ("date-value", Date((255, 12, 24, 255)), "*-12-24"),
    ("time-value", Time("12:30:05.25"), "12:30:05.25"),
    ("time-value", Time((0, 0, 0, 0)), "00:00:00.00"),
    ("time-value", Time((7, 5, 255, 255)), "07:05:*.*"),
    # A schedule's present value is any atomic value (AnyAtomic): the value itself.
    ("schedule", Real(21.0), 21.0),
    ("schedule", Boolean(True), True),
    ("schedule", Null(()), None),
    ("schedule", Enumerated(2), 2),
    ("schedule", Unsigned(5), 5),
    ("schedule", Double(0.5), 0.5),
    ("schedule", Integer(-1), -1),
    ("schedule", CharacterString("on"), "on"),
    ("schedule", Time("06:00:00"), "06:00:00.00"),
    ("schedule", Date("2025-01-31"), "2025-01-31"),
    ("schedule", OctetString(b"\xff"), "ff"),
    ("schedule", BitString([0, 1]), "01"),
    ("schedule", ObjectIdentifier("analog-value,7"), "2,7"),
]


def _ack_pdu(objects: list[tuple[str, object]]) -> ComplexAckPDU:
    """An RPM acknowledgement (present values only) as bacpypes3 encodes and a device sends it."""
    results = []
    for oid, value in objects:
        choice = ReadAccessResultElementChoice()
        choice.propertyValue = Any(value)
        element = ReadAccessResultElement(propertyIdentifier="present-value", readResult=choice)
        results.append(ReadAccessResult(objectIdentifier=ObjectIdentifier(oid), listOfResults=[element]))
    ack = ReadPropertyMultipleACK(listOfReadAccessResults=results)
    ack.apduInvokeID = 1
    pdu = ComplexAckPDU(14, 1)
    pdu.put_data(bytes(ack.encode().pduData))
    return pdu


def test_both_decoders_give_the_same_plain_value_for_every_present_value_type():
    objects = [(f"{otype},{n}", value) for n, (otype, value, _) in enumerate(VALUES, start=1)]
    pdu = _ack_pdu(objects)
    lean = wire.decode_rpm_ack(bytes(pdu.pduData))
    generic: dict[tuple[int, int], object] = {}
    for result in APCISequence.decode(pdu).listOfReadAccessResults:
        oid = result.objectIdentifier
        value, why, _ = _generic_present_value(int(oid[0]),
                                               result.listOfResults[0].readResult.propertyValue)
        assert why is None, (oid, why)
        generic[(int(oid[0]), int(oid[1]))] = value
    assert len(lean) == len(generic) == len(VALUES)
    for (oid, _), (otype, _, expected) in zip(objects, VALUES, strict=True):
        key = (int(ObjectIdentifier(oid)[0]), int(ObjectIdentifier(oid)[1]))
        got = lean[key]
        assert got[2] is None, (otype, got)
        assert got[0] == expected and type(got[0]) is type(expected), (otype, got[0], expected)
        assert generic[key] == expected and type(generic[key]) is type(expected), (otype, generic[key])


# A color object's present value (BACnetxyColor: x and y, two REALs) and its status flags,
# then an analog input: the object after the color must still be read.
_COLOR = (bytes.fromhex("0c") + ((63 << 22) | 1).to_bytes(4, "big")
          + bytes.fromhex("1e" "2955" "4e" "443e99999a" "443ecccccd" "4f" "296f" "4e" "820400" "4f" "1f"))
_ANALOG = bytes.fromhex("0c00000001" "1e" "2955" "4e" "4441ac0000" "4f" "296f" "4e" "820400" "4f" "1f")
# An analog input whose present value is constructed ([0] {1}): bacpypes3 knows the type
# (REAL) and refuses the value; the lean codec skips it by its tags.
_CONSTRUCTED = bytes.fromhex("0c00000002" "1e" "2955" "4e" "0e2101" "0f" "4f" "1f")


def test_the_lean_codec_skips_a_constructed_value_and_reads_the_objects_after_it():
    got = wire.decode_rpm_ack(_COLOR + _CONSTRUCTED + _ANALOG)
    assert got[(0, 1)] == (21.5, 0, None)
    assert got[(63, 1)][0] is None and got[(63, 1)][1] == 0
    assert got[(63, 1)][2].startswith(f"{wire.UNDECODABLE}: a constructed value")
    assert got[(0, 2)][2].startswith(f"{wire.UNDECODABLE}: a constructed value (context tag [0])")


@pytest.fixture
async def device():
    sim = SimulatedBACnet([SimulatedDevice(
        2601, "127.0.9.3", [ObjectSpec("analog-input", 1, "ZN-T", 21.5, "degreesCelsius")],
        port=free_udp_port())])
    sim.start()
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices=sim.address_map(), timeout=2, cov=False))
    await driver.start()
    try:
        yield sim, driver
    finally:
        await driver.stop()
        sim.stop()


def b(obj: str) -> object:
    return parse_binding(f"bacnet://2601/{obj}")


async def test_an_object_type_bacpypes3_does_not_know_faults_that_point_only(device, caplog):
    # Issue 15 item 2: a color object made the lean codec fail, then bacpypes3 raised
    # AttributeError and the whole device went offline.
    sim, driver = device
    sim[2601].garble_rpm(_ANALOG + _COLOR)
    caplog.set_level(logging.INFO, logger="openbms")
    for _ in range(3):  # and again: nothing is switched for the device
        readings = await driver.read("2601", [b("analog-input,1"), b("63,1")])
        assert (readings[0].value, readings[0].status) == (21.5, "ok")
        assert readings[1].value is None and readings[1].status == "fault"
        assert "63,1" in readings[1].error
        assert "object type 63 is not one bacpypes3 knows" in readings[1].error
        assert "AttributeError" not in readings[1].error
    assert "2601" not in driver._no_lean
    assert driver.rpm_requests == 3 and driver.rp_requests == 0
    said = [r.getMessage() for r in caplog.records if "63,1" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("bacnet device 2601: object 63,1 is a fault: ")


async def test_a_constructed_value_of_a_known_type_faults_that_point_and_keeps_the_lean_codec(device):
    sim, driver = device
    sim[2601].garble_rpm(_ANALOG + _CONSTRUCTED)
    for _ in range(3):
        readings = await driver.read("2601", [b("analog-input,1"), b("analog-input,2")])
        assert (readings[0].value, readings[0].status) == (21.5, "ok")
        assert readings[1].status == "fault"
        assert "0,2" in readings[1].error and "does not decode (InvalidTag" in readings[1].error
    assert "2601" not in driver._no_lean  # the fallback is per object, never per device
    assert driver.decode_errors == 3  # one object each read


async def test_the_device_stays_online_and_its_other_points_report_through_the_manager(device):
    sim, driver = device
    sim[2601].garble_rpm(_ANALOG + _COLOR)
    bus = Bus()
    got = []
    bus.subscribe_callback("*", got.extend)
    points = [PointBinding("zone", b("analog-input,1"), 0.2), PointBinding("color", b("63,1"), 0.2)]
    manager = DriverManager(bus, WallClock(), {"bacnet": driver}, points,
                            {"bacnet": driver.settings})
    await manager.start()
    try:
        await eventually(lambda: {s.point for s in got} >= {"zone", "color"}, "both points' samples")
    finally:
        await manager.stop()
    latest = {s.point: s for s in got}
    assert (latest["zone"].value, latest["zone"].status) == (21.5, "ok")
    assert (latest["color"].value, latest["color"].status) == (None, "fault")
    health = manager.health()["bacnet://2601"]
    assert health.state == "ok" and health.read_errors == 0 and health.point_faults >= 1


# A bacpypes3 device in its own process (its object classes stay out of this one's registry,
# so this side's bacpypes3 does not know type 63, as with a real site's color objects):
# an analog input and a color object whose present value is an x/y pair.
_SERVE = """
import asyncio, sys
from bacpypes3.basetypes import StatusFlags
from bacpypes3.constructeddata import Sequence
from bacpypes3.object import Object
from bacpypes3.primitivedata import ObjectIdentifier, Real
from bacpypes3.vendor import VendorInfo
from openbms.sim.bacnet import ObjectSpec, SimulatedDevice

VendorInfo(998)

class XYColor(Sequence):
    _order = ("xCoordinate", "yCoordinate")
    xCoordinate = Real
    yCoordinate = Real

class ColorObject(Object):
    _vendor_id = 998
    _object_type = 63
    presentValue: XYColor
    statusFlags: StatusFlags

async def main():
    device = SimulatedDevice(2602, sys.argv[1], [ObjectSpec("analog-input", 1, "ZN-T", 21.5)],
                             port=int(sys.argv[2]))
    device.start()
    device.app.add_object(ColorObject(
        objectIdentifier=ObjectIdentifier((63, 1)), objectName="LIGHT-1",
        presentValue=XYColor(xCoordinate=0.3, yCoordinate=0.4), statusFlags=StatusFlags([0, 0, 0, 0])))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    device.stop()

asyncio.run(main())
"""


@pytest.fixture
def color_device() -> Iterator[str]:
    """``ip:port`` of device 2602 (analog-input,1 and a color object 63,1), in another process."""
    port = free_udp_port()
    ip = f"127.{random.randint(30, 250)}.{random.randint(0, 255)}.7"  # not the CI's 127.0.20.x
    proc = subprocess.Popen([sys.executable, "-c", _SERVE, ip, str(port)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield f"{ip}:{port}"
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()


async def test_a_real_color_object_faults_alone_on_every_read_path(color_device):
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices={"2602": color_device}, timeout=2, cov=False))
    await driver.start()
    points = [parse_binding("bacnet://2602/analog-input,1"), parse_binding("bacnet://2602/63,1")]
    try:
        got = {"lean": await driver.read("2602", points)}
        driver._no_lean["2602"] = float("inf")  # as if its replies needed bacpypes3's RPM
        got["bacpypes3 RPM"] = await driver.read("2602", points)
        driver._no_rpm["2602"] = float("inf")  # as if it rejected RPM: ReadProperty
        got["ReadProperty"] = await driver.read("2602", points)
    finally:
        await driver.stop()
    for path, (analog, color) in got.items():
        assert (analog.value, analog.status) == (21.5, "ok"), path
        assert (color.value, color.status) == (None, "fault"), (path, color)
        assert color.error.startswith("bacnet device 2602: 63,1: "), (path, color.error)
        assert "bacpypes3" in color.error and "AttributeError" not in color.error, path
    # bacpypes3's RPM raises on the reply (type 63): that batch is read object by object (2 + 2).
    assert driver.rpm_requests == 2 and driver.rp_requests == 4


def test_the_read_command_on_a_color_object_prints_one_clear_error_and_no_traceback(color_device):
    result = CliRunner().invoke(app, ["bacnet", "read", "2602", "63,1", "-a", color_device,
                                      "--address", f"127.0.0.1/8:{free_udp_port()}"],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an AttributeError
    out = [line for line in result.output.splitlines() if line.strip()]
    assert len(out) == 1 and out[0].startswith("error: bacnet device 2602: 63,1: "), out
    assert "object type 63 is not one bacpypes3 knows" in out[0]
    assert "Traceback" not in result.output


async def test_every_value_type_reads_the_same_through_lean_rpm_bacpypes3_rpm_and_readproperty():
    flags = StatusFlags([0, 0, 0, 0])
    served = [  # (object, the plain value every path must give)
        (CharacterStringValueObject(objectIdentifier=("characterstring-value", 1), objectName="a",
                                    presentValue="Zoné 3", statusFlags=flags), "Zoné 3"),
        (DateValueObject(objectIdentifier=("date-value", 1), objectName="b",
                         presentValue=Date("2024-05-01"), statusFlags=flags), "2024-05-01"),
        (TimeValueObject(objectIdentifier=("time-value", 1), objectName="c",
                         presentValue=Time("12:30:05.25"), statusFlags=flags), "12:30:05.25"),
        (BitStringValueObject(objectIdentifier=("bitstring-value", 1), objectName="d",
                              presentValue=BitString([1, 0, 1]), statusFlags=flags), "101"),
        (OctetStringValueObject(objectIdentifier=("octetstring-value", 1), objectName="e",
                                presentValue=OctetString(b"\x01\xab"), statusFlags=flags), "01ab"),
        (LargeAnalogValueObject(objectIdentifier=("large-analog-value", 1), objectName="f",
                                presentValue=Double(-1.5e9), statusFlags=flags), -1.5e9),
        (IntegerValueObject(objectIdentifier=("integer-value", 1), objectName="g",
                            presentValue=-3, statusFlags=flags), -3),
        (ScheduleObject(objectIdentifier=("schedule", 1), objectName="h",
                        presentValue=AnyAtomic(Real(21.0)), statusFlags=flags), 21.0),
        (ScheduleObject(objectIdentifier=("schedule", 2), objectName="i",
                        presentValue=AnyAtomic(Time("06:00:00")), statusFlags=flags), "06:00:00.00"),
    ]
    device = SimulatedDevice(2604, "127.0.9.4", [ObjectSpec("analog-input", 1, "ZN-T", 21.5)],
                             port=free_udp_port())
    device.start()
    for obj, _ in served:
        device.app.add_object(obj)
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices={"2604": device.address}, timeout=2, cov=False))
    await driver.start()
    points = [parse_binding(f"bacnet://2604/{obj.objectIdentifier[0]},{obj.objectIdentifier[1]}")
              for obj, _ in served]
    try:
        got = {"lean": await driver.read("2604", points)}
        driver._no_lean["2604"] = float("inf")  # as if its replies needed bacpypes3's RPM
        got["bacpypes3 RPM"] = await driver.read("2604", points)
        driver._no_rpm["2604"] = float("inf")  # as if it rejected RPM: ReadProperty
        got["ReadProperty"] = await driver.read("2604", points)
    finally:
        await driver.stop()
        device.stop()
    expected = [value for _, value in served]
    for path, readings in got.items():
        assert [r.value for r in readings] == expected, path
        assert [type(r.value) for r in readings] == [type(v) for v in expected], path
        assert {r.status for r in readings} == {"ok"}, path
    assert driver.decode_errors == 0 and driver.rpm_requests == 2 and driver.rp_requests == len(served)
