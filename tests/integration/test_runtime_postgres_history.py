"""openbms run with its history on PostgreSQL (OPENBMS_HISTORY_URL): the runtime opens the
store the URL names, and the site's samples land there, not in data/history.db."""

from __future__ import annotations

from pathlib import Path

import pytest

from openbms.config import load_sites
from openbms.historian.postgres import PostgresHistorian
from openbms.runtime.clock import ManualClock
from openbms.service.runtime import Runtime
from tests.historian.conftest import fresh_postgres_database

pytestmark = pytest.mark.service

SITE = """
site: {id: hq, timezone: UTC}
drivers:
  sim: {poll_interval: 10}
equipment:
  - id: ahu-1
    type: ahu
    points:
      - {name: sat, unit: degC, binding: "sim://ahu-1/sat?value=13.5"}
"""


async def test_the_runtime_keeps_its_history_in_the_store_the_url_names(postgres_url, tmp_path: Path):
    url = fresh_postgres_database(postgres_url)
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "hq.yaml").write_text(SITE)
    clock = ManualClock(1_765_000_000.0)
    runtime = Runtime(load_sites(folder), tmp_path / "data", clock=clock, history_url=url)
    assert isinstance(runtime.historian, PostgresHistorian)
    await runtime.start()
    try:
        await clock.advance(30)
        await runtime.historian.flush()
        rows = await runtime.historian.raw("hq/ahu-1/sat", 0, clock.now() + 1)
    finally:
        await runtime.stop()
    assert rows and all(s.value == 13.5 for s in rows)
    assert not (tmp_path / "data" / "history.db").exists()
