"""The refusal audit's writes on a real SQLite state database: a failed write loses no count."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from openbms.api.auth.refusals import ACTION, Refusal, Refusals
from openbms.db import migrate, open_state
from openbms.db.schema import audit_log


def _refusal(route: str) -> Refusal:
    return Refusal(actor="lab@example.com", method="GET", route=route, path=route, site="hq",
                   reason="no role on the site", status=404)


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).where(audit_log.c.action == ACTION)).mappings()
        return {r["details"]["route"]: r["details"]["count"] for r in rows}


def test_counts_of_a_write_that_failed_are_written_by_the_next_one(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    engine = open_state(url)
    try:
        refusals = Refusals()
        first = _refusal("/api/v1/sites/{site_id}/points")
        due, new = refusals.note(first, 1_000.0)
        refusals.write(engine, due, new, first, 1_000.0)
        refusals.note(first, 1_001.0)
        refusals.note(first, 1_002.0)  # count 3, the row still says 1
        second = _refusal("/api/v1/sites/{site_id}/alarms")
        due, new = refusals.note(second, 1_003.0)
        assert new is not None
        with engine.begin() as conn:  # the update may run, the insert fails: the whole write rolls back
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
                                 "BEGIN SELECT RAISE(ABORT, 'no room'); END")
        with pytest.raises(sa.exc.IntegrityError, match="no room"):
            refusals.write(engine, refusals.pending() + due, new, second, 1_003.0)
        assert _counts(engine) == {"/api/v1/sites/{site_id}/points": 1}
        assert len(refusals.pending()) == 1  # the count of 3 is still to be written

        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse")
        refusals.write(engine, refusals.pending(), None, None, 1_004.0)
        assert _counts(engine) == {"/api/v1/sites/{site_id}/points": 3}
        assert refusals.pending() == []
    finally:
        engine.dispose()
