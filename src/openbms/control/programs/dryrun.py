"""Dry runs: an edited program run live for a bounded time, its outputs computed, never written.

::

    current values (latest sample of each input point) ──every period──▶ a private ProgramEngine
                                                                          │ write = remember the value
                                                                          ▼
                                              values, block states, what each output would command

Each dry run has an engine of its own whose write function only remembers
what it was asked to command: nothing reaches the arbiter, a device or the
command log, and the running version of the program (if any) carries on
untouched. The engine is fed, once per period of the program, the latest
sample of each input point (``latest``: the current-value cache), then
ticked, so the dry run sees what the running program would see at that
period. It stops by itself at ``until`` (the runtime's clock), on ``stop``,
or when started again with another document; at most one per program and
``max_runs`` in all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from openbms.control.programs.engine import ProgramEngine
from openbms.control.programs.model import Program, ProgramError, ProgramIssue
from openbms.control.programs.validate import Catalog
from openbms.model.sample import Sample, Value
from openbms.runtime.clock import Clock

__all__ = ["MAX_DRY_RUN_S", "DryRun", "DryRuns"]

log = logging.getLogger(__name__)

#: The longest a dry run lasts (seconds of the runtime's clock).
MAX_DRY_RUN_S = 900.0


@dataclass
class DryRun:
    """One dry run: its program, its private engine and what its outputs would have commanded."""

    program: Program
    started_by: str
    duration_s: float
    engine: ProgramEngine = field(init=False, repr=False)
    started_at: float = 0.0
    until: float = 0.0
    would_write: int = 0  # commands it would have made
    ended_at: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.ended_at is None

    async def write(self, point: str, value: Value, priority: int, program_id: str) -> None:
        """The engine's write: counted, and nothing else."""
        self.would_write += 1


class DryRuns:
    """The dry runs of a process, by (site, program id)."""

    def __init__(self, catalog: Callable[[], Catalog], clock: Clock,
                 latest: Callable[[str], Sample | None], *, max_runs: int = 10) -> None:
        self._catalog = catalog
        self.clock = clock
        self._latest = latest
        self.max_runs = max_runs
        self._runs: dict[tuple[str, str], DryRun] = {}

    def prepare(self, program: Program, by: str, duration_s: float) -> DryRun:
        """A dry run of ``program`` with its private engine, not started; ``ProgramError`` when the
        program cannot run. Validates and compiles: call it in a worker thread."""
        run = DryRun(program, by, min(duration_s, MAX_DRY_RUN_S))
        run.engine = ProgramEngine(self._catalog(), self.clock, run.write)
        run.engine.install(run.engine.prepare(program, 0))
        return run

    async def start(self, run: DryRun) -> DryRun:
        """Start a prepared dry run, replacing the program's dry run if there is one."""
        program = run.program
        key = (program.site, program.id)
        await self.stop(*key)
        running = sum(1 for r in self._runs.values() if r.running)
        if running >= self.max_runs:
            raise ProgramError([ProgramIssue("program", f"{running} dry runs are running, the most at once; "
                                                        "stop one or wait until one ends")], program.id)
        run.started_at = self.clock.now()
        run.until = run.started_at + run.duration_s
        self._runs[key] = run
        run.task = asyncio.create_task(self._run(run), name=f"dry-run:{key[0]}/{key[1]}")
        return run

    async def _run(self, run: DryRun) -> None:
        engine, clock = run.engine, self.clock
        points = list(dict.fromkeys(n.point for n in run.program.inputs))
        try:
            while (now := clock.now()) < run.until:
                engine.feed([s for s in map(self._latest, points) if s is not None])
                await engine.tick(now)
                await engine.idle()
                await clock.sleep(max(0.0, min(run.program.period_s, run.until - clock.now())))
        except asyncio.CancelledError:
            raise
        except Exception:  # the engine isolates block errors; anything else ends this dry run only
            log.exception("dry run of program %s/%s failed", run.program.site, run.program.id)
        finally:
            run.ended_at = clock.now()
            await engine.stop()

    def get(self, site: str, program_id: str) -> DryRun | None:
        """The program's dry run (running or ended), if any."""
        return self._runs.get((site, program_id))

    async def stop(self, site: str, program_id: str) -> bool:
        """End the program's dry run; whether one was running."""
        run = self._runs.pop((site, program_id), None)
        if run is None:
            return False
        was_running = run.running
        if run.task is not None and not run.task.done():
            run.task.cancel()
            await asyncio.wait([run.task])  # ended; our own cancellation, if any, still propagates
        return was_running

    async def close(self) -> None:
        """End every dry run (at shutdown)."""
        for site, program_id in list(self._runs):
            await self.stop(site, program_id)
