"""Programs and their versions in the state database (SQLAlchemy Core, SQLite or PostgreSQL).

Every ``save`` adds a version (1, 2, 3…) with who saved it and why, unless
the document is the same as the latest version's (then that version is the
answer and nothing is stored); versions are never changed or deleted.
``deploy`` makes one version the active one and enables the program;
``disable``/``enable`` switch it off and on without changing the version;
``rollback`` returns to the version that was deployed before the current one.
Deployments are recorded in the audit log (``program.deploy``,
``program.rollback``) with the reason given, which is also where
``rollback`` finds the previous one.

Block state (a PID's integral, timers, lead-lag runtime) is not stored: after
a restart the blocks start afresh. A redeploy in a running engine keeps it
(see :meth:`ProgramEngine.load`).

A program is known by its site and its id: two sites may each have a
program ``ahu``. Every method takes ``site``; without it, the program of that
id is found when only one site has one (``ProgramError`` otherwise). The
audit log names a program ``site/id``.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openbms.control.programs.model import LIMITS, Limits, Program, ProgramError, ProgramIssue, parse_program
from openbms.control.programs.validate import Catalog, validate_program
from openbms.db.schema import audit_log, program_versions, programs

__all__ = ["ProgramInfo", "ProgramStore", "ProgramVersion", "SavedVersion"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProgramVersion:
    """One stored version of a program."""

    program: Program
    version: int
    created_at: float
    created_by: str
    comment: str


class SavedVersion(int):
    """The version number a save answers, and whether that save made it (``created``).

    An ``int``, so callers that only want the number use it as one; ``created``
    is decided in the transaction that stored the version (or found the
    document already stored), so of two identical saves at once exactly one
    says it created the version.
    """

    created: bool

    def __new__(cls, version: int, created: bool) -> SavedVersion:
        saved = super().__new__(cls, version)
        saved.created = created
        return saved

    # ``int``'s own say a copy is made from the number alone, which ``__new__`` refuses.
    def __getnewargs__(self) -> tuple[int, bool]:  # type: ignore[override]
        return int(self), self.created

    def __reduce__(self) -> tuple[type[SavedVersion], tuple[int, bool]]:
        return SavedVersion, (int(self), self.created)


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


def _details(details: dict[str, Any], reason: str) -> dict[str, Any]:
    """An audit row's details, with why when one was given."""
    return {**details, "reason": reason} if reason else details


class ProgramStore:
    """Versioned programs in the ``programs`` and ``program_versions`` tables, keyed by site and id."""

    def __init__(self, engine: sa.Engine, now: Callable[[], float] = time.time,
                 limits: Limits = LIMITS) -> None:
        self.engine = engine
        self._now = now
        self.limits = limits

    # ------------------------------------------------------------------ keys

    def _site(self, conn: sa.Connection, program_id: str, site: str | None) -> str:
        """``site``, or the only site with a program ``program_id``."""
        if site is not None:
            return site
        found = conn.execute(sa.select(programs.c.site_id).where(programs.c.id == program_id)).scalars().all()
        if not found:
            raise ProgramError([ProgramIssue(program_id, "no such program")], program_id)
        if len(found) > 1:
            raise ProgramError([ProgramIssue(program_id, f"sites {', '.join(sorted(found))} each have a "
                                                         "program of this id: name the site")], program_id)
        return str(found[0])

    @staticmethod
    def _is(site: str, program_id: str) -> Any:
        return sa.and_(programs.c.site_id == site, programs.c.id == program_id)

    @staticmethod
    def _versions_of(site: str, program_id: str) -> Any:
        return sa.and_(program_versions.c.site_id == site, program_versions.c.program_id == program_id)

    # ------------------------------------------------------------------ writing

    def save(self, program: Program, created_by: str = "", comment: str = "") -> SavedVersion:
        """Store ``program`` as a new version (it is not deployed); returns the version number.

        A document equal to the latest version's is not stored again: the
        latest version's number is returned (saving twice makes one version),
        with ``created`` false. A new program is refused (``ProgramError``)
        when its site already has ``limits.max_programs_per_site``. Saves of
        one program are serialised: two at once make one version each only
        when their documents differ.
        """
        try:
            return self._save(program, created_by, comment)
        except sa.exc.IntegrityError:
            # A new program saved twice at once on PostgreSQL: both inserted its row, one
            # lost. Once more, it finds the row (and, for the same document, the version).
            return self._save(program, created_by, comment)

    def _save(self, program: Program, created_by: str, comment: str) -> SavedVersion:
        now = self._now()
        site = program.site
        with self.engine.begin() as conn:
            # A write first: SQLite's write lock (PostgreSQL's row lock) before anything is read,
            # so a concurrent save of this program reads the versions after this one committed.
            conn.execute(programs.update().where(self._is(site, program.id))
                         .values(updated_at=programs.c.updated_at))
            row = conn.execute(sa.select(programs.c.id).where(self._is(site, program.id))).first()
            if row is None:
                count = conn.execute(sa.select(sa.func.count()).select_from(programs)
                                     .where(programs.c.site_id == site)).scalar() or 0
                limit = self.limits.max_programs_per_site
                if count >= limit:
                    issue = ProgramIssue("id", f"site {site!r} already has {count} programs, the most a "
                                               f"site may have ({limit})")
                    raise ProgramError([issue], program.id)
                conn.execute(programs.insert().values(id=program.id, site_id=site, name=program.name,
                                                      enabled=False, active_version=None, updated_at=now))
            definition = program.to_json_dict()
            last = conn.execute(sa.select(program_versions.c.version, program_versions.c.definition)
                                .where(self._versions_of(site, program.id))
                                .order_by(program_versions.c.version.desc()).limit(1)).first()
            if last is not None and last.definition == definition:
                return SavedVersion(int(last.version), created=False)
            if row is not None:
                conn.execute(programs.update().where(self._is(site, program.id))
                             .values(name=program.name, updated_at=now))
            version = (last.version if last is not None else 0) + 1
            conn.execute(program_versions.insert().values(
                site_id=site, program_id=program.id, version=version, definition=definition,
                created_at=now, created_by=created_by, comment=comment))
            self._prune(conn, site, program.id)
        return SavedVersion(version, created=True)

    def _prune(self, conn: sa.Connection, site: str, program_id: str) -> None:
        """Drop the oldest versions never deployed beyond ``limits.max_drafts_per_program``.

        Saving is open to every facility manager and never deletes on its own, so without this
        one user could fill the state database with drafts. Deployed versions (the rollback
        history, and the audit's) are all kept.
        """
        deployed = {int(details["version"]) for (details,) in conn.execute(
            sa.select(audit_log.c.details).where(audit_log.c.target == f"{site}/{program_id}",
                                                 audit_log.c.action == "program.deploy"))}
        active = conn.execute(sa.select(programs.c.active_version).where(self._is(site, program_id))).scalar()
        drafts = [v for (v,) in conn.execute(
            sa.select(program_versions.c.version).where(self._versions_of(site, program_id))
            .order_by(program_versions.c.version.desc())) if v not in deployed and v != active]
        old = drafts[self.limits.max_drafts_per_program:]
        if old:
            conn.execute(program_versions.delete().where(self._versions_of(site, program_id),
                                                         program_versions.c.version.in_(old)))

    def deploy(self, program_id: str, version: int, by: str = "",
               catalog: Catalog | None = None, *, site: str | None = None, reason: str = "") -> None:
        """Make ``version`` the active one and enable the program; ``reason`` is kept in the audit.

        With a ``catalog`` the version is validated first and ``ProgramError``
        raised (nothing changed) if it cannot run.
        """
        stored = self.get(program_id, version, site=site)
        if catalog is not None:
            issues = validate_program(stored.program, catalog)
            if issues:
                raise ProgramError(issues, program_id)
        self._activate(stored.program.site, program_id, version, by, "program.deploy", reason)

    def rollback(self, program_id: str, by: str = "", *, site: str | None = None, reason: str = "") -> int:
        """Deploy again the version deployed before the current one; returns it.

        Successive rollbacks walk back through the deployments. ``ProgramError``
        when there is no earlier deployment.
        """
        row = self._row(program_id, site)
        history = self._deployments(row.site_id, program_id)
        current = row.active_version
        if current is None or len(history) < 2 or history[-1] != current:
            raise ProgramError([ProgramIssue(program_id, "no earlier deployed version to roll back to")],
                               program_id)
        previous = history[-2]
        self._activate(row.site_id, program_id, previous, by, "program.rollback", reason)
        return previous

    def disable(self, program_id: str, by: str = "", *, site: str | None = None, reason: str = "") -> None:
        """Stop the program (its active version stays)."""
        self._set_enabled(program_id, site, False, by, reason)

    def enable(self, program_id: str, by: str = "", *, site: str | None = None, reason: str = "") -> None:
        """Run the active version again; ``ProgramError`` if none was ever deployed."""
        if self._row(program_id, site).active_version is None:
            raise ProgramError([ProgramIssue(program_id, "no version is deployed; deploy one first")],
                               program_id)
        self._set_enabled(program_id, site, True, by, reason)

    def _activate(self, site: str, program_id: str, version: int, by: str, action: str, reason: str) -> None:
        now = self._now()
        with self.engine.begin() as conn:
            conn.execute(programs.update().where(self._is(site, program_id))
                         .values(active_version=version, enabled=True, updated_at=now))
            conn.execute(audit_log.insert().values(ts=now, actor=by, action=action,
                                                   target=f"{site}/{program_id}",
                                                   details=_details({"version": version}, reason)))

    def _set_enabled(self, program_id: str, site: str | None, enabled: bool, by: str, reason: str) -> None:
        site = self._row(program_id, site).site_id
        now = self._now()
        with self.engine.begin() as conn:
            conn.execute(programs.update().where(self._is(site, program_id))
                         .values(enabled=enabled, updated_at=now))
            conn.execute(audit_log.insert().values(
                ts=now, actor=by, action="program.enable" if enabled else "program.disable",
                target=f"{site}/{program_id}", details=_details({}, reason)))

    def _deployments(self, site: str, program_id: str) -> builtins.list[int]:
        """The deployment stack: each deploy pushes its version, each rollback pops one."""
        stack: builtins.list[int] = []
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(audit_log.c.action, audit_log.c.details)
                .where(audit_log.c.target == f"{site}/{program_id}",
                       audit_log.c.action.in_(("program.deploy", "program.rollback")))
                .order_by(audit_log.c.id))
            for action, details in rows:
                if action == "program.deploy":
                    stack.append(int(details["version"]))
                elif stack:
                    stack.pop()
        return stack

    # ------------------------------------------------------------------ reading

    def _row(self, program_id: str, site: str | None = None) -> Any:
        with self.engine.connect() as conn:
            site = self._site(conn, program_id, site)
            row = conn.execute(sa.select(programs).where(self._is(site, program_id))).first()
        if row is None:
            raise ProgramError([ProgramIssue(program_id, "no such program")], program_id)
        return row

    def get(self, program_id: str, version: int | None = None, *, site: str | None = None) -> ProgramVersion:
        """A version of a program: ``version``, else the deployed one, else the latest saved."""
        row = self._row(program_id, site)
        if version is None:
            version = row.active_version
        query = sa.select(program_versions).where(self._versions_of(row.site_id, program_id))
        query = (query.where(program_versions.c.version == version) if version is not None
                 else query.order_by(program_versions.c.version.desc()).limit(1))
        with self.engine.connect() as conn:
            found = conn.execute(query).first()
        if found is None:
            what = f"version {version}" if version is not None else "any version"
            raise ProgramError([ProgramIssue(program_id, f"no {what} is stored")], program_id)
        return ProgramVersion(parse_program(found.definition), found.version, found.created_at,
                              found.created_by, found.comment)

    def list(self, site: str | None = None) -> builtins.list[ProgramInfo]:
        """Every program (of ``site``), by site and id."""
        latest = (sa.select(program_versions.c.site_id, program_versions.c.program_id,
                            sa.func.max(program_versions.c.version).label("latest"))
                  .group_by(program_versions.c.site_id, program_versions.c.program_id).subquery())
        query = (sa.select(programs, latest.c.latest)
                 .join(latest, sa.and_(latest.c.site_id == programs.c.site_id,
                                       latest.c.program_id == programs.c.id), isouter=True)
                 .order_by(programs.c.site_id, programs.c.id))
        if site is not None:
            query = query.where(programs.c.site_id == site)
        with self.engine.connect() as conn:
            return [ProgramInfo(r.id, r.site_id, r.name, r.enabled, r.active_version, r.latest or 0,
                                r.updated_at) for r in conn.execute(query)]

    def info(self, program_id: str, site: str) -> ProgramInfo | None:
        """``site``'s program ``program_id``, or None."""
        found = [p for p in self.list(site) if p.id == program_id]
        return found[0] if found else None

    def versions(self, program_id: str, *, site: str | None = None) -> builtins.list[ProgramVersion]:
        """Every stored version of a program, oldest first."""
        site = self._row(program_id, site).site_id
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(program_versions)
                                .where(self._versions_of(site, program_id))
                                .order_by(program_versions.c.version)).all()
        return [ProgramVersion(parse_program(r.definition), r.version, r.created_at, r.created_by,
                               r.comment) for r in rows]

    def deployed(self, site: str | None = None) -> builtins.list[ProgramVersion]:
        """The active version of every enabled program (of ``site``): what an engine should run.

        A stored version that no longer passes the program limits (a period
        under a second saved before they existed) is logged and left out, so
        it cannot keep the others from running (:meth:`deployments` says which).
        """
        return self.deployments(site)[0]

    def deployments(self, site: str | None = None) -> tuple[builtins.list[ProgramVersion],
                                                            builtins.list[tuple[ProgramInfo, ProgramError]]]:
        """What :meth:`deployed` returns, and the enabled programs whose active version cannot be
        read back under the current limits, each with why (the runtime marks those failed and
        releases the slots they still hold)."""
        found: builtins.list[ProgramVersion] = []
        refused: builtins.list[tuple[ProgramInfo, ProgramError]] = []
        for p in self.list(site):
            if not p.enabled or p.active_version is None:
                continue
            try:
                found.append(self.get(p.id, p.active_version, site=p.site))
            except ProgramError as err:
                log.error("program %s/%s version %d is not run: %s", p.site, p.id, p.active_version, err)
                refused.append((p, err))
        return found, refused
