"""Commands kept in the state database: the audit trail, and what the arbiter restores at start.

Every command is a row of the ``commands`` table. Its status follows
``pending → executing → completed | failed | superseded | expired``. At
start the arbiter rebuilds each point's priority array from the rows: for
each (point, priority) the newest command that was not refused, superseded
or expired holds the slot, unless it is a release or its expiry has passed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from openbms.db.schema import commands
from openbms.model.command import Command, CommandSource, CommandStatus

__all__ = ["DEFAULT_PRIORITY", "CommandStore", "new_command_id"]

#: The priority each source writes at unless it says otherwise (BACnet's meaning:
#: 8 is manual operator; lower numbers win).
DEFAULT_PRIORITY = {
    CommandSource.OPERATOR: 8,
    CommandSource.API: 8,
    CommandSource.LOGIC: 10,
    CommandSource.SCHEDULE: 12,
    CommandSource.OPTIMISER: 13,
}

_LIVE = (CommandStatus.PENDING, CommandStatus.EXECUTING, CommandStatus.COMPLETED)

_UPDATE = (commands.update().where(commands.c.id == sa.bindparam("b_id"))
           .values(status=sa.bindparam("status"), value=sa.bindparam("value"),
                   error=sa.bindparam("error"), updated_at=sa.bindparam("updated_at"),
                   expires_at=sa.bindparam("expires_at")))


def new_command_id() -> str:
    """A random, URL-safe command id."""
    return uuid.uuid4().hex


def _row(cmd: Command) -> dict[str, Any]:
    return {
        "id": cmd.id, "point_id": cmd.point, "value": cmd.value, "priority": cmd.priority,
        "source": str(cmd.source), "requested_by": cmd.requested_by, "reason": cmd.reason,
        "release": cmd.release, "expires_at": cmd.expires_at, "status": str(cmd.status),
        "created_at": cmd.created_at, "updated_at": cmd.updated_at, "error": cmd.error,
    }


def _command(row: Any) -> Command:
    return Command(
        id=row.id, point=row.point_id, value=row.value, priority=row.priority,
        source=CommandSource(row.source), requested_by=row.requested_by, reason=row.reason,
        release=row.release, expires_at=row.expires_at, status=CommandStatus(row.status),
        created_at=row.created_at, updated_at=row.updated_at, error=row.error,
    )


class CommandStore:
    """Commands in the state database (SQLite or PostgreSQL, through SQLAlchemy Core)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(self, cmd: Command) -> None:
        """Record a new command."""
        with self.engine.begin() as conn:
            conn.execute(commands.insert().values(**_row(cmd)))

    def write(self, new: Iterable[Command], changed: Iterable[Command]) -> None:
        """Record new commands and save changed ones, in one transaction."""
        rows = [_row(c) for c in new]
        with self.engine.begin() as conn:
            if rows:
                conn.execute(commands.insert(), rows)
            self._update(conn, changed)

    def update(self, cmds: Iterable[Command]) -> None:
        """Save the status, value, error and times of commands already recorded."""
        with self.engine.begin() as conn:
            self._update(conn, cmds)

    @staticmethod
    def _update(conn: sa.Connection, cmds: Iterable[Command]) -> None:
        rows = [{"b_id": c.id, "status": str(c.status), "value": c.value, "error": c.error,
                 "updated_at": c.updated_at, "expires_at": c.expires_at} for c in cmds]
        if rows:
            conn.execute(_UPDATE, rows)

    def get(self, command_id: str) -> Command | None:
        """One command by id."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(commands).where(commands.c.id == command_id)).first()
        return _command(row) if row is not None else None

    def query(self, point: str | None = None, status: str | None = None, limit: int = 100,
              before: float | None = None, *, site: str | None = None,
              after: tuple[float, str] | None = None) -> list[Command]:
        """Newest first (by creation, then id), optionally for one site (its points' prefix), one
        point, one status, older than ``before``, or after the (created_at, id) ``after`` of a
        previous page."""
        q = sa.select(commands).order_by(commands.c.created_at.desc(), commands.c.id.desc())
        if site is not None:
            q = q.where(commands.c.point_id.startswith(f"{site}/", autoescape=True))
        if point is not None:
            q = q.where(commands.c.point_id == point)
        if status is not None:
            q = q.where(commands.c.status == status)
        if before is not None:
            q = q.where(commands.c.created_at < before)
        if after is not None:
            t, cid = after
            q = q.where(sa.or_(commands.c.created_at < t,
                               sa.and_(commands.c.created_at == t, commands.c.id < cid)))
        with self.engine.connect() as conn:
            return [_command(r) for r in conn.execute(q.limit(limit))]

    def updated(self, site: str, since: float, until: float,
                after: tuple[float, str] | None = None, limit: int = 100) -> list[Command]:
        """``site``'s commands whose latest change is in ``[since, until)``, oldest change first
        (by updated_at, then id), after the (updated_at, id) ``after`` of a previous page."""
        c = commands.c
        q = (sa.select(commands).where(c.point_id.startswith(f"{site}/", autoescape=True),
                                       c.updated_at >= since, c.updated_at < until)
             .order_by(c.updated_at, c.id))
        if after is not None:
            t, cid = after
            q = q.where(sa.or_(c.updated_at > t, sa.and_(c.updated_at == t, c.id > cid)))
        with self.engine.connect() as conn:
            return [_command(r) for r in conn.execute(q.limit(limit))]

    def holding(self) -> list[Command]:
        """For each (point, priority), the newest live command: what held the slot at shutdown.

        Releases are included (they mean: the slot is empty); the arbiter drops
        them and anything expired.
        """
        live = [str(s) for s in _LIVE]
        newest = (sa.select(commands.c.point_id, commands.c.priority,
                            sa.func.max(commands.c.created_at).label("created_at"))
                  .where(commands.c.status.in_(live))
                  .group_by(commands.c.point_id, commands.c.priority).subquery())
        q = (sa.select(commands).join(newest, sa.and_(
            commands.c.point_id == newest.c.point_id, commands.c.priority == newest.c.priority,
            commands.c.created_at == newest.c.created_at))
             .where(commands.c.status.in_(live)))
        with self.engine.connect() as conn:
            return [_command(r) for r in conn.execute(q)]
