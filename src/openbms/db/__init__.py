"""Configuration and state in a SQL database (SQLite by default, PostgreSQL at scale).

``migrate`` brings a database to the current schema with Alembic;
``open_state`` opens it; ``sync_site`` makes it match a site file.

The API writes no SQL (an import rule checks that it does not import
SQLAlchemy): it holds the database as a ``StateEngine`` and calls functions
here (the audit log, the runtime state, ``ping``) and in
``openbms.db.accounts`` (users, grants, sessions, API tokens), or a service.
``STORAGE_ERRORS`` are the errors a failing database raises.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import sqlalchemy as sa

from openbms.db.schema import audit_log, equipment, metadata, points, runtime_state, sites, spaces
from openbms.model.site import SiteConfig

__all__ = ["STATE_AUTOCHECKPOINT_PAGES", "STORAGE_ERRORS", "StateEngine", "SyncReport", "audit_entries",
           "checkpoint_state", "load_points", "load_state", "metadata", "migrate", "open_state", "ping",
           "record_audit", "save_state", "site_ids", "sync_site", "write_audit"]

#: The handle of an open state database (what ``open_state`` returns), for callers that only pass it on.
StateEngine: TypeAlias = sa.Engine

#: What a failing state database raises (locked, disk full, gone): the API answers these, not a 500.
STORAGE_ERRORS: tuple[type[Exception], ...] = (sa.exc.OperationalError, sqlite3.OperationalError)


_MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_config(url: str) -> Any:
    # Imported here: alembic (with mako, click and rich) is 10 MB of a process that only
    # migrates at its start, and most importers of this package never do.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


#: With ``background_checkpoint``: pages of write-ahead log (4 KB each) after which a commit
#: still checkpoints by itself, a backstop only (SQLite's default is 1 000 pages, about every 90
#: command writes, inside the transaction of whichever request commits then).
STATE_AUTOCHECKPOINT_PAGES = 25_000


def open_state(url: str, *, background_checkpoint: bool = False) -> sa.Engine:
    """An engine for the state database; SQLite gets WAL, foreign keys and a busy timeout.

    ``background_checkpoint``: the caller runs :func:`checkpoint_state` every few seconds (the
    runtime does), so commits do not checkpoint the log on a request's path.
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            if background_checkpoint:
                cur.execute(f"PRAGMA wal_autocheckpoint={STATE_AUTOCHECKPOINT_PAGES}")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def checkpoint_state(engine: sa.Engine) -> int:
    """Copy the state database's write-ahead log into it without waiting for readers (SQLite's
    PASSIVE checkpoint); returns the pages copied (0 on other databases, which need none)."""
    if engine.dialect.name != "sqlite":
        return 0
    with engine.connect() as conn:
        row = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(row[2]) if row is not None and row[2] is not None and row[2] > 0 else 0


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the newest schema (creating it if needed)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = open_state(url)
    if url.startswith("sqlite"):
        # Python's sqlite3 commits before each DDL statement unless it leaves transactions to us: a
        # migration that rebuilds a table and fails half-way would keep the drop and lose the rows.
        # SQLAlchemy's recipe for pysqlite: no implicit transactions, and BEGIN on begin().
        @sa.event.listens_for(engine, "connect")
        def _no_implicit(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN")

    try:
        with engine.begin() as conn:
            cfg = _alembic_config(url)
            cfg.attributes["connection"] = conn
            from alembic import command

            command.upgrade(cfg, "head")
    finally:
        engine.dispose()


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What ``sync_site`` changed, per kind of row: (added, changed, removed)."""

    spaces: tuple[int, int, int]
    equipment: tuple[int, int, int]
    points: tuple[int, int, int]

    def __str__(self) -> str:
        return ", ".join(f"{name} +{a} ~{c} -{r}" for name, (a, c, r) in
                         (("spaces", self.spaces), ("equipment", self.equipment),
                          ("points", self.points)))


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Equal but for updated_at (Python equality: 13 from JSON equals 13.0 from the config)."""
    return all(old.get(k) == v for k, v in new.items() if k != "updated_at")


def _sync_table(conn: sa.Connection, table: sa.Table, site_id: str, key: tuple[str, ...],
                rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    existing = {tuple(r[k] for k in key): dict(r)
                for r in conn.execute(sa.select(table).where(table.c.site_id == site_id)).mappings()}
    wanted = {tuple(r[k] for k in key): r for r in rows}
    new = [row for k, row in wanted.items() if k not in existing]
    changed = [row for k, row in wanted.items() if k in existing and not _same(existing[k], row)]
    gone = [k for k in existing if k not in wanted]
    # One statement for all the rows of each kind (executemany): a statement built and compiled
    # per row took two minutes of a first start at 100 000 points (issue 15, 1 000 devices).
    match = sa.and_(*(table.c[name] == sa.bindparam(f"key_{name}") for name in key))
    if new:
        conn.execute(table.insert(), new)
    if changed:
        conn.execute(table.update().where(match),
                     [{**row, **{f"key_{name}": row[name] for name in key}} for row in changed])
    if gone:
        conn.execute(table.delete().where(match),
                     [{f"key_{name}": value for name, value in zip(key, k, strict=True)} for k in gone])
    return len(new), len(changed), len(gone)


def sync_site(engine: sa.Engine, cfg: SiteConfig, now: float | None = None) -> SyncReport:
    """Make the stored site, spaces, equipment and points match ``cfg``, in one transaction."""
    now = time.time() if now is None else now
    s = cfg.site
    site_row = {"id": s.id, "name": s.name, "timezone": s.timezone, "area_m2": s.area_m2,
                "latitude": s.latitude, "longitude": s.longitude, "updated_at": now}
    space_rows = [{"site_id": s.id, "id": sp.id, "name": sp.name, "kind": sp.kind,
                   "parent_id": sp.parent, "area_m2": sp.area_m2, "updated_at": now}
                  for sp in cfg.spaces]
    equip_rows = [{"site_id": s.id, "id": e.id, "type": e.type, "name": e.name,
                   "space_id": e.space, "feeds": list(e.feeds), "tags": list(e.tags),
                   "updated_at": now} for e in cfg.equipment]
    point_rows = [{
        "id": pid, "site_id": s.id, "equipment_id": e.id, "name": p.name, "kind": p.kind,
        "unit": p.unit, "description": p.description, "tags": list(p.tags), "brick": p.brick,
        "states": list(p.states) if p.states else None, "writable": p.writable,
        "limits": p.limits.model_dump() if p.limits else None,
        "relinquish_default": p.relinquish_default, "binding": p.binding, "poll": p.poll,
        "history": p.history.model_dump(), "updated_at": now,
    } for pid, e, p in cfg.points()]
    with engine.begin() as conn:
        if conn.execute(sa.select(sites.c.id).where(sites.c.id == s.id)).first() is None:
            conn.execute(sites.insert().values(**site_row))
        else:
            conn.execute(sites.update().where(sites.c.id == s.id).values(**site_row))
        return SyncReport(
            spaces=_sync_table(conn, spaces, s.id, ("id",), space_rows),
            equipment=_sync_table(conn, equipment, s.id, ("id",), equip_rows),
            points=_sync_table(conn, points, s.id, ("id",), point_rows),
        )


def site_ids(engine: sa.Engine) -> list[str]:
    """The ids of the sites the state database knows."""
    with engine.connect() as conn:
        return list(conn.execute(sa.select(sites.c.id)).scalars())


def load_points(engine: sa.Engine, site_id: str) -> list[dict[str, Any]]:
    """The stored points of a site, as dicts, ordered by id."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(points).where(points.c.site_id == site_id).order_by(points.c.id)
        ).mappings()
        return [dict(r) for r in rows]


def record_audit(engine: sa.Engine, actor: str, action: str, target: str = "",
                 details: dict[str, Any] | None = None, remote_addr: str | None = None,
                 now: float | None = None) -> None:
    """Append one entry to the audit log."""
    with engine.begin() as conn:
        conn.execute(audit_log.insert().values(
            ts=time.time() if now is None else now, actor=actor, action=action, target=target,
            details=details or {}, remote_addr=remote_addr))


def write_audit(engine: sa.Engine, updates: Iterable[tuple[int, dict[str, Any]]],
                new: dict[str, Any] | None = None) -> int | None:
    """Replace the details of audit rows (id, details) and append ``new`` (an audit row's columns),
    in one transaction: the new row's id, or None without one."""
    with engine.begin() as conn:
        for row_id, details in updates:
            conn.execute(audit_log.update().where(audit_log.c.id == row_id).values(details=details))
        if new is None:
            return None
        key = conn.execute(audit_log.insert().values(**new)).inserted_primary_key
        assert key is not None
        return int(key[0])


def audit_entries(engine: sa.Engine, *, actor: str | None = None, action: str | None = None,
                  target: str | None = None, since: float | None = None, until: float | None = None,
                  before_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Audit rows, newest first: by exact ``actor`` and ``target``, ``action`` exact or a prefix
    ending in ``*``, ``since`` <= ts < ``until``, and ids below ``before_id``."""
    q = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if actor:
        q = q.where(audit_log.c.actor == actor)
    if action:
        q = q.where(
            audit_log.c.action.like(action[:-1].replace("%", r"\%").replace("_", r"\_") + "%", escape="\\")
            if action.endswith("*")
            else audit_log.c.action == action
        )
    if target:
        q = q.where(audit_log.c.target == target)
    if since is not None:
        q = q.where(audit_log.c.ts >= since)
    if until is not None:
        q = q.where(audit_log.c.ts < until)
    if before_id is not None:
        q = q.where(audit_log.c.id < before_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def ping(engine: sa.Engine) -> bool:
    """Whether the database answers a query."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False


def save_state(engine: sa.Engine, key: str, value: Any, now: float) -> None:
    """Keep a JSON-able value under ``key`` (an alarm engine's snapshot, say), replacing the last."""
    with engine.begin() as conn:
        done = conn.execute(runtime_state.update().where(runtime_state.c.key == key)
                            .values(value=value, updated_at=now)).rowcount
        if not done:
            conn.execute(runtime_state.insert().values(key=key, value=value, updated_at=now))


def load_state(engine: sa.Engine, key: str) -> Any:
    """The value kept under ``key``, or None."""
    with engine.connect() as conn:
        return conn.execute(sa.select(runtime_state.c.value)
                            .where(runtime_state.c.key == key)).scalar()
