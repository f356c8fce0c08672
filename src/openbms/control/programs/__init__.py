"""Logic programs: a directed graph wiring points to control blocks and blocks to writable points.

A program is a JSON document (:class:`Program`) the dashboard edits; it is
checked by :func:`validate_program` against the site's points, stored
version by version in the state database (:class:`ProgramStore`), and run
by a :class:`ProgramEngine` that evaluates it when an input changes and on
its period, and commands its outputs through the arbiter.
"""

from __future__ import annotations

from openbms.control.programs.engine import Prepared, ProgramEngine, ProgramStatus, WriteFn, arbiter_write
from openbms.control.programs.model import (
    LIMITS,
    Limits,
    Program,
    ProgramError,
    ProgramIssue,
    example_names,
    load_example,
    parse_program,
)
from openbms.control.programs.store import ProgramInfo, ProgramStore, ProgramVersion, SavedVersion
from openbms.control.programs.validate import Catalog, PointInfo, catalog_from_sites, validate_program

__all__ = [
    "LIMITS",
    "Catalog",
    "Limits",
    "PointInfo",
    "Prepared",
    "Program",
    "ProgramEngine",
    "ProgramError",
    "ProgramInfo",
    "ProgramIssue",
    "ProgramStatus",
    "ProgramStore",
    "ProgramVersion",
    "SavedVersion",
    "WriteFn",
    "arbiter_write",
    "catalog_from_sites",
    "example_names",
    "load_example",
    "parse_program",
    "validate_program",
]
