"""The state database's log is checkpointed by the runtime, off the request path: a commit does not
checkpoint it at SQLite's default 1 000 pages (which put a checkpoint inside a command write about
every 90 writes), and ``checkpoint_state`` copies it in."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from openbms.db import checkpoint_state, migrate, open_state

ROW = "x" * 4000  # about a page of log per row


def _fill(engine: sa.Engine, rows: int) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS filler (v TEXT)")
    for _ in range(rows // 100):
        with engine.begin() as conn:  # one commit a hundred rows: many commits, as requests make
            conn.exec_driver_sql("INSERT INTO filler VALUES " + ",".join(["(?)"] * 100),
                                 tuple([ROW] * 100))


def _wal_pages(path: Path) -> int:
    return os.path.getsize(f"{path}-wal") // 4096


def test_commits_leave_the_checkpoint_to_the_runtime(tmp_path):
    path = tmp_path / "state.db"
    url = f"sqlite:///{path}"
    migrate(url)
    engine = open_state(url, background_checkpoint=True)
    try:
        _fill(engine, 3000)
        assert _wal_pages(path) > 2500  # SQLite's default would have reset it at 1 000 pages
        assert checkpoint_state(engine) > 2500
        with engine.connect() as conn:  # and the data is all there
            assert conn.exec_driver_sql("SELECT count(*) FROM filler").scalar() == 3000
    finally:
        engine.dispose()


def test_without_the_runtime_commits_still_checkpoint_by_themselves(tmp_path):
    path = tmp_path / "state.db"
    url = f"sqlite:///{path}"
    migrate(url)
    engine = open_state(url)
    try:
        _fill(engine, 3000)
        assert _wal_pages(path) < 1500
    finally:
        engine.dispose()


async def test_a_running_openbms_checkpoints_its_state_database(tmp_path, monkeypatch):
    from tests.fixtures.waiting import eventually

    import openbms.service.runtime as runtime_module
    from openbms.config import load_sites
    from openbms.service.runtime import Runtime

    monkeypatch.setattr(runtime_module, "STATE_CHECKPOINT_S", 0.05)
    (tmp_path / "site.yaml").write_text("site: {id: t}\n")
    rt = Runtime(load_sites(tmp_path), tmp_path / "data")
    await rt.start()
    try:
        assert rt.state is not None
        path = tmp_path / "data" / "state.db"
        before = path.stat().st_size
        _fill(rt.state, 3000)
        # The rows are in the log; only a checkpoint copies them into the database file.
        await eventually(lambda: path.stat().st_size > before + 2500 * 4096,
                         "the runtime to checkpoint the log into state.db")
    finally:
        await rt.stop()
