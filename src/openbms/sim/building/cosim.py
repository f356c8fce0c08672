"""Co-simulation: openbms's control layer and the emulated building in one process, with no network.

The site file that runs against the building served over BACnet
(``examples/demo/site.yaml``, with its ``bacnet://2001/analog-value,1``
bindings) runs here unchanged: ``BuildingDriver`` stands in for the BACnet
driver and reads and writes the ``Building`` directly, translating each
binding to the emulator point that ``BuildingFace`` would serve as that
object (``bacnet_points``). ``CoSimulation`` builds what ``Runtime``
starts for control with the same ``Assembly`` (``openbms.service.assembly``)
— a bus and its cache, the driver manager, the arbiter, the schedule runner
and the logic programs — on a ``ManualClock``, and moves the clock and the
building forward together, as fast as the machine allows. The state
database, historian, alarms and API are left out: nothing here needs them,
and the KPIs come from the building's meters.

One step of ``step`` seconds (60 by default): the building advances, the
clock follows it (the driver manager polls, the schedules fire at their
exact times), the programs tick, and every write they cause reaches the
building before its next step. Polls happen at most once a step, since the
building's values only change between steps.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from openbms.control.arbiter import Arbiter
from openbms.control.programs import ProgramEngine, ProgramError, parse_program
from openbms.control.programs.model import Program
from openbms.control.schedules import ScheduleRunner
from openbms.drivers.base import Driver, DriverBase
from openbms.drivers.manager import DriverManager
from openbms.drivers.registry import create_driver
from openbms.errors import PointError, WriteRefused
from openbms.model.binding import Binding, parse_binding
from openbms.model.sample import FAULT, Reading, Value
from openbms.model.site import DriverSettings, SiteConfig
from openbms.runtime.bus import Bus
from openbms.runtime.cache import CurrentValueCache
from openbms.runtime.clock import Clock, ManualClock
from openbms.service.assembly import Assembly
from openbms.sim.building.bacnet import _FIRST_VAV_HOST, DEVICE_HOSTS, object_type
from openbms.sim.building.building import Building
from openbms.sim.building.faults import FailedSensor
from openbms.sim.building.kpi import Kpis
from openbms.sim.building.mqtt import sensor_topics
from openbms.sim.building.points import device_of

__all__ = ["BuildingDriver", "CoSimulation", "ZoneSensorsDriver", "bacnet_points", "building_timezone",
           "cosim_drivers", "cosimulate", "demo_site_path", "load_control"]

_log = logging.getLogger(__name__)

#: The one device key of ``BuildingDriver``: the whole building is read in one request per poll.
DEVICE = "building"


def demo_site_path() -> Path:
    """The demo site file that ships with openbms (``examples/demo/site.yaml``)."""
    return Path(str(resources.files("openbms.examples") / "demo" / "site.yaml"))


def load_control(path: Path | None = None) -> tuple[SiteConfig, list[Program]]:
    """The site and the logic programs to co-simulate.

    ``None``: the demo site and its programs. A site file, or a folder with a
    ``site.yaml``: that site and its programs. A folder of program JSON files
    without a site file: those programs, with the demo site's points and
    schedules. Raises ``ConfigError`` or ``ProgramError`` for a file that does
    not load, ``ValueError`` for a path that is neither.
    """
    from openbms.config import load_site

    if path is None:
        site = load_site(demo_site_path())
        return site, _site_programs(site)
    if path.is_file():
        site = load_site(path)
        return site, _site_programs(site)
    if (path / "site.yaml").is_file():
        site = load_site(path / "site.yaml")
        return site, _site_programs(site)
    files = sorted(path.glob("*.json")) if path.is_dir() else []
    if not files:
        raise ValueError(f"{path}: expected a site file, a folder with a site.yaml, or a folder of "
                         "program JSON files")
    return load_site(demo_site_path()), [parse_program(f) for f in files]


def _site_programs(site: SiteConfig) -> list[Program]:
    paths = site.program_paths()
    return [parse_program(p) for p in paths]


def cosimulate(site: SiteConfig, programs: Iterable[Program], building: Building, seconds: float, *,
               warmup: float = 86400.0, step: float = 60.0,
               progress: Callable[[float], None] | None = None) -> Kpis:
    """Co-simulate ``seconds`` (after an uncounted ``warmup``) on a new event loop; return the KPIs."""

    async def main() -> Kpis:
        async with CoSimulation(site, building, programs, step=step) as cosim:
            return await cosim.run(seconds, warmup, progress)

    return asyncio.run(main())


def bacnet_points(building: Building, first_instance: int = 2000) -> dict[str, str]:
    """``"<instance>/<object-type>,<n>"`` → emulator point, as ``BuildingFace`` serves the building.

    Devices are grouped by ``device_of`` with instance ``first_instance + host``
    (``DEVICE_HOSTS``; VAV boxes from host 11 in zone order) and objects are
    numbered per type in point order, so ``2001/analog-value,1`` is ``ahu-1/sat-sp``.
    """
    counters: dict[tuple[str, str], int] = {}
    hosts: dict[str, int] = {}
    vav = _FIRST_VAV_HOST
    out: dict[str, str] = {}
    for spec in building.point_specs():
        group = device_of(spec.name)
        if group not in hosts:
            if group in DEVICE_HOSTS:
                hosts[group] = DEVICE_HOSTS[group]
            else:
                hosts[group], vav = vav, vav + 1
        otype = object_type(spec)
        n = counters[(group, otype)] = counters.get((group, otype), 0) + 1
        out[f"{first_instance + hosts[group]}/{otype},{n}"] = spec.name
    return out


def building_timezone(building: Building) -> str:
    """The IANA zone of the building's local standard time (``Etc/GMT+6`` for UTC−6; no daylight saving)."""
    offset = building.weather.utc_offset
    if offset != int(offset):
        raise ValueError(f"co-simulation needs a whole-hour UTC offset; the weather's is {offset:g} h")
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-int(offset):+d}"


class BuildingDriver(DriverBase):
    """A driver that reads and writes a ``Building`` in the same process, in place of a protocol driver.

    ``objects`` maps a binding's ``device/path`` to an emulator point
    (``bacnet_points``). Each writable point has a 16-level priority array:
    the highest non-empty level goes to ``Building.set``, and with every
    level empty the building's own value from when the driver was made
    (its default) does. A failed sensor reads ``fault``. Every binding
    belongs to one device, so a poll is one read of the whole building.
    """

    batch_size = 100_000

    def __init__(self, building: Building, objects: Mapping[str, str], name: str = "bacnet") -> None:
        self.name = name
        self.building = building
        self.objects = dict(objects)
        specs = {s.name: s for s in building.point_specs()}
        self._binary = {n for n, s in specs.items() if s.kind == "binary"}
        self._writable = {n for n, s in specs.items() if s.writable}
        values = building.points()
        self.defaults: dict[str, Value] = {n: self._plain(n, values[n]) for n in self._writable}
        self._slots: dict[str, list[Value]] = {}

    def device_key(self, binding: Binding) -> str:
        return DEVICE

    def point_of(self, binding: Binding) -> str:
        """The emulator point a binding names; ``PointError`` for an object the building does not have."""
        point = self.objects.get(f"{binding.device}/{binding.path}")
        if point is None:
            raise PointError(f"{binding}: the emulated building has no such object")
        return point

    def _plain(self, point: str, value: Any) -> Value:
        if point in self._binary:
            return bool(value)
        v = float(value)
        return None if math.isnan(v) else v

    async def read(self, device: str, bindings: Sequence[Binding]) -> list[Reading]:
        b = self.building
        values = b.points() if len(bindings) > 4 else None
        failed = {f.point for f in b.faults if isinstance(f, FailedSensor)}
        binary, objects = self._binary, self.objects
        out = []
        for binding in bindings:
            point = objects.get(f"{binding.device}/{binding.path}")
            if point is None:
                out.append(Reading(None, FAULT, f"{binding}: the emulated building has no such object"))
                continue
            raw = values[point] if values is not None else b.get(point)
            if point in binary:
                value: Value = bool(raw)
            else:
                value = float(raw)
                if value != value:  # NaN: a failed sensor
                    value = None
            out.append(Reading(value, FAULT, f"{point}: sensor failed (emulated fault)") if point in failed
                       else Reading(value))
        return out

    async def write(self, binding: Binding, value: Value, priority: int | None) -> None:
        level = 16 if priority is None else priority
        if not 1 <= level <= 16:
            raise WriteRefused(f"{binding}: priority {level} is outside 1–16")
        try:
            point = self.point_of(binding)
        except PointError as err:
            raise WriteRefused(str(err)) from None
        if point not in self._writable:
            raise WriteRefused(f"{binding}: {point} is read-only")
        slots = self._slots.setdefault(point, [None] * 16)
        before = slots[level - 1]
        slots[level - 1] = value
        effective = next((v for v in slots if v is not None), self.defaults[point])
        try:
            if not isinstance(effective, float | int):  # bool is an int
                raise TypeError(f"expected a number or true/false, not {type(effective).__name__}")
            self.building.set(point, effective)
        except (ValueError, TypeError) as err:
            slots[level - 1] = before
            raise WriteRefused(f"{binding}: the building refused {value!r}: {err}") from err

    def priority_array(self, binding: Binding) -> list[Value]:
        """The 16 levels of a binding's point (None where empty)."""
        return list(self._slots.get(self.point_of(binding)) or [None] * 16)


class ZoneSensorsDriver(DriverBase):
    """The emulator's MQTT sensors read in-process, in place of the MQTT driver: a binding of one of
    ``MqttSensors``' topics (``mqtt://sensors/zone-c1/co2``, ``…/occupancy``) reads the building's
    CO2 (whole ppm, as published) or occupants. Read-only; any other topic reads ``fault``."""

    batch_size = 100_000

    def __init__(self, building: Building, prefix: str = "sensors") -> None:
        self.name = "mqtt"
        self.building = building
        self._index: dict[str, tuple[str, int]] = {}
        for i, zone in enumerate(building.layout.ids):
            co2, occupancy = sensor_topics(zone, prefix)
            self._index[co2], self._index[occupancy] = ("co2", i), ("occupants", i)

    def device_key(self, binding: Binding) -> str:
        return DEVICE

    async def read(self, device: str, bindings: Sequence[Binding]) -> list[Reading]:
        air = self.building.air
        out = []
        for binding in bindings:
            found = self._index.get(f"{binding.device}/{binding.path}")
            if found is None:
                out.append(Reading(None, FAULT, f"{binding}: the emulated building publishes no such topic"))
            elif found[0] == "co2":
                out.append(Reading(float(round(float(air.co2[found[1]])))))
            else:
                out.append(Reading(int(air.occupants[found[1]])))
        return out

    async def write(self, binding: Binding, value: Value, priority: int | None) -> None:
        raise WriteRefused(f"{binding}: the emulated building's MQTT sensors take no commands")


def cosim_drivers(site: SiteConfig, building: Building, clock: Clock) -> dict[str, Driver]:
    """The drivers a site's bindings need in co-simulation, in place of ``create_driver``.

    ``bacnet://`` bindings go to the building (``BuildingDriver``), ``mqtt://``
    ones to its MQTT sensors (``ZoneSensorsDriver``); ``sim://`` points keep
    their usual in-process driver. A scheme whose driver the site disables
    (the shipped demo site's ``mqtt``, until ``openbms demo`` starts a broker)
    is left out, as the assembly leaves its points unbound. Any other scheme
    would need a network and is refused with ``ValueError``.
    """
    schemes = sorted({parse_binding(p.binding).scheme for _pid, _eq, p in site.points() if p.binding})
    drivers: dict[str, Driver] = {}
    for scheme in schemes:
        settings = site.drivers.get(scheme)
        if settings is not None and not settings.enabled:
            continue
        if scheme == "bacnet":
            drivers[scheme] = BuildingDriver(building, bacnet_points(building))
        elif scheme == "sim":
            drivers[scheme] = create_driver(scheme, site.drivers.get(scheme, DriverSettings()), clock)
        elif scheme == "mqtt":
            drivers[scheme] = ZoneSensorsDriver(building)
        else:
            raise ValueError(f"co-simulation serves bacnet:// and mqtt:// (the emulated building) and "
                             f"sim:// bindings; site {site.site.id} also uses {scheme}://")
    return drivers


class CoSimulation:
    """A site's schedules and logic programs controlling a ``Building``, in lockstep on a ``ManualClock``.

    ``programs`` default to the site file's own. Use as an async context
    manager (or ``start``/``stop``) and move time with ``advance``; ``run``
    does a whole scenario and returns the KPIs. Schedules run on the
    building's local standard time (``building_timezone``), whatever the
    site's time zone, so a schedule's 07:00 is the building's 07:00.
    """

    def __init__(self, site: SiteConfig, building: Building, programs: Iterable[Program] | None = None,
                 *, step: float = 60.0) -> None:
        if step <= 0:
            raise ValueError("the step must be a positive number of seconds")
        self.site, self.building, self.step = site, building, float(step)
        self.clock = ManualClock(building.timestamp)
        #: The parts, built and wired to the bus as ``Runtime`` builds its own.
        self.assembly = Assembly([site], self.clock)
        self.drivers = cosim_drivers(site, building, self.clock)
        self.programs = _site_programs(site) if programs is None else list(programs)
        self.engine: ProgramEngine | None = None

    @property
    def bus(self) -> Bus:
        """The bus the driver manager publishes on."""
        return self.assembly.bus

    @property
    def cache(self) -> CurrentValueCache:
        """The latest sample of every point."""
        return self.assembly.cache

    @property
    def manager(self) -> DriverManager | None:
        """The driver manager (polls at most once a step)."""
        return self.assembly.manager

    @property
    def arbiter(self) -> Arbiter | None:
        """The priority arrays the schedules and programs write into."""
        return self.assembly.arbiter

    @property
    def schedules(self) -> ScheduleRunner | None:
        """The site's schedule runner, if it has schedules."""
        return self.assembly.schedules.get(self.site.site.id)

    async def start(self) -> None:
        """Start polling, the arbiter, the schedules and the programs, as ``Runtime`` does."""
        assembly = self.assembly
        await assembly.start_history(None)  # the cache only: the KPIs come from the building
        # Every bound point, polled at its interval rounded up to the step.
        await assembly.start_drivers(self.drivers, min_interval=self.step, seed=0)
        await assembly.start_arbiter()
        await assembly.start_site_services(
            timezones={self.site.site.id: building_timezone(self.building)})

        async def load(engine: ProgramEngine) -> None:
            for program in self.programs:
                try:
                    engine.load(program, 1)
                except ProgramError as err:
                    raise ValueError(f"program {program.id} does not run: {err}") from err

        # Budgets per simulated minute: a co-simulation runs days in seconds, and a program's cost
        # is judged against the building's time it controls, not against the wall. The programs
        # tick from ``advance``, once a step: a task waking every second on the ManualClock would
        # cost more than the building's physics.
        self.engine = await assembly.start_programs(load, timer=self.clock.monotonic, ticking=False)
        await self._settle()

    async def stop(self) -> None:
        """Stop in reverse order."""
        await self.assembly.stop()

    async def __aenter__(self) -> CoSimulation:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _settle(self) -> None:
        """Let every evaluation and write caused so far reach the building."""
        assert self.engine is not None
        await self.engine.idle()
        while pending := [t for t in self.assembly.background if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
            await self.engine.idle()

    async def advance(self, seconds: float) -> None:
        """Move the building and the control layer ``seconds`` forward, a step at a time."""
        assert self.engine is not None
        steps = max(1, round(seconds / self.step))
        dt = seconds / steps
        for _ in range(steps):
            self.building.step(dt)
            await self.clock.set(self.building.timestamp)
            await self.engine.tick(self.clock.now())
            await self._settle()

    async def run(self, seconds: float, warmup: float = 0.0,
                  progress: Callable[[float], None] | None = None) -> Kpis:
        """Simulate ``warmup`` seconds uncounted, then ``seconds`` counted; return the KPIs.

        ``progress`` is called with the fraction done about every simulated hour.
        """
        total = round((warmup + seconds) / self.step)
        warm = round(warmup / self.step)
        every = max(1, int(3600 / self.step))
        for k in range(total):
            if k == warm:
                self.building.kpi.reset()
            await self.advance(self.step)
            if progress is not None and k % every == 0:
                progress((k + 1) / total)
        if warm >= total:
            self.building.kpi.reset()
        return self.building.kpi.result()
