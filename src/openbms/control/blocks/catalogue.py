"""The block catalogue as data: what an editor's palette shows of every block kind.

``describe_blocks()`` turns each class of ``BLOCKS`` into a plain JSON-able
description — title, description, ports with their types and units,
parameters from the ``Params`` model's JSON schema (pydantic is the source:
limits, defaults, choices, units and descriptions are never written twice),
and the ``time_based``/``breaks_cycles`` flags. The browser builds its
palette and side panel from it and keeps no copy of its own.

Port units: a unit symbol (``h``), ``"same"`` (every ``"same"`` port of the
block carries one unit, whichever its first wired input brings) or ``None``
(any unit). Families of numbered ports (``in1``…``in8``, ``fault_1``…) are
listed port by port and once more as a ``variadic`` group saying how many
may be used and, when a parameter decides it, which.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

from openbms.control.blocks import BLOCKS, Block, Port

__all__ = ["TITLES", "describe_block", "describe_blocks"]

#: The palette's name of each kind (a test fails on a kind without one).
TITLES: dict[str, str] = {
    "pid": "PID loop",
    "reset": "Linear reset",
    "hysteresis": "Hysteresis (on/off)",
    "leadlag": "Lead-lag rotation",
    "staging": "Staging",
    "min": "Minimum",
    "max": "Maximum",
    "average": "Average",
    "select": "Select by index",
    "compare": "Compare",
    "and": "AND",
    "or": "OR",
    "not": "NOT",
    "xor": "XOR",
    "delay_on": "On delay",
    "delay_off": "Off delay",
    "pulse": "Pulse",
    "delay": "Delay (previous value)",
    "rate_limit": "Rate limiter",
    "add": "Add",
    "subtract": "Subtract",
    "multiply": "Multiply",
    "divide": "Divide",
    "limit": "Limit (clamp)",
    "expression": "Expression (formula)",
}

#: Which parameter sets how many ports of a numbered family a block uses (the others: the wiring does).
_COUNT_PARAMS: dict[tuple[str, str], str] = {
    ("leadlag", "fault_"): "n",
    ("leadlag", "runtime_"): "n",
    ("leadlag", "run_"): "n",
    ("staging", "stage_"): "stages",
}

_NUMBERED = re.compile(r"^(?P<prefix>[a-z_]*?)(?P<index>\d+)$")
_SCHEMA_KEYS = (("minimum", "minimum"), ("maximum", "maximum"),
                ("exclusiveMinimum", "exclusive_minimum"), ("exclusiveMaximum", "exclusive_maximum"))


def _port(name: str, port: Port) -> dict[str, Any]:
    match = _NUMBERED.match(name)
    return {"name": name, "type": port.type, "unit": port.unit, "required": port.required,
            "default": port.default, "group": match["prefix"] if match else None}


def _variadic(kind: str, ports: dict[str, Port]) -> list[dict[str, Any]]:
    groups: dict[str, list[tuple[int, Port]]] = {}
    for name, port in ports.items():
        match = _NUMBERED.match(name)
        if match:
            groups.setdefault(match["prefix"], []).append((int(match["index"]), port))
    out = []
    for prefix, members in groups.items():
        if len(members) < 2:
            continue
        indices = [i for i, _ in members]
        out.append({"group": prefix, "first": min(indices), "last": max(indices),
                    "required": sum(1 for _, p in members if p.required),
                    "count_param": _COUNT_PARAMS.get((kind, prefix))})
    return out


def _plain_type(schema: dict[str, Any]) -> tuple[str, bool, dict[str, Any]]:
    """(type, nullable, the branch that carries the limits) of one property's schema."""
    branches = schema.get("anyOf")
    if not branches:
        return _type_name(schema), False, schema
    nullable = any(b.get("type") == "null" for b in branches)
    rest = [b for b in branches if b.get("type") != "null"]
    if len(rest) == 1:
        return _type_name(rest[0]), nullable, rest[0]
    return "any", nullable, {}


def _type_name(schema: dict[str, Any]) -> str:
    if "enum" in schema or "const" in schema:
        return "enum"
    return {"number": "number", "integer": "integer", "boolean": "boolean",
            "string": "string"}.get(str(schema.get("type")), "any")


def _params(cls: type[Block]) -> list[dict[str, Any]]:
    schema = cls.Params.model_json_schema()
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        kind, nullable, limits = _plain_type(prop)
        entry: dict[str, Any] = {
            "name": name, "type": kind, "nullable": nullable, "required": name in required,
            "default": prop.get("default"), "description": prop.get("description", ""),
            "unit": prop.get("unit"),
        }
        for key, out_key in _SCHEMA_KEYS:
            entry[out_key] = limits.get(key)
        choices = limits.get("enum") or ([limits["const"]] if "const" in limits else None)
        entry["choices"] = choices
        out.append(entry)
    return out


def _doc(obj: object) -> str:
    return inspect.cleandoc(obj.__doc__ or "")


def describe_block(cls: type[Block]) -> dict[str, Any]:
    """One block kind as the palette shows it (see the module's docstring)."""
    return {
        "kind": cls.kind,
        "title": TITLES.get(cls.kind, cls.kind),
        "description": _doc(cls),
        "inputs": [_port(n, p) for n, p in cls.inputs.items()],
        "outputs": [_port(n, p) for n, p in cls.outputs.items()],
        "variadic_inputs": _variadic(cls.kind, cls.inputs),
        "variadic_outputs": _variadic(cls.kind, cls.outputs),
        "params": _params(cls),
        "params_description": _doc(cls.Params),
        "params_schema": cls.Params.model_json_schema(),
        "dynamic_inputs": cls.dynamic_inputs,
        "time_based": cls.time_based,
        "breaks_cycles": cls.breaks_cycles,
    }


def describe_blocks() -> tuple[dict[str, Any], ...]:
    """Every kind of ``BLOCKS``, in the catalogue's order (computed once per set of classes)."""
    return _describe(tuple(BLOCKS.values()))


@functools.lru_cache(maxsize=4)
def _describe(classes: tuple[type[Block], ...]) -> tuple[dict[str, Any], ...]:
    return tuple(describe_block(cls) for cls in classes)
