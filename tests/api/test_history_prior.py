"""A trend's ``prior`` (the last sample before its window) before the hourly rollups caught up.

A store read beside the process that owns it (``readonly``) sees rollups as
fresh as the owner's last rollup pass: just after the hour turns, the hour
that just ended has raw samples and no rollup yet, or one made before its
last samples came. ``prior`` falls back to those raw samples.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from openbms.api.routes.history import prior_sample
from openbms.historian import Historian, open_historian
from openbms.model.sample import Sample
from openbms.runtime.clock import ManualClock

HOUR = 3600.0
#: An hour's start: 2023-11-14T22:00:00Z.
H = 1_699_999_200.0
POINT = "hq/ahu-1/sat"


@pytest.fixture
async def owner(tmp_path: Path) -> AsyncIterator[Historian]:
    """The store's owner, whose periodic rollup pass never comes (``refresh_rollups`` runs one)."""
    store = open_historian(tmp_path / "history.db", clock=ManualClock(H + 5), rollup_interval=1e12)
    await store.start()
    try:
        yield store
    finally:
        await store.stop()


async def _reader(tmp_path: Path) -> Historian:
    reader = open_historian(tmp_path / "history.db", readonly=True)
    await reader.start()
    return reader


async def test_prior_just_after_the_hour_turns_comes_from_raw_samples_before_any_rollup(
    owner: Historian, tmp_path: Path
):
    owner.ingest([Sample(POINT, H - 1800, 14.0), Sample(POINT, H - 10, 15.5)])
    await owner.flush()  # merged: raw history has them; no rollup pass ran
    reader = await _reader(tmp_path)
    try:
        assert await prior_sample(reader, POINT, H + 5) == {"ts": H - 10, "value": 15.5, "status": "ok"}
        # Two hours later, with nothing since, the same sample is still the one before.
        assert (await prior_sample(reader, POINT, H + 2 * HOUR + 5))["ts"] == H - 10
    finally:
        await reader.stop()


async def test_prior_takes_samples_newer_than_the_last_rollup_pass(owner: Historian, tmp_path: Path):
    owner.ingest([Sample(POINT, H - 2 * HOUR + 60, 12.0)])
    await owner.refresh_rollups()  # the hour two hours back is rolled up
    owner.ingest([Sample(POINT, H - 1800, 14.0), Sample(POINT, H - 10, 15.5)])
    await owner.flush()  # the hour just ended: raw only (or a rollup from before its samples)
    reader = await _reader(tmp_path)
    try:
        assert await prior_sample(reader, POINT, H + 5) == {"ts": H - 10, "value": 15.5, "status": "ok"}
        assert await prior_sample(reader, POINT, H - 600) == {"ts": H - 1800, "value": 14.0, "status": "ok"}
        assert await prior_sample(reader, POINT, H - 2 * HOUR) is None
    finally:
        await reader.stop()


async def test_prior_from_rolled_up_history_is_the_exact_sample(owner: Historian, tmp_path: Path):
    owner.ingest([Sample(POINT, H - 30 * HOUR, 11.0, "stale"), Sample(POINT, H - 10 * 86_400, 9.0)])
    await owner.refresh_rollups()
    reader = await _reader(tmp_path)
    try:
        got = await prior_sample(reader, POINT, H + 5)
        assert got == {"ts": H - 30 * HOUR, "value": 11.0, "status": "stale"}
        assert (await prior_sample(reader, POINT, H - 30 * HOUR))["ts"] == H - 10 * 86_400
    finally:
        await reader.stop()
