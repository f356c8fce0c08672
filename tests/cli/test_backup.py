"""`openbms backup` while `openbms run` ingests, and `openbms restore` into another folder."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.fixtures.waiting import eventually
from tests.runtime.test_app import FAST_SITE

from openbms.db import migrate, open_state, record_audit

ENV = {**os.environ, "COLUMNS": "200"}


def openbms(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openbms.cli", *args], capture_output=True, text=True,
                          timeout=300, env=ENV)


def _count(data: Path) -> int:
    db = sqlite3.connect(data / "history.db")
    try:
        db.execute("ATTACH DATABASE ? AS ib", (str(data / "history.db.inbox"),))
        return db.execute("SELECT count(*) FROM (SELECT pid, ts FROM history "
                          "UNION SELECT pid, ts FROM ib.inbox)").fetchone()[0]
    finally:
        db.close()


async def test_backup_of_a_running_site_restores_into_another_folder_with_its_history_and_files(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "site.yaml").write_text(FAST_SITE)
    proc = subprocess.Popen(  # noqa: ASYNC220 - a thread reads it
        [sys.executable, "-m", "openbms.cli", "run", "-d", str(site), "--status-every", "0.2", "--no-api"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    assert proc.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()

    def stored() -> int:
        counts = [int(m.group(1).replace(",", "")) for ln in lines
                  if (m := re.search(r"· ([\d,]+) stored ·", ln))]
        return counts[-1] if counts else 0

    try:
        await eventually(lambda: stored() > 0 or proc.poll() is not None, "samples stored", within=120)
        assert proc.poll() is None, "".join(lines)
        before = stored()  # the runtime said these were stored before the backup began
        done = openbms("backup", str(tmp_path / "bk"), "-d", str(site))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "backed up" in done.stdout and "history.db" in done.stdout  # the progress bars
        # Refused while it runs, and it says why.
        refused = openbms("restore", str(tmp_path / "bk"), "-d", str(site), "--overwrite")
        assert refused.returncode == 1
        assert f"openbms (pid {proc.pid}) is running on {site / 'data'}" in " ".join(refused.stderr.split())
        in_backup = _count(tmp_path / "bk" / "data")
        assert in_backup >= before
        await eventually(lambda: stored() > in_backup, "more samples after the backup", within=60)
        assert proc.poll() is None, "".join(lines)  # it went on running all along
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join(timeout=10)
        proc.stdout.close()
    assert proc.returncode == 0, "".join(lines)

    done = openbms("restore", str(tmp_path / "bk"), "-d", str(tmp_path / "other"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "integrity check: ok" in done.stdout
    restored = tmp_path / "other" / "data"
    assert _count(restored) == in_backup >= before
    assert _count(restored) < _count(site / "data")  # a snapshot, not the history after it
    assert (tmp_path / "other" / "site.yaml").read_text() == FAST_SITE
    with sqlite3.connect(restored / "state.db") as db:
        assert db.execute("SELECT count(*) FROM points").fetchone()[0] == 3
    # The restored folder runs: openbms opens it and the points come back.
    shown = openbms("points", "-d", str(tmp_path / "other"))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "t/ahu/sat" in shown.stdout
    # A second restore over it is refused: the folder is no longer empty.
    again = openbms("restore", str(tmp_path / "bk"), "-d", str(tmp_path / "other"))
    assert again.returncode == 1 and "pass --overwrite" in again.stderr


def test_backup_of_a_folder_that_never_ran_says_so(tmp_path):
    (tmp_path / "site.yaml").write_text(FAST_SITE)
    done = openbms("backup", str(tmp_path / "bk"), "-d", str(tmp_path))
    assert done.returncode == 1
    assert "no history database in" in done.stderr
    assert not (tmp_path / "bk").exists()


@pytest.mark.service
def test_a_postgresql_state_database_is_dumped_and_restored_into_an_empty_database(tmp_path, postgres_url):
    site = tmp_path / "site"
    (site / "data").mkdir(parents=True)
    (site / "site.yaml").write_text(FAST_SITE)
    sqlite3.connect(site / "data" / "history.db").close()  # the historian's file (empty here)
    # Two databases of their own on the session's server: the one backed up and the empty one restored
    # into (the server's own database is shared with other tests).
    server = postgres_url.rsplit("/", 1)[0]
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    names = ("backup_source", "backup_restored")
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        url, target = (f"{server}/{name}" for name in names)
        migrate(url)
        engine = open_state(url)
        record_audit(engine, "ops@example.com", "test.before_backup", now=1.0)
        engine.dispose()
        env = {**ENV, "OPENBMS_DATABASE_URL": url}
        done = subprocess.run([sys.executable, "-m", "openbms.cli", "backup", str(tmp_path / "bk"),
                               "-d", str(site)], capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (tmp_path / "bk" / "data" / "state.pgdump").stat().st_size > 0
        env["OPENBMS_DATABASE_URL"] = target
        args = [sys.executable, "-m", "openbms.cli", "restore", str(tmp_path / "bk"),
                "-d", str(tmp_path / "r")]
        done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        engine = sa.create_engine(target)
        with engine.connect() as conn:
            actions = [r[0] for r in conn.execute(sa.text("SELECT action FROM audit_log"))]
        engine.dispose()
        assert actions == ["test.before_backup"]
        # The database is no longer empty: a second restore needs --overwrite.
        again = subprocess.run([*args[:-1], str(tmp_path / "r2")], capture_output=True, text=True,
                               timeout=300, env=env)
        assert again.returncode == 1
        assert "already holds" in again.stderr and "--overwrite" in again.stderr
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
