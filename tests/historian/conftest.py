"""The history stores the conformance suite runs against: one row per store.

``open_store(clock, **options)`` makes a new, not yet started store on the
test's own storage; calling it again opens the same storage (a restart).
Options are the contract's (``max_hold``), never a store's tuning. A new
store adds its row to ``STORES`` (PostgreSQL: a fresh database on the
session's server, through ``request.getfixturevalue("postgres_url")``) and
must pass ``test_conformance.py`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from openbms.historian import Historian, open_historian
from openbms.runtime.clock import Clock

OpenStore = Callable[..., Historian]


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'history.db'}"


#: store name → the URL of a new, empty store for one test
STORES: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(STORES))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> OpenStore:
    url = STORES[request.param](request, tmp_path)

    def open_(clock: Clock, **options: Any) -> Historian:
        return open_historian(url, clock=clock, **options)

    return open_
