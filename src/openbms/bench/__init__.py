"""Benchmarks behind ``openbms bench NAME``: each yields ``(name, value, unit)`` figures.

They measure and assert nothing; users size their hardware with them and
``docs/benchmarks.md`` records the figures of the reference machine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator

__all__ = ["BENCHMARKS", "LONG", "Figure", "load"]

Figure = tuple[str, float, str]

#: name → module under openbms.bench with ``run(quick: bool) -> Iterator[Figure]``.
BENCHMARKS: dict[str, str] = {
    "ingest": "ingest",
    "query": "query",
    "bacnet": "bacnet",
    "control": "control",
    "api": "api",
    "soak": "soak",
    "mqtt": "mqtt",
    "modbus": "modbus",
    "analytics": "analytics",
    "pg": "pg",
    "central": "central",
}

#: Benchmarks that ``all`` leaves out: a soak is a test of hours, run on its own.
LONG: frozenset[str] = frozenset({"soak"})


def load(name: str) -> Callable[..., Iterator[Figure]]:
    """The ``run`` function of a benchmark."""
    return importlib.import_module(f"openbms.bench.{BENCHMARKS[name]}").run
