"""BACnet discovery: Who-Is/I-Am, object lists, object properties, and a site file from them.

Who-Is is a global broadcast sent through the client's own socket to each
broadcast target (``ip:port``), or to the BBMD the client is registered with
(see :mod:`.netlayer`): routers pass it to the networks behind them, so routed
devices answer too, from their network number and MAC (``2:5``). Devices
answer with I-Am to the sender, and bacpypes3 collects those as usual.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.basetypes import PropertyIdentifier
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import BitString, ObjectIdentifier

from openbms.drivers.bacnet import netlayer
from openbms.drivers.bacnet.netlayer import who_is_datagram
from openbms.errors import DeviceUnreachable, DriverError
from openbms.model.units import from_bacnet

__all__ = ["DeviceInfo", "ObjectInfo", "driver_settings", "guess", "who_is_datagram"]

#: Object types that become points.
#: Object types that discovery makes writable points of.
_WRITABLE = ("output", "value")

POINT_TYPES = ("analog-input", "analog-output", "analog-value", "binary-input", "binary-output",
               "binary-value", "multi-state-input", "multi-state-output", "multi-state-value")



@dataclass(slots=True)
class DeviceInfo:
    """A device that answered Who-Is."""

    instance: int
    address: str
    max_apdu: int
    segmentation: str
    vendor: int
    name: str = ""
    objects: list[ObjectInfo] = field(default_factory=list)
    #: Found by a Who-Is sent to its own address (``--target``), not by a broadcast.
    directed: bool = False
    vendor_name: str = ""


@dataclass(slots=True)
class ObjectInfo:
    """One object of a device, with what discovery read of it."""

    type: str
    instance: int
    name: str = ""
    description: str = ""
    units: str | None = None
    value: Any = None
    status: str = "ok"
    # Whether it has a priority array (None: not known, e.g. an input or a failed read).
    commandable: bool | None = None


async def who_is(app: Any, targets: Sequence[str], low: int | None = None,
                 high: int | None = None, listen: float = 3.0,
                 directed: Sequence[str] = (), bbmd: str | None = None) -> list[DeviceInfo]:
    """Devices answering Who-Is: broadcast to ``targets`` (``ip:port``; through ``bbmd`` when
    the client is registered with one), or sent to ``directed`` addresses.

    I-Ams are collected for ``listen`` seconds. The client's own device
    (instance 4194302) is never listed.
    """
    found: dict[int, DeviceInfo] = {}
    pending = []
    for address in directed:
        pending.append(app.who_is(low, high, Address(address), timeout=listen))
    answered_directly: set[int] = set()
    if targets or bbmd:
        # Collect I-Ams, then broadcast one Who-Is to each target (or through the BBMD).
        pending.append(netlayer.collect_i_ams(app, low, high, listen))
        netlayer.send(app, lambda f: who_is_datagram(low, high, f), targets, bbmd)
    for n, i_ams in enumerate(await asyncio.gather(*pending)):
        for i_am in i_ams:
            oid = i_am.iAmDeviceIdentifier
            if oid[1] == 4194302:
                continue
            if n < len(directed):
                answered_directly.add(oid[1])
            found[oid[1]] = DeviceInfo(
                instance=oid[1], address=str(i_am.pduSource),
                max_apdu=int(i_am.maxAPDULengthAccepted),
                segmentation=str(i_am.segmentationSupported), vendor=int(i_am.vendorID))
    for instance in answered_directly:
        found[instance].directed = True
    return [found[k] for k in sorted(found)]


def driver_settings(address: str, broadcasts: Sequence[str],
                    devices: Sequence[DeviceInfo], bbmd: str | None = None,
                    routes: dict[int, str] | None = None) -> dict[str, Any]:
    """The ``drivers: bacnet:`` settings that reach ``devices`` the way discovery did.

    The driver resolves a device without a ``devices:`` entry by one Who-Is to
    its ``broadcast``: so the broadcast discovery used is written (not the
    default), and a device found by a directed Who-Is (``--target``), or
    through a broadcast other than the first, gets a static ``devices:`` entry
    (the address its I-Am came from), since no broadcast the driver sends
    would reach it.
    """
    settings: dict[str, Any] = {"address": address}
    if bbmd:
        settings["bbmd"] = bbmd  # the driver registers and broadcasts through it, as discovery did
    if broadcasts:
        settings["broadcast"] = broadcasts[0]
    static = {d.instance: d.address for d in devices
              if d.directed or (not broadcasts and not bbmd) or len(broadcasts) > 1}
    if static:
        settings["devices"] = static
        # A routed device's entry (net:mac) needs its router: the one discovery reached it by.
        used = {int(a.split(":")[0]) for a in static.values() if a.split(":")[0].isdigit()}
        named = {n: r for n, r in (routes or {}).items() if n in used}
        if named:
            settings["routers"] = named
    return settings


async def routers(app: Any, targets: Sequence[str], listen: float = 2.0,
                  bbmd: str | None = None) -> dict[str, list[int]]:
    """Routers answering Who-Is-Router-To-Network (broadcast to ``targets``, or through ``bbmd``):
    each router's address → the networks it says it reaches, from every answer (two routers that
    claim one network are both listed)."""
    found: dict[str, set[int]] = {}
    nse = app.nse
    handler = nse.IAmRouterToNetwork

    async def answered(adapter: Any, npdu: Any) -> None:
        found.setdefault(str(npdu.pduSource), set()).update(npdu.iartnNetworkList)
        await handler(adapter, npdu)

    nse.IAmRouterToNetwork = answered
    try:
        netlayer.send(app, lambda f: netlayer.who_is_router_datagram(None, f), targets, bbmd)
        await asyncio.sleep(listen)
    finally:
        nse.IAmRouterToNetwork = handler
    return {router: sorted(networks) for router, networks in sorted(found.items())}


def shared_networks(found: dict[str, list[int]]) -> dict[int, list[str]]:
    """Networks that more than one router claims (network → routers)."""
    claims: dict[int, list[str]] = {}
    for router, networks in found.items():
        for network in networks:
            claims.setdefault(network, []).append(router)
    return {n: r for n, r in sorted(claims.items()) if len(r) > 1}


async def learned_routes(app: Any, networks: Sequence[int]) -> dict[int, str]:
    """The router bacpypes3 learnt for each of ``networks`` (``ip:port``), where it knows one."""
    out: dict[int, str] = {}
    for network in networks:
        router = await netlayer.wait_for_route(app, network, 0)
        if router is not None:
            out[network] = str(router)
    return out


async def read_names(app: Any, devices: Sequence[DeviceInfo], at_once: int = 16) -> None:
    """Fill each device's ``name`` and ``vendor_name``: one request per device, several at once.

    One ReadPropertyMultiple reads both (one ReadProperty each where the device
    refuses it); a device that answers neither keeps empty names, as a list of
    devices is still worth printing without them.
    """
    gate = asyncio.Semaphore(at_once)

    async def one(device: DeviceInfo) -> None:
        addr = Address(device.address)
        oid = ObjectIdentifier(("device", device.instance))
        values: dict[str, Any] = {}
        async with gate:
            try:
                for _oid, prop, _index, value in await app.read_property_multiple(
                        addr, [oid, ["object-name", "vendor-name"]]):
                    if type(value).__name__ != "ErrorType":
                        values[str(prop)] = value
            except ErrorRejectAbortNack:
                for prop in ("object-name", "vendor-name"):
                    try:
                        values[prop] = await app.read_property(addr, oid, prop)
                    except ErrorRejectAbortNack:
                        continue
        device.name = str(values.get("object-name", device.name) or "")
        device.vendor_name = str(values.get("vendor-name", "") or "")

    await asyncio.gather(*(one(d) for d in devices))


def plain_text(value: Any) -> str:
    """A property value as a person reads it: lists one item after another, names for enums."""
    if isinstance(value, ObjectIdentifier):
        return f"{value[0]},{value[1]}"
    if isinstance(value, BitString):  # the names of the bits that are set
        return str(value) or "(no bit set)"
    if isinstance(value, (list, tuple)) or type(value).__name__.startswith(("ArrayOf", "ListOf")):
        return "[" + ", ".join(plain_text(v) for v in value) + "]"
    choice = getattr(value, "_choice", None)
    if choice is not None:  # a choice (a priority-array slot, a timestamp …): the chosen part
        return "null" if choice == "null" else plain_text(getattr(value, choice))
    if hasattr(value, "get_value"):  # AnyAtomic
        return plain_text(value.get_value())
    return str(value)


async def read_property(app: Any, address: Any, obj: str, prop: str) -> Any:
    """One property of any object (``obj`` such as ``analog-input,1`` or ``device,260001``)."""
    try:
        oid = ObjectIdentifier(obj)
    except (ValueError, TypeError, KeyError):
        raise DriverError(f"{obj!r} is not a BACnet object: expected type,instance such as "
                          "'analog-input,1' or 'device,260001'") from None
    try:
        PropertyIdentifier(prop)
    except (ValueError, TypeError, KeyError):
        raise DriverError(f"bacnet {obj}: {prop!r} is not a BACnet property name: expected one "
                          "such as present-value, object-name, units, priority-array, "
                          "vendor-name") from None
    try:
        return await app.read_property(Address(address) if isinstance(address, str) else address,
                                       oid, prop)
    except ErrorRejectAbortNack as err:
        raise DriverError(f"bacnet {address} {obj} {prop}: {err}") from None
    except (ValueError, KeyError, AttributeError, TypeError) as err:
        # bacpypes3 decodes a value by its object type's class: an object type (or a
        # property of it) that it does not know fails there, e.g. a color object (63).
        raise DriverError(f"bacnet {address} {obj} {prop}: the value cannot be decoded "
                          f"(bacpypes3 does not know this object type's {prop}: "
                          f"{type(err).__name__}: {err})") from None


async def read_objects(app: Any, device: DeviceInfo,
                       progress: Callable[[int], None] | None = None) -> None:
    """Fill ``device.name`` and ``device.objects`` (object list, then each object's properties)."""
    addr = Address(device.address)
    dev_oid = ObjectIdentifier(("device", device.instance))
    try:
        device.name = str(await app.read_property(addr, dev_oid, "object-name"))
        try:
            objects = list(await app.read_property(addr, dev_oid, "object-list"))
        except ErrorRejectAbortNack:
            # No segmentation: read the list's length, then entry by entry.
            count = int(await app.read_property(addr, dev_oid, "object-list", array_index=0))
            objects = [await app.read_property(addr, dev_oid, "object-list", array_index=i)
                       for i in range(1, count + 1)]
    except ErrorRejectAbortNack as err:
        raise DeviceUnreachable(f"bacnet device {device.instance}: {err}") from None
    wanted = [o for o in objects if str(o[0]) in POINT_TYPES]
    # Names and descriptions make replies long (about 120 bytes an object): a device that
    # cannot segment gets as many objects per request as fit its APDU.
    sends_segments = device.segmentation in ("segmented-both", "segmented-transmit")
    size = 20 if sends_segments else max(1, min(20, (device.max_apdu - 3) // 120))
    for i in range(0, len(wanted), size):
        chunk = wanted[i : i + size]
        request: list[Any] = []
        for oid in chunk:
            props = ["object-name", "description", "present-value", "status-flags"]
            if str(oid[0]).startswith("analog"):
                props.append("units")
            if str(oid[0]).endswith(_WRITABLE):
                props.append("priority-array")
            request += [oid, props]
        no_array: set[tuple[str, int]] = set()  # answered unknown-property for priority-array
        try:
            result = await app.read_property_multiple(addr, request)
        except ErrorRejectAbortNack:
            result = []
            for oid in chunk:  # no RPM, or too big a reply: one property at a time
                extra: tuple[str, ...] = ("units",) if str(oid[0]).startswith("analog") else ()
                if str(oid[0]).endswith(_WRITABLE):
                    extra += ("priority-array",)
                for prop in ("object-name", "description", "present-value", "status-flags", *extra):
                    try:
                        result.append((oid, prop, None, await app.read_property(addr, oid, prop)))
                    except ErrorRejectAbortNack as err:
                        if prop == "priority-array" and "unknown-property" in str(err):
                            no_array.add((str(oid[0]), int(oid[1])))
                        continue
        props_of: dict[tuple[str, int], dict[str, Any]] = {}
        for oid, prop, _index, value in result:
            if type(value).__name__ != "ErrorType":
                props_of.setdefault((str(oid[0]), int(oid[1])), {})[str(prop)] = value
            elif str(prop) == "priority-array" and "unknown-property" in str(
                    getattr(value, "errorCode", "")):
                no_array.add((str(oid[0]), int(oid[1])))
        for oid in chunk:
            key = (str(oid[0]), int(oid[1]))
            p = props_of.get(key, {})
            unit = from_bacnet(str(p["units"])) if "units" in p else None
            device.objects.append(ObjectInfo(
                type=key[0], instance=key[1], name=str(p.get("object-name", "")),
                description=str(p.get("description", "") or ""),
                # A BACnet unit openbms does not know is left out rather than written as an
                # unknown unit that would fail 'openbms check'.
                units=unit.symbol if unit is not None and unit.symbol != "ratio" else None,
                value=p.get("present-value"),
                commandable=(True if "priority-array" in p else False if key in no_array
                             else None),
            ))
        if progress:
            progress(len(chunk))


# ---------------------------------------------------------------------------- guessing


@dataclass(frozen=True, slots=True)
class Rule:
    """A name pattern and what it tells: point name, Haystack tags, Brick class."""

    pattern: str
    name: str
    tags: tuple[str, ...]
    brick: str


#: Common vendor abbreviations, most specific first (Trane, JCI, Siemens, Distech styles).
RULES: tuple[Rule, ...] = (
    Rule(r"(SA|DA|SUP|DISCH)[-_ ]?(T|TEMP)(?![-_ ]?SP)", "sat", ("discharge", "air", "temp", "sensor"),
         "Supply_Air_Temperature_Sensor"),
    Rule(r"(SA|DA|SUP|DISCH)[-_ ]?(T|TEMP)[-_ ]?(SP|STPT)", "sat-sp", ("discharge", "air", "temp", "sp"),
         "Supply_Air_Temperature_Setpoint"),
    Rule(r"(RA|RET)[-_ ]?(T|TEMP)", "rat", ("return", "air", "temp", "sensor"),
         "Return_Air_Temperature_Sensor"),
    Rule(r"(MA|MIX)[-_ ]?(T|TEMP)", "mat", ("mixed", "air", "temp", "sensor"),
         "Mixed_Air_Temperature_Sensor"),
    Rule(r"(OA|OUT|OSA)[-_ ]?(T|TEMP)|^OAT$", "oat", ("outside", "air", "temp", "sensor"),
         "Outside_Air_Temperature_Sensor"),
    Rule(r"(ZN|ZONE|RM|SPACE)[-_ ]?(T|TEMP)[-_ ]?(SP|STPT)", "zone-sp", ("zone", "air", "temp", "sp"),
         "Zone_Air_Temperature_Setpoint"),
    Rule(r"(ZN|ZONE|RM|SPACE)[-_ ]?(T|TEMP)", "zone-temp", ("zone", "air", "temp", "sensor"),
         "Zone_Air_Temperature_Sensor"),
    Rule(r"CHWS[-_ ]?T|CHWST", "chwst", ("chilled", "water", "leaving", "temp", "sensor"),
         "Chilled_Water_Supply_Temperature_Sensor"),
    Rule(r"CHWR[-_ ]?T|CHWRT", "chwrt", ("chilled", "water", "entering", "temp", "sensor"),
         "Chilled_Water_Return_Temperature_Sensor"),
    Rule(r"HWS[-_ ]?T|HWST", "hwst", ("hot", "water", "leaving", "temp", "sensor"),
         "Hot_Water_Supply_Temperature_Sensor"),
    Rule(r"(FAN|SF)[-_ ]?(S|STAT|STATUS)$", "fan-status", ("fan", "run", "sensor"), "Fan_Status"),
    Rule(r"(FAN|SF)[-_ ]?(C|CMD|SS)$", "fan-cmd", ("fan", "cmd"), "Fan_Start_Stop_Command"),
    Rule(r"(FAN|SF)[-_ ]?(SPD|SPEED|VFD)", "fan-speed", ("fan", "speed", "cmd"), "Fan_Speed_Command"),
    Rule(r"(DSP|DUCT[-_ ]?SP|STATIC)", "dsp", ("discharge", "air", "pressure", "sensor"),
         "Supply_Air_Static_Pressure_Sensor"),
    Rule(r"(DMPR|DAMPER|DPR)", "damper", ("damper", "cmd"), "Damper_Position_Command"),
    Rule(r"(FLOW|CFM|AIRFLOW)", "airflow", ("air", "flow", "sensor"), "Air_Flow_Sensor"),
    Rule(r"(KW|DEMAND|POWER)$", "kw", ("elec", "power", "sensor"), "Electric_Power_Sensor"),
    Rule(r"(KWH|ENERGY)", "kwh", ("elec", "energy", "sensor"), "Electric_Energy_Sensor"),
    Rule(r"(RH|HUM)", "rh", ("air", "humidity", "sensor"), "Humidity_Sensor"),
    Rule(r"CO2", "co2", ("air", "co2", "sensor"), "CO2_Sensor"),
)


def slug(text: str) -> str:
    """A valid openbms id from any text."""
    s = re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-._")
    return (s or "x")[:64]


def guess(obj: ObjectInfo) -> tuple[str, tuple[str, ...], str | None]:
    """A point name, tags and Brick class for an object, from its name and description."""
    text = obj.name.upper()
    for rule in RULES:
        if re.search(rule.pattern, text):
            return rule.name, rule.tags, rule.brick
    tags: tuple[str, ...] = ("sensor",) if obj.type.endswith("input") else ("cmd",)
    if obj.units in ("degC", "degF"):
        tags = ("temp", *tags)
    return slug(obj.name), tags, None


_EQUIP = (("AHU", "ahu"), ("RTU", "rtu"), ("VAV", "vav"), ("FCU", "fcu"), ("CH", "chiller"),
          ("BLR", "boiler"), ("BOIL", "boiler"), ("PUMP", "pump"), ("METER", "meter"),
          ("MTR", "meter"))


def _relinquish_default(obj: ObjectInfo) -> float | bool | int | None:
    """A non-commandable object's present value as read by discovery, as the point's value."""
    try:
        if obj.type.startswith("binary"):
            return str(obj.value) == "active"
        if obj.type.startswith("multi-state"):
            return int(obj.value)
        return float(obj.value)
    except (TypeError, ValueError):
        return None


def equipment_type(name: str) -> str:
    """An equipment type guessed from a device name."""
    upper = name.upper()
    for key, kind in _EQUIP:
        if key in upper:
            return kind
    return "other"


def site_document(site_id: str, devices: Sequence[DeviceInfo],
                  driver_settings: dict[str, Any]) -> dict[str, Any]:
    """A site document (ready for YAML) with one equipment per device and a point per object."""
    equipment = []
    used: set[str] = set()
    for dev in devices:
        base = slug(dev.name or f"device-{dev.instance}")
        eid = base if base not in used else f"{base}-{dev.instance}"
        used.add(eid)
        points = []
        names: set[str] = set()
        for obj in dev.objects:
            name, tags, brick = guess(obj)
            unique, n = name, 2
            while unique in names:
                unique, n = f"{name}-{n}", n + 1
            names.add(unique)
            point: dict[str, Any] = {"name": unique}
            if obj.type.startswith("binary"):
                point["kind"] = "bool"
            if obj.units:
                point["unit"] = obj.units
            if obj.description or obj.name:
                point["description"] = obj.description or obj.name
            point["tags"] = list(tags)
            if brick:
                point["brick"] = brick
            if obj.type.endswith(_WRITABLE):
                point["writable"] = True
                if obj.commandable is False:
                    # No priority array: nothing to release on the device, so the arbiter
                    # writes the value found here back when the last command ends.
                    default = _relinquish_default(obj)
                    if default is not None:
                        point["relinquish_default"] = default
            point["binding"] = f"bacnet://{dev.instance}/{obj.type},{obj.instance}"
            points.append(point)
        equipment.append({"id": eid, "type": equipment_type(dev.name), "name": dev.name,
                          "points": points})
    return {
        "site": {"id": slug(site_id), "name": site_id, "timezone": "UTC"},
        "drivers": {"bacnet": driver_settings},
        "equipment": equipment,
    }
