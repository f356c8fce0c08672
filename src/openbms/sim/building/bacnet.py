"""The emulated building's BACnet/IP face: one simulated device per controller, on loopback.

``BuildingFace`` turns a ``Building``'s points into BACnet objects, grouped
into devices by ``device_of`` (``ahu-1``, ``vav-<zone>``, ``chiller-plant``,
``boiler-plant``, ``meters``), each a ``SimulatedDevice`` on its own
``<subnet>.<host>`` address. Object names follow the vendor abbreviations
that ``openbms bacnet discover`` recognises (``SA-T``, ``ZN-T``, ``CHWS-T``…):
``OBJECT_NAMES`` is the table. Read-only points become inputs, writable ones
commandable values whose relinquish default is the building's own value.

``publish`` copies the building's values into the objects after a step
(only those that changed) and flags failed sensors as faults;
``apply_writes`` gives the building the effective value of each
commandable object's priority array before a step. A built-in sequence run
next to the face writes the relinquish default (``run_sequence``), so a
network command still wins over it, as it would over a controller's local
program.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from openbms.sim.bacnet import DEVICE_PORT, ObjectSpec, SimulatedBACnet, SimulatedDevice
from openbms.sim.building.building import Building
from openbms.sim.building.faults import FailedSensor
from openbms.sim.building.points import PointSpec, Value, device_of

__all__ = ["DEVICE_HOSTS", "OBJECT_NAMES", "UNITS", "BuildingFace", "FaceDevice", "ObjectName", "describe",
           "object_name", "object_type"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ObjectName:
    """The BACnet object name of an emulator point.

    ``point`` generalises the point's device: ``vav/zone-t`` for every box,
    ``ch-{n}/enable`` for each chiller; ``{n}`` in ``name`` is that number.
    """

    point: str
    name: str


#: Point → BACnet object name. Names the discovery rules know (SA-T, ZN-T, OA-T, CHWS-T, SF-S…)
#: become the usual point names and tags; the others are slugged (``OCC-CLG-SP`` → ``occ-clg-sp``).
OBJECT_NAMES: tuple[ObjectName, ...] = (
    # Air handler
    ObjectName("ahu-1/enable", "SF-C"),
    ObjectName("ahu-1/fan-status", "SF-S"),
    ObjectName("ahu-1/sf-speed", "SF-SPD"),
    ObjectName("ahu-1/sf-kw", "SF-KW"),
    ObjectName("ahu-1/sat", "SA-T"),
    ObjectName("ahu-1/sat-sp", "SA-T-SP"),
    ObjectName("ahu-1/mat", "MA-T"),
    ObjectName("ahu-1/rat", "RA-T"),
    ObjectName("ahu-1/ra-rh", "RA-RH"),
    ObjectName("ahu-1/oat", "OA-T"),
    ObjectName("ahu-1/oa-rh", "OA-RH"),
    ObjectName("ahu-1/oa-damper", "OA-DMPR"),
    ObjectName("ahu-1/oa-min", "OA-MIN"),
    ObjectName("ahu-1/econ-enable", "ECON-ENABLE"),
    ObjectName("ahu-1/dsp", "DSP"),
    ObjectName("ahu-1/dsp-sp", "DSP-SP"),
    ObjectName("ahu-1/ccv", "CLG-VALVE"),
    ObjectName("ahu-1/hcv", "HTG-VALVE"),
    ObjectName("ahu-1/airflow", "SA-FLOW"),
    ObjectName("ahu-1/oa-flow", "OA-FLOW"),
    ObjectName("ahu-1/cc-kw", "CLG-LOAD"),
    ObjectName("ahu-1/hc-kw", "HTG-LOAD"),
    # VAV boxes
    ObjectName("vav/zone-t", "ZN-T"),
    ObjectName("vav/zone-rh", "ZN-RH"),
    ObjectName("vav/occ-sensor", "OCC-SENSOR"),
    ObjectName("vav/occupied", "OCC-MODE"),
    ObjectName("vav/occ-heat-sp", "OCC-HTG-SP"),
    ObjectName("vav/occ-cool-sp", "OCC-CLG-SP"),
    ObjectName("vav/unocc-heat-sp", "UNOCC-HTG-SP"),
    ObjectName("vav/unocc-cool-sp", "UNOCC-CLG-SP"),
    ObjectName("vav/heat-sp", "EFF-HTG-SP"),
    ObjectName("vav/cool-sp", "EFF-CLG-SP"),
    ObjectName("vav/airflow", "AIRFLOW"),
    ObjectName("vav/airflow-sp", "AIRFLOW-SP"),
    ObjectName("vav/damper", "DMPR-POS"),
    ObjectName("vav/reheat-valve", "REHEAT-VLV"),
    ObjectName("vav/reheat-kw", "REHEAT-LOAD"),
    ObjectName("vav/discharge-t", "DA-T"),
    # Chiller plant
    ObjectName("ch-{n}/enable", "CH-{n}-EN"),
    ObjectName("ch-{n}/status", "CH-{n}-STATUS"),
    ObjectName("ch-{n}/alarm", "CH-{n}-ALARM"),
    ObjectName("ch-{n}/kw", "CH-{n}-KW"),
    ObjectName("ch-{n}/load-kw", "CH-{n}-LOAD"),
    ObjectName("ch-{n}/capacity-kw", "CH-{n}-CAP"),
    ObjectName("ch-{n}/cop", "CH-{n}-COP"),
    ObjectName("chw/supply-t", "CHWS-T"),
    ObjectName("chw/return-t", "CHWR-T"),
    ObjectName("chw/supply-t-sp", "CHW-SP"),
    ObjectName("chw/load-kw", "CHW-LOAD"),
    ObjectName("chwp-{n}/enable", "CHWP-{n}-EN"),
    ObjectName("chwp-{n}/status", "CHWP-{n}-STATUS"),
    ObjectName("chwp-{n}/kw", "CHWP-{n}-KW"),
    # Boiler plant
    ObjectName("blr-{n}/enable", "BLR-{n}-EN"),
    ObjectName("blr-{n}/status", "BLR-{n}-STATUS"),
    ObjectName("blr-{n}/gas-kw", "BLR-{n}-GAS-KW"),
    ObjectName("blr-{n}/load-kw", "BLR-{n}-LOAD"),
    ObjectName("blr-{n}/capacity-kw", "BLR-{n}-CAP"),
    ObjectName("blr-{n}/efficiency", "BLR-{n}-EFF"),
    ObjectName("hw/supply-t", "HWS-T"),
    ObjectName("hw/return-t", "HWR-T"),
    ObjectName("hw/supply-t-sp", "HW-SP"),
    ObjectName("hw/load-kw", "HW-LOAD"),
    ObjectName("hwp-{n}/enable", "HWP-{n}-EN"),
    ObjectName("hwp-{n}/status", "HWP-{n}-STATUS"),
    ObjectName("hwp-{n}/kw", "HWP-{n}-KW"),
    # Meters
    ObjectName("meter-elec/kw", "ELEC-KW"),
    ObjectName("meter-elec/kwh", "ELEC-KWH"),
    ObjectName("meter-elec/lighting-kw", "LTG-KW"),
    ObjectName("meter-elec/plugs-kw", "PLUG-KW"),
    ObjectName("meter-elec/hvac-kw", "HVAC-KW"),
    ObjectName("meter-gas/kw", "GAS-KW"),
    ObjectName("meter-gas/kwh", "GAS-KWH"),
)

#: Emulator unit → (BACnet engineering units, COV increment).
UNITS: dict[str, tuple[str, float]] = {
    "degC": ("degrees-celsius", 0.1),
    "%": ("percent", 1.0),
    "%RH": ("percent-relative-humidity", 1.0),
    "Pa": ("pascals", 2.0),
    "L/s": ("liters-per-second", 5.0),
    "kW": ("kilowatts", 0.5),
    "kWh": ("kilowatt-hours", 1.0),
    "W/W": ("no-units", 0.05),
}

#: Device group → host number on the subnet (VAV boxes take 11, 12, … in zone order).
DEVICE_HOSTS: dict[str, int] = {"ahu-1": 1, "chiller-plant": 2, "boiler-plant": 3, "meters": 4}
_FIRST_VAV_HOST = 11

_NUMBERED = re.compile(r"(ch|chwp|blr|hwp)-(\d+)$")
_BY_POINT = {row.point: row.name for row in OBJECT_NAMES}


def object_name(point: str) -> str:
    """The BACnet object name of an emulator point (``vav-s1/zone-t`` → ``ZN-T``)."""
    dev, _, rest = point.partition("/")
    n = ""
    if dev.startswith("vav-"):
        key = f"vav/{rest}"
    elif m := _NUMBERED.match(dev):
        key, n = f"{m.group(1)}-{{n}}/{rest}", m.group(2)
    else:
        key = point
    try:
        return _BY_POINT[key].replace("{n}", n)
    except KeyError:
        raise KeyError(f"no BACnet object name for point {point!r}: add a row to OBJECT_NAMES") from None


def object_type(spec: PointSpec) -> str:
    """Sensors are inputs; supervisory inputs are commandable values."""
    kind = "binary" if spec.kind == "binary" else "analog"
    return f"{kind}-value" if spec.writable else f"{kind}-input"


def _same(a: Value | None, b: Value | None) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@dataclass(slots=True)
class FaceDevice:
    """One controller of the building on BACnet: its group, device and point → object map."""

    group: str
    device: SimulatedDevice
    objects: dict[str, tuple[str, int]]

    @property
    def instance(self) -> int:
        return self.device.instance

    @property
    def address(self) -> str:
        return self.device.address


class BuildingFace:
    """Serves a ``Building`` over BACnet/IP: one simulated device per controller.

    Device ``group`` is at ``<subnet>.<host>:<port>`` (``DEVICE_HOSTS``; VAV
    boxes from host 11) with instance ``first_instance + host``. Call
    ``start``/``stop`` from the event loop; ``apply_writes`` before each
    step, ``publish`` after.
    """

    def __init__(self, building: Building, subnet: str = "127.0.20", port: int = DEVICE_PORT,
                 first_instance: int = 2000) -> None:
        self.building = building
        self.subnet, self.port = subnet, port
        self.devices: dict[str, FaceDevice] = {}
        self._where: dict[str, tuple[SimulatedDevice, tuple[str, int]]] = {}
        self._published: dict[str, Value] = {}
        self._applied: dict[str, Value] = {}
        self._faulted: dict[str, str] = {}
        self._refused: set[str] = set()
        values = building.points()
        specs_of: dict[str, list[ObjectSpec]] = {}
        objects_of: dict[str, dict[str, tuple[str, int]]] = {}
        counters: dict[tuple[str, str], int] = {}
        for spec in building.point_specs():
            group = device_of(spec.name)
            otype = object_type(spec)
            n = counters[(group, otype)] = counters.get((group, otype), 0) + 1
            units, cov = UNITS.get(spec.unit, (None, 0.0))
            value = values[spec.name]
            specs_of.setdefault(group, []).append(ObjectSpec(
                otype, n, object_name(spec.name), bool(value) if spec.kind == "binary" else float(value),
                units if spec.kind == "analog" else None, spec.description, cov_increment=cov))
            objects_of.setdefault(group, {})[spec.name] = (otype, n)
            self._published[spec.name] = values[spec.name]
            if spec.writable:
                self._applied[spec.name] = values[spec.name]
        vav = _FIRST_VAV_HOST
        for group, specs in specs_of.items():
            if group in DEVICE_HOSTS:
                host = DEVICE_HOSTS[group]
            else:
                host, vav = vav, vav + 1
            if host > 254:
                raise ValueError(f"too many devices for one subnet: {group} would be host {host}")
            device = SimulatedDevice(first_instance + host, f"{subnet}.{host}", specs,
                                     name=group.upper(), port=port)
            self.devices[group] = FaceDevice(group, device, objects_of[group])
            for point, oid in objects_of[group].items():
                self._where[point] = (device, oid)
        self.sim = SimulatedBACnet(d.device for d in self.devices.values())

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind every device's socket (from a running event loop) and publish the present values."""
        self.sim.start()
        self.publish()

    async def bound(self, within: float = 10.0) -> None:
        """Wait until every device's sockets are bound (bacpypes3 binds them in background tasks)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not all(_is_bound(d.device) for d in self.devices.values()):
            if loop.time() > deadline:
                raise OSError(f"the emulator's devices on {self.subnet}.x:{self.port} could not bind")
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        """Close every device's socket."""
        self.sim.stop()

    # --- where things are -----------------------------------------------------------------------

    def binding(self, point: str) -> str:
        """The openbms binding of an emulator point: ``bacnet://2001/analog-input,5``."""
        device, (otype, n) = self._where[point]
        return f"bacnet://{device.instance}/{otype},{n}"

    def object_of(self, point: str) -> tuple[SimulatedDevice, tuple[str, int]]:
        """The device serving a point and the point's object identifier."""
        return self._where[point]

    def address_map(self) -> dict[int, str]:
        """Device instance → ``ip:port``, as the BACnet driver's ``devices`` setting takes it."""
        return {d.instance: d.address for d in self.devices.values()}

    # --- values ---------------------------------------------------------------------------------

    def publish(self) -> None:
        """Copy the building's present values into the objects: inputs that changed, and status flags.

        Commandable objects are not touched here: their present value is
        their priority array's, and the building follows it (``apply_writes``).
        """
        values = self.building.points()
        published = self._published
        for point, value in values.items():
            if point in self._applied or _same(published.get(point), value):
                continue
            device, oid = self._where[point]
            if device.app is not None:
                device.set_value(oid, bool(value) if oid[0].startswith("binary") else float(value))
            published[point] = value
        self._flag_faults()

    def _flag_faults(self) -> None:
        failed = {f.point: ("no-sensor" if math.isnan(f.value) else "unreliable-other")
                  for f in self.building.faults if isinstance(f, FailedSensor)}
        if failed == self._faulted:
            return
        for point in self._faulted.keys() | failed.keys():
            reliability = failed.get(point, "no-fault-detected")
            if self._faulted.get(point) == reliability or point not in self._where:
                continue
            device, oid = self._where[point]
            obj = device.objects.get(oid)
            if obj is not None:
                obj.reliability = reliability
        self._faulted = failed

    def effective(self, point: str) -> Value:
        """A commandable point's effective value: its highest priority, else its relinquish default."""
        device, oid = self._where[point]
        obj = device.objects.get(oid) if device.app is not None else None
        if obj is None:
            return self._applied[point]
        # bacpypes3 keeps the present value as a plain attribute; its own getter costs ~50 µs
        # (inspect.getattr_static), which polling every commandable object each step cannot afford.
        value = object.__getattribute__(obj, "presentValue")
        return str(value) == "active" if oid[0].startswith("binary") else float(value)

    def apply_writes(self) -> list[str]:
        """Give the building the effective value of every commandable object that changed.

        Returns the points written. A value the building refuses (not a
        finite number) is logged once and left out.
        """
        changed = []
        for point, last in self._applied.items():
            value = self.effective(point)
            if _same(value, last):
                continue
            self._applied[point] = value
            try:
                self.building.set(point, value)
            except ValueError as err:
                if point not in self._refused:
                    self._refused.add(point)
                    _log.warning("emulator refused a BACnet write to %s: %s", point, err)
                continue
            self._refused.discard(point)
            changed.append(point)
        return changed

    def run_sequence(self, sequence: Callable[[Building], None]) -> None:
        """Run a built-in sequence as the controllers' local program, below every BACnet priority.

        What it writes becomes the relinquish default of that object; the
        building then takes the effective value, so a network command wins.
        """
        before = {point: self.building.get(point) for point in self._applied}
        sequence(self.building)
        for point, old in before.items():
            new = self.building.get(point)
            if _same(new, old):
                continue
            self.set_default(point, new)
            self._applied[point] = new  # so a network command that holds a priority is re-applied

    def set_default(self, point: str, value: Value) -> None:
        """Change a commandable object's relinquish default (its value when no priority holds one)."""
        device, oid = self._where[point]
        obj = device.objects.get(oid)
        if obj is None:
            return
        obj.relinquishDefault = ("active" if value else "inactive") if oid[0].startswith("binary") \
            else float(value)
        obj.recalculating()

    def points(self) -> Iterable[str]:
        """Every point served."""
        return self._where.keys()


def _is_bound(device: SimulatedDevice) -> bool:
    if device.app is None:
        return False
    for layer in device.app.link_layers.values():
        server = getattr(layer, "server", None)
        if server is None or getattr(server, "local_transport", None) is None:
            return False
        if os.name != "nt" and getattr(server, "broadcast_transport", None) is None:
            return False
    return True


def describe(face: BuildingFace) -> list[tuple[str, int, str, str, int]]:
    """One row per device: group, instance, address, device name, object count."""
    return [(d.group, d.instance, d.address, d.device.name, len(d.objects)) for d in face.devices.values()]
