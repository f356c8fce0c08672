"""The arbiter: a 16-level priority array per writable point, and the only way to equipment.

Every command (from operators, the API, schedules, logic programs and
optimisers) lands in a priority slot of its point. The effective value is
the value of the lowest-numbered non-empty slot, else the point's
relinquish default (BACnet's meaning: 1 manual life safety … 8 manual
operator … 16 lowest). The arbiter then writes to the device:

- ``effective`` mode (the default): the effective value, at the point's
  device priority, only when it changes; ``passthrough`` mode: each slot's
  change at its own priority, and the device arbitrates (BACnet commandable
  objects, where a panel override must still win).
- Safety first: a value outside the point's ``limits`` (min/max), a number
  that is not finite or beyond ±``MAX_VALUE`` (1e9, whatever the limits), a
  value of the wrong type, at a priority outside 1–16, or for an unknown or
  read-only point is refused with the reason, and nothing is written; nor is
  an effective value (a relinquish default) that is not such a number. An enum's value is
  its state number, counted from 1 as BACnet's multi-state objects do; a label (in a
  command or as the relinquish default) becomes that number. A write that would come
  sooner than ``min_interval`` after the last, or would switch a binary
  output before ``min_on``/``min_off`` has passed, is held back and made
  when allowed, with the value that is effective then (the command stays
  ``executing`` meanwhile).
- After a write it reads the point back and fails the command if the
  device reports something else. A failed command (also one whose write was
  held back) gives its slot back to the command that held it before, which is
  superseded only once the new one is in effect (a timed override whose time
  came meanwhile is expired instead). A timed override (``expires_at``)
  releases itself. A device that drifts from the written value (it
  restarted, or lost its array) gets the value re-asserted, at most once per
  ``reassert_interval``; a point whose write could not reach its device is
  written again when the device answers.
- A site in ``dry_run`` logs what would be written and writes nothing.

Commands persist in the state database (:class:`CommandStore`); at start the
arbiter rebuilds the arrays from them and re-applies unexpired overrides (a
stored value the checks above would refuse now is not restored: it is marked
failed with the reason).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from openbms.control.commands import DEFAULT_PRIORITY, CommandStore, new_command_id
from openbms.errors import CommandError, DeviceUnreachable, DriverError, WriteRefused
from openbms.model.command import Command, CommandSource, CommandStatus
from openbms.model.fields import state_number
from openbms.model.sample import OFFLINE, OK, Reading, Sample, Value
from openbms.model.site import Point, SiteConfig, value_problem
from openbms.runtime.clock import Clock

__all__ = ["Arbiter", "PointIO"]

log = logging.getLogger(__name__)

_UNSET: Any = object()  # nothing written yet
_CONTINUOUS = (CommandSource.LOGIC, CommandSource.OPTIMISER)
_SAFETY = 5  # priorities 1–5 (life safety, critical equipment) are never held back
_RESTORE_IN_FLIGHT = 8
_FLUSH_DELAY = 0.0  # changes made while a flush runs share the next transaction
_REASSERT_GRACE = 10.0  # seconds after a write during which a differing sample is not drift


class PointIO(Protocol):
    """What the arbiter needs of the drivers (the driver manager provides it)."""

    async def write(self, point: str, value: Value, priority: int | None = None) -> None: ...

    async def read_point(self, point: str) -> Reading: ...


@dataclass(slots=True)
class _Controlled:
    """One writable point: its configuration and its priority array."""

    id: str
    site: str
    point: Point
    dry_run: bool
    reassert_interval: float
    slots: list[Command | None]
    written: Any = _UNSET  # the value last written in effective mode (None: released)
    written_at: float = -math.inf
    switched_at: float = -math.inf  # when a binary output last changed state
    needs_write: bool = False
    dirty: set[int] | None = None  # passthrough: priorities changed and not yet written
    held: list[Command] | None = None  # commands waiting for a held-back write
    waiting: asyncio.Task[None] | None = None
    last_reassert: float = -math.inf
    mismatch: Any = _UNSET  # what the device reported instead of the value written
    lock: asyncio.Lock | None = None
    #: per command not settled yet: what held its slot before, and that one's status then
    #: (back in the slot, as it was, if the command fails; its write may be held back)
    restore: dict[str, tuple[Command | None, CommandStatus | None]] = field(default_factory=dict)

    def effective(self) -> Value:
        for c in self.slots:
            if c is not None:
                return c.value
        return self.point.relinquish_value  # an enum's label as its state number


class Arbiter:
    """Priority arrays, safety checks and the command lifecycle for every writable point."""

    def __init__(self, sites: Iterable[SiteConfig], io: PointIO, clock: Clock,
                 store: CommandStore | None = None,
                 on_command: Callable[[Command], None] | None = None) -> None:
        self.io = io
        self.clock = clock
        self.store = store
        self.on_command = on_command
        self._points: dict[str, _Controlled] = {}
        for cfg in sites:
            for pid, _equip, point in cfg.points():
                if point.writable:
                    self._points[pid] = _Controlled(
                        pid, cfg.site.id, point, cfg.control.dry_run,
                        cfg.control.reassert_interval, [None] * 16)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._expiry: dict[str, asyncio.Task[None]] = {}
        self.writes = 0
        self.dry_writes = 0
        self._created = -math.inf
        self._inserts: dict[str, Command] = {}
        self._updates: dict[str, Command] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Rebuild the priority arrays from the stored commands, then write what they say.

        Every point with a command history is written again, also one whose overrides
        all expired while openbms was down (its device may still hold the override).
        The writes run in the background, a few at a time, so that an offline device
        does not hold up the start; they are made when the device answers.
        """
        if self.store is None:
            return
        now = self.clock.now()
        dropped: list[Command] = []  # expired, or refused now
        touched: set[str] = set()
        for cmd in await asyncio.to_thread(self.store.holding):
            ctl = self._points.get(cmd.point)
            if ctl is None:
                continue
            touched.add(cmd.point)
            if cmd.release:
                continue
            if cmd.expires_at is not None and cmd.expires_at <= now:
                cmd.status, cmd.updated_at = CommandStatus.EXPIRED, now
                dropped.append(cmd)
                continue
            try:
                # Checked again: the table may hold what an older openbms let through
                # (±1e300 past a NaN limit), or what the limits no longer allow.
                cmd.value = self._checked(ctl, cmd.value)
            except CommandError as err:
                log.warning("%s: a stored command at priority %d is not restored: %s",
                            ctl.id, cmd.priority, err)
                cmd.status, cmd.error, cmd.updated_at = (CommandStatus.FAILED,
                                                         f"not restored: {err}", now)
                dropped.append(cmd)
                continue
            ctl.slots[cmd.priority - 1] = cmd
            if cmd.expires_at is not None:
                self._schedule_expiry(ctl, cmd)
        if dropped:
            await asyncio.to_thread(self.store.update, dropped)
        limit = asyncio.Semaphore(_RESTORE_IN_FLIGHT)

        async def restore(ctl: _Controlled) -> None:
            async with limit:
                await self._apply(ctl, force=True)

        for point in sorted(touched):
            ctl = self._points[point]
            log.info("%s: restoring its priority array (effective %r)", ctl.id, ctl.effective())
            self._spawn(restore(ctl))

    async def stop(self) -> None:
        """Cancel held-back writes and expiry timers (the commands stay recorded).

        From here on, new commands are refused (not recorded) and nothing is written:
        the drivers stop next, and a shutdown must not mark commands failed.
        """
        self._stopping = True
        tasks = [*self._tasks, *self._expiry.values(),
                 *(c.waiting for c in self._points.values() if c.waiting is not None)]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._expiry.clear()
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self.flush()

    def reconfigure(self, sites: Iterable[SiteConfig]) -> None:
        """Follow a configuration change: points that stay keep their priority arrays and
        state (with their new settings), new writable points start empty, removed ones go.

        A held command the new settings refuse (a limit lowered below it, a kind changed
        under it) leaves its slot at once and is marked failed with the reason, as at
        start; the device then gets the new effective value (in the background, as soon
        as the point's limits allow), also when only the relinquish default changed.
        """
        seen: set[str] = set()
        for cfg in sites:
            for pid, _equip, point in cfg.points():
                if not point.writable:
                    continue
                seen.add(pid)
                ctl = self._points.get(pid)
                if ctl is None:
                    self._points[pid] = _Controlled(pid, cfg.site.id, point, cfg.control.dry_run,
                                                    cfg.control.reassert_interval, [None] * 16)
                else:
                    ctl.point, ctl.dry_run = point, cfg.control.dry_run
                    ctl.reassert_interval = cfg.control.reassert_interval
                    refused = self._withdraw_refused(ctl)
                    if refused or (ctl.written is not _UNSET
                                   and not _same(ctl.effective(), ctl.written)):
                        self._spawn(self._reapply(ctl, refused))
        for pid in set(self._points) - seen:
            ctl = self._points.pop(pid)
            for c in ctl.slots:
                if c is not None:
                    self._cancel_expiry(c)
            if ctl.waiting is not None:
                ctl.waiting.cancel()

    def _withdraw_refused(self, ctl: _Controlled) -> list[Command]:
        """Empty the slots whose command the point's (new) settings refuse; those commands,
        marked failed with the reason (to be recorded by the caller)."""
        now = self.clock.now()
        refused: list[Command] = []
        for i, c in enumerate(ctl.slots):
            if c is None:
                continue
            try:
                c.value = self._checked(ctl, c.value)
            except CommandError as err:
                log.warning("%s: the command at priority %d is withdrawn after a configuration "
                            "change: %s", ctl.id, i + 1, err)
                ctl.slots[i] = None
                self._cancel_expiry(c)
                c.status, c.error, c.updated_at = (
                    CommandStatus.FAILED, f"withdrawn after a configuration change: {err}", now)
                refused.append(c)
        return refused

    async def _reapply(self, ctl: _Controlled, refused: list[Command]) -> None:
        """After a settings change: record the withdrawn commands, then write the point."""
        async with self._lock(ctl):
            # Checked again under the lock: a command checked against the old settings may
            # have taken its slot while this waited.
            refused = [*refused, *self._withdraw_refused(ctl)]
            for c in refused:
                await self._record(c)
            if self._stopping or self._points.get(ctl.id) is not ctl:
                return
            if ctl.dirty is None:
                ctl.dirty, ctl.held = set(), []
            ctl.dirty.update(c.priority for c in refused)  # passthrough: released on the device
            await self._apply_locked(ctl, None, None, True)

    # ------------------------------------------------------------------ commands

    async def command(self, point: str, value: Value, priority: int | None = None, *,
                      source: CommandSource | str = CommandSource.OPERATOR,
                      requested_by: str = "", reason: str = "",
                      duration: float | None = None, expires_at: float | None = None) -> Command:
        """Set ``point`` to ``value`` at ``priority`` (the source's default if None).

        Returns the command once it is written, held back, or failed. Raises
        :class:`CommandError` for a request that is refused before anything is
        written (the refusal is recorded too).
        """
        return await self._submit(point, value, priority, source, requested_by, reason,
                                  duration, expires_at, release=False)

    async def release(self, point: str, priority: int | None = None, *,
                      source: CommandSource | str = CommandSource.OPERATOR,
                      requested_by: str = "", reason: str = "") -> Command:
        """Empty ``point``'s slot at ``priority``: the next slot (or the default) takes over."""
        return await self._submit(point, None, priority, source, requested_by, reason,
                                  None, None, release=True)

    def priority_array(self, point: str) -> list[Value]:
        """The 16 slots (None where empty)."""
        ctl = self._get(point)
        return [c.value if c is not None else None for c in ctl.slots]

    def slots(self, point: str) -> list[Command | None]:
        """The 16 slots with the commands that hold them."""
        return list(self._get(point).slots)

    def effective(self, point: str) -> Value:
        """The value the arbiter wants the device to have."""
        return self._get(point).effective()

    def controlled(self) -> list[str]:
        """Ids of every writable point."""
        return list(self._points)

    def _get(self, point: str) -> _Controlled:
        ctl = self._points.get(point)
        if ctl is None:
            raise CommandError(f"{point}: no such writable point")
        return ctl

    async def _submit(self, point: str, value: Value, priority: int | None,
                      source: CommandSource | str, requested_by: str, reason: str,
                      duration: float | None, expires_at: float | None, *,
                      release: bool) -> Command:
        if self._stopping:
            raise CommandError(f"{point}: openbms is stopping; the command was not taken")
        now = self.clock.now()
        try:
            src = CommandSource(source)
        except ValueError:
            raise CommandError(f"unknown command source {source!r} (expected one of: "
                               f"{', '.join(s.value for s in CommandSource)})") from None
        prio = DEFAULT_PRIORITY[src] if priority is None else priority
        # Strictly increasing creation times: the newest command of a slot is unambiguous.
        now = self._created = max(now, self._created + 1e-6)
        if duration is not None:
            if not (isinstance(duration, int | float) and not isinstance(duration, bool)
                    and duration > 0 and math.isfinite(duration)):
                raise CommandError(f"duration must be a positive number of seconds, not {duration!r}",
                                   field="duration_s")
            expires_at = now + duration
        elif expires_at is not None and not (isinstance(expires_at, int | float)
                                             and not isinstance(expires_at, bool)
                                             and math.isfinite(expires_at)):
            raise CommandError(f"expires_at must be a time (epoch seconds), not {expires_at!r}",
                               field="expires_at")
        cmd = Command(id=new_command_id(), point=point, value=value,
                      priority=prio if isinstance(prio, int) and 1 <= prio <= 16 else 16,
                      source=src, requested_by=requested_by, reason=reason, release=release,
                      expires_at=expires_at, created_at=now, updated_at=now)
        ctl = self._points.get(point)
        try:
            if ctl is None:
                raise CommandError(f"{point}: no such point, or it is not writable")
            if not isinstance(prio, int) or isinstance(prio, bool) or not 1 <= prio <= 16:
                raise CommandError(f"{point}: priority must be a whole number from 1 to 16, "
                                   f"not {prio!r}", field="priority")
            if expires_at is not None and expires_at <= now:
                raise CommandError(f"{point}: the override would expire before it starts",
                                   field="duration_s" if duration is not None else "expires_at")
            if not release:
                cmd.value = self._checked(ctl, value)
        except CommandError as err:
            if ctl is not None:  # an unknown point is not recorded against a point id
                cmd.status, cmd.error = CommandStatus.FAILED, str(err)
                await self._record(cmd, new=True)
            raise
        async with self._lock(ctl):
            return await self._submit_locked(ctl, cmd, src, requested_by, expires_at, release, now)

    async def _submit_locked(self, ctl: _Controlled, cmd: Command, src: CommandSource,
                             requested_by: str, expires_at: float | None, release: bool,
                             now: float) -> Command:
        prio = cmd.priority
        previous = ctl.slots[prio - 1]
        if (not release and previous is not None and src in _CONTINUOUS
                and previous.source == src and previous.requested_by == requested_by
                and expires_at is None and previous.expires_at is None):
            # A program's or optimiser's next value for its own slot: the same command row,
            # updated, rather than one row per change (a PID output changes every few seconds).
            previous.value, previous.updated_at = cmd.value, now
            previous.status, previous.error = CommandStatus.EXECUTING, ""
            await self._apply_locked(ctl, previous, prio, False)
            return previous
        cmd.status = CommandStatus.EXECUTING
        await self._record(cmd, new=True, tell=False)
        ctl.slots[prio - 1] = None if release else cmd
        # Told once the slot holds it: what is told (the commands service's version, under
        # which the API caches what the arrays say) never comes before the array it tells of.
        self._tell(cmd)
        if not release:
            # Kept until the command settles, which may be after a held-back write.
            ctl.restore[cmd.id] = (previous, previous.status if previous is not None else None)
        try:
            await self._apply_locked(ctl, cmd, prio, False)
        except BaseException:
            ctl.restore.pop(cmd.id, None)
            raise
        if cmd.status == CommandStatus.FAILED and not release:
            # Not in effect (refused, or the device shows another value): ``_settle`` put
            # what held the slot before back (before telling of the failure) and brings the
            # device back in line.
            return cmd
        if previous is not None and previous is not cmd and previous.status != CommandStatus.EXPIRED:
            self._cancel_expiry(previous)
            previous.status, previous.updated_at = CommandStatus.SUPERSEDED, self.clock.now()
            await self._record(previous)
        if cmd.expires_at is not None and not release and ctl.slots[prio - 1] is cmd:
            self._schedule_expiry(ctl, cmd)
        return cmd

    def _lock(self, ctl: _Controlled) -> asyncio.Lock:
        if ctl.lock is None:
            ctl.lock = asyncio.Lock()
        return ctl.lock

    def _checked(self, ctl: _Controlled, value: Value) -> Value:
        """The value in the point's type, or CommandError saying what was expected."""
        p = ctl.point
        if p.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise CommandError(f"{ctl.id}: expected true or false, not {value!r}", field="value")
        if p.kind == "enum":
            states = p.states or ()
            number = state_number(states, value)  # a label, or 1–N as BACnet counts
            if number is not None:
                return number
            raise CommandError(f"{ctl.id}: expected a state 1–{len(states)} or one of "
                               f"{', '.join(states)}; not {value!r}", field="value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CommandError(f"{ctl.id}: expected a number, not {value!r}", field="value")
        problem = value_problem(value)
        if problem is not None:  # whatever the limits say: NaN, infinities, ±1e300
            raise CommandError(f"{ctl.id}: {problem}", field="value")
        limits = p.limits
        if limits is not None:
            # ``not value >= min``, not ``value < min``: a NaN limit (a configuration that
            # skipped validation) then refuses every value instead of none.
            if limits.min is not None and not value >= limits.min:
                raise CommandError(f"{ctl.id}: {value:g} is below the point's minimum "
                                   f"{limits.min:g}{' ' + p.unit if p.unit else ''}", field="value")
            if limits.max is not None and not value <= limits.max:
                raise CommandError(f"{ctl.id}: {value:g} is above the point's maximum "
                                   f"{limits.max:g}{' ' + p.unit if p.unit else ''}", field="value")
        return float(value)

    # ------------------------------------------------------------------ writing

    async def _apply(self, ctl: _Controlled, cmd: Command | None = None, *,
                     changed_priority: int | None = None, force: bool = False) -> None:
        """Bring the device in line with the array, now or as soon as safety allows."""
        if self._stopping:
            return
        async with self._lock(ctl):
            await self._apply_locked(ctl, cmd, changed_priority, force)

    async def _apply_locked(self, ctl: _Controlled, cmd: Command | None,
                            changed_priority: int | None, force: bool) -> None:
        now = self.clock.now()
        desired = ctl.effective()
        passthrough = ctl.point.command.mode == "passthrough"
        if ctl.dirty is None:
            ctl.dirty, ctl.held = set(), []
        assert ctl.held is not None
        if changed_priority is not None:
            ctl.dirty.add(changed_priority)
        if cmd is not None:
            ctl.held.append(cmd)
        if not force and not ctl.needs_write and (
                not ctl.dirty if passthrough else _same(desired, ctl.written)):
            await self._settle(ctl, CommandStatus.COMPLETED)  # nothing to change
            return
        wait = self._hold_back(ctl, desired, now)
        if wait > 0:
            ctl.needs_write = True
            if ctl.waiting is None or ctl.waiting.done():
                ctl.waiting = asyncio.create_task(self._later(ctl, now + wait))
            log.debug("%s: write of %r held back %.1f s by its limits", ctl.id, desired, wait)
            return  # the commands stay executing until the held-back write is made
        if ctl.waiting is not None and not ctl.waiting.done() and ctl.waiting is not asyncio.current_task():
            ctl.waiting.cancel()  # a safety priority writes now; nothing is left to wait for
            ctl.waiting = None
        if passthrough:
            prios = set(ctl.dirty)
            if force:
                prios |= {i + 1 for i, c in enumerate(ctl.slots) if c is not None}
            writes = [(p, _slot_value(ctl, p)) for p in sorted(prios)]
        else:
            writes = [(ctl.point.command.priority, desired)]
        unsafe = next((why for _p, v in writes if (why := value_problem(v)) is not None), None)
        if unsafe is not None:
            # Commands are checked when they arrive, so only a relinquish default that skipped
            # validation gets here: the device keeps what it has rather than receive it.
            error = f"{ctl.id}: not written: {unsafe}"
            log.error("%s", error)
            ctl.needs_write = False
            await self._settle(ctl, CommandStatus.FAILED, error)
            return
        try:
            for prio, value in writes:
                await self._write(ctl, value, prio)
                ctl.dirty.discard(prio)
        except (WriteRefused, DeviceUnreachable, DriverError) as err:
            await self._failed_write(ctl, cmd, err, passthrough)
            return
        if isinstance(desired, bool) and not _same(desired, ctl.written):
            ctl.switched_at = now
        ctl.written, ctl.written_at, ctl.needs_write = desired, now, False
        error, reported = await self._verify(ctl, desired)
        ctl.mismatch = reported if error else _UNSET
        if error:
            log.warning("%s", error)
        await self._settle(ctl, CommandStatus.FAILED if error else CommandStatus.COMPLETED, error)

    def _hold_back(self, ctl: _Controlled, desired: Value, now: float) -> float:
        """Seconds to wait before this write is safe (0: now)."""
        limits = ctl.point.limits
        if limits is None or ctl.written is _UNSET:
            return 0.0
        active = next((i + 1 for i, c in enumerate(ctl.slots) if c is not None), 17)
        if active <= _SAFETY:
            return 0.0  # life safety and critical equipment control wait for nothing
        wait = 0.0
        if limits.min_interval:
            wait = max(wait, ctl.written_at + limits.min_interval - now)
        if ctl.point.kind == "bool" and isinstance(ctl.written, bool) and isinstance(desired, bool) \
                and desired != ctl.written:
            hold = limits.min_on if ctl.written else limits.min_off
            if hold:
                wait = max(wait, ctl.switched_at + hold - now)
        return wait

    async def _later(self, ctl: _Controlled, until: float) -> None:
        await self.clock.sleep(until - self.clock.now())
        ctl.waiting = None
        await self._apply(ctl, force=True)

    async def _write(self, ctl: _Controlled, value: Value, priority: int | None) -> None:
        if ctl.dry_run:
            self.dry_writes += 1
            log.info("dry run: would write %s = %r at priority %s", ctl.id, value, priority)
            return
        self.writes += 1
        await self.io.write(ctl.id, value, priority)

    async def _verify(self, ctl: _Controlled, desired: Value) -> tuple[str, Any]:
        """('', None) when the device reports what was written, else (why not, what it reports)."""
        if ctl.dry_run or not ctl.point.command.verify or desired is None:
            return "", None
        try:
            reading = await self.io.read_point(ctl.id)
        except (DriverError, TimeoutError) as err:
            return f"{ctl.id}: written, but reading it back failed: {err}", _UNSET
        if reading.status == OFFLINE or reading.value is None:
            return (f"{ctl.id}: written, but reading it back gave no value "
                    f"({reading.error or reading.status})", _UNSET)
        if ctl.point.command.mode == "passthrough":
            return "", None  # the device arbitrates: a higher slot at the panel may rightly win
        if not _close(reading.value, desired, ctl.point.command.tolerance):
            return (f"{ctl.id}: wrote {desired!r} but the device reports {reading.value!r} "
                    "(a local override, a clamp in the device, or a wrong binding?)", reading.value)
        return "", None

    async def _failed_write(self, ctl: _Controlled, cmd: Command | None, err: Exception,
                            passthrough: bool = False) -> None:
        assert ctl.held is not None
        if isinstance(err, DeviceUnreachable):
            # Kept: written when the device answers again (the commands stay executing).
            ctl.needs_write = True
            log.warning("%s: device unreachable (%s); the write will be made when it answers",
                        ctl.id, err)
            for c in ctl.held:
                c.error, c.updated_at = f"device unreachable, will retry: {err}", self.clock.now()
                await self._record(c)
            return
        log.warning("%s: write refused: %s", ctl.id, err)
        bystanders = [] if passthrough else self._bystanders(ctl)
        if bystanders:
            # The refused value was the active slot's; commands below it waiting for their turn
            # (held back by the point's limits) were not what the device refused: they stay in
            # the array and are written once the refused one has left it.
            ctl.held = [c for c in ctl.held if not any(c is b for b in bystanders)]
        # A refused value leaves the array: what was effective before stays effective.
        for c in ctl.held:
            slot = ctl.slots[c.priority - 1]
            if not c.release and slot is not None and slot.id == c.id:
                ctl.slots[c.priority - 1] = None
                self._cancel_expiry(c)
        ctl.needs_write = False
        await self._settle(ctl, CommandStatus.FAILED, str(err))
        if bystanders:
            ctl.held.extend(bystanders)
            ctl.needs_write = True
            self._spawn(self._apply(ctl, force=True))

    @staticmethod
    def _bystanders(ctl: _Controlled) -> list[Command]:
        """The held commands that did not set the refused value: those in a slot below the
        active one, when a held command holds the active one (else none: the refused value is
        an older command's, and the held ones fail as before rather than be retried for ever)."""
        assert ctl.held is not None
        active = next((i for i, c in enumerate(ctl.slots) if c is not None), None)
        if active is None or not any(c is ctl.slots[active] for c in ctl.held):
            return []
        return [c for c in ctl.held if not c.release and c.priority - 1 > active
                and ctl.slots[c.priority - 1] is c]

    async def _settle(self, ctl: _Controlled, status: CommandStatus, error: str = "") -> None:
        """The commands waiting on this point's write are done, with ``status``."""
        held, ctl.held = ctl.held or [], []
        now = self.clock.now()
        restores = {c.id: ctl.restore.pop(c.id) for c in held if c.id in ctl.restore}
        put_back: list[int] = []
        rehold: list[Command] = []
        if status == CommandStatus.FAILED:
            for c in held:
                if c.id not in restores or c.status not in (CommandStatus.PENDING,
                                                            CommandStatus.EXECUTING):
                    continue  # superseded by a newer one that failed too: that one gives back
                slot = ctl.slots[c.priority - 1]
                if slot is not c and slot is not None:
                    continue
                previous, was = restores[c.id]
                while previous is not None and previous.id in restores:
                    previous, was = restores[previous.id]  # held back too, and failed with c
                await self._put_back(ctl, c.priority, previous, was, now)  # before c's failure is told
                put_back.append(c.priority)
                if previous is not None and ctl.slots[c.priority - 1] is previous and previous.status in (
                        CommandStatus.PENDING, CommandStatus.EXECUTING) and any(h is previous for h in held):
                    rehold.append(previous)  # its own (held-back) value is still to be written
        for c in held:
            if c.status in (CommandStatus.PENDING, CommandStatus.EXECUTING) and not any(
                    r is c for r in rehold):
                c.status, c.error, c.updated_at = status, error, now
                await self._record(c)
        ctl.held.extend(rehold)
        if put_back and not self._stopping and (rehold or not _same(ctl.effective(), ctl.written)):
            ctl.needs_write = True  # the device brought back in line
            for prio in put_back:
                self._spawn(self._apply(ctl, changed_priority=prio, force=True))

    async def _put_back(self, ctl: _Controlled, priority: int, previous: Command | None,
                        was: CommandStatus | None, now: float) -> None:
        """A failed command's slot: back to what held it before, as it was, unless that was
        a timed override whose time is up (it is expired then, the slot left empty)."""
        if previous is not None and previous.expires_at is not None and previous.expires_at <= now:
            ctl.slots[priority - 1] = None
            if previous.status != CommandStatus.EXPIRED:
                self._cancel_expiry(previous)
                previous.status, previous.updated_at = CommandStatus.EXPIRED, now
                await self._record(previous)
                log.info("%s: the override at priority %d expired", ctl.id, priority)
            return
        ctl.slots[priority - 1] = previous
        if previous is None:
            return
        if was is not None and previous.status != was:  # superseded when the failed one came
            previous.status, previous.updated_at = was, now
            await self._record(previous)
        if previous.expires_at is not None and previous.id not in self._expiry:
            self._schedule_expiry(ctl, previous)

    # ------------------------------------------------------------------ expiry

    def _schedule_expiry(self, ctl: _Controlled, cmd: Command) -> None:
        assert cmd.expires_at is not None
        self._cancel_expiry(cmd)
        self._expiry[cmd.id] = asyncio.create_task(self._expire(ctl, cmd))

    def _cancel_expiry(self, cmd: Command) -> None:
        task = self._expiry.pop(cmd.id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _expire(self, ctl: _Controlled, cmd: Command) -> None:
        assert cmd.expires_at is not None
        await self.clock.sleep(cmd.expires_at - self.clock.now())
        self._expiry.pop(cmd.id, None)
        if ctl.slots[cmd.priority - 1] is not cmd:
            # Out of its slot for a newer command whose write is under way: it must not
            # come back if that one fails, nor be called superseded if it succeeds.
            newer = next((k for k, (p, _s) in ctl.restore.items() if p is cmd), None)
            if newer is None or cmd.status in (CommandStatus.EXPIRED, CommandStatus.SUPERSEDED):
                return
            ctl.restore[newer] = ctl.restore.pop(cmd.id, (None, None))
            cmd.status, cmd.updated_at = CommandStatus.EXPIRED, self.clock.now()
            await self._record(cmd)
            log.info("%s: the override at priority %d expired", ctl.id, cmd.priority)
            return
        ctl.restore.pop(cmd.id, None)  # its write held back: what it took the slot from stays superseded
        ctl.slots[cmd.priority - 1] = None
        cmd.status, cmd.updated_at = CommandStatus.EXPIRED, self.clock.now()
        await self._record(cmd)
        log.info("%s: the override at priority %d expired", ctl.id, cmd.priority)
        await self._apply(ctl, changed_priority=cmd.priority)

    # ------------------------------------------------------------------ device state

    def on_samples(self, samples: Sequence[Sample]) -> None:
        """Bus callback: re-assert a drifted or unwritten point when its device answers."""
        if self._stopping:
            return
        points = self._points
        for s in samples:
            ctl = points.get(s.point)
            if ctl is None or s.status == OFFLINE or ctl.dry_run:
                continue
            if ctl.needs_write:
                if ctl.waiting is None or ctl.waiting.done():
                    self._spawn(self._apply(ctl, force=True))
                continue
            if s.status != OK or not any(ctl.slots) or ctl.written is _UNSET:
                continue
            expected = ctl.effective() if ctl.point.command.mode == "passthrough" else ctl.written
            if expected is None or _close(s.value, expected, ctl.point.command.tolerance):
                ctl.mismatch = _UNSET
                continue
            if ctl.mismatch is not _UNSET and _close(s.value, ctl.mismatch, ctl.point.command.tolerance):
                continue  # the difference already reported on read-back: wait for it to change
            if (s.ts - ctl.last_reassert >= ctl.reassert_interval
                    and s.ts - ctl.written_at >= _REASSERT_GRACE):
                ctl.last_reassert = s.ts
                log.warning("%s: the device reports %r instead of %r (restarted or overridden "
                            "locally?); re-asserting", ctl.id, s.value, expected)
                self._spawn(self._apply(ctl, force=True))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ records

    async def _record(self, cmd: Command, new: bool = False, *, tell: bool = True) -> None:
        """Keep a command's state: a new command is stored before anything is written for it;
        status changes are stored in batches moments later, by one writer. Then (unless
        ``tell`` is false: the caller tells once the array says it) ``on_command`` is told."""
        if self.store is not None:
            if new:
                self._inserts[cmd.id] = cmd
                await self.flush()
            elif cmd.id not in self._inserts:
                self._updates[cmd.id] = cmd
                if self._flusher is None or self._flusher.done():
                    self._flusher = asyncio.create_task(self._flush_soon())
        if tell:
            self._tell(cmd)

    def _tell(self, cmd: Command) -> None:
        if self.on_command is not None:
            self.on_command(cmd)

    async def _flush_soon(self) -> None:
        await asyncio.sleep(_FLUSH_DELAY)
        await self.flush()

    async def flush(self) -> None:
        """Store every command change not stored yet (one transaction, one thread)."""
        if self.store is None:
            return
        async with self._flush_lock:
            inserts, self._inserts = list(self._inserts.values()), {}
            updates, self._updates = list(self._updates.values()), {}
            if inserts or updates:
                await asyncio.to_thread(self.store.write, inserts, updates)


def _slot_value(ctl: _Controlled, priority: int | None) -> Value:
    if priority is None:
        return None
    c = ctl.slots[priority - 1]
    return c.value if c is not None else None


def _same(a: Any, b: Any) -> bool:
    if a is _UNSET or b is _UNSET:
        return False
    return (bool(a == b) and type(a) is type(b)) or (a is None and b is None)


def _close(reported: Any, wanted: Any, tolerance: float | None) -> bool:
    """Whether a read-back value matches: numbers within tolerance (REAL is float32)."""
    if isinstance(wanted, bool) or isinstance(reported, bool):
        return bool(reported) == bool(wanted) if isinstance(reported, bool | int) else False
    if isinstance(wanted, int | float) and isinstance(reported, int | float):
        tol = tolerance if tolerance is not None else max(1e-4, abs(wanted) * 1e-6)
        return abs(float(reported) - float(wanted)) <= tol
    return bool(reported == wanted)
