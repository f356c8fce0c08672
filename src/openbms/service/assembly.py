"""The one assembly: a site's control and history parts, built from its configuration and wired to the bus.

::

    drivers ─▶ driver manager ─▶ bus ──▶ historian          start_history
                    ▲                 ├─▶ current-value cache start_history
                    │                 ├─▶ arbiter            start_arbiter (when a point is writable)
                    │                 ├─▶ logic programs     start_programs
                    │                 ├─▶ alarms             start_site_services (their own rules' points)
                    │                 └─▶ MQTT bridge        start_site_services (a site with mqtt:
                    │                                        bridge, given a data folder: its outbox)
                    └── arbiter ◀── schedules, programs, the API's commands

``Assembly`` is the only code that subscribes these parts to the bus and the
only place a driver manager, an arbiter, a schedule runner, an alarm service
or a program engine is made for a running system. ``Runtime`` (``openbms
run``), the co-simulation and the benchmarks build theirs with it, calling the
steps they need in this order: history, drivers, arbiter, site services,
programs. Each step pushes how to undo it on one stack; ``stop`` undoes them
in reverse, so the programs stop before the arbiter they write to, the
arbiter before the driver manager, and the historian after every producer.

``subscriptions`` lists what the assembly subscribed, in order: a new bus
subscriber (an MQTT bridge, a second store) is one more step here, and every
user of the assembly gets it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from openbms.alarms import point_texts
from openbms.alarms.service import AlarmService
from openbms.control.arbiter import Arbiter, PointIO
from openbms.control.commands import CommandStore
from openbms.control.programs import ProgramEngine, arbiter_write, catalog_from_sites
from openbms.control.programs.dryrun import DryRuns
from openbms.control.programs.validate import PointInfo
from openbms.control.schedules import ScheduleRunner
from openbms.control.wiring import schedule_commands
from openbms.drivers.base import Driver
from openbms.drivers.manager import DriverManager, PointBinding
from openbms.drivers.registry import create_driver
from openbms.errors import OpenBMSError
from openbms.historian import Historian
from openbms.model.binding import parse_binding
from openbms.model.command import Command
from openbms.model.sample import Sample
from openbms.model.site import DriverSettings, HistoryPolicy, SiteConfig
from openbms.runtime.bus import Bus
from openbms.runtime.cache import CurrentValueCache
from openbms.runtime.clock import Clock

if TYPE_CHECKING:
    from openbms.drivers.mqtt.bridge import Bridge

__all__ = ["Assembly", "RemoteTarget"]

log = logging.getLogger(__name__)

StopFn = Callable[[], Any]


class RemoteTarget(Protocol):
    """Where a central openbms's schedules and programs write: the arbiter's ``command`` and
    ``release``, for points another process (an edge) holds (``openbms.central.supervise``)."""

    min_priority: int

    def writable(self, point: str) -> bool: ...

    async def command(self, point: str, value: Any, priority: int | None = None, *,
                      source: str = ..., requested_by: str = ..., reason: str = ...) -> Any: ...

    async def release(self, point: str, priority: int | None = None, *, source: str = ...,
                      requested_by: str = ..., reason: str = ...) -> Any: ...

    def holder(self, point: str, priority: int) -> str | None: ...


class Assembly:
    """The running parts of ``sites`` on one bus and one clock, started step by step, stopped in reverse.

    ``sites`` is kept by reference: whoever changes a site in it calls
    ``reconfigure`` (polling, control and history follow the list). The parts
    are attributes (``historian``, ``drivers``, ``manager``, ``arbiter``,
    ``alarms``, ``schedules``, ``programs``), None or empty until started.
    ``remote`` (a central openbms): schedules and programs command it, not the arbiter, and the
    programs' catalogue takes the points it lets write as writable.
    ``background`` holds command tasks under way (schedule writes, releases),
    cancelled before the arbiter stops. ``data_dir`` holds the MQTT bridges'
    outboxes (None: no bridge is started; a site that asks for one is reported
    in ``bridge_health``).
    """

    def __init__(self, sites: list[SiteConfig], clock: Clock, *, bus: Bus | None = None,
                 cache: CurrentValueCache | None = None, data_dir: Path | None = None,
                 remote: RemoteTarget | None = None) -> None:
        self.sites = sites
        self.clock = clock
        #: Where schedules and programs write instead of the arbiter (a central openbms: its
        #: edges' command queue, ``openbms.central.supervise``), and which points it lets write.
        self.remote = remote
        self.data_dir = None if data_dir is None else Path(data_dir)
        #: Each site's running MQTT telemetry bridge, by site id.
        self.bridges: dict[str, Bridge] = {}
        self._bridge_problems: dict[str, str] = {}  # site id → why its bridge did not start
        self._bridging = False  # site services started: bridges follow reconfigure
        self.bus = bus if bus is not None else Bus()
        self.cache = cache if cache is not None else CurrentValueCache()
        self.historian: Historian | None = None
        self.drivers: dict[str, Driver] = {}
        self.manager: DriverManager | None = None
        self.arbiter: Arbiter | None = None
        self.alarms: dict[str, AlarmService] = {}
        self.schedules: dict[str, ScheduleRunner] = {}
        self.programs: ProgramEngine | None = None
        #: Edited programs run live for a while, writing nothing (the API's dry runs).
        self.dry_runs: DryRuns | None = None
        self.background: set[asyncio.Task[Any]] = set()
        #: The names of the bus subscriptions made here, in the order made.
        self.subscriptions: list[str] = []
        self._schedule_tasks: dict[str, asyncio.Task[None]] = {}
        self._state: Any = None
        self._timezones: dict[str, str] = {}
        self._min_interval = 0.0
        self._seed: int | None = None
        self._stack: list[tuple[str, StopFn]] = []

    # ------------------------------------------------------------------ the stack

    def on_stop(self, name: str, stop: StopFn) -> None:
        """Undo ``stop`` (a function or a coroutine function) at ``stop()``, before what came earlier."""
        self._stack.append((name, stop))

    async def stop(self) -> None:
        """Undo every step in reverse order; a part that fails to stop is logged, the rest still stop.

        Safe to call twice.
        """
        while self._stack:
            name, stop = self._stack.pop()
            try:
                result = stop()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("error while stopping %s", name)

    def _subscribe(self, name: str, callback: Callable[[Sequence[Sample]], None]) -> None:
        self.bus.subscribe_callback("*", callback, name=name)
        self.subscriptions.append(name)

    # ------------------------------------------------------------------ history

    def history_policies(self) -> tuple[dict[str, HistoryPolicy], dict[str, str]]:
        """Every point's history policy, and its site's time zone (for daily rollups)."""
        policies: dict[str, HistoryPolicy] = {}
        zones: dict[str, str] = {}
        for site in self.sites:
            for pid, _equip, point in site.points():
                policies[pid] = point.history
                zones[pid] = site.site.timezone
        return policies, zones

    async def start_history(self, historian: Historian | None, *, store: bool = True) -> None:
        """The historian (configured with the sites' policies, started) and the cache on the bus.

        ``None``: the cache only (a co-simulation keeps no history). ``store`` false: the
        historian is read, not fed from the bus (a central openbms: its ingest workers store).
        """
        if historian is not None:
            historian.configure(*self.history_policies())
            await historian.start()
            self.historian = historian
            self.on_stop("historian", historian.stop)
            if store:
                self._subscribe("historian", historian.ingest)
        self._subscribe("cache", self.cache.update)

    # ------------------------------------------------------------------ drivers

    def bindings(self) -> tuple[list[PointBinding], dict[str, DriverSettings]]:
        """Every polled point of every site, and each driver's settings (the first site's win).

        A disabled driver's points are not polled. Each interval is at least the
        minimum given to ``start_drivers``.
        """
        bindings: list[PointBinding] = []
        settings: dict[str, DriverSettings] = {}
        for site in self.sites:
            for name, s in site.drivers.items():
                settings.setdefault(name, s)
            for pid, _equip, point in site.points():
                if point.binding is None:
                    continue
                binding = parse_binding(point.binding)
                driver_settings = settings.get(binding.scheme) or site.drivers.get(
                    binding.scheme, DriverSettings()
                )
                if not driver_settings.enabled:
                    continue
                settings.setdefault(binding.scheme, driver_settings)
                interval = max(point.poll or driver_settings.poll_interval, self._min_interval)
                bindings.append(PointBinding(pid, binding, interval, point.unit))
        return bindings, settings

    async def start_drivers(self, drivers: Mapping[str, Driver] | None = None, *,
                            min_interval: float = 0.0, seed: int | None = None,
                            poll: bool = True) -> DriverManager:
        """The drivers the bindings need (``drivers`` first, else ``create_driver``), then the manager.

        ``min_interval``: no point is polled more often (a co-simulation's step).
        ``seed``: the manager's jitter, for a reproducible run. ``poll`` False: the
        manager writes and reads on request but never polls (a benchmark that
        publishes its own samples).
        """
        self._min_interval, self._seed = float(min_interval), seed
        for scheme, driver in (drivers or {}).items():
            await self._add_driver(scheme, driver)
        bindings, settings = self.bindings()
        await self._ensure_drivers(bindings, settings)
        self.manager = DriverManager(self.bus, self.clock, self.drivers, bindings, settings,
                                     seed=self._seed)
        if poll:
            await self.manager.start()

        async def stop_manager() -> None:  # whichever manager is current at stop
            if self.manager is not None:
                await self.manager.stop()

        self.on_stop("driver manager", stop_manager)
        return self.manager

    async def _add_driver(self, scheme: str, driver: Driver) -> None:
        await driver.start()
        self.drivers[scheme] = driver
        self.on_stop(f"driver {scheme}", driver.stop)

    async def _ensure_drivers(self, bindings: list[PointBinding],
                              settings: dict[str, DriverSettings]) -> None:
        for scheme in sorted({b.binding.scheme for b in bindings} - set(self.drivers)):
            await self._add_driver(scheme, create_driver(scheme, settings[scheme], self.clock))

    # ------------------------------------------------------------------ control

    async def start_arbiter(self, commands: CommandStore | None = None, *,
                            on_command: Callable[[Command], None] | None = None,
                            io: PointIO | None = None) -> Arbiter:
        """The arbiter over the driver manager (or ``io``), its stored commands restored.

        ``commands`` None: commands are not kept (a co-simulation). The arbiter
        hears the bus when a point is writable (to re-assert drifted values).
        """
        if io is None:
            if self.manager is None:
                raise RuntimeError("start_drivers comes before start_arbiter")
            io = self.manager
        arbiter = self.arbiter = Arbiter(self.sites, io, self.clock, commands, on_command=on_command)
        await arbiter.start()
        self.on_stop("arbiter", arbiter.stop)

        async def cancel_background() -> None:  # schedule writes under way: before the arbiter stops
            for task in list(self.background):
                task.cancel()
            await asyncio.gather(*self.background, return_exceptions=True)

        self.on_stop("commands under way", cancel_background)
        if arbiter.controlled():
            self._subscribe("arbiter", arbiter.on_samples)
        return arbiter

    def run_in_background(self, coro: Awaitable[Any], name: str | None = None) -> None:
        """A command task (a release, say) that ``stop`` cancels before the arbiter stops."""
        task = asyncio.ensure_future(coro)
        if name is not None:
            task.set_name(name)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def start_site_services(self, state: Any = None, *,
                                  timezones: Mapping[str, str] | None = None) -> None:
        """Every site's MQTT bridge (when its file asks and there is a ``data_dir``), alarms (with a
        state database ``state``; None: no alarms) and schedules.

        ``timezones``: a site's schedules run in this zone instead of the site's own.
        """
        self._state, self._timezones = state, dict(timezones or {})
        self._bridging = True
        for site in self.sites:
            await self.start_site(site)

        async def stop_services() -> None:
            for site_id in list(self.alarms) + list(self._schedule_tasks):
                await self.stop_site(site_id)
            # The polls end before the bridges: a sample the history keeps is in the outbox too
            # (a bridge's link may take its mqtt timeout to stop while the broker is away).
            if self.manager is not None:
                await self.manager.stop()
            for site_id in [*self.bridges, *self._bridge_problems]:  # after the alarms' last events
                try:
                    await self._stop_bridge(site_id)
                except Exception:  # the other sites' bridges still stop and close their outboxes
                    log.exception("site %s: its MQTT bridge did not stop cleanly", site_id)

        self.on_stop("alarms and schedules", stop_services)

    async def start_site(self, site: SiteConfig) -> None:
        """A site's MQTT bridge unless it runs (first: it hears the alarms' first events), alarms
        and schedules."""
        sid = site.site.id
        if sid not in self.bridges and sid not in self._bridge_problems:
            await self._start_bridge(site)
        # Every site, rules or not: services raise alarms of their own too (anomaly detection).
        if self._state is not None:
            service = AlarmService(sid, site.alarms, site.notifications, self.clock, self.bus,
                                   self._state, texts=point_texts(site))
            await service.start()
            self.alarms[sid] = service
            if service.engine.points:  # the service subscribes to its rules' points itself
                self.subscriptions.append(f"alarms {sid}")
        if site.schedules:
            runner = ScheduleRunner(site.schedules, site.calendars, self.clock,
                                    schedule_commands(self._target, self.background),
                                    timezones={sid: self._timezones.get(sid, site.site.timezone)})
            self.schedules[sid] = runner
            self._schedule_tasks[sid] = asyncio.create_task(runner.run(), name=f"schedules of {sid}")

    async def stop_site(self, site_id: str) -> None:
        """Stop a site's alarms and schedules.

        Its MQTT bridge keeps running: it follows the site at ``reconfigure`` (a new point list
        without a new connection, so a configuration change does not flap the site's status)
        and stops with the assembly.
        """
        service = self.alarms.pop(site_id, None)
        if service is not None:
            await service.stop()
            if f"alarms {site_id}" in self.subscriptions:
                self.subscriptions.remove(f"alarms {site_id}")
        task = self._schedule_tasks.pop(site_id, None)
        self.schedules.pop(site_id, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _stop_bridge(self, site_id: str) -> None:
        bridge = self.bridges.pop(site_id, None)
        self._bridge_problems.pop(site_id, None)
        if bridge is not None:
            self.subscriptions.remove(f"mqtt bridge {site_id}")
            await bridge.stop()

    async def _follow_bridges(self) -> None:
        """Bridges follow ``sites``: the same ``mqtt:`` section keeps its bridge (with the site's
        new points); a changed one restarts it; a site that no longer bridges stops it; one that
        newly does (or failed before) starts one."""
        sites = {s.site.id: s for s in self.sites}
        for sid in [*self.bridges, *self._bridge_problems]:
            site, bridge = sites.get(sid), self.bridges.get(sid)
            if site is not None and bridge is not None and site.mqtt == bridge.settings:
                bridge.follow(site)
            else:
                await self._stop_bridge(sid)
        for site in self.sites:
            if site.site.id not in self.bridges:
                await self._start_bridge(site)

    async def _start_bridge(self, site: SiteConfig) -> None:
        """The site's telemetry bridge (outbox, link, bus subscriptions) when its file asks for one.

        A bridge that cannot start (a missing secret, an outbox that cannot be opened) is logged
        and reported in ``bridge_health``; the site's other services run.
        """
        sid = site.site.id
        if site.mqtt is None or not site.mqtt.bridge.enabled:
            return
        if self.data_dir is None:
            self._bridge_problems[sid] = ("mqtt bridge not started: this process has no data "
                                          "folder for its outbox")
            log.error("site %s: %s", sid, self._bridge_problems[sid])
            return
        from openbms.drivers.mqtt.bridge import start_bridge  # aiomqtt only for sites that bridge

        try:
            self.bridges[sid] = await start_bridge(site, self.data_dir, self.clock, self.bus)
        except OpenBMSError as err:
            self._bridge_problems[sid] = f"mqtt bridge not started: {err}"
            log.error("site %s: %s", sid, self._bridge_problems[sid])
            return
        self.subscriptions.append(f"mqtt bridge {sid}")

    def bridge_health(self) -> dict[str, dict[str, Any]]:
        """Each site's MQTT bridge as a health component ``mqtt_bridge_{site}``: status, reasons,
        connected, queued, dropped (by reason), last error."""
        out = {f"mqtt_bridge_{sid}": bridge.health() for sid, bridge in self.bridges.items()}
        for sid, problem in self._bridge_problems.items():
            out[f"mqtt_bridge_{sid}"] = {"status": "degraded", "reasons": [problem],
                                         "connected": False}
        return out

    async def start_programs(self, load: Callable[[ProgramEngine], Awaitable[None]] | None = None, *,
                             timer: Callable[[], float] | None = None,
                             ticking: bool = True) -> ProgramEngine:
        """The logic program engine, writing through the arbiter, on the bus.

        ``load`` puts programs in before the engine hears the bus. ``timer``: the
        engine's budget clock (default the process's). ``ticking`` False: no periodic
        task and no start from the cache's latest values; the caller ticks the
        engine (a co-simulation, once a step).
        """
        if self.arbiter is None:
            raise RuntimeError("start_arbiter comes before start_programs")
        engine = self.programs = ProgramEngine(self.catalog(), self.clock,
                                               arbiter_write(self._target()),
                                               timer=time.monotonic if timer is None else timer)
        if load is not None:
            await load(engine)
        # Subscribed even with nothing loaded: a program deployed later through the API
        # gets its inputs and its periodic evaluations.
        subscription = self.bus.subscribe_callback("*", engine.feed, name="programs")
        self.subscriptions.append("programs")
        task: asyncio.Task[None] | None = None
        if ticking:
            engine.feed(list(self.cache.snapshot().values()))  # start from the latest values
            task = asyncio.create_task(engine.run(), name="programs")

        async def stop() -> None:
            # No more inputs first: new samples (the drivers still poll) would trigger evaluations,
            # and their writes, for as long as any write was under way (20 s of a demo's stop).
            subscription.close()
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await engine.stop()

        self.on_stop("programs", stop)
        # Dry runs: engines of their own on the cache's latest values, writing nothing; ended first.
        dry_runs = self.dry_runs = DryRuns(lambda: engine.catalog, self.clock, self.cache.get)
        self.on_stop("program dry runs", dry_runs.close)
        return engine

    def _target(self) -> Any:
        """What schedules and programs command: ``remote`` when given, else the arbiter."""
        return self.remote if self.remote is not None else self.arbiter

    def catalog(self) -> dict[str, PointInfo]:
        """The programs' catalogue of the sites' points (with ``remote``: writable as it says,
        from its most urgent priority)."""
        catalog = catalog_from_sites(self.sites)
        remote = self.remote
        if remote is None:
            return catalog
        return {pid: PointInfo(info.kind, info.unit, remote.writable(pid), remote.min_priority)
                for pid, info in catalog.items()}

    # ------------------------------------------------------------------ configuration changes

    async def reconfigure(self) -> None:
        """Polling, control, history and the programs' catalogue follow ``sites`` (after a change).

        The site services of a changed site are restarted by the caller
        (``stop_site`` and ``start_site``).
        """
        bindings, settings = self.bindings()
        await self._ensure_drivers(bindings, settings)
        if self.manager is not None:
            await self.manager.stop()
        self.manager = DriverManager(self.bus, self.clock, self.drivers, bindings, settings,
                                     seed=self._seed)
        if self.arbiter is not None:
            self.arbiter.io = self.manager
            self.arbiter.reconfigure(self.sites)
        if self.historian is not None:
            self.historian.configure(*self.history_policies())
        if self.programs is not None:  # programs deployed from now on are checked against the new points
            self.programs.catalog = self.catalog()
        # The bridges, then the polls (as at start): a bridge restarted for a changed mqtt: section
        # takes its link's timeout to stop and to start while the broker is away, and what was
        # polled meanwhile would be in the history and never in its outbox.
        try:
            if self._bridging:
                await self._follow_bridges()
        finally:  # a bridge that failed to stop or start stops no polls
            await self.manager.start()
