"""Replaying a program over recorded history: what its outputs would have been, computed, never written.

::

    recorded inputs (rows per point) ──▶ step at start, start+step_s, … ≤ end
                                            │  each input: its last row at or before the step
                                            │  (None unless ok/overridden, as the engine reads it)
                                            ▼
                      every block in evaluation order, fresh state ──▶ computed outputs, port values

The program runs on fresh blocks at a fixed step (its ``period_s`` unless
asked otherwise), every block at every step: what the engine does on its
period; a change of an input between two steps is seen at the next step.
A ``delay`` feeds what it gave at the step before, as in the engine.
Nothing here reads a clock, a store or the arbiter: the caller brings the
rows and gets series back (``run_replay`` is pure and bounded; call it in a
worker thread).

A series is a list of ``[t, value]`` changes (a value holds until the next
pair; the last pair is the last step, so the series ends where the replay
ends). One longer than its budget keeps evenly spaced changes and the last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from openbms.control.programs.model import VALUE_PORT, Program, ProgramError, ProgramIssue
from openbms.control.programs.validate import Catalog, analyse
from openbms.model.sample import OK, OVERRIDDEN, STATUSES, Value

__all__ = ["MAX_REPLAY_S", "MAX_WORK", "Replay", "Series", "check_range", "run_replay", "thin"]

#: The longest range a replay covers.
MAX_REPLAY_S = 7 * 86_400.0
#: Block evaluations one replay may make (steps × blocks): a few seconds of one core at most.
MAX_WORK = 3_000_000
#: Points per series of an output, and per port value (the canvas's wires).
OUTPUT_POINTS = 5_000
PORT_POINTS = 500

Series = list[list[float | Value]]
Row = tuple[float, Value, int]
_GOOD = frozenset(i for i, s in enumerate(STATUSES) if s in (OK, OVERRIDDEN))


@dataclass(frozen=True, slots=True)
class Replay:
    """What a replay computed: per output node its series, per wired port (``node.port``) its series."""

    start: float
    end: float
    step_s: float
    steps: int
    outputs: dict[str, Series]
    values: dict[str, Series]


def thin(series: Series, budget: int) -> Series:
    """At most ``budget`` pairs: evenly spaced ones and always the last."""
    if len(series) <= budget:
        return series
    stride = -(-len(series) // (budget - 1))  # ceil: at most budget - 1 taken, then the last
    kept = series[::stride]
    if kept[-1] is not series[-1]:
        kept.append(series[-1])
    return kept


class _Changes:
    """A series kept as its changes, built step by step."""

    __slots__ = ("last", "series")

    def __init__(self) -> None:
        self.series: Series = []
        self.last: object = _NOTHING

    def add(self, t: float, v: Value) -> None:
        last = self.last
        if not (v is last or (v == last and type(v) is type(last))):
            self.series.append([t, v])
            self.last = v

    def done(self, t: float, budget: int) -> Series:
        if self.series and self.series[-1][0] != t:
            self.series.append([t, self.series[-1][1]])
        return thin(self.series, budget)


_NOTHING = object()


def check_range(program: Program, start: float, end: float, step_s: float | None) -> tuple[float, int]:
    """The step and the number of steps, or ``ProgramError`` saying what is too much."""
    step = program.period_s if step_s is None else step_s
    issues = []
    if not end > start:
        issues.append(ProgramIssue("end", f"the replay's end ({end}) must be after its start ({start})"))
    elif end - start > MAX_REPLAY_S:
        issues.append(ProgramIssue("end", f"a replay covers at most {MAX_REPLAY_S / 86_400:g} days, "
                                          f"not {(end - start) / 86_400:.2f}"))
    if step < 1:
        issues.append(ProgramIssue("step_s", f"the step must be at least 1 s, not {step}"))
    if issues:
        raise ProgramError(issues, program.id)
    steps = int((end - start) // step) + 1
    work = steps * max(1, len(program.blocks))
    if work > MAX_WORK:
        raise ProgramError([ProgramIssue("step_s", (
            f"{steps} steps of {step:g} s × {len(program.blocks)} blocks is {work} block evaluations; a "
            f"replay makes at most {MAX_WORK}: choose a shorter range or a longer step_s"))], program.id)
    return step, steps


def run_replay(program: Program, catalog: Catalog, rows: Mapping[str, Sequence[Row]], start: float,
               end: float, step_s: float | None = None) -> Replay:
    """Run ``program`` over ``rows`` (per input point, in time order, the last one before ``start``
    first when there is one) from ``start`` to ``end``; ``ProgramError`` when it cannot run."""
    step, steps = check_range(program, start, end, step_s)
    a = analyse(program, catalog)
    if a.issues:
        raise ProgramError(a.issues, program.id)
    values: dict[tuple[str, str], Value] = {}
    for c in program.constants:
        values.setdefault((c.id, VALUE_PORT), c.value)  # the first node of an id, as the analysis
    feeding: dict[str, list[tuple[str, tuple[str, str]]]] = {}
    output_source: dict[str, tuple[str, str]] = {}
    sources: dict[tuple[str, str], None] = {}
    for e in a.edges:
        sources[(e.src, e.src_port)] = None
        if a.kinds.get(e.dst) == "block":
            feeding.setdefault(e.dst, []).append((e.dst_port, (e.src, e.src_port)))
        else:
            output_source[e.dst] = (e.src, e.src_port)
    inputs = [(n.id, list(rows.get(n.point, ()))) for n in program.inputs if a.kinds.get(n.id) == "input"]
    cursor = dict.fromkeys((node for node, _ in inputs), 0)
    order = [(b, a.blocks[b], feeding.get(b, [])) for b in a.order]
    outs = [(b, list(block.active_outputs())) for b, block, _ in order]
    out_series = {o.id: _Changes() for o in program.outputs if o.id in output_source}
    port_series = {key: _Changes() for key in sources}
    now = start
    for k in range(steps):
        now = start + k * step
        for node, node_rows in inputs:
            i = cursor[node]
            while i < len(node_rows) and node_rows[i][0] <= now:
                i += 1
            cursor[node] = i
            if i:
                _ts, value, status = node_rows[i - 1]
                values[(node, VALUE_PORT)] = value if status in _GOOD else None
            else:
                values[(node, VALUE_PORT)] = None
        for (b, block, feeds), (_, ports) in zip(order, outs, strict=True):
            result = block.step(now, {port: values.get(src) for port, src in feeds})
            for port in ports:
                values[(b, port)] = result.get(port)
        for o, src in output_source.items():
            out_series[o].add(now, values.get(src))
        for key, changes in port_series.items():
            changes.add(now, values.get(key))
    return Replay(
        start=start, end=end, step_s=step, steps=steps,
        outputs={o: c.done(now, OUTPUT_POINTS) for o, c in out_series.items()},
        values={f"{n}.{p}": c.done(now, PORT_POINTS) for (n, p), c in port_series.items()},
    )
