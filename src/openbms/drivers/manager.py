"""The driver manager owns polling, so drivers only read and write.

Points are grouped by (driver, device, interval). Each group has one task
that reads its points in batches of the driver's ``max_batch``, stamps the
readings with the clock, and publishes one bus batch per read. Polls are
spread over the interval so a thousand devices do not fire at once. A driver
with an in-flight limit (below) makes its first round at once instead, as
fast as the limit lets it (every point has a value soonest after a start),
and each device then keeps its place in the spread from its second poll on.

A driver with a ``max_in_flight()`` limit (BACnet's requests in flight at
once) is given no more reads at a time than that: a read's timeout starts
when the read does, so it measures the device, not the queue behind every
other device's reads (at 1 000 devices, reads queued behind the limit timed
out and took their devices offline).

A read that times out or raises is retried ``retries`` times with
exponential backoff and jitter. When a device still does not answer, its
points are published once as ``offline`` (logged once), and it is tried
again at a growing interval, capped at ``max_backoff``. When it answers
again its points return with their real values (logged once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from openbms.drivers.base import Driver
from openbms.errors import DeviceUnreachable, DriverError, OpenBMSError
from openbms.model.binding import Binding
from openbms.model.device import DeviceHealth
from openbms.model.sample import OFFLINE, Reading, Sample, Value, finite_or_fault
from openbms.model.site import DriverSettings
from openbms.model.units import lookup
from openbms.runtime.bus import Bus
from openbms.runtime.clock import Clock
from openbms.runtime.tasks import cancel_and_wait

__all__ = ["DeviceHealth", "DriverManager", "PointBinding"]

log = logging.getLogger(__name__)


def _slots(driver: Driver) -> asyncio.Semaphore | None:
    """The reads a driver serves at once (its optional ``max_in_flight()``), None: no limit."""
    limit = getattr(driver, "max_in_flight", None)
    n = limit() if callable(limit) else None
    return asyncio.Semaphore(n) if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


class PointBinding(NamedTuple):
    """A point the manager polls: its id, its parsed binding, its poll interval in seconds,
    and its configured unit (checked once against what the device reports)."""

    point: str
    binding: Binding
    interval: float
    unit: str | None = None


@dataclass(slots=True)
class _Group:
    driver: Driver
    device: str
    interval: float
    points: list[PointBinding]
    batches: list[list[PointBinding]] = field(default_factory=list)
    offset: float = 0.0
    # The clock's time up to which readings with their own ts were already published (by the
    # driver's change callback, or by the previous poll): they are not published again.
    reported: float = float("-inf")


class DriverManager:
    """Polls every configured point through its driver and publishes samples on the bus."""

    def __init__(
        self,
        bus: Bus,
        clock: Clock,
        drivers: Mapping[str, Driver],
        points: Sequence[PointBinding],
        settings: Mapping[str, DriverSettings] | None = None,
        seed: int | None = None,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.drivers = dict(drivers)
        self.settings = {name: (settings or {}).get(name) or DriverSettings() for name in drivers}
        self._by_point = {p.point: p for p in points}
        self._groups = self._plan(points)
        self._health: dict[tuple[str, str], DeviceHealth] = {}
        for g in self._groups:
            key = (g.driver.name, g.device)
            h = self._health.get(key)
            if h is None:
                self._health[key] = DeviceHealth(g.driver.name, g.device, len(g.points))
            else:
                h.points += len(g.points)
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False  # a stopped manager's change callbacks publish nothing
        self._units_checked: set[tuple[str, str, float]] = set()
        self._rng = random.Random(seed)
        self._slots = {id(driver): _slots(driver) for driver in self.drivers.values()}

    def _plan(self, points: Sequence[PointBinding]) -> list[_Group]:
        groups: dict[tuple[str, str, float], _Group] = {}
        for p in points:
            driver = self.drivers.get(p.binding.scheme)
            if driver is None:
                raise DriverError(f"point {p.point}: no driver for {p.binding.scheme}:// bindings")
            device = driver.device_key(p.binding)
            key = (driver.name, device, p.interval)
            g = groups.get(key)
            if g is None:
                g = groups[key] = _Group(driver, device, p.interval, [])
            g.points.append(p)
        # Spread first polls: within each interval, groups start evenly apart.
        by_interval: dict[float, list[_Group]] = {}
        for g in groups.values():
            size = max(1, g.driver.max_batch(g.device))
            g.batches = [g.points[i : i + size] for i in range(0, len(g.points), size)]
            by_interval.setdefault(g.interval, []).append(g)
        for interval, gs in by_interval.items():
            for i, g in enumerate(gs):
                g.offset = interval * i / len(gs)
        return list(groups.values())

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start one polling task per device group. A driver that can forget points
        (``retain``: the MQTT driver unsubscribes their topics) is first told which bindings
        this configuration still has: a reconfiguration's manager drops what the old one had."""
        self._running = True
        for scheme, driver in self.drivers.items():
            retain = getattr(driver, "retain", None)
            if retain is not None:
                try:
                    await retain([p.binding for p in self._by_point.values()
                                  if p.binding.scheme == scheme])
                except Exception as err:  # forgetting is housekeeping: polling starts anyway
                    log.warning("%s: could not drop the points of the last configuration: %s",
                                scheme, err)
        for g in self._groups:
            self._tasks.append(
                asyncio.create_task(self._run(g), name=f"poll {g.driver.name}://{g.device}")
            )

    async def stop(self) -> None:
        """Cancel polling and wait for the tasks to end; changes the drivers report afterwards
        (they keep this manager's callback until a new one subscribes) are not published."""
        self._running = False
        await cancel_and_wait(*self._tasks, every=1.0)
        self._tasks.clear()

    # ------------------------------------------------------------------ polling

    async def _run(self, g: _Group) -> None:
        health = self._health[(g.driver.name, g.device)]
        settings = self.settings[g.driver.name]
        interval = g.interval
        confirm: Callable[[str], Awaitable[None]] | None = None
        if await self._subscribe(g, health):
            interval = max(5 * g.interval, 60.0)  # changes arrive by themselves; poll to confirm
            g.reported = self.clock.now()
            confirm = getattr(g.driver, "confirm", None)
        # The place of this group in the spread. Behind an in-flight limit the first round
        # runs at once (the limit queues it, and a read's timeout starts with its slot); from
        # the second poll on the groups are spread. Without a limit the first poll waits for it.
        anchor: float | None = self.clock.monotonic() + g.offset
        if self._slots.get(id(g.driver)) is None:
            await self.clock.sleep(g.offset)
            anchor = None
        while True:
            started = self.clock.monotonic()
            ok = await self._poll(g, health, settings)
            if anchor is not None:
                started, anchor = anchor, None
            if ok:
                wait = interval
            else:  # offline: back off, up to max_backoff, with jitter
                wait = min(settings.max_backoff, interval * 2 ** min(health.consecutive_failures, 16))
                wait *= self._rng.uniform(0.8, 1.2)
            if ok and confirm is not None:
                await self._confirm_until(g, confirm, started + wait, settings)
            else:
                await self.clock.sleep(max(0.0, started + wait - self.clock.monotonic()))

    async def _confirm_until(self, g: _Group, confirm: Callable[[str], Awaitable[None]], until: float,
                             settings: DriverSettings) -> None:
        """Between a subscribed device's polls, confirm it is there with one small request every
        ``confirm_interval``; return at ``until``, or at once when it does not answer (the poll that
        follows, with its retries, marks it offline): a gone device is noticed in seconds, not a minute.
        """
        every = float(getattr(g.driver, "confirm_interval", lambda _d: g.interval)(g.device))
        while until - self.clock.monotonic() > every:
            await self.clock.sleep(every)
            try:
                async with asyncio.timeout(settings.timeout):
                    await confirm(g.device)
            except asyncio.CancelledError:
                raise
            except (TimeoutError, DeviceUnreachable):
                return
            except Exception as err:  # a driver bug must not stop polling: poll as before
                log.debug("%s://%s: confirm failed: %s", g.driver.name, g.device, err)
                return
        await self.clock.sleep(max(0.0, until - self.clock.monotonic()))

    async def _subscribe(self, g: _Group, health: DeviceHealth) -> bool:
        points = {p.binding.uri: p.point for p in g.points}  # one lookup per change, not a scan

        def on_change(binding: Binding, value: Value, status: str, ts: float | None = None) -> None:
            """A change reported by the device; ``ts`` its own time when the message carries one."""
            point = points.get(binding.uri)
            if point is not None and self._running:
                value, status = finite_or_fault(value, status)
                self.bus.publish([Sample(point, self.clock.now() if ts is None else ts, value,
                                         status)])

        def on_changes(changes: Sequence[tuple[Binding, Value, str, float | None]]) -> None:
            """A message's changes at once (a JSON object of many points): one bus batch."""
            if not self._running:
                return
            now = self.clock.now()
            samples = []
            for binding, value, status, ts in changes:
                point = points.get(binding.uri)
                if point is not None:
                    value, status = finite_or_fault(value, status)
                    samples.append(Sample(point, now if ts is None else ts, value, status))
            if samples:
                self.bus.publish(samples)

        on_change.many = on_changes  # type: ignore[attr-defined]  # a driver may use either form

        try:
            health.subscribed = bool(
                await g.driver.subscribe(g.device, [p.binding for p in g.points], on_change)
            )
        except (OpenBMSError, Exception) as err:  # a refused subscription means polling
            log.info("%s://%s: no change subscriptions (%s); polling", g.driver.name, g.device, err)
            health.subscribed = False
        return health.subscribed

    async def _poll(self, g: _Group, health: DeviceHealth, settings: DriverSettings) -> bool:
        """Read every batch of a group once; False when the device did not answer."""
        for batch in g.batches:
            readings = await self._read_with_retries(g, batch, health, settings)
            if readings is None:
                self._mark_offline(g, health)
                return False
            now = self.clock.now()
            samples = []
            for p, r in zip(batch, readings, strict=False):
                if r.ts is not None and r.ts <= g.reported:
                    continue  # a sample already published with its own time: not again
                value, status = finite_or_fault(r.value, r.status)
                if status == "fault":
                    health.point_faults += 1
                samples.append(Sample(p.point, now if r.ts is None else r.ts, value, status))
            self.bus.publish(samples)
            g.reported = now
        key = (g.driver.name, g.device, g.interval)
        if key not in self._units_checked:
            self._units_checked.add(key)
            if any(p.unit for p in g.points):
                self._tasks.append(asyncio.create_task(self._check_units(g, health, settings)))
        if health.state == "offline":
            log.warning("%s://%s answers again after %d failed polls", g.driver.name, g.device,
                        health.consecutive_failures)
        health.state = "ok"
        health.consecutive_failures = 0
        health.last_ok = self.clock.now()
        return True

    async def _read_with_retries(
        self, g: _Group, batch: list[PointBinding], health: DeviceHealth, settings: DriverSettings
    ) -> list[Reading] | None:
        bindings = [p.binding for p in batch]
        attempts = 1 + (settings.retries if health.state != "offline" else 0)
        for attempt in range(attempts):
            health.reads += 1
            try:
                async with self._slot(g.driver), asyncio.timeout(settings.timeout):
                    readings = await g.driver.read(g.device, bindings)
            except TimeoutError:
                error = f"no answer within {settings.timeout:g} s"
            except DeviceUnreachable as err:
                error = str(err)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a driver bug must not stop polling
                error = f"{type(err).__name__}: {err}"
                log.debug("driver %s raised on %s", g.driver.name, g.device, exc_info=True)
            else:
                if len(readings) != len(bindings):
                    error = (f"driver returned {len(readings)} readings for {len(bindings)} "
                             "points")
                else:
                    return readings
            health.read_errors += 1
            health.last_error = error
            if attempt + 1 < attempts:
                backoff = min(settings.max_backoff, 0.5 * 2**attempt) * self._rng.uniform(0.5, 1.5)
                await self.clock.sleep(backoff)
        return None

    async def _check_units(self, g: _Group, health: DeviceHealth, settings: DriverSettings) -> None:
        """Once per device: the units it reports against the points' configured units."""
        checked = [p for p in g.points if p.unit]
        try:
            async with self._slot(g.driver), asyncio.timeout(max(settings.timeout, 1.0) * 4):
                reported = await g.driver.units(g.device, [p.binding for p in checked])
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a check that cannot run is not a failure of the device
            log.debug("%s://%s: units not checked: %s", g.driver.name, g.device, err)
            return
        for p, theirs in zip(checked, reported, strict=False):
            if theirs is None or p.unit is None:
                continue
            ours = lookup(p.unit)
            if ours is not None and ours.symbol == theirs:
                continue
            text = f"{p.point}: configured in {p.unit}, the device reports {theirs}"
            health.unit_mismatches.append(text)
            log.warning("%s://%s: unit mismatch: %s", g.driver.name, g.device, text)

    def _slot(self, driver: Driver) -> contextlib.AbstractAsyncContextManager[Any]:
        """Held while a read runs: one of the driver's ``max_in_flight`` (no limit without one)."""
        slots = self._slots.get(id(driver))
        return contextlib.nullcontext() if slots is None else slots

    def _mark_offline(self, g: _Group, health: DeviceHealth) -> None:
        health.consecutive_failures += 1
        if health.state == "offline":
            return
        health.state = "offline"
        log.warning("%s://%s is offline: %s; its %d points are marked offline",
                    g.driver.name, g.device, health.last_error, health.points)
        now = self.clock.now()
        # Every group of this device (several poll intervals) goes offline together.
        samples = [Sample(p.point, now, None, OFFLINE) for other in self._groups
                   if other.driver is g.driver and other.device == g.device for p in other.points]
        self.bus.publish(samples)

    # ------------------------------------------------------------------ writes and health

    async def write(self, point: str, value: Value, priority: int | None = None) -> None:
        """Write a point through its driver (the arbiter calls this; nothing else should)."""
        driver, p, timeout = self._target(point)
        try:
            async with asyncio.timeout(timeout):
                await driver.write(p.binding, value, priority)
        except TimeoutError:
            raise DeviceUnreachable(f"{point}: no answer to the write within {timeout:g} s") from None

    async def read_point(self, point: str) -> Reading:
        """Read one point now (the arbiter's read-back after a write)."""
        driver, p, timeout = self._target(point)
        try:
            async with asyncio.timeout(timeout):
                (reading,) = await driver.read(driver.device_key(p.binding), [p.binding])
        except TimeoutError:
            raise DeviceUnreachable(f"{point}: no answer within {timeout:g} s") from None
        return reading

    def _target(self, point: str) -> tuple[Driver, PointBinding, float]:
        """A point's driver, binding and the time a single request to it may take."""
        p = self._by_point.get(point)
        if p is None:
            raise DriverError(f"point {point!r} has no binding")
        driver = self.drivers[p.binding.scheme]
        return driver, p, self.settings[driver.name].timeout * 2

    def health(self) -> dict[str, DeviceHealth]:
        """Per device, keyed ``driver://device``."""
        return {f"{d}://{dev}": h for (d, dev), h in self._health.items()}
