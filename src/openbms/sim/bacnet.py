"""Simulated BACnet/IP devices on loopback, served by bacpypes3.

One process hosts many devices, each an Application bound to its own
127.x address (all on one UDP port: broadcasts to 127.255.255.255 reach every
device). Objects are described by a declarative table of ObjectSpec rows;
present values are settable from Python (the building emulator drives them)
and network writes are visible to Python. Devices can be made to misbehave
for tests: reject ReadPropertyMultiple, stop answering, restart.

This module imports bacpypes3: it belongs to the simulator and the BACnet
driver side, never to the core.
"""

from __future__ import annotations

import asyncio
import inspect
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from bacpypes3.apdu import (
    AbortPDU,
    AbortReason,
    APCISequence,
    ComplexAckPDU,
    ReadPropertyMultipleRequest,
    RejectPDU,
    RejectReason,
    SimpleAckPDU,
    SubscribeCOVRequest,
    WritePropertyMultipleError,
)
from bacpypes3.app import Application
from bacpypes3.basetypes import (
    BDTEntry,
    ErrorType,
    EventState,
    ObjectPropertyReference,
    ObjectTypesSupported,
    Reliability,
    ServicesSupported,
)
from bacpypes3.constructeddata import Array
from bacpypes3.errors import ExecutionError, RejectException, UnrecognizedService
from bacpypes3.local.analog import AnalogInputObject, AnalogOutputObject, AnalogValueObjectCmd
from bacpypes3.local.binary import BinaryInputObject, BinaryOutputObject
from bacpypes3.local.cmd import Commandable
from bacpypes3.local.cov import GenericCriteria
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.multistate import MultiStateValueObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.local.object import Object as LocalObject
from bacpypes3.object import BinaryValueObject
from bacpypes3.primitivedata import Real, Unsigned
from bacpypes3.vlan import VirtualNetwork, VirtualNode

__all__ = ["DEVICE_PORT", "ObjectSpec", "SimulatedBACnet", "SimulatedBBMD", "SimulatedDevice",
           "SimulatedRouter"]

class MultiStateValueObjectCmd(Commandable, MultiStateValueObject):
    """A commandable multi-state value (bacpypes3 ships analog and binary ones only)."""


class BinaryValueObjectCmd(Commandable, LocalObject, BinaryValueObject):
    """A commandable binary value with status flags and COV, as its binary output has.

    bacpypes3's own leaves out its local object behaviour: no status-flags property (a
    required one: reads answered unknown-property) and SubscribeCOV refused.
    """

    _cov_criteria = GenericCriteria


#: The standard BACnet/IP port; clients on this machine must use another (bacpypes3 routes a
#: packet to its own port back into itself).
DEVICE_PORT = 47808

_CLASSES: dict[str, Any] = {
    "analog-input": AnalogInputObject,
    "analog-output": AnalogOutputObject,
    "analog-value": AnalogValueObjectCmd,
    "binary-input": BinaryInputObject,
    "binary-output": BinaryOutputObject,
    "binary-value": BinaryValueObjectCmd,
    "multi-state-value": MultiStateValueObjectCmd,
}
_INPUTS = ("analog-input", "binary-input", "multi-state-input")
_COMMANDABLE = {"analog-output", "analog-value", "binary-output", "binary-value",
                "multi-state-value"}


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    """One object of a simulated device."""

    type: str
    instance: int
    name: str
    value: float | bool | int = 0
    units: str | None = None  # bacpypes3 EngineeringUnits attribute name, e.g. "degreesCelsius"
    description: str = ""
    states: tuple[str, ...] = ()  # multi-state values
    cov_increment: float = 0.0  # analog objects report changes larger than this (0: any)

    @property
    def commandable(self) -> bool:
        return self.type in _COMMANDABLE


def _binary(value: Any) -> str:
    return "active" if value and value != "inactive" else "inactive"


def _make_object(spec: ObjectSpec) -> Any:
    cls = _CLASSES[spec.type]
    kw: dict[str, Any] = {"objectIdentifier": (spec.type, spec.instance), "objectName": spec.name,
                          "description": spec.description}
    if spec.type.startswith("binary"):
        kw["presentValue"] = _binary(spec.value)
    elif spec.type == "multi-state-value":
        kw["presentValue"] = int(spec.value) or 1
        kw["numberOfStates"] = max(1, len(spec.states))
        if spec.states:
            kw["stateText"] = list(spec.states)
    else:
        kw["presentValue"] = float(spec.value)
        kw["covIncrement"] = float(spec.cov_increment)
        if spec.units:
            kw["units"] = spec.units
    if spec.commandable:
        kw["relinquishDefault"] = kw["presentValue"]
    # Known from the start (bacpypes3 leaves them unset: unknown-property until written, and
    # missing from ALL and REQUIRED reads); the building face sets reliability for faults.
    kw.update(outOfService=False, eventState=EventState.normal,
              reliability=Reliability.noFaultDetected)
    return cls(**kw)


#: What a simulated device executes, as its device object's protocol-services-supported says
#: (bacpypes3 works the list out from its handlers, with the unconfirmed services' bits at the
#: confirmed services' numbers, and claims ReadRange, which it does not implement).
SERVICES_SUPPORTED = ("readProperty", "readPropertyMultiple", "writeProperty",
                      "writePropertyMultiple", "subscribeCOV", "whoIs", "iAm", "whoHas", "iHave")


class _Device(DeviceObject):
    """The device object, with the object types it serves in protocol-object-types-supported."""

    @property
    def protocolObjectTypesSupported(self) -> ObjectTypesSupported:
        supported = ObjectTypesSupported([])
        app = self._app
        for object_type, _ in app.objectIdentifier if app else (self.objectIdentifier,):
            supported[int(object_type)] = 1
        return supported

    @protocolObjectTypesSupported.setter
    def protocolObjectTypesSupported(self, value: Any) -> None:
        """Worked out from the objects: a write is ignored, as bacpypes3's device object does."""


class _DeviceApp(Application):
    """An Application that can be told to reject ReadPropertyMultiple or to go silent."""

    reject_rpm = False
    reject_cov = False
    silent = False
    delay = 0.0
    garble: bytes | None = None
    max_response = 0  # a device that cannot segment cannot send more than its APDU
    lean_answers = 0  # polling requests answered without bacpypes3's generic service

    async def response(self, apdu: Any) -> None:
        if (self.max_response and isinstance(apdu, APCISequence)
                and isinstance(apdu, ComplexAckPDU)
                and len(apdu.encode().pduData) + 3 > self.max_response):
            abort = AbortPDU(True, apdu.apduInvokeID, AbortReason.segmentationNotSupported)
            abort.pduDestination = apdu.pduDestination
            apdu = abort
        await super().response(apdu)

    async def indication(self, apdu: Any) -> None:
        if self.silent:
            return
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.reject_cov and isinstance(apdu, SubscribeCOVRequest):
            reject = RejectPDU(apdu.apduInvokeID, RejectReason.unrecognizedService, context=apdu)
            await self.response(reject)
            return
        if self.reject_rpm and isinstance(apdu, ReadPropertyMultipleRequest):
            reject = RejectPDU(apdu.apduInvokeID, RejectReason.unrecognizedService, context=apdu)
            await self.response(reject)
            return
        if self.garble is not None and isinstance(apdu, ReadPropertyMultipleRequest):
            ack = ComplexAckPDU(apdu.apduService, apdu.apduInvokeID)
            ack.pduDestination = apdu.pduSource
            ack.put_data(self.garble)
            await self.response(ack)
            return
        await super().indication(apdu)

    def get_services_supported(self) -> ServicesSupported:
        supported = ServicesSupported([])
        for name in SERVICES_SUPPORTED:
            supported[getattr(supported, name)] = 1
        return supported

    async def do_ReadRangeRequest(self, apdu: Any) -> None:
        # bacpypes3's handler raises NotImplementedError (answered operational-problem, even for
        # objects that do not exist); these devices have no lists to read a range of.
        raise UnrecognizedService("ReadRange is not supported")

    async def _write(self, obj: Any, prop: Any, index: int | None, priority: int | None,
                     value: Any) -> None:
        """Write one property as WriteProperty and WritePropertyMultiple both must."""
        # The standard: an input's present value is writable only while it is out of
        # service (bacpypes3's local objects accept the write regardless).
        if str(obj.objectIdentifier[0]) in _INPUTS and str(prop) == "present-value" and (
            not obj.outOfService
        ):
            raise ExecutionError("property", "writeAccessDenied")
        kind = obj.get_property_type(prop)
        if kind is None:
            raise ExecutionError("property", "unknownProperty")
        if issubclass(kind, Array) and index is not None:
            kind = Unsigned if index == 0 else kind._subtype
        try:
            decoded = value.cast_out(kind, null=priority is not None)
        except RejectException as exc:
            # The request decoded; it is the value that is not of the property's type, which the
            # standard answers with an error, not a reject (bacpypes3 rejects: invalid-tag).
            raise ExecutionError("property", "invalidDataType") from exc
        await obj.write_property(prop, decoded, index, priority)

    async def do_WritePropertyRequest(self, apdu: Any) -> None:
        obj = self.get_object_id(apdu.objectIdentifier)
        if obj is None:
            raise ExecutionError("object", "unknownObject")
        await self._write(obj, apdu.propertyIdentifier, apdu.propertyArrayIndex, apdu.priority,
                          apdu.propertyValue)
        await self.response(SimpleAckPDU(context=apdu))

    async def do_WritePropertyMultipleRequest(self, apdu: Any) -> None:
        # In order, stopping at the first failure (the writes before it stay), as the standard
        # says; bacpypes3's handler skipped the input rule, rejected a value of the wrong type
        # and did not answer a request for an unknown object.
        for spec in apdu.listOfWriteAccessSpecs:
            oid = spec.objectIdentifier
            if oid == ("device", 4194303) and self.device_object is not None:
                oid = self.device_object.objectIdentifier
            obj = self.get_object_id(oid)
            for item in spec.listOfProperties:
                try:
                    if obj is None:
                        raise ExecutionError("object", "unknownObject")
                    await self._write(obj, item.propertyIdentifier, item.propertyArrayIndex,
                                      item.priority, item.value)
                except ExecutionError as exc:
                    where = ObjectPropertyReference(objectIdentifier=oid,
                                                    propertyIdentifier=item.propertyIdentifier)
                    if item.propertyArrayIndex is not None:
                        where.propertyArrayIndex = item.propertyArrayIndex
                    await self.response(WritePropertyMultipleError(
                        errorType=ErrorType(errorClass=exc.errorClass, errorCode=exc.errorCode),
                        firstFailedWriteAttempt=where, context=apdu))
                    return
        await self.response(SimpleAckPDU(context=apdu))


# ------------------------------------------------------------------ the polling path, served lean

#: An object's part of a ReadPropertyMultiple request as the BACnet driver's polls ask it:
#: [1] { [0] present-value, [0] status-flags } after its [0] object identifier.
_PV_SF = b"\x1e\x09\x55\x09\x6f\x1f"
_RPM = 14
_REAL = struct.Struct(">f")
#: [5] { property, unknown-property }: a property-access error.
_UNKNOWN_PROPERTY = b"\x5e\x91\x02\x91\x20\x5f"
#: The largest APDU a client accepts, by the low nibble of a confirmed request's second octet.
_MAX_APDU = (50, 128, 206, 480, 1024, 1476)


def _raw(obj: Any, attr: str) -> Any:
    """``obj.attr`` past bacpypes3's ``Object.__getattribute__`` (which costs a static lookup a read)."""
    element = obj._elements.get(attr)
    if element is None:
        return None
    try:
        return element.get_attribute(getter=partial(object.__getattribute__, obj, attr))
    except AttributeError:
        return None


def _value_bytes(obj: Any) -> bytes:
    """The present value, application-tagged."""
    value = _raw(obj, "presentValue")
    if type(value) is Real:
        return b"\x44" + _REAL.pack(value)
    return bytes(value.encode().encode().pduData)


def flagless(objects: Iterable[Any]) -> frozenset[Any]:
    """The objects that have no status flags (bacpypes3's commandable binary value has none)."""
    return frozenset(o for o in objects if inspect.getattr_static(o, "statusFlags", None) is None)


def _flags_byte(obj: Any) -> int:
    """Status flags as bacpypes3's ``statusFlags`` property works them out, as one octet."""
    event = _raw(obj, "eventState")
    reliability = _raw(obj, "reliability")
    return (((event is not None and event != EventState.normal) << 7)
            | ((reliability is not None and reliability != Reliability.noFaultDetected) << 6)
            | ((_raw(obj, "outOfService") == 1) << 4))


def lean_rpm_ack(objects: dict[int, Any], data: bytes,
                 flagless: frozenset[Any] = frozenset()) -> bytes | None:
    """The acknowledgement's service data for a polling request's ``data``; None: not one of those.

    ``objects`` maps an object identifier (type << 22 | instance) to its object;
    ``flagless`` are those without status flags (see :func:`flagless`).
    Only requests for present value and status flags of objects the device has are
    answered here; anything else (another property, an unknown object, an array
    index) is left to bacpypes3, which answers every request the standard allows.
    """
    out = bytearray()
    n = len(data)
    i = 0
    while i < n:
        if data[i] != 0x0C or data[i + 5 : i + 11] != _PV_SF:
            return None
        oid = data[i + 1 : i + 5]
        obj = objects.get(int.from_bytes(oid, "big"))
        if obj is None:
            return None
        out += b"\x0c" + oid + b"\x1e\x29\x55\x4e"
        out += _value_bytes(obj)
        if obj in flagless:  # as bacpypes3 answers for its commandable binary value
            out += b"\x4f\x29\x6f" + _UNKNOWN_PROPERTY + b"\x1f"
        else:
            out += b"\x4f\x29\x6f\x4e\x82\x04"
            out.append(_flags_byte(obj))
            out += b"\x4f\x1f"
        i += 11
    return bytes(out) if out else None


def _serve_polls_lean(app: _DeviceApp, objects: Iterable[Any], max_apdu: int) -> None:
    """Answer the driver's polling RPMs before bacpypes3 decodes them into generic Sequences.

    bacpypes3 builds a Sequence for every value of a request and of its answer;
    for a demo polling 300 objects several times a second that was most of the
    process's CPU. An unsegmented request of the polling path's shape is answered
    here, with the same bytes bacpypes3 would send (a test compares them), when the
    answer fits one APDU of the client and of the device; anything else (and every
    request while a test makes the device misbehave) goes the usual way.
    """
    by_id = {(int(o.objectIdentifier[0]) << 22) | o.objectIdentifier[1]: o for o in objects}
    without_flags = flagless(by_id.values())
    asap = app.asap
    generic = asap.confirmation

    async def confirmation(pdu: Any) -> None:
        data = pdu.pduData
        # Confirmed request, not segmented; the service choice after type, sizes and invoke id.
        if (len(data) > 4 and data[0] & 0xF8 == 0 and data[3] == _RPM and data[1] & 0x0F <= 5
                and not app.silent and not app.delay and not app.reject_rpm and app.garble is None):
            body = lean_rpm_ack(by_id, bytes(data[4:]), without_flags)
            if body is not None and len(body) + 3 <= min(_MAX_APDU[data[1] & 0x0F], max_apdu):
                ack = ComplexAckPDU(_RPM, data[2])
                ack.apduSeg = ack.apduMor = False
                ack.pduDestination = pdu.pduSource
                ack.put_data(body)
                app.lean_answers += 1
                await asap.request(ack)
                return
        await generic(pdu)

    asap.confirmation = confirmation


class SimulatedDevice:
    """One BACnet device: a device object, a network port and the objects of its specs.

    On BACnet/IP (``address`` an IPv4 address on loopback), or, with ``vlan``, on a
    virtual network behind a :class:`SimulatedRouter` (``address`` then the MAC, a
    number from 1 to 254, as on an MS/TP trunk).
    """

    def __init__(self, instance: int, address: str, specs: Sequence[ObjectSpec],
                 name: str | None = None, port: int = DEVICE_PORT, max_apdu: int = 1476,
                 segmentation: str = "segmented-both", vlan: str | None = None) -> None:
        self.instance = instance
        self.vlan = vlan
        # What the device object (and so its I-Am) says: small controllers take 480 or
        # 206 bytes and cannot segment, which the client's batching has to respect.
        self.max_apdu = max_apdu
        self.segmentation = segmentation
        self.ip = address
        self.port = port
        self.name = name or f"sim-device-{instance}"
        self.specs = tuple(specs)
        self.app: _DeviceApp | None = None
        self.objects: dict[tuple[str, int], Any] = {}
        self._reject_rpm = False
        self._reject_cov = False
        self._garble: bytes | None = None
        self._delay = 0.0

    @property
    def address(self) -> str:
        """``ip:port`` as a BACnet address string (the MAC on a virtual network)."""
        return str(int(self.ip)) if self.vlan else f"{self.ip}:{self.port}"

    def start(self) -> None:
        """Bind the device's socket and serve (call from a running event loop)."""
        device = _Device(objectIdentifier=("device", self.instance), objectName=self.name,
                         vendorIdentifier=999, maxApduLengthAccepted=self.max_apdu,
                         segmentationSupported=self.segmentation)
        if self.vlan:
            port = _virtual_port(self.vlan, int(self.ip))
        else:
            port = NetworkPortObject(f"{self.ip}/8:{self.port}",
                                     objectIdentifier=("network-port", 1),
                                     objectName="NetworkPort-1")
        self.objects = {(s.type, s.instance): _make_object(s) for s in self.specs}
        self.app = _DeviceApp.from_object_list([device, port, *self.objects.values()])
        self.app.reject_rpm = self._reject_rpm
        self.app.reject_cov = self._reject_cov
        self.app.delay = self._delay
        self.app.garble = self._garble
        self.app.max_response = self.max_apdu if self.segmentation == "no-segmentation" else 0
        _serve_polls_lean(self.app, self.objects.values(), self.max_apdu)

    def stop(self) -> None:
        """Close the socket (leave the virtual network)."""
        if self.app is not None:
            _close(self.app)
            self.app = None

    def restart(self) -> None:
        """Stop and start again: values and priority arrays go back to their specs."""
        self.stop()
        self.start()

    def set_value(self, obj: tuple[str, int], value: Any) -> None:
        """Set a present value from Python (a commandable object takes it at priority 16)."""
        o = self.objects[obj]
        if obj[0].startswith("binary"):
            value = _binary(value)
        o.presentValue = value

    def value(self, obj: tuple[str, int]) -> Any:
        """The present value as Python sees it (network writes included)."""
        v = self.objects[obj].presentValue
        if obj[0].startswith("binary"):
            return str(v) == "active"
        return float(v) if obj[0].startswith("analog") else int(v)

    def priority_array(self, obj: tuple[str, int]) -> list[Any]:
        """The 16 slots of a commandable object (None where empty)."""
        out = []
        for slot in self.objects[obj].priorityArray:
            kind = slot._choice if hasattr(slot, "_choice") else None
            out.append(None if kind in (None, "null") else getattr(slot, kind))
        return out

    def reject_rpm(self, on: bool = True) -> None:
        """Answer ReadPropertyMultiple with a reject, as old controllers do."""
        self._reject_rpm = on
        if self.app is not None:
            self.app.reject_rpm = on

    def garble_rpm(self, data: bytes | None = b"\x0c\x00\x00\x00\x01\x1e\x29") -> None:
        """Answer ReadPropertyMultiple with an acknowledgement of these bytes (None: answer well)."""
        self._garble = data
        if self.app is not None:
            self.app.garble = data

    def reject_cov(self, on: bool = True) -> None:
        """Refuse SubscribeCOV, as devices without COV support do."""
        self._reject_cov = on
        if self.app is not None:
            self.app.reject_cov = on

    def set_silent(self, on: bool = True) -> None:
        """Stop answering (the socket stays bound), or answer again."""
        if self.app is not None:
            self.app.silent = on

    def set_delay(self, seconds: float) -> None:
        """Answer every request after ``seconds``."""
        self._delay = seconds
        if self.app is not None:
            self.app.delay = seconds


def _virtual_port(vlan: str, mac: int, network: int = 0, instance: int = 1) -> NetworkPortObject:
    """A network port on the virtual network ``vlan`` (created on first use) with a one-octet MAC."""
    if not 0 <= mac <= 254:
        raise ValueError(f"a MAC on a virtual network is 0–254, not {mac}")
    if vlan not in VirtualNetwork._networks:
        VirtualNetwork(vlan)
    return NetworkPortObject(objectIdentifier=("network-port", instance),
                             objectName=f"NetworkPort-{instance}", networkType="virtual",
                             protocolLevel="bacnet-application", macAddress=bytes([mac]),
                             networkNumber=network,
                             networkNumberQuality="configured" if network else "unknown",
                             networkInterfaceName=vlan, statusFlags=[0, 0, 0, 0],
                             reliability="no-fault-detected", outOfService=False,
                             changesPending=False, linkSpeed=0.0)


def _close(app: Application) -> None:
    """Close an application's sockets and take its nodes off their virtual networks."""
    for layer in app.link_layers.values():
        node = getattr(layer, "node", None)
        if isinstance(node, VirtualNode) and node.lan is not None:
            lan = node.lan
            lan.remove_node(node)
            if not lan.nodes:
                VirtualNetwork._networks.pop(lan.name, None)
    app.close()


class _NetworkNode:
    """A BACnet/IP node of the network's own (a router, a BBMD): a device object of its own, one
    address, started and stopped like the simulated devices."""

    kind = "node"

    def __init__(self, instance: int, ip: str, port: int, prefix: int) -> None:
        self.instance = instance
        self.ip = ip
        self.port = port
        self.prefix = prefix
        self.app: Application | None = None

    @property
    def address(self) -> str:
        """``ip:port`` of its BACnet/IP side."""
        return f"{self.ip}:{self.port}"

    def _device(self) -> _Device:
        return _Device(objectIdentifier=("device", self.instance),
                       objectName=f"{self.kind}-{self.instance}", vendorIdentifier=999,
                       maxApduLengthAccepted=1476, segmentationSupported="segmented-both")

    def stop(self) -> None:
        """Close its socket and leave its virtual networks."""
        if self.app is not None:
            _close(self.app)
            self.app = None


class SimulatedRouter(_NetworkNode):
    """A BACnet router (bacpypes3's network layer) between BACnet/IP and virtual networks.

    Its BACnet/IP port is on network ``ip_network``; each entry of ``networks`` (network
    number → virtual network name) is a trunk whose devices are :class:`SimulatedDevice` s
    made with that ``vlan``, as MS/TP controllers behind an IP-to-MS/TP router. It answers
    Who-Is-Router-To-Network and routes requests, replies and broadcasts both ways; it is a
    device too (``instance``), as routers are.
    """

    kind = "router"

    def __init__(self, instance: int, ip: str, networks: dict[int, str], port: int = DEVICE_PORT,
                 ip_network: int = 1, prefix: int = 8) -> None:
        super().__init__(instance, ip, port, prefix)
        self.ip_network = ip_network
        self.networks = dict(networks)

    def start(self) -> None:
        """Bind its socket and join its virtual networks (call from a running event loop)."""
        ports: list[Any] = [NetworkPortObject(
            f"{self.ip}/{self.prefix}:{self.port}", objectIdentifier=("network-port", 1),
            objectName="NetworkPort-1", networkNumber=self.ip_network,
            networkNumberQuality="configured")]
        for n, (network, vlan) in enumerate(sorted(self.networks.items()), start=2):
            ports.append(_virtual_port(vlan, 0, network, n))
        self.app = Application.from_object_list([self._device(), *ports])


def _refuse_strangers(layer: Any) -> None:
    """Make a bacpypes3 BBMD refuse broadcasts from devices not registered with it."""
    from bacpypes3.ipv4.bvll import DistributeBroadcastToNetwork, Result

    confirmation = layer.confirmation

    async def checked(lpdu: Any) -> None:
        if isinstance(lpdu, DistributeBroadcastToNetwork) and not any(
                entry.fdAddress == lpdu.pduSource for entry in layer.bbmdFDT):
            await layer.request(Result(code=0x0060, destination=lpdu.pduSource))
            return
        await confirmation(lpdu)

    layer.confirmation = checked


class SimulatedBBMD(_NetworkNode):
    """A BACnet Broadcast Management Device (bacpypes3's) on loopback, accepting foreign devices.

    Broadcasts a registered foreign device distributes through it are broadcast on its
    own subnet (``ip/prefix``, at its UDP port, where simulated devices on that port
    hear them) and forwarded to its ``peers`` (other BBMDs, ``ip:port``). As Annex J
    says (and bacpypes3's BBMD does not check), a Distribute-Broadcast-To-Network
    from an address not in its foreign device table is refused with a NAK (0x0060).
    """

    kind = "bbmd"

    def __init__(self, instance: int, ip: str, port: int = DEVICE_PORT, prefix: int = 8,
                 peers: Sequence[str] = ()) -> None:
        super().__init__(instance, ip, port, prefix)
        self.peers = tuple(peers)

    def start(self) -> None:
        """Bind its socket (call from a running event loop)."""
        port = NetworkPortObject(f"{self.ip}/{self.prefix}:{self.port}",
                                 objectIdentifier=("network-port", 1), objectName="NetworkPort-1",
                                 bacnetIPMode="bbmd", bbmdAcceptFDRegistrations=True,
                                 bbmdForeignDeviceTable=[],
                                 bbmdBroadcastDistributionTable=[
                                     BDTEntry(a) for a in (self.address, *self.peers)])
        self.app = Application.from_object_list([self._device(), port])
        for layer in self.app.link_layers.values():
            if hasattr(layer, "bbmdFDT"):
                _refuse_strangers(layer)

    def foreign_devices(self) -> list[str]:
        """The addresses registered in its foreign device table (``ip:port``)."""
        assert self.app is not None
        for layer in self.app.link_layers.values():
            table = getattr(layer, "bbmdFDT", None)
            if table is not None:
                return [str(entry.fdAddress) for entry in table]
        return []


class SimulatedBACnet:
    """Many simulated devices in this process, each on its own 127.x address."""

    def __init__(self, devices: Iterable[SimulatedDevice]) -> None:
        self.devices = {d.instance: d for d in devices}

    @classmethod
    def build(cls, count: int, specs: Sequence[ObjectSpec], first_instance: int = 1001,
              subnet: str = "127.0.1", port: int = DEVICE_PORT) -> SimulatedBACnet:
        """``count`` devices with the same objects, at subnet.1, subnet.2, …"""
        if count > 250:
            raise ValueError("at most 250 devices per subnet")
        return cls(SimulatedDevice(first_instance + i, f"{subnet}.{i + 1}", specs, port=port)
                   for i in range(count))

    def start(self) -> None:
        """Start every device."""
        for d in self.devices.values():
            d.start()

    def stop(self) -> None:
        """Stop every device."""
        for d in self.devices.values():
            d.stop()

    def __getitem__(self, instance: int) -> SimulatedDevice:
        return self.devices[instance]

    def address_map(self) -> dict[int, str]:
        """Device instance → ``ip:port``."""
        return {i: d.address for i, d in self.devices.items()}


#: A small air handler, for demos and command-line tests.
AHU_OBJECTS = (
    ObjectSpec("analog-input", 1, "SA-T", 13.5, "degreesCelsius", "Supply air temperature"),
    ObjectSpec("analog-value", 2, "SA-T-SP", 13.0, "degreesCelsius", "Supply air setpoint"),
    ObjectSpec("analog-input", 3, "RA-T", 22.0, "degreesCelsius", "Return air temperature"),
    ObjectSpec("binary-output", 4, "SF-C", True, description="Supply fan command"),
    ObjectSpec("binary-input", 5, "SF-S", True, description="Supply fan status"),
    ObjectSpec("analog-output", 6, "SF-SPD", 65.0, "percent", "Supply fan speed"),
)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve simulated air handlers until interrupted: ``python -m openbms.sim.bacnet``."""
    import argparse
    import signal
    import sys
    import time

    parser = argparse.ArgumentParser(description="Serve simulated BACnet/IP air handlers.")
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--port", type=int, default=DEVICE_PORT)
    parser.add_argument("--subnet", default="127.0.1")
    parser.add_argument("--first", type=int, default=1001, help="first device instance")
    parser.add_argument("--points", type=int, default=0,
                        help="serve this many analog inputs per device instead of an air handler")
    parser.add_argument("--changes", type=int, default=0,
                        help="when a line arrives on stdin, set the first device's analog-input 1 "
                             "to 1, 2, … every --changes-every s, printing 'change K MONOTONIC'")
    parser.add_argument("--changes-every", type=float, default=0.05)
    parser.add_argument("--routed", type=int, metavar="NETWORK",
                        help="put the devices on virtual network NETWORK (MACs 1, 2, …; 480-byte "
                             "APDUs, no segmentation, as MS/TP controllers) behind a router at "
                             "SUBNET.1 (device 9000)")
    parser.add_argument("--bbmd", action="store_true",
                        help="also serve a BBMD (device 9100) at SUBNET.254 that accepts foreign "
                             "devices")
    args = parser.parse_args(argv)
    specs = AHU_OBJECTS if not args.points else tuple(
        ObjectSpec("analog-input", i, f"AI-{i}", float(i), "degreesCelsius")
        for i in range(1, args.points + 1))

    async def change(sim: SimulatedBACnet) -> None:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        device = sim[args.first]
        for k in range(1, args.changes + 1):
            device.set_value(("analog-input", 1), float(k))
            print(f"change {k} {time.monotonic():.6f}", flush=True)
            await asyncio.sleep(args.changes_every)

    async def serve() -> None:
        extra: list[SimulatedRouter | SimulatedBBMD] = []
        if args.routed:
            vlan = f"network-{args.routed}"
            sim = SimulatedBACnet(SimulatedDevice(args.first + i, str(i + 1), specs, vlan=vlan,
                                                  max_apdu=480, segmentation="no-segmentation")
                                  for i in range(args.count))
            extra.append(SimulatedRouter(9000, f"{args.subnet}.1", {args.routed: vlan},
                                         port=args.port))
        else:
            sim = SimulatedBACnet.build(args.count, specs, args.first, args.subnet, args.port)
        if args.bbmd:
            extra.append(SimulatedBBMD(9100, f"{args.subnet}.254", port=args.port))
        for i, dev in enumerate(sim.devices.values()):
            dev.name = f"AHU-{i + 1}"
        for other in extra:
            other.start()
        sim.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        where = (f"network {args.routed} behind router {args.subnet}.1:{args.port}" if args.routed
                 else f"{args.subnet}.1-{args.count}:{args.port}")
        print(f"serving {args.count} devices on {where}"
              + (f", BBMD at {args.subnet}.254:{args.port}" if args.bbmd else ""), flush=True)
        changer = asyncio.create_task(change(sim)) if args.changes else None
        await stop.wait()
        if changer is not None:
            changer.cancel()
        sim.stop()
        for other in extra:
            other.stop()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
