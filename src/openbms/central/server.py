"""The central openbms with its API: every stored site served, with the edges' samples live.

::

    start(): CentralStore ─▶ stored configurations ─▶ central_site() each
             ─▶ Runtime(sites, history PostgreSQL not fed from its bus; no drivers; the API)
             ─▶ IngestWorker (one of the shared subscription's group, as ``openbms central
                  run``): its share of the samples ─▶ the runtime's historian, each message
                  acknowledged once stored; events, configurations, commands, backfill
             ─▶ the live feed: every site's samples (a plain subscription, not the group's
                  share) ─▶ the runtime's bus ─▶ current values, WebSocket (never stored twice)
    refresh() (every ``refresh_every`` s): a served site whose edge published another
             configuration, or whose own file of the centre changed, is applied
             (``Runtime.apply_site``); a new site is served (``Runtime.add_site``)
    the centre's own schedules (``sites/SITE.yaml``, ``CentralSites``) and the programs deployed
             through its API run in its runtime; they write to ``CentralWriter``
             (``supervise.py``): commands queued for the edges, held with a lease
    lag: each site's newest sample, the later of what the live feed received (in memory) and
             what every worker of the group took (``central_newest``, one row a site, read every
             ``lag_every`` s) ─▶ CentralView
    stop():  live feed ─▶ ingest worker ─▶ runtime (API)

With several workers (``openbms central run`` beside it) the group splits the samples to
store, and the live feed still gets every site's: without it the API's current values were
those of this process's share only. The price is a second decode of every sample here (about
2 µs each: a tenth of a core at 50 000 samples/s).

The API is the one ``openbms run`` serves, with its users and per-site roles: a
user granted one site sees that site only. A command made through it on a served site goes into
the centre's queue (``remote.py``: ``CentralServices`` is the running system the API sees), and
the ingest worker's dispatcher sends it to the edge (with ``ask`` and ``token``). The edges'
alarms, their own commands' changes and each site's lag are read from the centre's tables
(``CentralView``, ``remote.py``). What the centre's copy of a site keeps and drops is
``central_site``'s (``sites.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from openbms.central.commands import Ask, CommandQueue
from openbms.central.ingest import CentralIngest
from openbms.central.remote import (
    DEFAULT_LAG_WARNING_S,
    CentralCommands,
    CentralServices,
    CentralView,
)
from openbms.central.sites import CentralSites
from openbms.central.store import CentralStore, StoredSite
from openbms.central.supervise import DEFAULT_LEASE_S, DEFAULT_MIN_INTERVAL_S, CentralWriter
from openbms.central.worker import DEFAULT_GROUP, Connect, IngestWorker, Subscriber, libpq_url
from openbms.errors import OpenBMSError
from openbms.model.sample import Sample
from openbms.model.site import SiteConfig
from openbms.runtime.bus import Bus
from openbms.runtime.clock import Clock, WallClock
from openbms.service.protocols import Services
from openbms.service.runtime import ApiFront, Runtime, ServedApi

__all__ = ["CentralServer"]

log = logging.getLogger(__name__)


class _BusSink:
    """The ingest's samples onto a running system's bus (history, cache, WebSocket follow it)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def ingest(self, samples: Sequence[Sample]) -> None:
        self.bus.publish(samples)


class CentralServer:
    """The central process: the stored sites' API over the PostgreSQL history, and one ingest
    worker feeding it (more workers may run as ``openbms central run`` without ``--api``)."""

    def __init__(self, history_url: str, connect: Connect, data_dir: Path, *,
                 prefix: str = "openbms", group: str = DEFAULT_GROUP,
                 state_url: str | None = None, api: tuple[str, int] | None = None,
                 api_front: ApiFront | None = None, api_settings: Any = None,
                 clock: Clock | None = None, refresh_every: float = 30.0,
                 historian_options: dict[str, Any] | None = None, ask: Ask | None = None,
                 token: Callable[[str], str | None] | None = None, lag_every: float = 60.0,
                 lag_warning_s: float = DEFAULT_LAG_WARNING_S,
                 backfill_hours: float | None = None, lease_s: float = DEFAULT_LEASE_S,
                 command_interval_s: float = DEFAULT_MIN_INTERVAL_S,
                 keep_commands_s: float | None = None) -> None:
        self.history_url = libpq_url(history_url)
        self.connect = connect
        self.data_dir = data_dir
        self.prefix = prefix
        self.group = group
        self.state_url = state_url
        self.api = api
        self.api_front = api_front
        self.api_settings = api_settings
        self.clock: Clock = clock or WallClock()
        self.refresh_every = refresh_every
        self.backfill_hours = backfill_hours
        self.keep_commands_s = keep_commands_s
        #: The centre's copies of the sites, with its own schedules and calendars.
        self.sites = CentralSites(self.data_dir / "sites")
        #: Where the centre's schedules and programs write (``supervise.py``); made at start.
        self.writer: CentralWriter | None = None
        self.lease_s = lease_s
        self.command_interval_s = command_interval_s
        self.historian_options = historian_options
        self.ask = ask
        self.token = token
        self.runtime: Runtime | None = None
        self.worker: IngestWorker | None = None
        #: Every site's samples onto the runtime's bus (current values, WebSocket), not stored.
        self.live: CentralIngest | None = None
        self._live_feed: Subscriber | None = None
        #: site → the hash of the configuration served, and the stamp of the centre's own file
        self._served: dict[str, tuple[str, tuple[int, int] | None]] = {}
        self._configs: dict[str, StoredSite] = {}  # site → the published configuration served
        self._told: set[tuple[str, str]] = set()  # (site, hash) said once: not served
        self._refresher: asyncio.Task[None] | None = None
        self._lagger: asyncio.Task[None] | None = None
        self.lag_every = lag_every
        self.lag_warning_s = lag_warning_s
        self._store: CentralStore | None = None  # the API's reads
        #: The API's commands on the served sites, queued for their edges.
        self.commands: CentralCommands | None = None
        #: The served sites' alarms and lag, for the API.
        self.view: CentralView | None = None

    async def _stored(self) -> list[StoredSite]:
        store = CentralStore(self.history_url)
        await store.start()
        try:
            return await store.sites()
        finally:
            await store.stop()

    def _site(self, stored: StoredSite) -> SiteConfig | None:
        try:
            return self.sites.build(stored.config)
        except ValueError as err:
            if (stored.site, stored.hash) not in self._told:
                self._told.add((stored.site, stored.hash))
                log.error("central: %s; the site is not served", err)
            return None

    async def start(self) -> None:
        """Serve every stored site, then ingest; a failure stops what was started."""
        try:
            queue = CommandQueue(self.history_url)
            await queue.create()
            self._store = CentralStore(self.history_url)
            await self._store.start()
            self.commands = CentralCommands(queue, self._store, self.clock, poke=self._poke)
            self.view = CentralView(self._store, self.clock, warn_s=self.lag_warning_s,
                                    online=self._online, received=self._received)
            self.writer = CentralWriter(queue, self.clock, self.commands.edge_writable,
                                        lease_s=self.lease_s,
                                        min_interval_s=self.command_interval_s, poke=self._poke,
                                        problems=self.sites.problems)
            sites: list[SiteConfig] = []
            for stored in await self._stored():
                cfg = self._site(stored)
                if cfg is not None:
                    sites.append(cfg)
                    self._serve(stored)
            front = self.api_front
            if front is not None:
                front = self._front(front)
            self.runtime = Runtime(sites, self.data_dir, clock=self.clock, state_url=self.state_url,
                                   history_url=self.history_url, store_samples=False,
                                   historian_options=self.historian_options, api=self.api,
                                   api_front=front, api_settings=self.api_settings,
                                   remote=self.writer, write_site=self.sites.write)
            await self.runtime.start()
            await self.writer.start()
            # The runtime's historian (configured with the sites' retention and time zones)
            # stores the worker's share, not its bus: each message is acknowledged once stored.
            extra: dict[str, Any] = {}
            if self.backfill_hours is not None:
                extra["backfill_hours"] = self.backfill_hours
            if self.keep_commands_s is not None:
                extra["keep_commands_s"] = self.keep_commands_s
            self.worker = IngestWorker(self.history_url, self.connect, prefix=self.prefix,
                                       group=self.group, clock=self.runtime.clock,
                                       sink=self.runtime.historian, ask=self.ask, token=self.token,
                                       **extra)
            await self.worker.start()
            assert self.worker.store is not None
            # Samples only (``{prefix}/SITE/EQUIP/NAME`` and ``…/devices/…``): its store is never written.
            self.live = CentralIngest(_BusSink(self.runtime.bus), self.worker.store, self.runtime.clock,
                                      self.prefix)
            self._live_feed = self.connect([f"{self.prefix}/+/+/+"], self.live.handle)
            await self._live_feed.start()
            self._refresher = asyncio.create_task(self._refresh_forever(), name="central refresh")
            self._lagger = asyncio.create_task(self._lag_forever(), name="central lag")
        except BaseException:
            await self.stop()
            raise
        log.info("central: serving %d sites", len(self._served))

    def _serve(self, stored: StoredSite) -> None:
        """``stored`` is the configuration served of its site: its commands, alarms and lag."""
        assert self.commands is not None and self.view is not None
        self._served[stored.site] = (stored.hash, self.sites.stamp(stored.site))
        self._configs[stored.site] = stored
        self.commands.serve(stored.site, stored.config)
        self.view.serve(stored.site, stored.config)

    def _unserve(self, site: str) -> None:
        """``site`` is not served (its first configuration could not be)."""
        self._served.pop(site, None)
        self._configs.pop(site, None)
        if self.commands is not None:
            self.commands.forget(site)
        if self.view is not None:
            self.view.forget(site)

    def _front(self, front: ApiFront) -> ApiFront:
        """The API served over ``CentralServices``: the runtime, and the queue for commands."""
        async def serve(services: Services, host: str, port: int, settings: Any) -> ServedApi:
            assert self.commands is not None and self.view is not None  # made before the API
            return await front(CentralServices(services, self.commands, self.view), host, port,
                               settings)
        return serve

    def _received(self) -> dict[str, float]:
        """Each site's newest sample the live feed received (every site's, not a share)."""
        return {} if self.live is None else self.live.newest

    def _online(self, site: str) -> bool | None:
        """The edge's last bridge status as this process's ingest heard it (retained, so every
        worker hears every site's); None: never heard."""
        ingest = self.worker.ingest if self.worker is not None else None
        return None if ingest is None else ingest.online.get(site)

    def _poke(self) -> None:
        dispatcher = self.worker.dispatcher if self.worker is not None else None
        if dispatcher is not None:
            dispatcher.poke()

    async def stop(self) -> None:
        """Stop ingesting, then the runtime (its history flushed)."""
        for task in (self._refresher, self._lagger):
            if task is not None:
                task.cancel()
                # a task that died of an error is said by its loop's log: the stop goes on
                await asyncio.gather(task, return_exceptions=True)
        self._refresher = self._lagger = None
        feed, self._live_feed = self._live_feed, None
        if feed is not None:
            await feed.stop()
        self.live = None
        worker, self.worker = self.worker, None
        if worker is not None:
            await worker.stop()
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            await runtime.stop()
        writer = self.writer
        if writer is not None:  # after the programs and schedules that write to it
            await writer.stop()
        store, self._store = self._store, None
        if store is not None:
            await store.stop()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_every)
            try:
                await self.refresh()
            except OpenBMSError as err:
                log.warning("central: the stored configurations could not be read (%s); tried "
                            "again in %g s", err, self.refresh_every)
            except Exception:  # one refresh's failure must not end the refreshes
                log.exception("central: a refresh of the served sites failed; tried again in %g s",
                              self.refresh_every)

    async def _lag_forever(self) -> None:
        failing = False
        while True:
            try:
                await self.refresh_lag()
            except Exception as err:
                if not failing:
                    log.warning("central: the sites' newest samples could not be read (%s); "
                                "their lag is as last read, tried again every %g s", err,
                                self.lag_every)
                failing = True
            else:
                if failing:
                    log.warning("central: the sites' newest samples are read again")
                failing = False
            await asyncio.sleep(self.lag_every)

    async def refresh_lag(self) -> None:
        """Read each site's newest stored sample (its lag) now."""
        if self.view is not None:
            await self.view.refresh_lag()

    async def refresh(self) -> list[str]:
        """Apply the newer configurations of the served sites, and serve the new ones; the sites
        changed or added."""
        assert self.runtime is not None
        changed = []
        for stored in await self._stored():
            served = self._served.get(stored.site)
            now = (stored.hash, self.sites.stamp(stored.site))
            if served == now or (stored.site, stored.hash) in self._told:
                continue
            cfg = self._site(stored)
            if cfg is None:
                continue
            if served is None:  # an edge's first configuration: the site is served from now
                self._serve(stored)  # first: the programs' catalogue follows its writable points
                try:
                    await self.runtime.add_site(cfg)
                except OpenBMSError as err:  # the configuration itself: said once
                    self._unserve(stored.site)
                    self._told.add((stored.site, stored.hash))
                    log.error("central: site %s published its first configuration, which could "
                              "not be served: %s", stored.site, err)
                    continue
                except Exception:  # the state database busy, say: tried again at the next refresh
                    self._unserve(stored.site)
                    log.exception("central: site %s published its first configuration, which "
                                  "could not be served now; tried again in %g s", stored.site,
                                  self.refresh_every)
                    continue
                log.info("central: site %s published its first configuration: served",
                         stored.site)
                changed.append(stored.site)
                continue
            before = self._configs[stored.site]
            if stored.hash == before.hash and cfg == self.runtime.site(stored.site):
                self._serve(stored)  # its own file rewritten by an API change already applied
                continue
            self._serve(stored)  # first: the programs' catalogue follows its writable points
            try:
                await self.runtime.apply_site(cfg, keep=False)
            except OpenBMSError as err:
                self._told.add((stored.site, stored.hash))
                log.error("central: site %s's new configuration could not be applied: %s",
                          stored.site, err)
                self._serve(before)
                self._site(before)  # the copy's published configuration is the one served again
                continue
            changed.append(stored.site)
        return changed

    def health(self) -> dict[str, Any]:
        """The ingest worker's counters and the sites served."""
        out = self.worker.health() if self.worker is not None else {}
        out["served"] = sorted(self._served)
        if self.writer is not None:
            out["supervision"] = self.writer.health()
        if self.live is not None:
            out["live"] = {"samples": self.live.samples, "refused": self.live.refused,
                           "bad": dict(self.live.bad)}
        return out
