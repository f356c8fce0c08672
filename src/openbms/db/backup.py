"""Online backups of a site (its configuration files and its databases), and restoring them.

A backup is a folder::

    DEST/
      manifest.json            what is in it: format, version, time, each file's size and SHA-256
      site/…                   the site folder's files (configuration as code), without the data folder
      data/history.db          the historian, one consistent snapshot with …
      data/history.db.inbox    … the samples committed but not yet merged
      data/state.db            the state database (SQLite), or
      data/state.pgdump        the state database (PostgreSQL: pg_dump -Fc)
      data/…                   the data folder's other small files (the demo's login)

Backing up while ``openbms run`` writes: each SQLite file is copied with
SQLite's backup API from inside one read transaction, so every page comes from
the same WAL snapshot however long the copy takes (the writer goes on; a
backup that let go between steps would restart each time the merger commits).
The historian keeps samples in two files: committed samples land in the inbox
and are merged into the main file and only then deleted from the inbox. The
inbox's snapshot is taken first and the main file's second, so a sample
committed before the backup began is in one of them (if it left the inbox
before the inbox's snapshot, it was merged before the main file's; a sample in
both is merged again at the next start, which changes nothing).

Restoring never touches a running instance: the historian's lock file (held by
``openbms run`` for as long as it runs) is checked and then held by the
restore itself. It writes into an empty or new folder unless ``overwrite``,
checks each file's SHA-256 before and ``PRAGMA integrity_check`` after.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openbms.errors import BackupError

__all__ = [
    "BackupError",
    "BackupReport",
    "Progress",
    "backup",
    "restore",
    "running_pid",
]

FORMAT = "openbms-backup"
VERSION = 1
MANIFEST = "manifest.json"
#: Pages copied per backup step (16 MiB with the historian's 16 KiB pages): the progress granularity.
STEP_PAGES = 1024
#: The SQLite files of a data folder, in the order they are snapshotted (inbox before main).
_HISTORY = ("history.db.inbox", "history.db")
_STATE = "state.db"
_PGDUMP = "state.pgdump"
#: Companions of a SQLite file that belong to the live instance, never to a backup.
_SIDE_SUFFIXES = ("-wal", "-shm", "-journal", ".lock", ".restoring")

#: ``progress(what, done, total)``: ``what`` names the file, done/total count pages or bytes
#: (total 0: not known yet).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class BackupReport:
    """What a backup or restore wrote: the files (relative paths) and their total size."""

    folder: Path
    files: tuple[str, ...]
    bytes: int
    state: str  # "sqlite", "postgresql" or "none"


# ---------------------------------------------------------------------- running instance


def running_pid(data: Path) -> int | None:
    """The pid of the openbms process that owns ``data`` (holds its history lock), or None."""
    lock = data / "history.db.lock"
    if not lock.exists():
        return None
    with _locked(lock, wait=False) as held:
        if held:
            return None
    text = lock.read_text(errors="replace").strip()
    return int(text) if text.isdigit() else -1


@contextlib.contextmanager
def _locked(lock: Path, *, wait: bool) -> Iterator[bool]:
    """Hold ``lock`` (the historian's flock) for the block; yields False if another process holds it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the flock


# ---------------------------------------------------------------------- backup


def backup(site: Path, data: Path, dest: Path, *, now: float, state_url: str | None = None,
           progress: Progress | None = None, step_pages: int = STEP_PAGES) -> BackupReport:
    """Back up the site folder ``site`` and its ``data`` folder into the new folder ``dest``.

    Safe while openbms runs (see the module's docstring). ``state_url`` is the
    state database when it is not ``data/state.db`` (PostgreSQL is dumped with
    pg_dump). ``now`` stamps the manifest. On failure ``dest`` is removed.
    """
    site, data, dest = site.resolve(), data.resolve(), dest.resolve()
    if not (data / "history.db").is_file():
        raise BackupError(f"no history database in {data}: nothing to back up "
                          "(is it the data folder of a site that has run?)")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} already exists and is not an empty folder: "
                          "back up into a new or empty folder")
    if dest == data or data in dest.parents:
        raise BackupError(f"{dest} is inside the data folder {data}: choose a folder outside it")
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    tick = progress or (lambda _what, _done, _total: None)
    try:
        (dest / "site").mkdir()
        (dest / "data").mkdir()
        written = [f"site/{rel}" for rel in _copy_tree(site, dest / "site", skip={data, dest})]
        written += [f"data/{rel}" for rel in _copy_tree(data, dest / "data", skip={dest},
                                                        skip_names=(*_HISTORY, _STATE, _PGDUMP))]
        _snapshot(data / "history.db", dest / "data", _HISTORY, tick, step_pages)
        written += [f"data/{name}" for name in _HISTORY if (dest / "data" / name).exists()]
        kind = _state_kind(state_url)
        if kind == "sqlite":
            state_path = _sqlite_path(state_url) if state_url else data / _STATE
            if state_path.is_file():
                _snapshot(state_path, dest / "data", (_STATE,), tick, step_pages)
                written.append(f"data/{_STATE}")
            else:
                kind = "none"
        else:
            assert state_url is not None
            _pg_dump(state_url, dest / "data" / _PGDUMP, tick)
            written.append(f"data/{_PGDUMP}")
        files = [_describe(dest, rel, tick) for rel in written]
        manifest = {
            "format": FORMAT, "version": VERSION, "openbms": _version(), "created": now,
            "site": str(site), "data": str(data), "state": kind, "files": files,
        }
        (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    except BaseException:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for child in dest.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    return BackupReport(dest, tuple(f["path"] for f in files), sum(f["size"] for f in files), kind)


def _copy_tree(src: Path, dest: Path, *, skip: set[Path], skip_names: tuple[str, ...] = ()) -> list[str]:
    """Copy the regular files under ``src`` (not hidden, not SQLite companions, not earlier backups)."""
    copied: list[str] = []
    if not src.is_dir():
        return copied
    for dirpath, dirnames, filenames in os.walk(src):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(".") and d != "__pycache__" and (here / d).resolve() not in skip
            and not (here / d / MANIFEST).is_file()  # an earlier backup kept in the site folder
        )
        for name in sorted(filenames):
            path = here / name
            if (name.startswith(".") or name in skip_names or name.endswith(_SIDE_SUFFIXES)
                    or not path.is_file() or path.is_symlink()):
                continue
            rel = path.relative_to(src)
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / rel)
            copied.append(rel.as_posix())
    return copied


def _snapshot(path: Path, dest: Path, names: tuple[str, ...], tick: Progress, step_pages: int) -> None:
    """Copy the SQLite ``names`` (the first at ``path``'s side, attached) from one read transaction.

    ``names[-1]`` is ``path`` itself; earlier names are files beside it, attached
    and snapshotted first, in order.
    """
    src = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        src.execute("PRAGMA query_only=ON")
        schemas = []
        for i, name in enumerate(names[:-1]):
            if (path.parent / name).is_file():
                src.execute(f"ATTACH DATABASE ? AS s{i}", (str(path.parent / name),))
                schemas.append((f"s{i}", name))
        schemas.append(("main", names[-1]))
        src.execute("BEGIN")
        for schema, _name in schemas:  # the read snapshots start here, in this order
            src.execute(f"SELECT count(*) FROM {schema}.sqlite_master").fetchone()
        for schema, name in schemas:
            target = dest / name
            dst = sqlite3.connect(target)
            try:
                def step(_status: int, remaining: int, total: int, name: str = name) -> None:
                    tick(name, total - remaining, total)

                src.backup(dst, pages=step_pages, progress=step, name=schema)
            finally:
                dst.close()
            _plain_journal(target)
        src.execute("COMMIT")
    except sqlite3.Error as err:
        raise BackupError(f"cannot back up {path}: {err}") from err
    finally:
        src.close()


def _plain_journal(path: Path) -> None:
    """Leave a copy as one self-contained file (no -wal beside it); openbms switches it back to WAL."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=DELETE")
    finally:
        db.close()


def _describe(root: Path, rel: str, tick: Progress) -> dict[str, Any]:
    """The manifest entry of ``root/rel``: its path, size and SHA-256."""
    path = root / rel
    return {"path": rel, "size": path.stat().st_size, "sha256": _sha256(path, tick, f"checksum {rel}")}


def _sha256(path: Path, tick: Progress, what: str) -> str:
    digest = hashlib.sha256()
    total, done = path.stat().st_size, 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            done += len(chunk)
            tick(what, done, total)
    return digest.hexdigest()


def _version() -> str:
    from openbms import __version__

    return __version__


# ---------------------------------------------------------------------- PostgreSQL


def _state_kind(url: str | None) -> str:
    if url is None or url.startswith("sqlite"):
        return "sqlite"
    if url.startswith("postgresql"):
        return "postgresql"
    raise BackupError(f"cannot back up the state database {url.split('://')[0]}://…: "
                      "expected SQLite or PostgreSQL")


def _sqlite_path(url: str) -> Path:
    import sqlalchemy as sa

    database = sa.make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("the state database is in memory: there is nothing to back up")
    return Path(database)


def _pg_tool(name: str) -> str:
    """pg_dump or pg_restore: $OPENBMS_PG_BIN, the PATH, else the newest /usr/lib/postgresql/*/bin."""
    where = os.environ.get("OPENBMS_PG_BIN")
    if where and (Path(where) / name).is_file():
        return str(Path(where) / name)
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                      key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if versions:
        return str(versions[-1])
    raise BackupError(f"{name} is needed for a PostgreSQL state database and was not found: install "
                      "the PostgreSQL client (apt-get install postgresql-client) or set OPENBMS_PG_BIN")


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    """libpq options and environment for a SQLAlchemy PostgreSQL URL (the password never on argv)."""
    import sqlalchemy as sa

    u = sa.make_url(url)
    args = ["--dbname", u.database or "postgres"]
    if u.host:
        args += ["--host", u.host]
    if u.port:
        args += ["--port", str(u.port)]
    if u.username:
        args += ["--username", u.username]
    env = {**os.environ}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return args, env


def _run_pg(cmd: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    except OSError as err:
        raise BackupError(f"cannot run {cmd[0]}: {err}") from err
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip() or f'exit status {done.returncode}'}")


def _pg_dump(url: str, target: Path, tick: Progress) -> None:
    """One consistent dump (pg_dump reads in one snapshot) in pg_dump's custom format."""
    args, env = _pg_args(url)
    tick(_PGDUMP, 0, 0)
    _run_pg([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), *args], env,
            "pg_dump of the state database")
    size = target.stat().st_size
    tick(_PGDUMP, size, size)


def _pg_restore(url: str, dump: Path, overwrite: bool, tick: Progress) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
    except sa.exc.SQLAlchemyError as err:
        raise BackupError(f"cannot reach the PostgreSQL state database to restore into: {err}") from err
    finally:
        engine.dispose()
    if tables and not overwrite:
        raise BackupError(f"the PostgreSQL state database already holds {len(tables)} tables: restore into "
                          "an empty database, or pass --overwrite to replace them")
    args, env = _pg_args(url)
    tick(_PGDUMP, 0, 0)
    clean = ["--clean", "--if-exists"] if tables else []
    _run_pg([_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction", *clean,
             *args, str(dump)], env, "pg_restore of the state database")
    size = dump.stat().st_size
    tick(_PGDUMP, size, size)


# ---------------------------------------------------------------------- restore


def restore(src: Path, site: Path, data: Path, *, state_url: str | None = None, overwrite: bool = False,
            progress: Progress | None = None) -> BackupReport:
    """Restore the backup folder ``src`` into the site folder ``site`` and its ``data`` folder.

    Refuses while an openbms process owns ``data``, and (unless ``overwrite``)
    when a file would be replaced. Checks every file against the manifest
    before and every SQLite database with ``PRAGMA integrity_check`` after.
    """
    src, site, data = src.resolve(), site.resolve(), data.resolve()
    tick = progress or (lambda _what, _done, _total: None)
    manifest = _read_manifest(src)
    files: list[dict[str, Any]] = manifest["files"]
    pid = running_pid(data)
    if pid is not None:
        who = f"pid {pid}" if pid > 0 else "a process"
        raise BackupError(f"openbms ({who}) is running on {data}: stop it before restoring into it, "
                          "or restore into another folder")
    targets = {f["path"]: _target(f["path"], site, data, state_url) for f in files}
    if None in targets.values() and (not state_url or _state_kind(state_url) != "postgresql"):
        raise BackupError("this backup's state database is a PostgreSQL dump: set OPENBMS_DATABASE_URL "
                          "to the (empty) PostgreSQL database to restore it into; nothing was restored")
    if not overwrite:
        existing = [str(t) for t in targets.values() if t is not None and t.exists()]
        if existing:
            shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
            raise BackupError(f"restoring would replace {shown}: restore into an empty or new folder "
                              "(--dir/--data), or pass --overwrite")
    for f in files:  # all checked before anything is written
        got = _sha256(src / f["path"], tick, f"check {f['path']}")
        if got != f["sha256"]:
            raise BackupError(f"{src / f['path']} does not match the backup's manifest (SHA-256 differs): "
                              "the backup is damaged, nothing was restored")
    with _locked(data / "history.db.lock", wait=False) as held:
        if not held:
            raise BackupError(f"openbms started on {data} meanwhile: stop it before restoring")
        restored: list[str] = []
        total = 0
        for f in files:
            target = targets[f["path"]]
            if target is None:  # a PostgreSQL dump
                assert state_url is not None
                _pg_restore(state_url, src / f["path"], overwrite, tick)
            else:
                _put(src / f["path"], target, tick, f["path"])
            restored.append(f["path"])
            total += f["size"]
        for f in files:
            target = targets[f["path"]]
            if target is not None and target.name in (*_HISTORY, _STATE):
                _check_integrity(target, tick)
    return BackupReport(site, tuple(restored), total, manifest.get("state", "sqlite"))


def _read_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    if not path.is_file():
        raise BackupError(f"{src} is not an openbms backup: no {MANIFEST} in it")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BackupError(f"{path} cannot be read: {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not an openbms backup manifest (expected format {FORMAT!r})")
    if manifest.get("version") != VERSION:
        raise BackupError(f"{path} is a version {manifest.get('version')!r} backup; this openbms "
                          f"restores version {VERSION}")
    for f in manifest.get("files", []):
        rel = f.get("path", "") if isinstance(f, dict) else ""
        parts = Path(rel).parts
        if (not parts or parts[0] not in ("site", "data") or ".." in parts or Path(rel).is_absolute()
                or not isinstance(f.get("sha256"), str) or not isinstance(f.get("size"), int)):
            raise BackupError(f"{path}: file entry {f!r} is not valid (expected a path under site/ or "
                              "data/, its size and its sha256)")
    return manifest


def _target(rel: str, site: Path, data: Path, state_url: str | None) -> Path | None:
    """Where a backed-up file goes (None: a PostgreSQL dump, restored into the database)."""
    area, _, rest = rel.partition("/")
    if area == "site":
        return site / rest
    if rest == _PGDUMP:
        return None
    if rest == _STATE and state_url and _state_kind(state_url) == "sqlite":
        return _sqlite_path(state_url)
    return data / rest


def _put(src: Path, target: Path, tick: Progress, what: str) -> None:
    """Copy ``src`` over ``target`` through a temporary file; a database loses its old WAL first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    size, done = src.stat().st_size, 0
    with src.open("rb") as fin, partial.open("wb") as fout:
        while chunk := fin.read(1 << 20):
            fout.write(chunk)
            done += len(chunk)
            tick(f"restore {what}", done, size)
        fout.flush()
        os.fsync(fout.fileno())
    if target.name in (*_HISTORY, _STATE):
        for suffix in ("-wal", "-shm", "-journal"):  # an old WAL would be replayed onto the new file
            with contextlib.suppress(FileNotFoundError):
                (target.parent / (target.name + suffix)).unlink()
    os.replace(partial, target)


def _check_integrity(path: Path, tick: Progress) -> None:
    what = f"integrity {path.name}"
    tick(what, 0, 1)
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = [r[0] for r in db.execute("PRAGMA integrity_check")]
        finally:
            db.close()
    except sqlite3.Error as err:
        raise BackupError(f"the restored {path} cannot be checked: {err}") from err
    if rows != ["ok"]:
        raise BackupError(f"the restored {path} fails PRAGMA integrity_check ({'; '.join(rows[:5])}): "
                          "do not run openbms on it; restore another backup with --overwrite")
    tick(what, 1, 1)

