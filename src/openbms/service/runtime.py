"""The openbms process: components started in order, stopped in reverse, on one event loop.

Start order: state database → historian → bus subscribers (historian, cache)
→ drivers → driver manager (polling) → arbiter (priority arrays restored from
the stored commands, unexpired overrides written again) → alarms, schedules,
logic programs → the API (last in, first out). Stop is the reverse, so by the time the
historian stops no sample is in flight, and it flushes before the files
close. SIGTERM, SIGINT and SIGHUP (a closed terminal) stop the process gracefully.

The parts between the historian and the programs are built and wired to the
bus by the one ``Assembly`` (``openbms.service.assembly``); the ``Runtime``
adds what a process has and a co-simulation or a benchmark has not: the state
database and its stores, site files written back after a change, the API and
the health monitor.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import sqlalchemy as sa
import yaml

from openbms.alarms.engine import AlarmEngine
from openbms.alarms.service import AlarmService, alarm_history
from openbms.config import load_site
from openbms.control.arbiter import Arbiter
from openbms.control.commands import CommandStore
from openbms.control.programs import (
    ProgramEngine,
    ProgramError,
    ProgramStatus,
    ProgramStore,
    parse_program,
)
from openbms.control.programs.dryrun import DryRuns
from openbms.control.schedules import ScheduleRunner
from openbms.drivers.base import Driver
from openbms.drivers.manager import DriverManager
from openbms.errors import BindingError, CommandError, ConfigError, ConfigIssue, OpenBMSError
from openbms.historian import Historian, open_historian
from openbms.model.binding import parse_binding
from openbms.model.command import CommandSource
from openbms.model.site import SiteConfig
from openbms.runtime.bus import Bus
from openbms.runtime.cache import CurrentValueCache
from openbms.runtime.clock import Clock, WallClock
from openbms.service.anomalies import AnomalyService
from openbms.service.assembly import Assembly, RemoteTarget
from openbms.service.command_links import CommandLinks
from openbms.service.commands import CommandDesk
from openbms.service.faults import FaultControl
from openbms.service.forecasts import ForecastService
from openbms.service.health import HealthLimits, HealthMonitor
from openbms.service.protocols import CommandRequestHandler, DeviceReport, Services, WebhookReceiver

__all__ = ["Runtime", "RuntimeStatus"]

log = logging.getLogger(__name__)

#: Signals that stop ``run_forever`` gracefully; SIGHUP is a closed terminal (without it a
#: closed terminal killed openbms without flushing history, and left the demo's broker).
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

#: Real seconds between checkpoints of the state database's log (see ``_checkpoint_state``).
STATE_CHECKPOINT_S = 5.0


def _write_site(cfg: SiteConfig, path: Path) -> SiteConfig:
    """Write ``cfg`` to ``path`` as YAML, checked by loading it back; the old file stays as ``.bak``."""
    doc = cfg.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    doc = {"site": doc.pop("site"), **doc}  # the site first, as people write it
    text = ("# Written by openbms after a change through the API; the previous version is in\n"
            f"# {path.name}.bak. Comments of the previous version are not kept.\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
    tmp = path.with_name(f".{path.name}.new")
    tmp.write_text(text, encoding="utf-8")
    try:
        loaded = load_site(tmp)
    except ConfigError as err:
        tmp.unlink(missing_ok=True)
        raise ConfigError([ConfigIssue(str(path), i.line, i.column, i.message) for i in err.issues]) \
            from None
    if path.exists():
        shutil.copyfile(path, path.with_name(path.name + ".bak"))
    os.replace(tmp, path)
    return loaded.with_source(path)


def _write_new_site(_running: SiteConfig, cfg: SiteConfig, path: Path) -> SiteConfig:
    return _write_site(cfg, path)


#: How ``change_site`` keeps a changed configuration: (running, new, its file) → the new one as
#: kept (a ConfigError refuses the change, and nothing changes).
SiteWriter = Callable[[SiteConfig, SiteConfig, Path], SiteConfig]


def sync_site_config(engine: Any, cfg: SiteConfig, now: float) -> None:
    from openbms.db import sync_site

    sync_site(engine, cfg, now)


def _deploy_if_changed(store: ProgramStore, program: Any, catalog: Any, path: Path) -> None:
    """A site file's program: saved and deployed when it differs from what is deployed."""
    try:
        current = store.get(program.id, site=program.site).program
    except ProgramError:
        current = None
    if current == program:
        return
    version = store.save(program, created_by="site file", comment=str(path))
    store.deploy(program.id, version, by="site file", catalog=catalog, site=program.site,
                 reason=f"changed in {path}")
    log.info("program %s: version %d deployed from %s", program.id, version, path)


def freeze_startup_objects() -> None:
    """Keep what start-up built out of later garbage collections (``gc.freeze``).

    Modules, configuration, schemas and caches live as long as the process;
    with them in the collector's oldest generation, each full collection walked
    them all and paused the event loop (about 60 ms here, under API load).
    """
    gc.collect()
    gc.freeze()



def _sqlite_cache_mb() -> int:
    """The history store's SQLite page cache in MB: OPENBMS_SQLITE_CACHE_MB, else 32."""
    raw = os.environ.get("OPENBMS_SQLITE_CACHE_MB", "").strip()
    if not raw:
        return 32
    try:
        value = int(raw)
    except ValueError:
        raise OpenBMSError(f"OPENBMS_SQLITE_CACHE_MB={raw!r}: expected a whole number of megabytes") from None
    if not 1 <= value <= 65536:
        raise OpenBMSError(f"OPENBMS_SQLITE_CACHE_MB={raw!r}: expected 1 to 65536 megabytes")
    return value


@dataclass(frozen=True, slots=True)
class RuntimeStatus:
    """A snapshot for status lines and health checks."""

    uptime: float
    points: int
    devices: int
    devices_offline: int
    samples: int
    stored: int
    backlog: int
    dropped: int
    extra: dict[str, Any] = field(default_factory=dict)


class ServedApi(Protocol):
    """An API being served: its address, and how it stops (``openbms.api.server.ApiServer``)."""

    @property
    def url(self) -> str: ...

    async def stop(self) -> None: ...


#: What serves the API over a runtime: ``(runtime, host, port, settings)`` → a started
#: server (``openbms.api.server.serve``). The service layer does not import the API
#: (the API sits above it); whoever starts the process hands the front in.
ApiFront = Callable[[Services, str, int, Any], Awaitable[ServedApi]]


class Runtime:
    """One openbms process for one or more sites: the services the API serves from
    (``openbms.service.protocols.Services``).

    ``data_dir`` holds ``history.db`` and ``state.db``; ``state_url`` replaces
    the state database (e.g. PostgreSQL), ``history_url`` the history store
    (``postgresql://…``: ``openbms.historian.open_historian``). Everything that reads time uses
    ``clock``. ``health_limits`` say when health turns ``degraded`` (default:
    ``HealthLimits.from_env()``, the OPENBMS_HEALTH_* variables).
    """

    def __init__(
        self,
        sites: list[SiteConfig],
        data_dir: Path,
        *,
        clock: Clock | None = None,
        state_url: str | None = None,
        history_url: str | None = None,
        historian_options: dict[str, Any] | None = None,
        api: tuple[str, int] | None = None,
        api_front: ApiFront | None = None,
        api_settings: Any = None,
        health_limits: HealthLimits | None = None,
        faults: FaultControl | None = None,
        store_samples: bool = True,
        remote: RemoteTarget | None = None,
        write_site: SiteWriter | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        #: False: the history is read only, the bus's samples are stored by someone else (a
        #: central openbms's ingest workers), not by this process's historian.
        self.store_samples = store_samples
        #: The emulated building's faults, when the process runs one (``openbms demo``): see
        #: ``openbms.service.faults``.
        self.faults = faults
        self.clock: Clock = clock or WallClock()
        self.state_url = state_url or f"sqlite:///{self.data_dir / 'state.db'}"
        #: The bus, the cache and the parts wired to them (drivers, manager, arbiter, site
        #: services, programs): see ``openbms.service.assembly``.
        self.assembly = Assembly(sites, self.clock, data_dir=self.data_dir, remote=remote)
        #: How a changed configuration is kept: (running, new, its file) → the new one as kept.
        #: By default written over the site's YAML file (the old one kept as ``.bak``); a central
        #: openbms keeps its own schedules and calendars only (``openbms.central.sites``).
        self.write_site: SiteWriter = write_site or _write_new_site
        options = dict(historian_options or {})
        history: str | Path = history_url or self.data_dir / "history.db"
        if "cache_mb" not in options and not history_url:  # SQLite's page cache
            options["cache_mb"] = _sqlite_cache_mb()
        self.historian: Historian = open_historian(history, clock=self.clock, **options)
        if health_limits is None:
            try:
                health_limits = HealthLimits.from_env()
            except ValueError as err:
                raise OpenBMSError(str(err)) from None
        self.health_monitor = HealthMonitor(self.data_dir, self.historian, health_limits)
        if api is not None and api_front is None:
            raise ValueError("an API address needs an api_front to serve it (openbms.api.server.serve)")
        self.api_address = api
        self.api_front = api_front
        self.api_settings = api_settings  # openbms.api.ApiSettings; None: from the environment
        self.api: Any = None  # the served API (ServedApi) once started
        self.program_store: ProgramStore | None = None
        #: The hourly load forecasts (``openbms.service.forecasts``), once started.
        self.forecasts: ForecastService | None = None
        #: The daily anomaly detection on the meters (``openbms.service.anomalies``), once started.
        self.anomalies: AnomalyService | None = None
        # Deployed and enabled programs that did not start, keyed by (site, id): see program_status.
        self.program_failures: dict[tuple[str, str], ProgramStatus] = {}
        #: The one lock of configuration changes (``change_site``).
        self._config_lock = asyncio.Lock()
        self.state: sa.Engine | None = None
        self._commands = CommandDesk(lambda: self.assembly.arbiter)
        #: Each site's command/response connection over MQTT (``mqtt: commands:``), answered by
        #: the handler the API registers (``serve_command_requests``).
        self.command_links = CommandLinks(data_dir=self.data_dir, clock=self.clock)
        self._started = 0.0
        # Per site: the configuration the map was made from, and device key → its point ids.
        self._served: dict[str, tuple[SiteConfig, dict[str, tuple[str, ...]]]] = {}
        self._stop = asyncio.Event()

    # ------------------------------------------------------------------ the assembled parts

    @property
    def sites(self) -> list[SiteConfig]:
        """The running sites' configurations (the assembly's list: one list, changed by ``apply_site``)."""
        return self.assembly.sites

    @property
    def bus(self) -> Bus:
        """The bus every sample and event goes through."""
        return self.assembly.bus

    @property
    def cache(self) -> CurrentValueCache:
        """The latest sample of every point."""
        return self.assembly.cache

    @property
    def drivers(self) -> dict[str, Driver]:
        """The started drivers by binding scheme."""
        return self.assembly.drivers

    @property
    def manager(self) -> DriverManager | None:
        """The driver manager that polls now (a new one after a configuration change)."""
        return self.assembly.manager

    @property
    def arbiter(self) -> Arbiter | None:
        """The priority arrays and commands of every writable point."""
        return self.assembly.arbiter

    @property
    def alarms(self) -> dict[str, AlarmService]:
        """Each site's running alarm service, by site id."""
        return self.assembly.alarms

    @property
    def schedules(self) -> dict[str, ScheduleRunner]:
        """Each site's schedule runner, by site id."""
        return self.assembly.schedules

    @property
    def programs(self) -> ProgramEngine | None:
        """The logic program engine."""
        return self.assembly.programs

    @property
    def dry_runs(self) -> DryRuns | None:
        """Edited programs run live for a while, writing nothing (None until the programs start)."""
        return self.assembly.dry_runs

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start every component in order; on a failure, stop what started and re-raise."""
        self._started = time.monotonic()
        try:
            await self._start_state()
            await self._start_historian()
            await self._start_drivers()
            await self._start_control()
            # Load forecasts each hour of the clock, from the historian into the state database.
            assert self.state is not None  # started with the control
            self.forecasts = ForecastService(lambda: self.sites, self.historian, self.state, self.clock)
            await self.forecasts.start()
            self.assembly.on_stop("load forecasts", self.forecasts.stop)
            # Each meter's ended day judged against its model each hour; findings raised as alarms.
            self.anomalies = AnomalyService(lambda: self.sites, self.historian, self.state, self.clock,
                                            self.alarm_engine)
            await self.anomalies.start()
            self.assembly.on_stop("anomaly detection", self.anomalies.stop)
            if self.api_address is not None:
                await self._start_api(*self.api_address)
            # After the API: its handler answers the first request (without it: unavailable).
            await self.command_links.apply(self.sites)
            self.assembly.on_stop("mqtt command requests", self.command_links.stop)
            # Last: start-up's own work on the loop is not a stall of the running system.
            await self.health_monitor.start()
            self.assembly.on_stop("health monitor", self.health_monitor.stop)
        except BaseException:
            await self.stop()
            raise
        log.info(
            "openbms running: %d sites, %d points, %d drivers",
            len(self.sites), sum(len(s.points()) for s in self.sites), len(self.drivers),
        )

    async def stop(self) -> None:
        """Stop components in reverse order. Safe to call twice."""
        await self.assembly.stop()
        log.info("openbms stopped")

    def request_stop(self) -> None:
        """Ask ``run_forever`` to return (what SIGTERM, SIGINT and SIGHUP do)."""
        self._stop.set()

    async def run_forever(self, on_tick: Callable[[RuntimeStatus], None] | None = None,
                          tick: float = 5.0, *, freeze_gc: bool = False) -> None:
        """Start, run until SIGTERM/SIGINT/SIGHUP or ``request_stop``, then stop gracefully.

        ``freeze_gc`` (for the process that is the service, as ``openbms run``):
        see ``freeze_startup_objects``.
        """
        loop = asyncio.get_running_loop()
        for sig in _STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        await self.start()
        if freeze_gc:
            freeze_startup_objects()
        try:
            if on_tick is not None:
                on_tick(self.status())  # at once: the first tick is when the dashboard's address is told
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), tick)
                if on_tick is not None:
                    on_tick(self.status())
        finally:
            for sig in _STOP_SIGNALS:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
            await self.stop()

    # ------------------------------------------------------------------ components

    async def _start_state(self) -> None:
        from openbms.db import migrate, open_state, sync_site

        self.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(migrate, self.state_url)
        engine = open_state(self.state_url, background_checkpoint=True)
        self.assembly.on_stop("state database", engine.dispose)
        checkpoints = asyncio.create_task(self._checkpoint_state(engine), name="state checkpoints")
        self.assembly.on_stop("state checkpoints", checkpoints.cancel)
        now = self.clock.now()
        for site in self.sites:
            report = await asyncio.to_thread(sync_site, engine, site, now)
            log.info("site %s configuration synced: %s", site.site.id, report)
        self.state = engine

    async def _checkpoint_state(self, engine: sa.Engine) -> None:
        """Checkpoint the state database's log every few (real) seconds, in a thread: commits
        (a command, an audit row) then never do it on a request's path."""
        from openbms.db import checkpoint_state

        while True:
            await asyncio.sleep(STATE_CHECKPOINT_S)
            try:
                await asyncio.to_thread(checkpoint_state, engine)
            except Exception:  # a busy or failing database: the backstop checkpoint still runs
                log.debug("state database checkpoint failed", exc_info=True)

    async def _start_historian(self) -> None:
        await self.assembly.start_history(self.historian, store=self.store_samples)

    async def _start_drivers(self) -> None:
        # Built, not polling yet: the polls start with the control, once the bridges take the bus.
        await self.assembly.start_drivers(poll=False)

    async def _start_control(self) -> None:
        assert self.state is not None  # started before control
        store = self._commands.store = CommandStore(self.state)
        await self.assembly.start_arbiter(store, on_command=self._command_changed)
        await self.assembly.start_site_services(self.state)
        # Every sample polled from here is in the history and in the MQTT bridges' outboxes.
        assert self.assembly.manager is not None  # built by _start_drivers
        await self.assembly.manager.start()
        await self._start_programs()

    # ------------------------------------------------------------------ configuration changes

    def site(self, site_id: str) -> SiteConfig | None:
        """The running configuration of ``site_id``; None: no such site runs."""
        return next((s for s in self.sites if s.site.id == site_id), None)

    async def add_site(self, cfg: SiteConfig) -> None:
        """Run a new site beside the others (a central openbms: an edge published its first
        configuration), under the configuration lock: state database, polling, history and the
        programs' catalogue, then its alarms, schedules and bridge. Nothing is written to a site
        file. A failure takes it out again and raises; a site of that id already running is a
        ConfigError."""
        async with self._config_lock:
            if self.site(cfg.site.id) is not None:
                raise ConfigError([ConfigIssue("", 1, 1, f"site {cfg.site.id!r} runs already")])
            self.sites.append(cfg)
            try:
                await asyncio.to_thread(sync_site_config, self.state, cfg, self.clock.now())
                await self.assembly.reconfigure()
                await self.assembly.start_site(cfg)
                if self.command_links.servers or cfg.mqtt is not None:
                    await self.command_links.apply(self.sites)
            except BaseException:
                self.sites.remove(cfg)
                await self.assembly.stop_site(cfg.site.id)
                await self.assembly.reconfigure()
                raise
            log.info("site %s: added and running", cfg.site.id)

    async def apply_site(self, cfg: SiteConfig, *, keep: bool = True) -> None:
        """Make ``cfg`` the configuration of its site (``change_site`` with a change that ignores
        what runs now). ``keep`` False: run it without keeping it (``write_site`` is not called:
        a central openbms's copy of what an edge published)."""
        await self.change_site(cfg.site.id, lambda _running: cfg, keep=keep)

    async def change_site(self, site_id: str,
                          change: Callable[[SiteConfig], SiteConfig | Awaitable[SiteConfig]], *,
                          keep: bool = True) -> SiteConfig:
        """Apply ``change`` to the running configuration of ``site_id``, in its file and in
        everything running; the configuration now running.

        The one configuration lock is held from reading the site to applying the
        result, so two changes never start from the same configuration. The new
        configuration is checked like a site file (a problem raises
        :class:`ConfigError` with the file's line and column, and changes nothing),
        written over the site's YAML file (the old one is kept as ``.bak``), synced to
        the state database, and applied: polling restarts with the new points, the
        arbiter keeps the priority arrays of the points that stay, history policies
        change, and the site's alarms and schedules restart; the slots a changed or
        deleted schedule held and no longer writes are released. Logic programs keep
        running; a program that used a removed point reports it. ``change`` may be a
        coroutine function (to check in a worker thread, say); whatever it raises
        propagates and nothing changes.
        """
        async with self._config_lock:
            index = next((i for i, s in enumerate(self.sites) if s.site.id == site_id), None)
            if index is None:
                raise ConfigError([ConfigIssue("", 1, 1, f"no site {site_id!r} is running")])
            old = self.sites[index]
            changed = change(old)
            cfg = await changed if inspect.isawaitable(changed) else changed
            if cfg.site.id != site_id:
                raise ConfigError([ConfigIssue("", 1, 1, f"a change of site {site_id!r} cannot "
                                                         f"rename it to {cfg.site.id!r}")])
            path = old.source or self.data_dir / f"{cfg.site.id}.yaml"
            if keep:
                new = await asyncio.to_thread(self.write_site, old, cfg, Path(path))
            else:
                new = cfg if cfg.source is not None else cfg.with_source(old.source)
            try:
                await self._switch(index, new)
            except Exception as err:
                # Written but not applicable (a driver that cannot start, say): the file and
                # everything running go back to the configuration that ran before.
                log.error("site %s: the change could not be applied (%s); restoring the previous "
                          "configuration", cfg.site.id, err)
                backup = Path(path).with_name(Path(path).name + ".bak")
                if keep and backup.exists():
                    await asyncio.to_thread(shutil.copyfile, backup, path)
                try:
                    await self._switch(index, old)
                except Exception:
                    log.exception("site %s: restoring the previous configuration failed too",
                                  cfg.site.id)
                raise OpenBMSError(f"site {cfg.site.id}: the change could not be applied ({err}); "
                                   "the previous configuration was restored") from err
            log.info("site %s: configuration changed and applied (%s)", new.site.id, path)
            await self._release_schedule_slots(old, new)
            return self.sites[index]

    async def _release_schedule_slots(self, old: SiteConfig, new: SiteConfig) -> None:
        """Release the slots each schedule of ``old`` held that ``new`` no longer writes (all of
        them for a deleted schedule): nothing else would ever release them."""
        remote = self.assembly.remote
        if self.arbiter is None and remote is None:
            return
        kept = {s.id: {(t, s.priority) for t in s.targets} for s in new.schedules}
        for schedule in old.schedules:
            who = f"schedule:{schedule.id}"
            for target in schedule.targets:
                if (target, schedule.priority) in kept.get(schedule.id, ()):
                    continue
                try:
                    if remote is not None:  # a central openbms: the slot it holds at the edge
                        if remote.holder(target, schedule.priority) == who:
                            await remote.release(target, schedule.priority, source="schedule",
                                                 requested_by=who, reason=f"schedule "
                                                 f"{schedule.id} changed or deleted")
                        continue
                    slot = self._commands.slots(target)[schedule.priority - 1]
                    if slot is not None and slot.requested_by == who:
                        await self._commands.release(
                            target, schedule.priority, source=CommandSource.SCHEDULE, requested_by=who,
                            reason=f"schedule {schedule.id} changed or deleted")
                except CommandError:  # the point is gone, or no longer writable
                    continue
                except Exception:  # the change is applied: a failed release must not undo it
                    log.exception("site %s: the slot schedule %s held on %s at priority %d was not "
                                  "released", new.site.id, schedule.id, target, schedule.priority)

    async def _switch(self, index: int, cfg: SiteConfig) -> None:
        """Make ``cfg`` the running configuration of ``self.sites[index]``."""
        self.sites[index] = cfg
        await asyncio.to_thread(sync_site_config, self.state, cfg, self.clock.now())
        await self.assembly.reconfigure()  # polling, control and history follow self.sites
        await self.assembly.stop_site(cfg.site.id)
        await self.assembly.start_site(cfg)
        if self.command_links.servers or cfg.mqtt is not None:
            await self.command_links.apply(self.sites)

    async def _start_programs(self) -> None:
        """Deploy the site files' programs (a changed file is a new version), then run what is deployed."""
        assert self.state is not None  # started before programs
        store = self.program_store = ProgramStore(self.state, now=self.clock.now)
        catalog = self.assembly.catalog()
        for site in self.sites:
            for path in site.program_paths():
                program = await asyncio.to_thread(parse_program, path)
                await asyncio.to_thread(_deploy_if_changed, store, program, catalog, path)

        async def load_deployed(engine: ProgramEngine) -> None:
            deployed, refused = await asyncio.to_thread(store.deployments)
            for info, err in refused:  # a stored version the limits now refuse (logged by the store)
                self._program_not_run(info.site, info.id, info.name, info.active_version or 0,
                                      str(err))
            for d in deployed:
                try:  # validated and compiled in a worker thread: a big program never stalls the loop
                    await engine.load_in_thread(d.program, d.version)
                except ProgramError as err:
                    log.error("program %s/%s version %d does not run: %s", d.program.site,
                              d.program.id, d.version, err)
                    self._program_not_run(d.program.site, d.program.id, d.program.name, d.version,
                                          str(err))
                except Exception as err:  # one program's compile error must not stop every site
                    log.exception("program %s/%s version %d does not run", d.program.site,
                                  d.program.id, d.version)
                    self._program_not_run(d.program.site, d.program.id, d.program.name, d.version,
                                          f"{type(err).__name__}: {err}")

        await self.assembly.start_programs(load_deployed)

    def _program_not_run(self, site_id: str, program_id: str, name: str, version: int,
                         why: str) -> None:
        """A deployed, enabled program that does not start: failed, and its slots released.

        The arbiter restored the program's commands from the command table and nothing
        would ever release them: they are released here as the engine releases a stopped
        program's outputs (``logic``, ``program:<id>``, on its site's points). The releases
        run as tasks, so a device that does not answer holds up no start.
        """
        assert self.arbiter is not None
        arbiter, who = self.arbiter, f"program:{program_id}"
        self.program_failures[(site_id, program_id)] = ProgramStatus(
            id=program_id, site=site_id, name=name, version=version, state="failed", last_run=None,
            runs=0, writes=0, errors=1, last_error=f"not started: {why}",
            last_error_at=self.clock.now(), outputs={})

        async def release(point: str, priority: int) -> None:
            try:
                await arbiter.release(point, priority, source=CommandSource.LOGIC, requested_by=who,
                                      reason=f"program {site_id}/{program_id} does not run")
            except CommandError as err:
                log.error("program %s/%s: its slot on %s at priority %d is not released: %s",
                          site_id, program_id, point, priority, err)

        site = next((s for s in self.sites if s.site.id == site_id), None)
        for pid, _equip, point in site.points() if site is not None else ():
            if not point.writable:
                continue
            for priority, cmd in enumerate(arbiter.slots(pid), start=1):
                if cmd is not None and cmd.source == CommandSource.LOGIC and cmd.requested_by == who:
                    log.warning("program %s/%s does not run: releasing %s at priority %d", site_id,
                                program_id, pid, priority)
                    self.assembly.run_in_background(release(pid, priority))

    def program_status(self, program_id: str, site: str) -> ProgramStatus | None:
        """How ``site``'s program runs, or why it did not start (state ``failed``); None: not run."""
        if self.programs is not None and self.programs.is_loaded(program_id, site):
            self.program_failures.pop((site, program_id), None)  # deployed again since, and running
            return self.programs.status(program_id, site=site)[program_id]
        return self.program_failures.get((site, program_id))

    async def _start_api(self, host: str, port: int) -> None:
        assert self.api_front is not None  # checked when the runtime was built
        try:  # settings read from the environment here may be wrong: a message, not a traceback
            server = await self.api_front(self, host, port, self.api_settings)
        except (RuntimeError, OSError, ValueError) as err:
            raise OpenBMSError(f"the API cannot start on {host}:{port}: {err}") from err
        self.api = server
        self.assembly.on_stop("api", server.stop)
        log.info("API listening on %s", server.url)

    def _command_changed(self, cmd: Any) -> None:
        self._commands.changed(cmd)  # caches of the priority arrays (the API's point pages) renew
        self.bus.publish_event("command", {
            "id": cmd.id, "point": cmd.point, "value": cmd.value, "priority": cmd.priority,
            "release": cmd.release, "status": str(cmd.status), "error": cmd.error,
            "source": str(cmd.source), "requested_by": cmd.requested_by,
            "updated_at": cmd.updated_at})

    # ------------------------------------------------------------------ services for the API

    def serve_command_requests(self, handler: CommandRequestHandler | None) -> None:
        """Answer the sites' command requests over MQTT with ``handler`` (the API registers it when
        it starts and removes it when it stops); None: each gets an ``unavailable`` error."""
        self.command_links.serve(handler)

    @property
    def commands(self) -> CommandDesk:
        """Commands and priority arrays (a write raises ``RuntimeError`` before control starts)."""
        return self._commands

    def webhook_receiver(self, site_id: str, name: str) -> WebhookReceiver | None:
        """The running driver of ``site_id`` that takes webhooks as ``name`` (its scheme or its
        profile's name): only a driver the site configures (one driver serves every site)."""
        cfg = self.site(site_id)
        if cfg is None:
            return None
        for scheme, driver in self.drivers.items():
            names = getattr(driver, "webhook_names", None)
            if scheme in cfg.drivers and callable(names) and name in names():
                return cast(WebhookReceiver, driver)
        return None

    def site_devices(self, site_id: str) -> list[DeviceReport]:
        """The devices serving ``site_id``'s points that the driver manager polls, by id."""
        cfg = self.site(site_id)
        if cfg is None:
            return []
        known = self._served.get(site_id)
        if known is None or known[0] is not cfg:  # made once per configuration, not per request
            by_device: dict[str, list[str]] = {}
            for pid, _equip, point in cfg.points():
                if point.binding is None:
                    continue
                try:
                    binding = parse_binding(point.binding)
                except BindingError:
                    continue
                driver = self.drivers.get(binding.scheme)
                if driver is not None:
                    key = f"{binding.scheme}://{driver.device_key(binding)}"
                    by_device.setdefault(key, []).append(pid)
            known = (cfg, {k: tuple(v) for k, v in by_device.items()})
            self._served[site_id] = known
        served = known[1]
        health = self.manager.health() if self.manager is not None else {}
        return [DeviceReport(key, health[key], served[key])
                for key in sorted(served.keys() & health.keys())]

    def alarm_engine(self, site_id: str) -> AlarmEngine | None:
        """The running alarm engine of ``site_id`` (None: its alarms do not run)."""
        service = self.alarms.get(site_id)
        return None if service is None else service.engine

    async def alarm_events(self, site_id: str, *, alarm_id: str | None = None, action: str | None = None,
                           since: float | None = None, until: float | None = None,
                           after: tuple[float, int] | None = None,
                           limit: int = 100, oldest_first: bool = False) -> list[dict[str, Any]]:
        """The site's stored alarm events, newest first (read in a worker thread)."""
        if self.state is None:
            return []
        return await asyncio.to_thread(alarm_history, self.state, site_id, alarm_id, limit, until,
                                       action=action, since=since, after=after,
                                       oldest_first=oldest_first)

    # ------------------------------------------------------------------ status

    def devices(self) -> list[dict[str, Any]]:
        """Every device's health (state, last answer, errors, unit mismatches), for status and the API."""
        health = self.manager.health() if self.manager else {}
        return [{"id": key, **h.as_dict()} for key, h in sorted(health.items())]

    def health(self) -> dict[str, dict[str, Any]]:
        """Disk, event loop and historian checks (status, reasons, figures), each driver's
        problems (e.g. BACnet not registered with its BBMD), the MQTT command links' and each
        site's MQTT telemetry bridge, for health and metrics."""
        out = self.health_monitor.check()
        for name, driver in self.drivers.items():
            problems = getattr(driver, "problems", None)
            found = problems() if problems is not None else []
            if found:
                out[f"driver_{name}"] = {"status": "degraded", "reasons": list(found)}
        links = self.command_links.problems()
        if links:
            out["mqtt_commands"] = {"status": "degraded", "reasons": links}
        out.update(self.assembly.bridge_health())  # mqtt_bridge_{site}: connected, queued, dropped
        report = getattr(self.assembly.remote, "health", None)
        if report is not None:  # a central openbms: its schedules' and programs' commands
            out["central_supervision"] = report()
        return out

    def status(self) -> RuntimeStatus:
        """Counters for a status line; cheap."""
        health = self.manager.health() if self.manager else {}
        offline = sum(1 for h in health.values() if h.state == "offline")
        hs = self.historian.stats()
        return RuntimeStatus(
            uptime=time.monotonic() - self._started,
            points=sum(len(e.points) for s in self.sites for e in s.equipment),
            devices=len(health),
            devices_offline=offline,
            samples=hs.received,
            stored=hs.stored,
            backlog=hs.backlog,
            dropped=hs.dropped,
        )
