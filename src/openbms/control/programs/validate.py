"""Checks that a program can run: nodes, blocks and params, points, ports, types, units and loops.

``validate_program(program, catalog)`` returns every problem it finds, each
with the path of the part of the document at fault (``wires[3].to``,
``blocks[1].params``) so the dashboard can point at it. An empty list means
the program can be loaded. The engine runs the same analysis and keeps what
it learnt (block instances, the resolved wires, the evaluation order).

The catalog says what the site's points are: ``point id → PointInfo(kind,
unit, writable)``; :func:`catalog_from_sites` builds it from site configs.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from openbms.control.blocks import BLOCKS, Block, create_block
from openbms.control.blocks.base import suggest
from openbms.control.programs.model import VALUE_PORT, Program, ProgramIssue, split_endpoint, with_lines
from openbms.model.site import SiteConfig
from openbms.model.units import lookup

__all__ = ["Analysis", "Catalog", "Edge", "PointInfo", "analyse", "catalog_from_sites",
           "validate_program"]


class PointInfo(NamedTuple):
    """What a program needs to know of a point."""

    kind: str  # "number", "bool" or "enum"
    unit: str | None
    writable: bool
    #: The most urgent priority a program may command it at (9 at a central openbms: 1 to 8
    #: stay its edge's).
    min_priority: int = 1


#: Point id → what it is. Plain ``(kind, unit, writable)`` tuples work too.
Catalog = Mapping[str, PointInfo | tuple[str, str | None, bool]]


def catalog_from_sites(sites: Iterable[SiteConfig]) -> dict[str, PointInfo]:
    """The catalog of every point of these sites."""
    return {pid: PointInfo(p.kind, p.unit, p.writable)
            for cfg in sites for pid, _equipment, p in cfg.points()}


class Edge(NamedTuple):
    """A resolved wire: from ``src`` node's ``src_port`` to ``dst`` node's ``dst_port``."""

    wire: int  # its index in ``wires``
    src: str
    src_port: str
    dst: str
    dst_port: str


@dataclass
class Analysis:
    """What validating a program found out: its issues and, for the engine, its resolved graph."""

    issues: list[ProgramIssue] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)  # node id → input, constant, block, output
    blocks: dict[str, Block] = field(default_factory=dict)  # block node id → a fresh instance
    edges: list[Edge] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # block ids in evaluation order
    point_of: dict[str, str] = field(default_factory=dict)  # input or output node id → its point
    constant_values: dict[str, object] = field(default_factory=dict)  # constant node id → its value

    def add(self, path: str, message: str) -> None:
        self.issues.append(ProgramIssue(path, message))


def validate_program(program: Program, catalog: Catalog) -> list[ProgramIssue]:
    """Every problem that would stop ``program`` from running on the points of ``catalog``.

    A program parsed from a file or text gets the line of each problem too.
    """
    return with_lines(program, analyse(program, catalog).issues)


def _type_of_kind(kind: str) -> str:
    return "bool" if kind == "bool" else "number"  # enum values are state numbers


def _type_of_value(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "any"


def _same_unit(a: str, b: str) -> bool:
    ua, ub = lookup(a), lookup(b)
    if ua is not None and ub is not None:
        return ua.symbol == ub.symbol
    return a == b


def _hint(name: str, known: list[str]) -> str:
    close = suggest(name, known)
    return f"; did you mean {close!r}?" if close else ""


def analyse(program: Program, catalog: Catalog) -> Analysis:
    """Validate ``program`` and resolve its graph (see :class:`Analysis`)."""
    a = Analysis()
    for n in program.inputs:  # the first node of an id, as before
        a.point_of.setdefault(n.id, n.point)
    for o in program.outputs:
        a.point_of.setdefault(o.id, o.point)
    for c in program.constants:
        a.constant_values.setdefault(c.id, c.value)
    where: dict[str, str] = {}  # node id → its path, for messages
    points: dict[str, PointInfo] = {}

    def declare(node_id: str, kind: str, path: str) -> None:
        if node_id in a.kinds:
            a.add(f"{path}.id", f"duplicate node id {node_id!r} (also {where[node_id]})")
            return
        a.kinds[node_id] = kind
        where[node_id] = path

    def check_point(point: str, path: str, writable: bool) -> None:
        info = catalog.get(point)
        if info is None:
            same_site = [p for p in catalog if p.split("/", 1)[0] == point.split("/", 1)[0]]
            a.add(path, f"unknown point {point!r}{_hint(point, same_site or list(catalog))}")
            return
        info = PointInfo(*info)
        points[point] = info
        site = point.split("/", 1)[0]
        if site != program.site:
            a.add(path, f"point {point!r} belongs to site {site!r}, not to the program's site "
                        f"{program.site!r}")
        if writable and not info.writable:
            a.add(path, f"point {point!r} is not writable, so a program cannot command it")

    for i, n in enumerate(program.inputs):
        declare(n.id, "input", f"inputs[{i}]")
        check_point(n.point, f"inputs[{i}].point", writable=False)
    for i, c in enumerate(program.constants):
        declare(c.id, "constant", f"constants[{i}]")
    known_kinds = sorted(BLOCKS)
    for i, b in enumerate(program.blocks):
        declare(b.id, "block", f"blocks[{i}]")
        if b.block not in BLOCKS:
            hint = _hint(b.block, known_kinds) or f" (known kinds: {', '.join(known_kinds)})"
            a.add(f"blocks[{i}].block", f"unknown block kind {b.block!r}{hint}")
            continue
        try:
            block = create_block(b.block, b.params)
        except (ValueError, TypeError) as err:
            a.add(f"blocks[{i}].params", str(err))
            continue
        if a.kinds.get(b.id) == "block" and where[b.id] == f"blocks[{i}]":
            a.blocks[b.id] = block
    written: dict[tuple[str, int], int] = {}
    for i, o in enumerate(program.outputs):
        declare(o.id, "output", f"outputs[{i}]")
        check_point(o.point, f"outputs[{i}].point", writable=True)
        info = points.get(o.point)
        if info is not None and info.writable and o.priority < info.min_priority:
            a.add(f"outputs[{i}].priority",
                  f"priority {o.priority}: {o.point!r} is commanded from here at priority "
                  f"{info.min_priority} to 16 (1 to {info.min_priority - 1} stay its edge's: life "
                  "safety and its own operators)")
        other = written.setdefault((o.point, o.priority), i)
        if other != i:
            a.add(f"outputs[{i}].point", f"{o.point!r} is already commanded at priority {o.priority} "
                                         f"by outputs[{other}]; two outputs would fight over one slot")

    wired: dict[tuple[str, str], int] = {}  # (node, input port) → wire index
    for i, w in enumerate(program.wires):
        edge = _resolve(a, program, i, w.source, w.to, points, wired)
        if edge is not None:
            a.edges.append(edge)

    for node_id, block in a.blocks.items():
        for port_name, port in block.active_inputs().items():
            if port.required and (node_id, port_name) not in wired:
                a.add(where[node_id], f"block {node_id!r}: required input {port_name!r} is not wired")
    for i, o in enumerate(program.outputs):
        if (o.id, VALUE_PORT) not in wired and where.get(o.id) == f"outputs[{i}]":
            a.add(f"outputs[{i}]", f"output {o.id!r} is not wired: nothing would be written to {o.point!r}")

    _check_units(a, program, points)
    _order(a, program)
    return a


def _resolve(a: Analysis, program: Program, i: int, source: str, to: str,
             points: dict[str, PointInfo], wired: dict[tuple[str, str], int]) -> Edge | None:
    """Check one wire; the edge when both ends exist."""
    src, src_port = split_endpoint(source)
    dst, dst_port = split_endpoint(to)
    ok = True
    src_type = dst_type = "any"

    kind = a.kinds.get(src)
    if kind is None:
        a.add(f"wires[{i}].from", f"no node {src!r}{_hint(src, list(a.kinds))}")
        ok = False
    elif kind == "output":
        a.add(f"wires[{i}].from", f"{src!r} is an output: a wire starts at an input, a constant or "
                                  "a block's output")
        ok = False
    elif kind == "block":
        block = a.blocks.get(src)
        if block is not None:  # else its kind or params are wrong, and said so
            outs = block.active_outputs()
            if src_port not in outs:
                hint = _hint(src_port, list(outs)) or f" (outputs: {', '.join(outs)})"
                a.add(f"wires[{i}].from", f"block {src!r} has no output {src_port!r}{hint}")
                ok = False
            else:
                src_type = outs[src_port].type
    elif src_port != VALUE_PORT:
        a.add(f"wires[{i}].from", f"{kind} {src!r} has no port {src_port!r}; its only port is 'value'")
        ok = False
    elif kind == "input":
        info = points.get(a.point_of.get(src, ""))
        src_type = _type_of_kind(info.kind) if info else "any"
    else:
        src_type = _type_of_value(a.constant_values.get(src))

    kind = a.kinds.get(dst)
    if kind is None:
        a.add(f"wires[{i}].to", f"no node {dst!r}{_hint(dst, list(a.kinds))}")
        ok = False
    elif kind in ("input", "constant"):
        a.add(f"wires[{i}].to", f"{dst!r} is {'an' if kind == 'input' else 'a'} {kind}: a wire ends at "
                                "a block's input or an output")
        ok = False
    elif kind == "block":
        block = a.blocks.get(dst)
        if block is not None:
            ins = block.active_inputs()
            if dst_port not in ins:
                hint = _hint(dst_port, list(ins)) or f" (inputs: {', '.join(ins)})"
                a.add(f"wires[{i}].to", f"block {dst!r} has no input {dst_port!r}{hint}")
                ok = False
            else:
                dst_type = ins[dst_port].type
    elif dst_port != VALUE_PORT:
        a.add(f"wires[{i}].to", f"output {dst!r} has no port {dst_port!r}; its only port is 'value'")
        ok = False
    else:
        info = points.get(a.point_of.get(dst, ""))
        dst_type = _type_of_kind(info.kind) if info else "any"

    if not ok:
        return None
    first = wired.setdefault((dst, dst_port), i)
    if first != i:
        a.add(f"wires[{i}].to", f"'{dst}.{dst_port}' is already wired (wires[{first}]); an input takes "
                                "one wire")
        return None
    if "any" not in (src_type, dst_type) and src_type != dst_type:
        a.add(f"wires[{i}]", f"type mismatch: '{src}.{src_port}' gives a {src_type} but "
                             f"'{dst}.{dst_port}' takes a {dst_type}")
    return Edge(i, src, src_port, dst, dst_port)


def _check_units(a: Analysis, program: Program, points: dict[str, PointInfo]) -> None:
    """Ports with a unit get that unit; a block's ``same`` ports all get one unit."""
    feeding: dict[str, list[Edge]] = {}
    for e in a.edges:
        feeding.setdefault(e.dst, []).append(e)
    same_unit: dict[str, tuple[str, Edge] | None] = {}  # block → its 'same' unit and the wire it came by
    busy: set[str] = set()

    def unit_of(node: str, port: str) -> str | None:
        kind = a.kinds.get(node)
        if kind == "input":
            info = points.get(a.point_of.get(node, ""))
            return info.unit if info else None
        block = a.blocks.get(node)
        if block is None:
            return None
        declared = block.active_outputs()[port].unit
        if declared != "same":
            return declared
        found = group_unit(node)
        return found[0] if found else None

    def group_unit(node: str) -> tuple[str, Edge] | None:
        if node in same_unit:
            return same_unit[node]
        if node in busy:  # a loop: its units are checked where it is entered
            return None
        busy.add(node)
        block = a.blocks[node]
        ins = block.active_inputs()
        found: tuple[str, Edge] | None = None
        for e in feeding.get(node, ()):
            if ins[e.dst_port].unit == "same":
                unit = unit_of(e.src, e.src_port)
                if unit is not None:
                    found = (unit, e)
                    break
        busy.discard(node)
        same_unit[node] = found
        return found

    for node, block in a.blocks.items():
        ins = block.active_inputs()
        group = group_unit(node)
        for e in feeding.get(node, ()):
            port = ins[e.dst_port]
            unit = unit_of(e.src, e.src_port)
            if unit is None or port.unit is None:
                continue
            if port.unit == "same":
                if group is not None and e is not group[1] and not _same_unit(unit, group[0]):
                    first = group[1]
                    a.add(f"wires[{e.wire}]",
                          f"unit mismatch: '{node}.{e.dst_port}' gets {unit} from {e.src!r} but "
                          f"'{node}.{first.dst_port}' gets {group[0]} from {first.src!r} "
                          f"(wires[{first.wire}]); these inputs of a {block.kind!r} block must share a unit")
            elif not _same_unit(unit, port.unit):
                a.add(f"wires[{e.wire}]", f"unit mismatch: '{node}.{e.dst_port}' expects {port.unit} "
                                           f"but {e.src!r} gives {unit}")
    for e in a.edges:
        if a.kinds.get(e.dst) != "output":
            continue
        info = points.get(a.point_of.get(e.dst, ""))
        unit = unit_of(e.src, e.src_port)
        if info is not None and info.unit and unit and not _same_unit(unit, info.unit):
            a.add(f"wires[{e.wire}]", f"unit mismatch: output {e.dst!r} writes a point in {info.unit} "
                                       f"but {e.src!r} gives {unit}")


def _order(a: Analysis, program: Program) -> None:
    """The blocks in evaluation order, or an issue per loop that no ``breaks_cycles`` block breaks."""
    ids = [b.id for b in program.blocks if b.id in a.blocks]
    succ: dict[str, list[tuple[str, int]]] = {b: [] for b in ids}
    for e in a.edges:
        if e.src in succ and e.dst in succ and not a.blocks[e.src].breaks_cycles:
            succ[e.src].append((e.dst, e.wire))
    # Kahn's algorithm, ties in document order so the order is stable from edit to edit.
    indegree = dict.fromkeys(ids, 0)
    for outs in succ.values():
        for dst, _ in outs:
            indegree[dst] += 1
    rank = {b: i for i, b in enumerate(ids)}
    ready = [(rank[b], b) for b in ids if indegree[b] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, b = heapq.heappop(ready)
        order.append(b)
        for dst, _ in succ[b]:
            indegree[dst] -= 1
            if indegree[dst] == 0:
                heapq.heappush(ready, (rank[dst], dst))
    if len(order) == len(ids):
        a.order = order
        return
    reported: set[str] = set()
    for start in ids:
        if indegree[start] == 0 or start in reported:
            continue
        cycle = _find_cycle(start, succ, {b for b in ids if indegree[b] > 0})
        if cycle is None or reported & {n for n, _ in cycle}:
            continue
        reported.update(n for n, _ in cycle)
        path = " → ".join([*(n for n, _ in cycle), cycle[0][0]])
        a.add(f"wires[{cycle[-1][1]}]", f"a loop that no delay breaks: {path}; a feedback loop must pass "
                                        "through a 'delay' block")


def _find_cycle(start: str, succ: dict[str, list[tuple[str, int]]],
                stuck: set[str]) -> list[tuple[str, int]] | None:
    """A loop back to ``start`` as (node, index of the wire leaving it), or None."""
    stack: list[tuple[str, int]] = []
    seen: set[str] = set()

    def visit(node: str) -> bool:
        for nxt, wire in succ[node]:
            if nxt not in stuck:
                continue
            stack.append((node, wire))
            if nxt == start:
                return True
            if nxt not in seen:
                seen.add(nxt)
                if visit(nxt):
                    return True
            stack.pop()
        return False

    return stack if visit(start) else None

