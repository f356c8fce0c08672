"""Online backup and restore (openbms.db.backup) against a historian that keeps writing."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from openbms.db import migrate, open_state, record_audit
from openbms.db.backup import backup, restore, running_pid
from openbms.errors import BackupError
from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import Sample

CHILD = Path(__file__).parents[1] / "historian" / "ingest_child.py"
T0 = 1_700_000_000.0  # the child's first timestamp
NOW = 1_800_000_000.0


class Writer:
    """The ingest child (a real SQLiteHistorian committing numbered samples), and what it reported."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, str(CHILD), str(db)], stdout=subprocess.PIPE, text=True)
        self.committed = 0
        self.commits = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.committed = int(line.split()[1])
            self.commits += 1

    def wait_commits(self, n: int, within: float = 60.0) -> None:
        """Block until ``n`` more commits are reported (the bound only stops a broken test hanging)."""
        goal = self.commits + n
        for _ in range(int(within / 0.002)):
            if self.commits >= goal:
                return
            assert self.proc.poll() is None, "the ingest child stopped"
            time.sleep(0.002)
        raise AssertionError(f"the ingest child made no commit within {within} s")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._reader.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@contextmanager
def writing(db: Path) -> Iterator[Writer]:
    writer = Writer(db)
    try:
        yield writer
    finally:
        writer.kill()


def _stored_ts(data: Path) -> list[float]:
    """Every sample timestamp in a history (merged or still in the inbox), sorted."""
    db = sqlite3.connect(data / "history.db")
    try:
        db.execute("ATTACH DATABASE ? AS ib", (str(data / "history.db.inbox"),))
        return [r[0] for r in db.execute("SELECT ts FROM history UNION SELECT ts FROM ib.inbox ORDER BY 1")]
    finally:
        db.close()


def _site(tmp_path: Path) -> tuple[Path, Path]:
    site = tmp_path / "site"
    (site / "programs").mkdir(parents=True)
    (site / "site.yaml").write_text("site: {id: crash}\n")
    (site / "programs" / "p.json").write_text('{"id": "p"}\n')
    (site / ".site.yaml.swp").write_text("editor junk\n")
    return site, site / "data"


def test_a_backup_taken_while_samples_are_written_holds_every_committed_sample_and_no_hole(tmp_path):
    site, data = _site(tmp_path)
    steps: dict[str, list[int]] = {}
    with writing(data / "history.db") as writer:
        writer.wait_commits(40)  # a few MB, merged in part: both files are in use
        before = writer.committed

        def progress(what: str, done: int, total: int) -> None:
            steps.setdefault(what, []).append(done)
            if what in ("history.db", "history.db.inbox") and done < total:
                # The writer commits (and merges) between every two steps of the copy;
                # a copy that restarted at each change would never end, so stop it here.
                assert len(steps[what]) < 1_000, "the copy keeps restarting"
                writer.wait_commits(1)

        report = backup(site, data, tmp_path / "bk", now=NOW, progress=progress, step_pages=4)
        assert writer.proc.poll() is None  # it wrote all along
        after = writer.committed
    assert after > before
    # The copy never started over: each file's progress only goes forward.
    for name in ("history.db", "history.db.inbox"):
        assert steps[name] == sorted(steps[name]) and len(steps[name]) > 2, steps[name]
    assert set(report.files) == {"site/site.yaml", "site/programs/p.json", "data/history.db",
                                 "data/history.db.inbox"}
    restored = tmp_path / "restored"
    restore(tmp_path / "bk", restored, restored / "data")
    ts = _stored_ts(restored / "data")
    assert len(ts) >= before  # every sample committed before the backup began
    assert len(ts) <= after  # nothing from after it ended
    assert ts == [T0 + i for i in range(len(ts))]  # one snapshot: no hole between the two files
    assert (restored / "site.yaml").read_text() == "site: {id: crash}\n"
    assert (restored / "programs" / "p.json").read_text() == '{"id": "p"}\n'
    assert not (restored / ".site.yaml.swp").exists()


async def test_a_restored_history_opens_and_answers_queries(tmp_path):
    site, data = _site(tmp_path)
    async with SQLiteHistorian(data / "history.db") as h:
        h.ingest([Sample("crash/test/p", T0 + i, float(i)) for i in range(500)])
        await h.flush()
        backup(site, data, tmp_path / "bk", now=NOW)
        h.ingest([Sample("crash/test/p", T0 + 500 + i, 0.0) for i in range(10)])  # after the backup
    restore(tmp_path / "bk", tmp_path / "r", tmp_path / "r" / "data")
    async with SQLiteHistorian(tmp_path / "r" / "data" / "history.db") as h:
        samples = await h.raw("crash/test/p", 0, 2e9)
    assert [s.value for s in samples] == [float(i) for i in range(500)]


def test_the_state_database_and_the_data_folder_s_own_files_are_backed_up(tmp_path):
    site, data = _site(tmp_path)
    url = f"sqlite:///{data / 'state.db'}"
    migrate(url)
    engine = open_state(url)
    record_audit(engine, "ops@example.com", "test.before_backup", now=NOW)
    (data / "demo-login").write_text("a@b\nsecret\n")
    with writing(data / "history.db") as writer:
        writer.wait_commits(3)
        backup(site, data, tmp_path / "bk", now=NOW)
    record_audit(engine, "ops@example.com", "test.after_backup", now=NOW)
    engine.dispose()
    restore(tmp_path / "bk", tmp_path / "r", tmp_path / "r" / "data")
    restored = open_state(f"sqlite:///{tmp_path / 'r' / 'data' / 'state.db'}")
    with restored.connect() as conn:
        actions = [r[0] for r in conn.execute(sa.text("SELECT action FROM audit_log"))]
    restored.dispose()
    assert "test.before_backup" in actions and "test.after_backup" not in actions
    assert (tmp_path / "r" / "data" / "demo-login").read_text() == "a@b\nsecret\n"
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert manifest["format"] == "openbms-backup" and manifest["created"] == NOW
    assert manifest["state"] == "sqlite"


def test_restore_refuses_the_data_folder_of_a_running_instance_and_says_which(tmp_path):
    site, data = _site(tmp_path)
    with writing(data / "history.db") as writer:
        writer.wait_commits(3)
        backup(site, data, tmp_path / "bk", now=NOW)
        assert running_pid(data) == writer.proc.pid
        with pytest.raises(BackupError, match=rf"openbms \(pid {writer.proc.pid}\) is running on {data}"):
            restore(tmp_path / "bk", site, data, overwrite=True)
        ts = _stored_ts(data)
    assert running_pid(data) is None
    assert ts == [T0 + i for i in range(len(ts))]  # left as it was


def test_restore_into_a_folder_that_has_the_files_needs_overwrite_and_then_replaces_them(tmp_path):
    site, data = _site(tmp_path)
    with writing(data / "history.db") as writer:
        writer.wait_commits(3)
        backup(site, data, tmp_path / "bk", now=NOW)
    saved = _stored_ts(tmp_path / "bk" / "data")
    with writing(data / "history.db") as writer:  # history goes on after the backup
        writer.wait_commits(3)
    assert len(_stored_ts(data)) >= len(saved)
    (site / "site.yaml").write_text("site: {id: changed}\n")
    with pytest.raises(BackupError, match=r"restoring would replace .*site\.yaml.*pass --overwrite"):
        restore(tmp_path / "bk", site, data)
    assert (site / "site.yaml").read_text() == "site: {id: changed}\n"
    restore(tmp_path / "bk", site, data, overwrite=True)
    assert (site / "site.yaml").read_text() == "site: {id: crash}\n"
    assert _stored_ts(data) == saved
    assert not any(p.name.endswith(("-wal", ".restoring")) for p in data.iterdir())


def test_a_damaged_backup_is_refused_before_anything_is_written(tmp_path):
    site, data = _site(tmp_path)
    with writing(data / "history.db") as writer:
        writer.wait_commits(3)
        backup(site, data, tmp_path / "bk", now=NOW)
    with (tmp_path / "bk" / "data" / "history.db").open("r+b") as fh:
        fh.seek(5000)
        fh.write(b"\xff" * 64)
    with pytest.raises(BackupError, match=r"history\.db does not match the backup's manifest"):
        restore(tmp_path / "bk", tmp_path / "r", tmp_path / "r" / "data")
    assert not (tmp_path / "r" / "site.yaml").exists()


def test_a_postgresql_dump_without_a_database_to_restore_into_is_refused_before_anything_is_written(
        tmp_path):
    site, data = _site(tmp_path)
    with writing(data / "history.db") as writer:
        writer.wait_commits(1)
    backup(site, data, tmp_path / "bk", now=NOW)
    dump = tmp_path / "bk" / "data" / "state.pgdump"
    dump.write_bytes(b"PGDMP")
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    manifest["files"].append({"path": "data/state.pgdump", "size": 5,
                              "sha256": hashlib.sha256(b"PGDMP").hexdigest()})
    (tmp_path / "bk" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="a PostgreSQL dump: set OPENBMS_DATABASE_URL"):
        restore(tmp_path / "bk", tmp_path / "r", tmp_path / "r" / "data")
    assert not (tmp_path / "r" / "site.yaml").exists()


def test_a_restored_database_that_fails_its_integrity_check_is_reported(tmp_path):
    site, data = _site(tmp_path)
    with writing(data / "history.db") as writer:
        writer.wait_commits(20)
    backup(site, data, tmp_path / "bk", now=NOW)
    copy = tmp_path / "bk" / "data" / "history.db"
    with copy.open("r+b") as fh:  # damaged inside a b-tree page, after the checksum was taken…
        for page in range(1, copy.stat().st_size // 16384):  # every b-tree page's header but the first
            fh.seek(16384 * page)
            fh.write(b"\x0d\xff\xff\xff\xff\xff\xff\xff")
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    for f in manifest["files"]:  # … and the checksum made to match, as a bad disk under the backup would
        if f["path"] == "data/history.db":
            f["sha256"] = hashlib.sha256(copy.read_bytes()).hexdigest()
    (tmp_path / "bk" / "manifest.json").write_text(json.dumps(manifest))
    damaged = r"the restored .*history\.db (fails PRAGMA integrity_check|cannot be checked)"
    with pytest.raises(BackupError, match=damaged):
        restore(tmp_path / "bk", tmp_path / "r", tmp_path / "r" / "data")


def test_a_manifest_naming_a_file_outside_the_backup_is_refused(tmp_path):
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "manifest.json").write_text(json.dumps({
        "format": "openbms-backup", "version": 1, "files": [
            {"path": "site/../../etc/passwd", "size": 1, "sha256": "0" * 64}]}))
    with pytest.raises(BackupError, match=r"file entry .* is not valid"):
        restore(tmp_path / "bk", tmp_path / "r", tmp_path / "r" / "data")
    with pytest.raises(BackupError, match=r"is not an openbms backup: no manifest\.json"):
        restore(tmp_path, tmp_path / "r", tmp_path / "r" / "data")


def test_backup_refuses_a_folder_that_is_not_empty_or_a_site_that_never_ran(tmp_path):
    site, data = _site(tmp_path)
    with pytest.raises(BackupError, match="no history database in"):
        backup(site, data, tmp_path / "bk", now=NOW)
    with writing(data / "history.db") as writer:
        writer.wait_commits(1)
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "x").write_text("x")
    with pytest.raises(BackupError, match="is not an empty folder"):
        backup(site, data, tmp_path / "bk", now=NOW)
    assert (tmp_path / "bk" / "x").exists()
    inside = backup(site, data, site / "backups" / "one", now=NOW)  # a backup kept in the site folder…
    second = backup(site, data, site / "backups" / "two", now=NOW)  # … is not copied into the next
    assert not any("backups" in f for f in (*inside.files, *second.files))
    assert sorted(os.listdir(site / "backups")) == ["one", "two"]
