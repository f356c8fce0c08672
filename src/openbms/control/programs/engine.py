"""Running logic programs: event-driven on input changes, periodic for time-based blocks.

Each loaded program is compiled once (at ``load``) into flat lists: a value
slot per output port, the blocks in topological order, and for every slot
the blocks and outputs it feeds. At run time nothing is looked up by name
and no pydantic model is touched:

- ``feed(samples)`` (a bus callback) finds the input nodes of each sample's
  point through one dict, stores the value (``None`` unless the sample is
  ``ok`` or ``overridden``) and, when it changed, marks the blocks it feeds.
  The programs touched are evaluated on the next turn of the event loop, so
  a burst of samples costs one evaluation per program.
- An evaluation steps the marked blocks in topological order; a block whose
  outputs change marks the blocks downstream, so only what depends on the
  change is computed and a diamond is computed once. A block that breaks
  cycles (``delay``) feeds blocks earlier in the order on the *next*
  evaluation: that is what "the previous step's value" means.
- ``tick(now)`` evaluates the time-based blocks (PID, timers, staging…) of
  every program whose period has come; ``run()`` calls it on the clock.
- Neither pass holds the loop for all programs of all sites: once the
  evaluations of a pass have used ``Limits.slice_cpu_s`` of CPU, the loop
  is given back (drivers, API, alarms run) before the next program, in the
  same order. ``tick`` awaits its way through the due programs; the
  event-driven pass leaves the rest marked and carries on at the next turn.
- An output is written only when its value changed since the last write; an
  unknown (``None``) value releases the program's slot (``release_when_none``).
  Writes go through one writer task per program, in order, latest value per
  slot, so a slow device never holds up another program's evaluation.
- A value whose write failed (refused by the arbiter, or by the device) is not
  counted as written: the program's status shows the output as not commanded,
  and the value is written again at the first evaluation ``_RETRY_FIRST``
  seconds of the clock after the failure, then after twice as long while it
  keeps failing, up to ``_RETRY_MAX``; a success resets the wait. A changed
  value is written at once, as always. A device that does not answer is the
  arbiter's to retry (it keeps the command and writes it when the device
  answers), so that write is not a failure here.
- Errors are isolated per program: a block that raises or a refused write is
  counted, logged (at most once a minute per program) and recorded in
  ``status()``. After ``max_errors`` consecutive errors the program is marked
  failed, stops, and its slots are released; the other programs carry on.
- Every evaluation is charged the CPU time it took (the event loop's thread
  time). A program over its budget (``Limits.run_cpu_s`` for one evaluation,
  ``Limits.minute_cpu_s`` per minute) is stopped the same way: state
  ``failed``, the reason in ``last_error``, one error logged, slots released.
  A site whose running programs together take more than
  ``Limits.site_minute_cpu_s`` in a minute loses its most expensive one of
  that minute the same way (then the next, while still over), so one site
  cannot starve the others. The minute is one of this process's monotonic
  timer (``timer``), not of the runtime's clock: at ×24 a domain minute is
  2.5 s of CPU time that could be spent. Every site's drivers, alarms and
  control share this loop.
- Programs are keyed by (site, id): two sites may each have a program ``ahu``.
  ``prepare`` (validate and compile) touches no engine state and may run in a
  worker thread; ``install`` puts the result in service on the loop.
  ``load_in_thread`` does both, so a big program never stalls the loop.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from openbms.control.blocks import Block
from openbms.control.programs.model import LIMITS, VALUE_PORT, Limits, Program, ProgramError
from openbms.control.programs.validate import Analysis, Catalog, PointInfo, analyse
from openbms.errors import CommandError
from openbms.model.sample import OK, OVERRIDDEN, Sample, Value
from openbms.runtime.clock import Clock

__all__ = ["Prepared", "ProgramEngine", "ProgramState", "ProgramStatus", "WriteFn", "arbiter_write"]

log = logging.getLogger(__name__)

#: ``write(point, value, priority, program_id)``: command ``value`` (``None``: release the slot).
WriteFn = Callable[[str, Value, int, str], Awaitable[None]]
ProgramState = Literal["running", "disabled", "failed"]

RUNNING: ProgramState = "running"
DISABLED: ProgramState = "disabled"
FAILED: ProgramState = "failed"

_UNSET: Any = object()  # an output never written
_FAILED: Any = object()  # an output whose last write failed: its slot may hold anything
_Key = tuple[str, str]  # (site, program id)
_GOOD = frozenset({OK, OVERRIDDEN})
_LOG_EVERY = 60.0  # seconds between warnings about one program's errors
_BUDGET_WINDOW = 60.0  # seconds of the timer over which the per-minute CPU budgets are counted
_RETRY_FIRST = 30.0  # seconds of the clock after a failed write before the value is written again
_RETRY_MAX = 600.0  # the wait doubles while the writes keep failing, up to this
_NEVER = float("inf")


def arbiter_write(arbiter: Any) -> WriteFn:
    """The ``write`` that commands through an :class:`~openbms.control.arbiter.Arbiter` as ``logic``.

    ``requested_by`` is ``program:<id>``. A command the arbiter accepted but
    could not carry out (the device refused it) raises ``CommandError`` too, so
    the program's status shows it.
    """

    async def write(point: str, value: Value, priority: int, program_id: str) -> None:
        who = f"program:{program_id}"
        if value is None:
            cmd = await arbiter.release(point, priority, source="logic", requested_by=who,
                                        reason="program output unknown")
        else:
            cmd = await arbiter.command(point, value, priority, source="logic", requested_by=who,
                                        reason="logic program")
        if str(cmd.status) == "failed":
            raise CommandError(cmd.error or f"{point}: the write failed")

    return write


@dataclass(frozen=True, slots=True)
class ProgramStatus:
    """How a loaded program is doing."""

    id: str
    site: str
    name: str
    version: int
    state: ProgramState
    last_run: float | None
    runs: int
    writes: int
    errors: int
    last_error: str
    last_error_at: float | None
    outputs: dict[str, Value]  # output node id → the value last commanded (None: released, never, or failed)
    cpu_s: float = 0.0  # CPU seconds spent evaluating it since it was loaded
    cpu_minute_s: float = 0.0  # of those, in its site's current budget minute (of the timer)


class _BlockRun:
    __slots__ = ("block", "id", "ins", "outs")

    def __init__(self, node_id: str, block: Block) -> None:
        self.id = node_id
        self.block = block
        self.ins: list[tuple[str, int]] = []  # (input port, slot)
        self.outs: list[tuple[str, int]] = []  # (output port, slot)


class _OutputRun:
    __slots__ = ("backoff", "enum", "id", "point", "priority", "release", "retry_at", "sent", "slot")

    def __init__(self, node_id: str, point: str, priority: int, release: bool, slot: int,
                 enum: bool) -> None:
        self.id = node_id
        self.point = point
        self.priority = priority
        self.release = release
        self.slot = slot
        self.enum = enum
        self.sent: Any = _UNSET
        self.backoff = 0.0  # seconds waited before the next retry; 0: the last write did not fail
        self.retry_at = _NEVER  # the clock's time from which a failed value is written again


class _Run:
    """One loaded program, compiled."""

    def __init__(self, program: Program, version: int) -> None:
        self.program = program
        self.id = program.id
        self.key = (program.site, program.id)
        self.version = version
        self.period = program.period_s
        self.values: list[Value] = []
        self.slot_of: dict[tuple[str, str], int] = {}  # (node, port) → slot
        self.consumers: list[list[int]] = []  # slot → block indices
        self.feeds: list[list[int]] = []  # slot → output indices
        self.blocks: list[_BlockRun] = []
        self.outputs: list[_OutputRun] = []
        self.inputs: dict[str, list[int]] = {}  # point → slots
        self.time_based: list[int] = []
        self.dirty: list[bool] = []
        self.heap: list[int] = []
        self.deferred: set[int] = set()
        self.changed: set[int] = set()  # outputs whose source changed
        self.retry_at = _NEVER  # the earliest ``retry_at`` of its outputs
        self.backing_off = 0  # outputs whose last write failed (``backoff`` > 0)
        self.state: ProgramState = RUNNING
        self.next_tick = 0.0
        self.runs = 0
        self.writes = 0
        self.errors = 0
        self.consecutive = 0
        self.last_run: float | None = None
        self.last_error = ""
        self.last_error_at: float | None = None
        self.last_log = -_LOG_EVERY
        self.quiet = 0  # errors not logged since the last warning
        self.forced: dict[int, tuple[Value, float | None]] = {}  # slot → (value, until): overrides
        self.cpu = 0.0  # CPU seconds of its evaluations
        self.window_cpu = 0.0  # of those, in its site's budget window ``epoch``
        self.epoch = 0

    def slot(self, node: str, port: str) -> int:
        s = self.slot_of.get((node, port))
        if s is None:
            s = self.slot_of[(node, port)] = len(self.values)
            self.values.append(None)
            self.consumers.append([])
            self.feeds.append([])
        return s

    def mark(self, slot: int) -> None:
        """A slot's value changed: mark what it feeds."""
        dirty, heap = self.dirty, self.heap
        for j in self.consumers[slot]:
            if not dirty[j]:
                dirty[j] = True
                heapq.heappush(heap, j)
        for o in self.feeds[slot]:
            self.changed.add(o)

    def mark_all(self) -> None:
        for j in range(len(self.blocks)):
            if not self.dirty[j]:
                self.dirty[j] = True
                heapq.heappush(self.heap, j)
        self.changed.update(range(len(self.outputs)))


def _compile(program: Program, version: int, a: Analysis, catalog: Catalog) -> _Run:
    run = _Run(program, version)
    index = {b: i for i, b in enumerate(a.order)}
    for b in a.order:
        block = a.blocks[b]
        run.blocks.append(_BlockRun(b, block))
        if block.time_based:
            run.time_based.append(index[b])
    run.dirty = [False] * len(run.blocks)
    for n in program.inputs:
        run.inputs.setdefault(n.point, []).append(run.slot(n.id, VALUE_PORT))
    for c in program.constants:
        run.values[run.slot(c.id, VALUE_PORT)] = c.value
    output_index: dict[str, int] = {}
    for node in program.outputs:
        output_index[node.id] = len(run.outputs)
        info = PointInfo(*catalog[node.point])
        run.outputs.append(_OutputRun(node.id, node.point, node.priority, node.release_when_none, -1,
                                      info.kind == "enum"))
    for e in a.edges:
        s = run.slot(e.src, e.src_port)
        if e.src in index and (e.src_port, s) not in run.blocks[index[e.src]].outs:
            run.blocks[index[e.src]].outs.append((e.src_port, s))
        if e.dst in index:
            run.blocks[index[e.dst]].ins.append((e.dst_port, s))
            run.consumers[s].append(index[e.dst])
        else:
            o = output_index[e.dst]
            run.outputs[o].slot = s
            run.feeds[s].append(o)
    return run


class _SiteBudget:
    """One site's CPU in the current budget window (all its programs' windows are this one)."""

    __slots__ = ("cpu", "epoch", "start")

    def __init__(self) -> None:
        self.cpu = 0.0  # charged in this window; at least what its running programs took
        self.epoch = 0  # which window; a program's ``window_cpu`` of another epoch is stale
        self.start: float | None = None  # the timer when this window began


@dataclass(frozen=True, slots=True)
class Prepared:
    """A program validated and compiled by :meth:`ProgramEngine.prepare`, ready to ``install``."""

    run: _Run


class ProgramEngine:
    """Loads, runs and reports on logic programs; writes through ``write`` (bound to the arbiter).

    Construct it with the sites' point catalog, the clock and a write
    function, subscribe ``feed`` to the bus, and run ``run()`` as a task.
    """

    def __init__(self, catalog: Catalog, clock: Clock, write: WriteFn, *, max_errors: int = 3,
                 limits: Limits = LIMITS, cpu: Callable[[], float] = time.thread_time,
                 timer: Callable[[], float] = time.monotonic) -> None:
        if max_errors < 1:
            raise ValueError("max_errors must be at least 1")
        self.catalog = catalog
        self.clock = clock
        self._write = write
        self.max_errors = max_errors
        self.limits = limits
        self._cpu = cpu  # CPU seconds of the loop's thread: what an evaluation costs every site
        self._timer = timer  # the budget windows' seconds: this process's, not the (fast) domain clock's
        self._sites: dict[str, _SiteBudget] = {}
        self._runs: dict[_Key, _Run] = {}
        self._by_point: dict[str, list[tuple[_Run, int]]] = {}
        self._latest: dict[str, Value] = {}  # last value of every point a program reads
        self._dirty: dict[_Key, _Run] = {}
        self._scheduled = False
        self._pending: dict[_Key, dict[tuple[str, int], Value]] = {}  # program → (point, priority) → value
        self._writers: dict[_Key, asyncio.Task[None]] = {}
        self._stopped = False  # after stop(): nothing is evaluated or written any more
        self.samples = 0  # samples fed that a program reads

    # ------------------------------------------------------------------ loading

    def load(self, program: Program, version: int) -> None:
        """Validate and start ``program`` (replacing a loaded version of it, bumplessly).

        Raises :class:`ProgramError` listing every issue; the running version,
        if any, then carries on untouched. Blocks with the same id and kind as
        in the running version continue from its state (a PID's integral, a
        running timer); outputs the new version no longer has are released.
        This validates on the calling thread: in a running loop prefer
        :meth:`load_in_thread`.
        """
        self.install(self.prepare(program, version))

    async def load_in_thread(self, program: Program, version: int) -> None:
        """:meth:`load`, with the validation and compilation in a worker thread."""
        self.install(await asyncio.to_thread(self.prepare, program, version))

    def prepare(self, program: Program, version: int) -> Prepared:
        """Validate and compile ``program`` (``ProgramError`` with every issue); safe in a worker thread."""
        a = analyse(program, self.catalog)
        if a.issues:
            raise ProgramError(a.issues, program.id)
        return Prepared(_compile(program, version, a, self.catalog))

    def install(self, prepared: Prepared) -> None:
        """Start a prepared program, replacing its running version (on the event loop's thread)."""
        run = prepared.run
        version = run.version
        old = self._runs.get(run.key)
        if old is not None:
            self._carry(old, run)
            self._unindex(old)
        else:
            for point, slots in run.inputs.items():
                if point in self._latest:
                    for s in slots:
                        run.values[s] = self._latest[point]
        self._runs[run.key] = run
        for point, slots in run.inputs.items():
            entries = self._by_point.setdefault(point, [])
            entries.extend((run, s) for s in slots)
        run.next_tick = self.clock.now() + run.period
        run.mark_all()
        if not self._stopped:
            self._dirty[run.key] = run
            self._schedule()
        log.info("program %s/%s version %d loaded (%d blocks)", run.program.site, run.id, version,
                 len(run.blocks))

    def _carry(self, old: _Run, new: _Run) -> None:
        """Bumpless redeploy: input values, block state and output history move to the new version."""
        old_blocks = {b.id: b.block for b in old.blocks}
        same = {b.id for b in new.blocks if b.id in old_blocks and old_blocks[b.id].kind == b.block.kind}
        for (node, port), s in new.slot_of.items():
            o = old.slot_of.get((node, port))
            if o is not None and node in same:  # what the block gave last, so nothing looks changed
                new.values[s] = old.values[o]
        for point, slots in new.inputs.items():
            for s in slots:
                new.values[s] = self._latest.get(point)
        for b in new.blocks:
            if b.id in same:
                try:
                    b.block.restore(old_blocks[b.id].state())
                except Exception as err:  # a state the new parameters cannot take: start afresh
                    log.warning("program %s: block %r starts afresh (%s)", new.id, b.id, err)
                    b.block.reset()
        kept = {(o.point, o.priority): o for o in old.outputs}
        for out in new.outputs:
            prev = kept.pop((out.point, out.priority), None)
            if prev is not None:
                out.sent = prev.sent
        pending = self._pending.setdefault(new.key, {})
        for out in kept.values():  # commanded by the old version only
            if out.sent is not _UNSET and out.sent is not None:
                pending[(out.point, out.priority)] = None

    def _unindex(self, run: _Run) -> None:
        for point in run.inputs:
            entries = [e for e in self._by_point.get(point, ()) if e[0] is not run]
            if entries:
                self._by_point[point] = entries
            else:
                self._by_point.pop(point, None)
        self._dirty.pop(run.key, None)

    async def unload(self, program_id: str, site: str | None = None) -> None:
        """Stop a program and release every slot it commanded."""
        try:
            run = self._get(program_id, site)
        except KeyError:
            return
        del self._runs[run.key]
        self._unindex(run)
        self._release_all(run)
        await self._settle(run.key)
        self._pending.pop(run.key, None)
        log.info("program %s/%s unloaded", run.program.site, program_id)

    async def disable(self, program_id: str, site: str | None = None) -> None:
        """Stop evaluating a program (it stays loaded) and release its slots."""
        run = self._get(program_id, site)
        run.state = DISABLED
        self._release_all(run)
        await self._settle(run.key)
        log.info("program %s/%s disabled", run.program.site, program_id)

    def enable(self, program_id: str, site: str | None = None) -> None:
        """Run a disabled or failed program again, from a full evaluation, re-commanding its outputs."""
        run = self._get(program_id, site)
        if run.state != RUNNING:
            log.info("program %s/%s enabled again (was %s)", run.program.site, program_id, run.state)
        run.state = RUNNING
        run.consecutive = 0
        run.window_cpu = 0.0  # a fresh share of its site's current window
        run.retry_at, run.backing_off = _NEVER, 0  # everything is written afresh
        for o in run.outputs:
            o.sent, o.backoff, o.retry_at = _UNSET, 0.0, _NEVER
        run.next_tick = self.clock.now() + run.period
        run.mark_all()
        if not self._stopped:
            self._dirty[run.key] = run
            self._schedule()

    def _get(self, program_id: str, site: str | None = None) -> _Run:
        """The program ``program_id`` of ``site``; without a site, the only program of that id."""
        if site is not None:
            run = self._runs.get((site, program_id))
            if run is None:
                raise KeyError(f"no program {program_id!r} of site {site!r} is loaded")
            return run
        found = [r for r in self._runs.values() if r.id == program_id]
        if not found:
            raise KeyError(f"no program {program_id!r} is loaded")
        if len(found) > 1:
            raise KeyError(f"programs {program_id!r} of several sites are loaded: name the site")
        return found[0]

    def loaded(self, site: str | None = None) -> list[str]:
        """Ids of the loaded programs (of ``site``); without a site an id may repeat."""
        return [r.id for r in self._runs.values() if site is None or r.program.site == site]

    def is_loaded(self, program_id: str, site: str) -> bool:
        """Whether ``site``'s program ``program_id`` is loaded."""
        return (site, program_id) in self._runs

    # ------------------------------------------------------------------ events

    def feed(self, samples: Sequence[Sample]) -> None:
        """Bus callback: new values for the programs' inputs; changed ones trigger an evaluation."""
        by_point = self._by_point
        latest = self._latest
        dirty = self._dirty
        for s in samples:
            targets = by_point.get(s[0])
            if targets is None:
                continue
            self.samples += 1
            v = s[2] if s[3] in _GOOD else None
            latest[s[0]] = v
            for run, slot in targets:
                values = run.values
                old = values[slot]
                if v is old or (v == old and type(v) is type(old)):
                    continue
                values[slot] = v
                run.mark(slot)
                if run.state is RUNNING:
                    dirty[run.key] = run
        if dirty and not self._scheduled:
            self._schedule()

    def _schedule(self) -> None:
        if self._scheduled or self._stopped:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the first tick evaluates
        self._scheduled = True
        loop.call_soon(self._run_dirty)

    def _run_dirty(self) -> None:
        self._scheduled = False
        self._evaluate_dirty()

    def _evaluate_dirty(self) -> float:
        """Evaluate the triggered programs in order for one slice; the rest go on at the loop's next turn.

        Returns the CPU seconds spent.
        """
        dirty = self._dirty
        if not dirty or self._stopped:
            dirty.clear()  # stopped: what a sample still triggers is not evaluated
            return 0.0
        runs = list(dirty.values())
        dirty.clear()
        now = self.clock.now()
        slice_s = self.limits.slice_cpu_s
        spent = 0.0
        for i, run in enumerate(runs):
            if spent >= slice_s:  # give the loop back; the rest keep their place, ahead of newcomers
                rest = {r.key: r for r in runs[i:] if r.state is RUNNING}
                rest.update(dirty)
                dirty.clear()
                dirty.update(rest)
                self._schedule()
                break
            if run.state is RUNNING:
                spent += self._evaluate(run, now)
        return spent

    async def tick(self, now: float) -> None:
        """Evaluate the time-based blocks of every running program whose period has come.

        The loop is given back whenever the evaluations have used a slice of
        CPU (``Limits.slice_cpu_s``), so this returns when every due program
        has been evaluated, in load order, but other tasks ran in between.
        """
        spent = self._evaluate_dirty()
        slice_s = self.limits.slice_cpu_s
        for run in list(self._runs.values()) if not self._stopped else ():
            if run.state is not RUNNING or now < run.next_tick:
                continue
            if spent >= slice_s:
                await asyncio.sleep(0)  # the drivers, the API and the alarms run between two programs
                spent = 0.0
                if run.state is not RUNNING or now < run.next_tick or self._runs.get(run.key) is not run:
                    continue  # stopped, re-enabled or replaced meanwhile
            run.next_tick += run.period
            if run.next_tick <= now:  # late (a busy loop, a jump of the clock): no catching up
                run.next_tick = now + run.period
            if run.forced:
                self._expire_overrides(run, now)
            dirty, heap = run.dirty, run.heap
            for j in run.time_based:
                if not dirty[j]:
                    dirty[j] = True
                    heapq.heappush(heap, j)
            self._dirty.pop(run.key, None)  # this evaluation steps what a sample marked too
            spent += self._evaluate(run, now)

    async def run(self) -> None:
        """Tick on the clock until cancelled."""
        while True:
            now = self.clock.now()
            await self.tick(now)
            due = min((r.next_tick for r in self._runs.values() if r.state is RUNNING),
                      default=now + 1.0)
            await self.clock.sleep(max(0.0, min(due, now + 1.0) - self.clock.now()))

    # ------------------------------------------------------------------ evaluation

    def _evaluate(self, run: _Run, now: float) -> float:
        """Step ``run``'s marked blocks and charge it; returns the CPU seconds it took."""
        start = self._cpu()
        try:
            self._step(run, now)
        finally:
            spent = self._cpu() - start
            self._charge(run, spent)
        return spent

    def _step(self, run: _Run, now: float) -> None:
        values, blocks, dirty, heap = run.values, run.blocks, run.dirty, run.heap
        consumers, feeds, changed, forced = run.consumers, run.feeds, run.changed, run.forced
        if run.deferred:
            for j in run.deferred:
                if not dirty[j]:
                    dirty[j] = True
                    heapq.heappush(heap, j)
            run.deferred.clear()
        run.runs += 1
        run.last_run = now
        failed = False
        while heap:
            i = heapq.heappop(heap)
            dirty[i] = False
            b = blocks[i]
            try:
                result = b.block.step(now, {port: values[slot] for port, slot in b.ins})
            except Exception as err:
                failed = True
                self._error(run, f"block {b.id!r} ({b.block.kind}) raised {type(err).__name__}: {err}")
                if run.state is not RUNNING:
                    for j in heap:
                        dirty[j] = False
                    heap.clear()
                    return
                continue
            for port, slot in b.outs:
                v = result.get(port)
                if forced and slot in forced:  # overridden for commissioning: downstream sees the override
                    v = forced[slot][0]
                old = values[slot]
                if v is old or (v == old and type(v) is type(old)):
                    continue
                values[slot] = v
                for j in consumers[slot]:
                    if j > i:
                        if not dirty[j]:
                            dirty[j] = True
                            heapq.heappush(heap, j)
                    else:  # through a delay: the next evaluation sees it
                        run.deferred.add(j)
                for o in feeds[slot]:
                    changed.add(o)
        if now >= run.retry_at:
            self._due_retries(run, now)
        queued = self._queue_outputs(run) if changed else False
        if not failed and not queued:
            run.consecutive = 0

    @staticmethod
    def _due_retries(run: _Run, now: float) -> None:
        """The outputs whose failed write is due again are written as if their value changed."""
        following = _NEVER
        for i, o in enumerate(run.outputs):
            if o.retry_at <= now:
                o.retry_at = _NEVER
                run.changed.add(i)
            elif o.retry_at < following:
                following = o.retry_at
        run.retry_at = following

    def _queue_outputs(self, run: _Run) -> bool:
        pending: dict[tuple[str, int], Value] | None = None
        for o_index in run.changed:
            o = run.outputs[o_index]
            if o.slot < 0:
                continue
            v = run.values[o.slot]
            if v is None:
                if not o.release or o.sent is _UNSET or o.sent is None:
                    continue
            elif o.enum and isinstance(v, float) and v.is_integer():
                v = int(v)
            sent = o.sent
            if sent is not _UNSET and (v is sent or (v == sent and type(v) is type(sent))):
                continue
            o.sent = v
            if pending is None:
                pending = self._pending.setdefault(run.key, {})
            pending.pop((o.point, o.priority), None)  # re-inserted last: writes keep their order
            pending[(o.point, o.priority)] = v
        run.changed.clear()
        if pending is None:
            return False
        self._start_writer(run.key)
        return True

    def _release_all(self, run: _Run) -> None:
        pending = self._pending.setdefault(run.key, {})
        for o in run.outputs:
            if o.sent is not _UNSET and o.sent is not None:
                pending[(o.point, o.priority)] = None
            o.sent = _UNSET
        if pending:
            self._start_writer(run.key)

    # ------------------------------------------------------------------ writing

    def _start_writer(self, key: _Key) -> None:
        if self._stopped:
            return  # the arbiter stops next: a write now would be refused or lost
        task = self._writers.get(key)
        if task is None or task.done():
            self._writers[key] = asyncio.get_running_loop().create_task(
                self._drain(key), name=f"program:{key[0]}/{key[1]}:writes")

    async def _drain(self, key: _Key) -> None:
        pending = self._pending.get(key)
        while pending:
            (point, priority), value = next(iter(pending.items()))
            del pending[(point, priority)]
            try:
                await self._write(point, value, priority, key[1])
            except CommandError as err:
                self._write_failed(key, point, priority, f"write refused: {err}")
            except Exception as err:  # whatever a write function raises must not stop the others
                self._write_failed(key, point, priority, f"write failed: {type(err).__name__}: {err}")
            else:
                run = self._runs.get(key)
                if run is not None:
                    run.writes += 1
                    if run.backing_off:
                        self._write_made(run, point, priority)
                    if run.state is RUNNING:
                        run.consecutive = 0
            pending = self._pending.get(key)

    def _write_failed(self, key: _Key, point: str, priority: int, message: str) -> None:
        """A write failed: the output's value is not counted as sent, and is written again later.

        Unless a newer value for the slot is already waiting (that one is written
        next), or the program no longer runs (its slots are being released).
        """
        run = self._runs.get(key)
        if run is None:
            log.warning("program %s/%s (unloaded): %s", key[0], key[1], message)
            return
        pending = self._pending.get(key)
        if run.state is RUNNING and not (pending and (point, priority) in pending):
            now = self.clock.now()
            for o in run.outputs:
                if o.point == point and o.priority == priority:
                    if o.backoff == 0.0:
                        run.backing_off += 1
                    o.backoff = min(o.backoff * 2, _RETRY_MAX) if o.backoff else _RETRY_FIRST
                    o.sent = _FAILED
                    o.retry_at = now + o.backoff
                    if o.retry_at < run.retry_at:
                        run.retry_at = o.retry_at
        self._error(run, message)

    @staticmethod
    def _write_made(run: _Run, point: str, priority: int) -> None:
        """A write succeeded: the output's next failure waits ``_RETRY_FIRST`` again."""
        for o in run.outputs:
            if o.backoff and o.point == point and o.priority == priority:
                o.backoff, o.retry_at = 0.0, _NEVER
                run.backing_off -= 1

    async def _settle(self, key: _Key) -> None:
        task = self._writers.get(key)
        if task is not None and not task.done():
            await task

    async def idle(self) -> None:
        """Wait until every triggered evaluation has run and every write it caused is made."""
        while True:
            while self._dirty:
                self._evaluate_dirty()
                if self._dirty:
                    await asyncio.sleep(0)  # a slice is spent: let the loop turn, as it would anyway
            tasks = [t for t in self._writers.values() if not t.done()]
            if not tasks:
                return
            await asyncio.gather(*tasks)

    async def stop(self) -> None:
        """Finish the writes under way and the releases waiting; drop the values waiting.

        Slots stay commanded: the arbiter restores them at start, and every program
        evaluates again then, so a value not yet written is written at the next start.
        Writing them all first made a demo's stop take 20 s (30 setpoints, one after
        another, on a busy loop). A release still waiting is made: nothing would
        release that slot later. The values dropped are logged (one line), and no
        longer count as written (a program loaded or enabled again writes them).
        From here on nothing is evaluated or written.
        """
        self._stopped = True
        self._dirty.clear()
        dropped = 0
        programs: list[str] = []
        for key, pending in self._pending.items():
            values = [k for k, value in pending.items() if value is not None]
            if not values:
                continue
            run = self._runs.get(key)
            for k in values:
                del pending[k]
                for o in run.outputs if run is not None else ():
                    if (o.point, o.priority) == k:
                        o.sent = _UNSET
            dropped += len(values)
            programs.append(f"{key[0]}/{key[1]}")
        if dropped:
            log.warning("stopping: %d program output value(s) not yet written are dropped (%s); "
                        "the programs write them again at the next start", dropped, ", ".join(programs))
        tasks = [t for t in self._writers.values() if not t.done()]
        if tasks:
            await asyncio.gather(*tasks)

    # ------------------------------------------------------------------ errors and status

    def _error(self, run: _Run, message: str) -> None:
        run.errors += 1
        run.last_error = message
        run.last_error_at = self.clock.now()
        if run.state is FAILED:
            return
        run.consecutive += 1
        if run.consecutive >= self.max_errors and run.state is RUNNING:
            run.state = FAILED
            log.error("program %s/%s failed after %d consecutive errors; its slots are released. "
                      "Last: %s", run.program.site, run.id, run.consecutive, message)
            self._dirty.pop(run.key, None)
            self._release_all(run)
            return
        mono = self.clock.monotonic()
        if mono - run.last_log >= _LOG_EVERY:
            more = f" ({run.quiet} more since the last warning)" if run.quiet else ""
            log.warning("program %s/%s: %s%s", run.program.site, run.id, message, more)
            run.last_log, run.quiet = mono, 0
        else:
            run.quiet += 1

    def _window(self, site_id: str) -> _SiteBudget:
        """``site_id``'s budget window, a new one when a minute of the timer has passed."""
        site = self._sites.get(site_id)
        if site is None:
            site = self._sites[site_id] = _SiteBudget()
        t = self._timer()
        if site.start is None or t - site.start >= _BUDGET_WINDOW:
            site.start, site.cpu = t, 0.0
            site.epoch += 1
        return site

    def _charge(self, run: _Run, spent: float) -> None:
        """Count an evaluation's CPU time; stop the program (or its site's costliest) when over budget."""
        run.cpu += spent
        site = self._window(run.program.site)
        if run.epoch != site.epoch:
            run.epoch, run.window_cpu = site.epoch, 0.0
        run.window_cpu += spent
        site.cpu += spent
        limits = self.limits
        if run.state is RUNNING:
            if spent > limits.run_cpu_s:
                self._stop(run, f"one evaluation took {spent:.3f} s of CPU, over the budget of "
                                f"{limits.run_cpu_s:g} s per evaluation")
            elif run.window_cpu > limits.minute_cpu_s:
                self._stop(run, f"its evaluations took {run.window_cpu:.3f} s of CPU within a minute, over "
                                f"the budget of {limits.minute_cpu_s:g} s per minute")
        if site.cpu > limits.site_minute_cpu_s:
            self._over_site(run.program.site, site)

    def _over_site(self, site_id: str, site: _SiteBudget) -> None:
        """The site's count is over its budget: stop its costliest running programs until it is not.

        ``site.cpu`` also holds what programs since stopped or replaced took;
        only running programs count, so it is recounted here (rarely: only
        when over).
        """
        limit = self.limits.site_minute_cpu_s
        while True:
            running = [r for r in self._runs.values()
                       if r.program.site == site_id and r.state is RUNNING and r.epoch == site.epoch]
            total = sum(r.window_cpu for r in running)
            if total <= limit:
                site.cpu = total
                return
            top = max(running, key=lambda r: r.window_cpu)
            self._stop(top, f"the programs of site {site_id!r} took {total:.3f} s of CPU within a minute, "
                            f"over the site's budget of {limit:g} s per minute, and this one the most "
                            f"({top.window_cpu:.3f} s)")

    def _stop(self, run: _Run, reason: str) -> None:
        """Stop ``run`` as over budget: failed, reported once, slots released."""
        run.state = FAILED
        run.errors += 1
        run.last_error = f"stopped: {reason}"
        run.last_error_at = self.clock.now()
        log.error("program %s/%s stopped and its slots released: %s", run.program.site, run.id, reason)
        self._dirty.pop(run.key, None)
        for j in run.heap:
            run.dirty[j] = False
        run.heap.clear()
        self._release_all(run)

    def status(self, program_id: str | None = None, site: str | None = None) -> dict[str, ProgramStatus]:
        """Per loaded program (or just ``program_id``): state, version, runs, errors, output values.

        Keyed by program id when ``site`` or ``program_id`` is given, else by ``site/id``
        (two sites may each have a program of one id).
        """
        if program_id is not None:
            runs: Iterable[_Run] = [self._get(program_id, site)]
        else:
            runs = [r for r in self._runs.values() if site is None or r.program.site == site]
        qualify = program_id is None and site is None
        t = self._timer()

        def this_minute(r: _Run) -> float:
            budget = self._sites.get(r.program.site)
            if budget is None or budget.start is None or r.epoch != budget.epoch:
                return 0.0
            return r.window_cpu if t - budget.start < _BUDGET_WINDOW else 0.0

        return {(f"{r.program.site}/{r.id}" if qualify else r.id): ProgramStatus(
            id=r.id, site=r.program.site, name=r.program.name, version=r.version, state=r.state,
            last_run=r.last_run, runs=r.runs, writes=r.writes, errors=r.errors,
            last_error=r.last_error, last_error_at=r.last_error_at,
            outputs={o.id: (None if o.sent is _UNSET or o.sent is _FAILED else o.sent) for o in r.outputs},
            cpu_s=r.cpu, cpu_minute_s=this_minute(r),
        ) for r in runs}

    def values(self, program_id: str, site: str | None = None) -> dict[str, Value]:
        """The current value of every wired port (``"node.port"``), for the dashboard's live view."""
        run = self._get(program_id, site)
        return {f"{node}.{port}": run.values[s] for (node, port), s in run.slot_of.items()}

    # ------------------------------------------------------------------ overrides of block outputs

    def _producer(self, run: _Run, node: str, port: str) -> tuple[int, int]:
        """(block index, slot) of a block's output port that is wired; KeyError otherwise."""
        slot = run.slot_of.get((node, port))
        for j, b in enumerate(run.blocks):
            if b.id == node and slot is not None and (port, slot) in b.outs:
                return j, slot
        raise KeyError(f"'{node}.{port}' is not a wired output of a block of program {run.id!r}")

    def override(self, program_id: str, site: str, node: str, port: str, value: Value,
                 until: float | None) -> None:
        """Hold block ``node``'s output ``port`` at ``value`` until ``until`` (the clock; None: until
        released): what it feeds sees ``value`` instead of what the block computes. KeyError for a
        program not loaded or a port that is not a wired block output."""
        run = self._get(program_id, site)
        _j, slot = self._producer(run, node, port)
        run.forced[slot] = (value, until)
        if run.values[slot] != value or type(run.values[slot]) is not type(value):
            run.values[slot] = value
            run.mark(slot)
        self._wake(run)

    def release_override(self, program_id: str, site: str, node: str, port: str) -> bool:
        """End an override: the block's own output again (computed at once). Whether there was one."""
        run = self._get(program_id, site)
        j, slot = self._producer(run, node, port)
        if run.forced.pop(slot, None) is None:
            return False
        self._recompute(run, j)
        return True

    def overrides(self, program_id: str, site: str) -> dict[str, tuple[Value, float | None]]:
        """The held block outputs: ``"node.port"`` → (value, until)."""
        run = self._get(program_id, site)
        names = {s: f"{node}.{port}" for (node, port), s in run.slot_of.items()}
        return {names[s]: held for s, held in run.forced.items()}

    def _expire_overrides(self, run: _Run, now: float) -> None:
        for slot, (_value, until) in list(run.forced.items()):
            if until is not None and until <= now:
                del run.forced[slot]
                for j, b in enumerate(run.blocks):
                    if any(s == slot for _p, s in b.outs):
                        self._recompute(run, j)

    def _recompute(self, run: _Run, j: int) -> None:
        if not run.dirty[j]:
            run.dirty[j] = True
            heapq.heappush(run.heap, j)
        self._wake(run)

    def _wake(self, run: _Run) -> None:
        if run.state is RUNNING and not self._stopped:
            self._dirty[run.key] = run
            self._schedule()

    def block_states(self, program_id: str, site: str | None = None) -> dict[str, dict[str, Value]]:
        """Per block node, its internal state for the live view (``Block.inspect``: PID terms, timers'
        remaining seconds, lead-lag order…), at the clock's now."""
        run = self._get(program_id, site)
        now = self.clock.now()
        return {b.id: b.block.inspect(now) for b in run.blocks}
