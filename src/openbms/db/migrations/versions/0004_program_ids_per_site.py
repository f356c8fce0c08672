"""program ids per site

A program's key becomes (site_id, id), so two sites may each have a program
of one id and a save cannot reveal another site's program ids. The program
rows of the audit log name their program as ``site/id`` from now on.

The two tables are rebuilt rather than altered: SQLite cannot change a
primary key in place, and rebuilding a parent table there while foreign keys
are enforced would cascade its DROP to the versions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 17:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PROGRAM_ACTIONS = ("program.save", "program.deploy", "program.rollback", "program.enable",
                    "program.disable")
_OLD_PROGRAMS = sa.table("programs", sa.column("id"), sa.column("site_id"), sa.column("name"),
                         sa.column("enabled"), sa.column("active_version"), sa.column("updated_at"))
_VERSION_COLUMNS = ("program_id", "version", "definition", "created_at", "created_by", "comment")
_AUDIT = sa.table("audit_log", sa.column("id"), sa.column("action"), sa.column("target"))


def _read() -> tuple[list[dict], list[dict]]:
    conn = op.get_bind()
    programs = [dict(r._mapping) for r in conn.execute(sa.select(_OLD_PROGRAMS))]
    versions_table = sa.table("program_versions", *(sa.column(c, sa.JSON if c == "definition" else None)
                                                    for c in _VERSION_COLUMNS))
    versions = [dict(r._mapping) for r in conn.execute(sa.select(versions_table))]
    return programs, versions


def _site_column() -> sa.Column:
    return sa.Column("site_id", sa.String(length=64), nullable=False)


def _create(per_site: bool) -> tuple[sa.Table, sa.Table]:
    """The two tables keyed by (site_id, id), or as revision 0003 had them (by id)."""
    programs = op.create_table(
        "programs",
        _site_column(),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("active_version", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint(*(["site_id", "id"] if per_site else ["id"]), name=op.f("pk_programs")),
    )
    parent = ["site_id", "program_id"] if per_site else ["program_id"]
    versions = op.create_table(
        "program_versions",
        *([_site_column()] if per_site else []),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(precision=53), nullable=False),
        sa.Column("created_by", sa.String(length=200), server_default="", nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(parent, [f"programs.{'id' if c == 'program_id' else c}" for c in parent],
                                name=op.f(f"fk_program_versions_{parent[0]}_programs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(*parent, "version", name=op.f("pk_program_versions")),
    )
    if not per_site:
        with op.batch_alter_table("programs", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_programs_site_id"), ["site_id"], unique=False)
    return programs, versions


def _drop(per_site: bool) -> None:
    op.drop_table("program_versions")  # the child first: nothing cascades
    if not per_site:
        with op.batch_alter_table("programs", schema=None) as batch_op:
            batch_op.drop_index(batch_op.f("ix_programs_site_id"))
    op.drop_table("programs")


def upgrade() -> None:
    programs, versions = _read()
    site_of = {p["id"]: p["site_id"] for p in programs}
    _drop(per_site=False)
    new_programs, new_versions = _create(per_site=True)
    if programs:
        op.bulk_insert(new_programs, programs)
    if versions:
        op.bulk_insert(new_versions, [{**v, "site_id": site_of[v["program_id"]]} for v in versions])
    conn = op.get_bind()
    rows = conn.execute(sa.select(_AUDIT.c.id, _AUDIT.c.target)
                        .where(_AUDIT.c.action.in_(_PROGRAM_ACTIONS))).all()
    for row_id, target in rows:
        if target in site_of:
            conn.execute(_AUDIT.update().where(_AUDIT.c.id == row_id)
                         .values(target=f"{site_of[target]}/{target}"))


def downgrade() -> None:
    programs, versions = _read()
    ids = [p["id"] for p in programs]
    shared = sorted({i for i in ids if ids.count(i) > 1})
    if shared:
        raise RuntimeError(f"cannot downgrade: program ids used on several sites: {', '.join(shared)}")
    _drop(per_site=True)
    old_programs, old_versions = _create(per_site=False)
    if programs:
        op.bulk_insert(old_programs, programs)
    if versions:
        op.bulk_insert(old_versions, [{k: v[k] for k in _VERSION_COLUMNS} for v in versions])
    conn = op.get_bind()
    rows = conn.execute(sa.select(_AUDIT.c.id, _AUDIT.c.target)
                        .where(_AUDIT.c.action.in_(_PROGRAM_ACTIONS))).all()
    qualified = {f"{p['site_id']}/{p['id']}": p["id"] for p in programs}
    for row_id, target in rows:
        if target in qualified:
            conn.execute(_AUDIT.update().where(_AUDIT.c.id == row_id).values(target=qualified[target]))
