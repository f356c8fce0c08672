"""The JSON form of a logic program: nodes (inputs, constants, blocks, outputs) and the wires between them.

A program is what the dashboard's wiresheet edits and what the state
database stores, one JSON document per version::

    {"id": "ahu-1-sat", "site": "hq", "period_s": 5,
     "inputs":    [{"id": "sat", "point": "hq/ahu-1/sat"}],
     "constants": [{"id": "sp", "value": 13}],
     "blocks":    [{"id": "pid", "block": "pid", "params": {"kp": 4, "ti": 120, "action": "direct"}}],
     "outputs":   [{"id": "valve", "point": "hq/ahu-1/clg-valve", "priority": 10}],
     "wires":     [{"from": "sat", "to": "pid.pv"}, {"from": "sp", "to": "pid.sp"},
                   {"from": "pid.out", "to": "valve"}]}

Inputs and constants have one output port, ``value``; outputs one input
port, ``value``; so ``"sat"`` is short for ``"sat.value"``. This module only
checks the shape of the document; how the parts fit together (points, ports,
types, units, loops) is :mod:`openbms.control.programs.validate`'s job.
"""

from __future__ import annotations

import json
import math
import re
import weakref
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from openbms.errors import OpenBMSError
from openbms.model.sample import Value

__all__ = [
    "LIMITS",
    "BlockNode",
    "ConstantNode",
    "InputNode",
    "Limits",
    "OutputNode",
    "Program",
    "ProgramError",
    "ProgramIssue",
    "Wire",
    "example_names",
    "load_example",
    "parse_program",
    "path_parts",
    "split_endpoint",
    "with_lines",
]

#: Program ids are like site ids: they appear in URLs and in ``requested_by=program:<id>``.
ProgramId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
#: Node ids may not contain a dot: ``node.port`` names a port.
NodeId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]*$", max_length=64)]

#: The port of an input, constant or output node.
VALUE_PORT = "value"


@dataclass(frozen=True, slots=True)
class Limits:
    """What one program may ask of the process: every site's control shares one event loop.

    The sizes bound what validating, compiling and evaluating a program can
    cost; the CPU budgets (``run_cpu_s`` per evaluation, ``minute_cpu_s`` per
    program and ``site_minute_cpu_s`` for all of a site's programs per minute
    of the process's monotonic timer, not of the runtime's clock, which may
    run faster) are enforced by the engine, which stops a program over them
    and releases its outputs. ``slice_cpu_s`` is how much evaluation the
    engine does before it gives the event loop back to the other tasks.
    """

    min_period_s: float = 1.0
    max_period_s: float = 86_400.0
    max_blocks: int = 2_000
    max_inputs: int = 1_000
    max_constants: int = 1_000
    max_outputs: int = 500
    max_wires: int = 8_000
    max_document_bytes: int = 1_000_000  # the program's JSON text
    max_programs_per_site: int = 200
    #: Versions never deployed kept per program (the oldest go); every deployed version is kept.
    max_drafts_per_program: int = 100
    run_cpu_s: float = 0.25
    minute_cpu_s: float = 3.0
    site_minute_cpu_s: float = 20.0  # a third of a core for one site's programs together
    slice_cpu_s: float = 0.02  # evaluations between two turns of the event loop


#: The limits in force (docs/programs.md, "Limits").
LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class ProgramIssue:
    """One problem of a program: where (``wires[3].to``, and the line when it came from a file) and what."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.path}: {self.message}"


class ProgramError(OpenBMSError, ValueError):
    """A program cannot be loaded or run as it is; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ProgramIssue], program: str = "") -> None:
        self.issues = issues
        noun = "problem" if len(issues) == 1 else "problems"
        head = f"program {program!r}: " if program else ""
        super().__init__(f"{head}{len(issues)} {noun}:\n" + "\n".join(str(i) for i in issues))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class InputNode(_Strict):
    """A point's value entering the program (``None`` while the point is offline, stale or in fault)."""

    id: NodeId
    point: str


class ConstantNode(_Strict):
    """A fixed value: a setpoint, a minimum position, an offset."""

    id: NodeId
    value: Value


class BlockNode(_Strict):
    """An instance of a control block (``block`` is its kind, e.g. ``"pid"``)."""

    id: NodeId
    block: str
    params: dict[str, Any] = {}


class OutputNode(_Strict):
    """A value leaving the program: commanded to a writable point at ``priority``.

    With ``release_when_none`` (the default) an unknown value releases the
    program's slot, so the next priority or the relinquish default takes over;
    otherwise the last command stays.
    """

    id: NodeId
    point: str
    priority: int = Field(default=10, ge=1, le=16)
    release_when_none: bool = True


class Wire(_Strict):
    """A connection from an output port to an input port: ``"node"`` or ``"node.port"``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    source: str = Field(alias="from")
    to: str


class Program(_Strict):
    """A logic program: a directed graph of inputs, constants, blocks and outputs.

    ``period_s`` is how often time-based blocks (PID, timers, staging…) are
    evaluated; everything else runs when an input changes. ``layout`` is the
    dashboard's (node positions and the like) and is ignored here.
    """

    id: ProgramId
    site: ProgramId
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=4000)
    period_s: float = Field(default=5.0, ge=LIMITS.min_period_s, le=LIMITS.max_period_s, allow_inf_nan=False)
    inputs: list[InputNode] = Field(default=[], max_length=LIMITS.max_inputs)
    constants: list[ConstantNode] = Field(default=[], max_length=LIMITS.max_constants)
    blocks: list[BlockNode] = Field(default=[], max_length=LIMITS.max_blocks)
    outputs: list[OutputNode] = Field(default=[], max_length=LIMITS.max_outputs)
    wires: list[Wire] = Field(default=[], max_length=LIMITS.max_wires)
    layout: dict[str, Any] = {}

    def to_json_dict(self) -> dict[str, Any]:
        """The program as JSON-able data, in the stored format (``"from"``, not ``source``)."""
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self, indent: int | None = 2) -> str:
        """The program as JSON text."""
        return json.dumps(self.to_json_dict(), indent=indent, ensure_ascii=False)

    def points(self) -> set[str]:
        """Every point the program reads or writes."""
        return {n.point for n in self.inputs} | {n.point for n in self.outputs}


def split_endpoint(text: str) -> tuple[str, str]:
    """``"pid.out"`` → ``("pid", "out")``; ``"sat"`` → ``("sat", "value")``."""
    node, dot, port = text.partition(".")
    return node, (port if dot else VALUE_PORT)


_PLAIN_KEY = re.compile(r'^[^.\[\]"]+$')
_PATH_PART = re.compile(r'([^.\[\]"]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def _path(loc: tuple[int | str, ...]) -> str:
    """``("wires", 3, "to")`` → ``"wires[3].to"``; a key that is not plain is quoted: ``params["a.b"]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "program"


def path_parts(path: str) -> list[str | int]:
    """``"wires[3].to"`` → ``["wires", 3, "to"]``: an issue's path as the parts of the document."""
    if path == "program":
        return []
    return [int(index) if index else (json.loads(quoted) if quoted else name)
            for name, index, quoted in _PATH_PART.findall(path)]


_LISTS = (("inputs", "max_inputs"), ("constants", "max_constants"), ("blocks", "max_blocks"),
          ("outputs", "max_outputs"), ("wires", "max_wires"))
_MAX_DEPTH = 32  # of nested objects and lists inside a document (params, layout)
_MAX_ISSUES = 50


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _precheck(data: dict[str, Any], limits: Limits, measure: bool) -> list[ProgramIssue]:
    """Limits checked on the raw data, before a model is built for each of 100 000 nodes."""
    issues: list[ProgramIssue] = []
    for name, limit_name in _LISTS:
        items = data.get(name)
        limit = getattr(limits, limit_name)
        if isinstance(items, list) and len(items) > limit:
            issues.append(ProgramIssue(name, f"{len(items)} {name}; a program may have at most {limit}"))
    stack: list[tuple[object, tuple[int | str, ...]]] = [(data, ())]
    while stack and len(issues) < _MAX_ISSUES:
        value, loc = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            issues.append(ProgramIssue(_path(loc), f"{value} is not a finite number"))
        elif isinstance(value, dict | list):
            if len(loc) > _MAX_DEPTH:
                issues.append(ProgramIssue(_path(loc), f"nested more than {_MAX_DEPTH} levels deep"))
                continue
            items_of = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((v, (*loc, k)) for k, v in items_of)
    if measure and not issues:
        size = len(json.dumps(data, ensure_ascii=False).encode())
        if size > limits.max_document_bytes:
            issues.append(_too_big(size, limits))
    return issues


def _too_big(size: int, limits: Limits) -> ProgramIssue:
    return ProgramIssue("program", f"the document is {size} bytes; a program may have at most "
                                   f"{limits.max_document_bytes}")


def _source_lines(text: str) -> dict[str, int]:
    """The line of every value of a JSON document, by its path (``wires[3].to``).

    A scanner of the tokens, without recursion: the text has already been
    parsed, so it is well formed.
    """
    lines: dict[str, int] = {}
    stack: list[list[Any]] = []  # [kind "o" or "a", key or index (None: a key is next), its loc]
    line, i, n = 1, 0, len(text)

    def here() -> tuple[int | str, ...]:
        if not stack:
            return ()
        top = stack[-1]
        return (*top[2], top[1])

    def done() -> None:  # a value ended: the next key, or the next index
        if stack:
            top = stack[-1]
            top[1] = None if top[0] == "o" else top[1] + 1

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r,:":
            i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            token, i = text[i:j + 1], j + 1
            if stack and stack[-1][0] == "o" and stack[-1][1] is None:
                stack[-1][1] = json.loads(token)
            else:
                lines.setdefault(_path(here()), line)
                done()
        elif c in "{[":
            loc = here()
            lines.setdefault(_path(loc), line)
            stack.append(["o", None, loc] if c == "{" else ["a", 0, loc])
            i += 1
        elif c in "}]":
            stack.pop()
            done()
            i += 1
        else:  # a number, true, false, null
            j = i
            while j < n and text[j] not in " \t\r\n,:]}":
                j += 1
            lines.setdefault(_path(here()), line)
            done()
            i = j
    return lines


#: The text of programs parsed from text or files, by ``id()`` while the program lives: read for
#: the lines of issues only when there are some.
_SOURCES: dict[int, str] = {}


def _remember_source(program: Program, text: str) -> None:
    _SOURCES[id(program)] = text
    weakref.finalize(program, _SOURCES.pop, id(program), None)


def with_lines(program: Program, issues: list[ProgramIssue]) -> list[ProgramIssue]:
    """``issues`` with the line of each in the file or text ``program`` was parsed from, if any."""
    text = _SOURCES.get(id(program))
    return _locate(issues, _source_lines(text)) if text is not None and issues else issues


def _locate(issues: list[ProgramIssue], lines: dict[str, int]) -> list[ProgramIssue]:
    out = []
    for issue in issues:
        parts = path_parts(issue.path)
        line = None
        while line is None and parts:  # a missing field: the line of the object that lacks it
            line = lines.get(_path(tuple(parts)))
            parts.pop()
        out.append(ProgramIssue(issue.path, issue.message,
                                line if line is not None else lines.get("program")))
    return out


def parse_program(data: str | bytes | dict[str, Any] | Path, *, limits: Limits = LIMITS) -> Program:
    """A program from JSON text, a file or parsed data; ``ProgramError`` lists each problem by path.

    The document is held to ``limits`` (size, node and wire counts, nesting,
    finite numbers) before it is modelled, so an oversized one costs little.
    Parsing a large document takes a while: call it off the event loop.
    """
    measure = True
    text: str | None = None
    try:
        if isinstance(data, Path):
            size = data.stat().st_size
            if size > limits.max_document_bytes:
                raise ProgramError([_too_big(size, limits)])
            data = data.read_bytes()
        if isinstance(data, str | bytes):
            size = len(data.encode() if isinstance(data, str) else data)
            if size > limits.max_document_bytes:
                raise ProgramError([_too_big(size, limits)])
            text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
            data = json.loads(text)
            measure = False
    except (OSError, ValueError, RecursionError) as err:
        if isinstance(err, ProgramError):
            raise
        raise ProgramError([ProgramIssue("program", f"not valid JSON: {err}")]) from None
    if not isinstance(data, dict):
        raise ProgramError([ProgramIssue("program", f"a program is a JSON object, not {_shown(data)}")])
    issues = _precheck(data, limits, measure)
    if issues:
        raise ProgramError(_locate(issues, _source_lines(text)) if text is not None else issues)
    try:
        program = Program.model_validate(data)
    except pydantic.ValidationError as err:
        for e in err.errors(include_url=False):
            where = _path(tuple(p for p in e["loc"] if p != "function-after"))
            if e["type"] == "extra_forbidden":
                issues.append(ProgramIssue(where, "unknown field"))
            elif e["type"] == "missing":
                issues.append(ProgramIssue(where, "is required"))
            else:
                issues.append(ProgramIssue(where, f"{e['msg']} (got {_shown(e['input'])})"))
        raise ProgramError(_locate(issues, _source_lines(text)) if text is not None else issues) from None
    if text is not None:
        _remember_source(program, text)
    return program


def example_names() -> list[str]:
    """Names of the example programs that ship with openbms (``ahu``, ``boiler``, ``chiller``)."""
    folder = resources.files("openbms.examples") / "office" / "programs"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


def load_example(name: str) -> Program:
    """An example program by name; they run on the example site ``examples/office``."""
    names = example_names()
    if name not in names:
        raise ProgramError([ProgramIssue("program", f"no example program {name!r} "
                                                    f"(examples: {', '.join(names)})")])
    folder = resources.files("openbms.examples") / "office" / "programs"
    text = (folder / f"{name}.json").read_text(encoding="utf-8")
    return parse_program(text)
