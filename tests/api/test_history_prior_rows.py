"""What a trend's ``prior`` costs the store: one indexed look-up (``Historian.last_before``), not
two days of raw samples read to keep the last one when the hourly rollups are not there yet
(651 ms per 1 Hz point per request, found by a review); and the rollups stand in where retention
dropped the raw samples."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from openbms.api.routes.history import prior_sample
from openbms.historian import Historian, open_historian
from openbms.model.sample import Sample
from openbms.model.site import HistoryPolicy
from openbms.runtime.clock import ManualClock

HOUR = 3600.0
H = 1_699_999_200.0  # an hour's start
POINT = "hq/ahu-1/sat"


class RowCounter:
    """A real store, with the rows its queries hand back counted."""

    def __init__(self, inner: Historian) -> None:
        self.inner = inner
        self.rows = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def raw_rows(self, *args: Any, **kw: Any) -> Any:
        got = await self.inner.raw_rows(*args, **kw)
        self.rows += len(got)
        return got

    async def last_before(self, point: str, ts: float) -> Any:
        got = await self.inner.last_before(point, ts)
        self.rows += got is not None
        return got

    async def rollups(self, *args: Any, **kw: Any) -> Any:
        got = await self.inner.rollups(*args, **kw)
        self.rows += len(got.rows())
        return got


@pytest.fixture
async def owner(tmp_path: Path) -> AsyncIterator[Historian]:
    """The store's owner, whose periodic rollup pass never comes (``refresh_rollups`` runs one)."""
    store = open_historian(tmp_path / "history.db", clock=ManualClock(H + 5), rollup_interval=1e12)
    await store.start()
    try:
        yield store
    finally:
        await store.stop()


async def test_prior_without_rollups_reads_one_row_not_two_days_of_them(owner: Historian, tmp_path: Path):
    every = 10.0  # a sample every 10 s for two days, and no rollup pass
    owner.ingest([Sample(POINT, H - 48 * HOUR + i * every, float(i)) for i in range(int(48 * HOUR / every))])
    await owner.flush()
    reader = open_historian(tmp_path / "history.db", readonly=True)
    await reader.start()
    try:
        counted = RowCounter(reader)
        got = await prior_sample(counted, POINT, H + 5)  # type: ignore[arg-type]
        assert got == {"ts": H - every, "value": float(48 * HOUR / every - 1), "status": "ok"}
        assert counted.rows == 1
    finally:
        await reader.stop()


async def test_prior_where_retention_dropped_the_raw_samples_is_the_rollups_last(owner: Historian):
    t = H - 10 * 86_400
    owner.ingest([Sample(POINT, t + 60, 9.0, "stale"), Sample(POINT, t + 120, 9.5)])
    await owner.refresh_rollups()
    assert len(await owner.raw_rows(POINT, 0, H)) == 2
    owner.configure({POINT: HistoryPolicy(raw_days=5)})
    await owner.apply_retention()  # the raw samples go; the rollups stay
    assert await owner.raw_rows(POINT, 0, H) == []
    assert await prior_sample(owner, POINT, H + 5) == {"ts": t + 120, "value": 9.5, "status": "ok"}
    assert await prior_sample(owner, POINT, t + 60) is None  # the rollup's last is not before
