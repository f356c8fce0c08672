"""The history stores the conformance suite runs against: one row per store.

``open_store(clock, **options)`` makes a new, not yet started store on the
test's own storage; calling it again opens the same storage (a restart).
Options are the contract's (``max_hold``), never a store's tuning. A new
store adds its row to ``STORES`` (PostgreSQL: a fresh database on the
session's server, through ``request.getfixturevalue("postgres_url")``) and
must pass ``test_conformance.py`` unchanged.

``postgres-compacted`` is PostgreSQL with compaction forced on: before every
read it compacts every week it can (the current one too), so each query
reads packed days, and a later write meets packed days (late data). It also recomputes
rollups two dirty hours a transaction (``rollup_chunk=2``), so a pass of many chunks gives
the same rollups as one.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from openbms.historian import Historian, open_historian
from openbms.historian.base import RawRow, Rollup, RollupSeries
from openbms.historian.postgres import PostgresHistorian
from openbms.model import Sample
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


class CompactingPostgres(PostgresHistorian):
    """The PostgreSQL store that compacts everything stored before each read."""

    async def _compact_all(self) -> None:
        if not self.readonly and self._task is not None:
            await self.compact(math.inf)

    async def raw_rows(self, point: str, since: float, until: float,
                       limit: int | None = None) -> list[RawRow]:
        await self._compact_all()
        return await super().raw_rows(point, since, until, limit)

    async def last_before(self, point: str, ts: float) -> RawRow | None:
        await self._compact_all()
        return await super().last_before(point, ts)

    async def count(self, points: Sequence[str], since: float, until: float) -> int:
        await self._compact_all()
        return await super().count(points, since, until)

    async def rollups(self, point: str, rollup: Rollup, since: float, until: float) -> RollupSeries:
        await self._compact_all()
        return await super().rollups(point, rollup, since, until)

    async def iter_raw(self, points: Sequence[str], since: float, until: float,
                       chunk: int = 10_000) -> AsyncIterator[list[Sample]]:
        await self._compact_all()
        async for samples in super().iter_raw(points, since, until, chunk):
            yield samples


#: store name → the URL of a new, empty store for one test
STORES: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
    "postgres-compacted": _postgres,
}


@pytest.fixture(params=sorted(STORES))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> OpenStore:
    url = STORES[request.param](request, tmp_path)
    compacted = request.param == "postgres-compacted"

    def open_(clock: Clock, **options: Any) -> Historian:
        if compacted:
            return CompactingPostgres(url, clock=clock, rollup_chunk=2, **options)
        return open_historian(url, clock=clock, **options)

    return open_
