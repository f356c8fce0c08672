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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from openbms.errors import OpenBMSError
from openbms.model.sample import Value

__all__ = [
    "BlockNode",
    "ConstantNode",
    "InputNode",
    "OutputNode",
    "Program",
    "ProgramError",
    "ProgramIssue",
    "Wire",
    "example_names",
    "load_example",
    "parse_program",
    "split_endpoint",
]

#: Program ids are like site ids: they appear in URLs and in ``requested_by=program:<id>``.
ProgramId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
#: Node ids may not contain a dot: ``node.port`` names a port.
NodeId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]*$", max_length=64)]

#: The port of an input, constant or output node.
VALUE_PORT = "value"


@dataclass(frozen=True, slots=True)
class ProgramIssue:
    """One problem of a program: where (``wires[3].to``) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


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
    name: str = ""
    description: str = ""
    period_s: float = Field(default=5.0, gt=0)
    inputs: list[InputNode] = []
    constants: list[ConstantNode] = []
    blocks: list[BlockNode] = []
    outputs: list[OutputNode] = []
    wires: list[Wire] = []
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


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "program"


def parse_program(data: str | bytes | dict[str, Any] | Path) -> Program:
    """A program from JSON text, a file or parsed data; ``ProgramError`` lists each problem by path."""
    try:
        if isinstance(data, Path):
            data = data.read_text(encoding="utf-8")
        if isinstance(data, str | bytes):
            data = json.loads(data)
    except (OSError, ValueError) as err:
        raise ProgramError([ProgramIssue("program", f"not valid JSON: {err}")]) from None
    try:
        return Program.model_validate(data)
    except pydantic.ValidationError as err:
        issues = []
        for e in err.errors(include_url=False):
            where = _path(tuple(p for p in e["loc"] if p != "function-after"))
            if e["type"] == "extra_forbidden":
                issues.append(ProgramIssue(where, "unknown field"))
            elif e["type"] == "missing":
                issues.append(ProgramIssue(where, "is required"))
            else:
                issues.append(ProgramIssue(where, f"{e['msg']} (got {e['input']!r})"))
        raise ProgramError(issues) from None


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
