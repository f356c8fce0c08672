"""The history stores the conformance suite runs against: one row per store.

``open_store(clock, **options)`` makes a new, not yet started store on the
test's own storage; calling it again opens the same storage (a restart).
Options are the contract's (``max_hold``), never a store's tuning. A new
store adds its row to ``STORES`` (PostgreSQL: a fresh database on the
session's server, through ``request.getfixturevalue("postgres_url")``) and
must pass ``test_conformance.py`` unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from openbms.historian import Historian, open_historian
from openbms.runtime.clock import Clock

OpenStore = Callable[..., Historian]


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'history.db'}"


def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database on the session's PostgreSQL server, named after the test."""
    return fresh_postgres_database(request.getfixturevalue("postgres_url"))


def fresh_postgres_database(server_url: str) -> str:
    """The URL of a new, empty database on the server ``server_url`` points into."""
    import psycopg

    url = server_url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"h_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


#: store name → the URL of a new, empty store for one test
STORES: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
}


@pytest.fixture(params=sorted(STORES))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> OpenStore:
    url = STORES[request.param](request, tmp_path)

    def open_(clock: Clock, **options: Any) -> Historian:
        return open_historian(url, clock=clock, **options)

    return open_
