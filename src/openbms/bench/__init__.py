"""Benchmarks behind ``openbms bench NAME``: each yields ``(name, value, unit)`` figures.

They measure and assert nothing; users size their hardware with them and
``docs/benchmarks.md`` records the figures of the reference machine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator

__all__ = ["BENCHMARKS", "Figure", "load"]

Figure = tuple[str, float, str]

#: name → module under openbms.bench with ``run(quick: bool) -> Iterator[Figure]``.
BENCHMARKS: dict[str, str] = {
    "ingest": "ingest",
    "query": "query",
    "bacnet": "bacnet",
    "control": "control",
    "api": "api",
}


def load(name: str) -> Callable[[bool], Iterator[Figure]]:
    """The ``run`` function of a benchmark."""
    return importlib.import_module(f"openbms.bench.{BENCHMARKS[name]}").run  # type: ignore[no-any-return]
