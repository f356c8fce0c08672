"""Programs and their versions in the state database (SQLAlchemy Core, SQLite or PostgreSQL).

Every ``save`` adds a version (1, 2, 3…) with who saved it and why; versions
are never changed or deleted. ``deploy`` makes one version the active one and
enables the program; ``disable``/``enable`` switch it off and on without
changing the version; ``rollback`` returns to the version that was deployed
before the current one. Deployments are recorded in the audit log
(``program.deploy``, ``program.rollback``), which is also where ``rollback``
finds the previous one.

Block state (a PID's integral, timers, lead-lag runtime) is not stored: after
a restart the blocks start afresh. A redeploy in a running engine keeps it
(see :meth:`ProgramEngine.load`).
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openbms.control.programs.model import Program, ProgramError, ProgramIssue, parse_program
from openbms.control.programs.validate import Catalog, validate_program
from openbms.db.schema import audit_log, program_versions, programs

__all__ = ["ProgramInfo", "ProgramStore", "ProgramVersion"]


@dataclass(frozen=True, slots=True)
class ProgramVersion:
    """One stored version of a program."""

    program: Program
    version: int
    created_at: float
    created_by: str
    comment: str


@dataclass(frozen=True, slots=True)
class ProgramInfo:
    """A program's row: what is deployed and whether it runs."""

    id: str
    site: str
    name: str
    enabled: bool
    active_version: int | None
    latest_version: int
    updated_at: float


class ProgramStore:
    """Versioned programs in the ``programs`` and ``program_versions`` tables."""

    def __init__(self, engine: sa.Engine, now: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._now = now

    # ------------------------------------------------------------------ writing

    def save(self, program: Program, created_by: str = "", comment: str = "") -> int:
        """Store ``program`` as a new version (it is not deployed); returns the version number."""
        now = self._now()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(programs.c.id).where(programs.c.id == program.id)).first()
            if row is None:
                conn.execute(programs.insert().values(id=program.id, site_id=program.site,
                                                      name=program.name, enabled=False,
                                                      active_version=None, updated_at=now))
            else:
                conn.execute(programs.update().where(programs.c.id == program.id)
                             .values(site_id=program.site, name=program.name, updated_at=now))
            latest = conn.execute(sa.select(sa.func.max(program_versions.c.version))
                                  .where(program_versions.c.program_id == program.id)).scalar()
            version = (latest or 0) + 1
            conn.execute(program_versions.insert().values(
                program_id=program.id, version=version, definition=program.to_json_dict(),
                created_at=now, created_by=created_by, comment=comment))
        return version

    def deploy(self, program_id: str, version: int, by: str = "",
               catalog: Catalog | None = None) -> None:
        """Make ``version`` the active one and enable the program.

        With a ``catalog`` the version is validated first and ``ProgramError``
        raised (nothing changed) if it cannot run.
        """
        stored = self.get(program_id, version)
        if catalog is not None:
            issues = validate_program(stored.program, catalog)
            if issues:
                raise ProgramError(issues, program_id)
        self._activate(program_id, version, by, "program.deploy")

    def rollback(self, program_id: str, by: str = "") -> int:
        """Deploy again the version deployed before the current one; returns it.

        Successive rollbacks walk back through the deployments. ``ProgramError``
        when there is no earlier deployment.
        """
        history = self._deployments(program_id)
        current = self._row(program_id).active_version
        if current is None or len(history) < 2 or history[-1] != current:
            raise ProgramError([ProgramIssue(program_id, "no earlier deployed version to roll back to")],
                               program_id)
        previous = history[-2]
        self._activate(program_id, previous, by, "program.rollback")
        return previous

    def disable(self, program_id: str, by: str = "") -> None:
        """Stop the program (its active version stays)."""
        self._set_enabled(program_id, False, by)

    def enable(self, program_id: str, by: str = "") -> None:
        """Run the active version again; ``ProgramError`` if none was ever deployed."""
        if self._row(program_id).active_version is None:
            raise ProgramError([ProgramIssue(program_id, "no version is deployed; deploy one first")],
                               program_id)
        self._set_enabled(program_id, True, by)

    def _activate(self, program_id: str, version: int, by: str, action: str) -> None:
        now = self._now()
        with self.engine.begin() as conn:
            conn.execute(programs.update().where(programs.c.id == program_id)
                         .values(active_version=version, enabled=True, updated_at=now))
            conn.execute(audit_log.insert().values(ts=now, actor=by, action=action, target=program_id,
                                                   details={"version": version}))

    def _set_enabled(self, program_id: str, enabled: bool, by: str) -> None:
        self._row(program_id)
        now = self._now()
        with self.engine.begin() as conn:
            conn.execute(programs.update().where(programs.c.id == program_id)
                         .values(enabled=enabled, updated_at=now))
            conn.execute(audit_log.insert().values(
                ts=now, actor=by, action="program.enable" if enabled else "program.disable",
                target=program_id, details={}))

    def _deployments(self, program_id: str) -> builtins.list[int]:
        """The deployment stack: each deploy pushes its version, each rollback pops one."""
        stack: builtins.list[int] = []
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(audit_log.c.action, audit_log.c.details)
                .where(audit_log.c.target == program_id,
                       audit_log.c.action.in_(("program.deploy", "program.rollback")))
                .order_by(audit_log.c.id))
            for action, details in rows:
                if action == "program.deploy":
                    stack.append(int(details["version"]))
                elif stack:
                    stack.pop()
        return stack

    # ------------------------------------------------------------------ reading

    def _row(self, program_id: str) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(programs).where(programs.c.id == program_id)).first()
        if row is None:
            raise ProgramError([ProgramIssue(program_id, "no such program")], program_id)
        return row

    def get(self, program_id: str, version: int | None = None) -> ProgramVersion:
        """A version of a program: ``version``, else the deployed one, else the latest saved."""
        if version is None:
            version = self._row(program_id).active_version
        query = sa.select(program_versions).where(program_versions.c.program_id == program_id)
        query = (query.where(program_versions.c.version == version) if version is not None
                 else query.order_by(program_versions.c.version.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            what = f"version {version}" if version is not None else "any version"
            raise ProgramError([ProgramIssue(program_id, f"no {what} is stored")], program_id)
        return ProgramVersion(parse_program(row.definition), row.version, row.created_at,
                              row.created_by, row.comment)

    def list(self, site: str | None = None) -> builtins.list[ProgramInfo]:
        """Every program (of ``site``), by id."""
        latest = (sa.select(program_versions.c.program_id,
                            sa.func.max(program_versions.c.version).label("latest"))
                  .group_by(program_versions.c.program_id).subquery())
        query = (sa.select(programs, latest.c.latest)
                 .join(latest, latest.c.program_id == programs.c.id, isouter=True)
                 .order_by(programs.c.id))
        if site is not None:
            query = query.where(programs.c.site_id == site)
        with self.engine.connect() as conn:
            return [ProgramInfo(r.id, r.site_id, r.name, r.enabled, r.active_version, r.latest or 0,
                                r.updated_at) for r in conn.execute(query)]

    def versions(self, program_id: str) -> builtins.list[ProgramVersion]:
        """Every stored version of a program, oldest first."""
        self._row(program_id)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(program_versions)
                                .where(program_versions.c.program_id == program_id)
                                .order_by(program_versions.c.version)).all()
        return [ProgramVersion(parse_program(r.definition), r.version, r.created_at, r.created_by,
                               r.comment) for r in rows]

    def deployed(self, site: str | None = None) -> builtins.list[ProgramVersion]:
        """The active version of every enabled program (of ``site``): what an engine should run."""
        return [self.get(p.id, p.active_version) for p in self.list(site)
                if p.enabled and p.active_version is not None]
