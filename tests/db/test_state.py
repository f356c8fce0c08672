"""The state database: migrations match the schema, sync_site follows the site file."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from tests.config.test_loader import EXAMPLE

from openbms.config import load_sites
from openbms.db import _alembic_config, load_points, metadata, migrate, open_state, record_audit, sync_site
from openbms.db.schema import audit_log, sites


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # each test starts from an empty database
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


def test_migrations_create_exactly_the_declared_schema(state_url):
    migrate(state_url)
    migrate(state_url)  # a second run is a no-op
    engine = open_state(state_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert diff == []
    head = ScriptDirectory.from_config(_alembic_config(state_url)).get_current_head()
    assert version == head and head is not None


def test_sync_site_adds_changes_and_removes_to_match_the_file(state_url):
    migrate(state_url)
    engine = open_state(state_url)
    (site,) = load_sites(EXAMPLE)
    first = sync_site(engine, site, now=1000.0)
    assert first.points == (46, 0, 0) and first.equipment == (13, 0, 0)
    assert sync_site(engine, site, now=2000.0).points == (0, 0, 0)  # nothing changed
    ahu = next(e for e in site.equipment if e.id == "ahu-1")
    sat = ahu.points[0].model_copy(update={"unit": "degF"})
    edited = site.model_copy(update={"equipment": tuple(
        e.model_copy(update={"points": (sat, *e.points[1:-1])}) if e.id == "ahu-1" else e
        for e in site.equipment if e.id != "meter-main")})
    report = sync_site(engine, edited, now=3000.0)
    assert report.points == (0, 1, 3)  # sat changed; ahu's last point and 2 meter points gone
    assert report.equipment == (0, 0, 1)
    stored = {p["id"]: p for p in load_points(engine, "hq")}
    assert stored["hq/ahu-1/sat"]["unit"] == "degF"
    assert stored["hq/ahu-1/sat-sp"]["limits"]["max"] == 18
    assert "hq/meter-main/kw" not in stored
    with engine.connect() as conn:
        assert conn.execute(sa.select(sites.c.timezone)).scalar() == "Europe/London"
    engine.dispose()


def test_audit_entries_are_appended_with_details(state_url):
    migrate(state_url)
    engine = open_state(state_url)
    record_audit(engine, "alice@example.com", "config.sync", "hq", {"points": 34}, "127.0.0.1",
                 now=5.0)
    record_audit(engine, "bob@example.com", "login.failed", details={"reason": "bad password"})
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).mappings().all()
    engine.dispose()
    assert [r["actor"] for r in rows] == ["alice@example.com", "bob@example.com"]
    assert rows[0]["details"] == {"points": 34} and rows[0]["remote_addr"] == "127.0.0.1"
