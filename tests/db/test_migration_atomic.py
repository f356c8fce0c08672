"""A migration that fails half-way on SQLite leaves the database as it was (DDL inside the transaction)."""

from __future__ import annotations

import alembic.operations
import pytest
import sqlalchemy as sa
from alembic import command

from openbms.db import _alembic_config, migrate, open_state


def test_a_migration_failing_after_its_drops_leaves_tables_rows_and_version_as_they_were(tmp_path,
                                                                                         monkeypatch):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    cfg = _alembic_config(url)
    engine = open_state(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.execute(sa.text("INSERT INTO programs (id, site_id, name, enabled, active_version, updated_at) "
                             "VALUES ('ahu', 'hq', 'AHU', 1, 1, 5.0)"))
    engine.dispose()

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("simulated failure after the drops (a full disk, a kill)")

    # 0004 rebuilds the program tables: drop, create, copy. Python's sqlite3 commits DDL on its own
    # unless told not to, so a failure in the copy used to leave empty tables at version 0003.
    monkeypatch.setattr(alembic.operations.Operations, "bulk_insert", fail)
    with pytest.raises(RuntimeError, match="simulated failure"):
        migrate(url)
    monkeypatch.undo()

    engine = open_state(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0003"
        assert conn.execute(sa.text("SELECT id, site_id FROM programs")).all() == [("ahu", "hq")]
    engine.dispose()
    migrate(url)  # and the migration runs to the end on the next start
    engine = open_state(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id, site_id FROM programs")).all() == [("ahu", "hq")]
    engine.dispose()
