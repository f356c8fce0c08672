"""Program ids per site, in SQLite and PostgreSQL: two sites may each have a program of one id."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from openbms.control.programs import Limits, Program, ProgramError, ProgramStore
from openbms.db import _alembic_config, migrate, open_state
from openbms.db.schema import audit_log, program_versions


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # each test starts from an empty database
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


def holding(site: str, value: float, prog_id: str = "ahu") -> Program:
    return Program.model_validate({
        "id": prog_id, "site": site, "name": f"{site} holds {value}",
        "constants": [{"id": "k", "value": value}], "outputs": [{"id": "o", "point": f"{site}/plant/out1"}],
        "wires": [{"from": "k", "to": "o"}]})


def test_two_sites_each_keep_their_own_program_of_one_id(state_url):
    migrate(state_url)
    engine = open_state(state_url)
    store = ProgramStore(engine)
    assert store.save(holding("hq", 20)) == 1
    assert store.save(holding("annex", 30)) == 1  # the same id on another site: its own version 1
    assert store.save(holding("hq", 21)) == 2
    assert [(p.site, p.id, p.latest_version) for p in store.list()] == [("annex", "ahu", 1), ("hq", "ahu", 2)]
    assert store.get("ahu", site="annex").program == holding("annex", 30)
    store.deploy("ahu", 2, by="ann", site="hq")
    store.deploy("ahu", 1, by="ann", site="annex")
    store.deploy("ahu", 1, by="ann", site="hq")
    assert store.rollback("ahu", site="hq") == 2  # hq's deployments only
    with pytest.raises(ProgramError, match="no earlier deployed version"):
        store.rollback("ahu", site="annex")
    store.disable("ahu", site="annex")
    assert [(d.program.site, d.version) for d in store.deployed()] == [("hq", 2)]
    assert [len(store.versions("ahu", site=s)) for s in ("hq", "annex")] == [2, 1]
    with pytest.raises(ProgramError, match="sites annex, hq each have a program of this id: name the site"):
        store.get("ahu")
    with engine.connect() as conn:
        targets = conn.execute(sa.select(audit_log.c.target).order_by(audit_log.c.id)).scalars().all()
    assert targets == ["hq/ahu", "annex/ahu", "hq/ahu", "hq/ahu", "annex/ahu"]
    engine.dispose()


def test_a_site_has_at_most_its_limit_of_programs(state_url):
    migrate(state_url)
    engine = open_state(state_url)
    store = ProgramStore(engine, limits=Limits(max_programs_per_site=2))
    store.save(holding("hq", 20, "p1"))
    store.save(holding("hq", 20, "p2"))
    with pytest.raises(ProgramError, match=r"id: site 'hq' already has 2 programs, the most a site may "
                                           r"have \(2\)"):
        store.save(holding("hq", 20, "p3"))
    assert store.save(holding("hq", 21, "p2")) == 2  # a new version of one it has is fine
    assert store.save(holding("annex", 20, "p3")) == 1  # and other sites have their own count
    engine.dispose()


def test_the_migration_keeps_programs_versions_and_deployments(state_url):
    cfg = _alembic_config(state_url)
    engine = open_state(state_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.execute(sa.text("INSERT INTO programs (id, site_id, name, enabled, active_version, updated_at) "
                             "VALUES ('ahu', 'hq', 'AHU', true, 1, 5.0), "
                             "('boiler', 'hq', '', false, NULL, 6.0)"))
        definition = holding("hq", 20).to_json()
        for version in (1, 2):
            conn.execute(sa.text("INSERT INTO program_versions (program_id, version, definition, created_at, "
                                 "created_by, comment) VALUES ('ahu', :v, :d, 1.0, 'ann', 'why')"),
                         {"v": version, "d": definition})
        for action, version in (("program.deploy", 2), ("program.deploy", 1)):
            conn.execute(audit_log.insert().values(ts=1.0, actor="ann", action=action, target="ahu",
                                                   details={"version": version}))
        conn.execute(audit_log.insert().values(ts=1.0, actor="ann", action="point.update", target="ahu",
                                               details={}))
    engine.dispose()
    migrate(state_url)
    engine = open_state(state_url)
    store = ProgramStore(engine)
    assert [(p.site, p.id, p.enabled, p.active_version, p.latest_version) for p in store.list()] == [
        ("hq", "ahu", True, 1, 2), ("hq", "boiler", False, None, 0)]
    assert store.get("ahu", 2, site="hq").created_by == "ann"
    assert store.rollback("ahu", site="hq") == 2  # the deployments before the migration still count
    assert store.save(holding("annex", 30)) == 1
    with engine.connect() as conn:
        targets = conn.execute(sa.select(audit_log.c.action, audit_log.c.target)
                               .order_by(audit_log.c.id)).all()
    assert [tuple(t) for t in targets] == [("program.deploy", "hq/ahu"), ("program.deploy", "hq/ahu"),
                                           ("point.update", "ahu"), ("program.rollback", "hq/ahu")]
    with engine.begin() as conn:  # no way back while an id is on two sites
        cfg.attributes["connection"] = conn
        with pytest.raises(RuntimeError, match="program ids used on several sites: ahu"):
            command.downgrade(cfg, "0003")
    engine.dispose()


def test_a_stored_version_the_limits_now_refuse_is_reported_and_the_others_still_run(state_url, caplog):
    migrate(state_url)
    engine = open_state(state_url)
    store = ProgramStore(engine)
    store.save(holding("hq", 20, "good"))
    store.deploy("good", 1, site="hq")
    store.save(holding("hq", 20, "fast"))
    store.deploy("fast", 1, site="hq")
    fast = {**holding("hq", 20, "fast").to_json_dict(), "period_s": 0.000001}  # saved before the limits
    with engine.begin() as conn:
        conn.execute(program_versions.update().where(program_versions.c.program_id == "fast")
                     .values(definition=fast))
    assert [d.program.id for d in store.deployed()] == ["good"]
    assert "program hq/fast version 1 is not run: 1 problem:\nperiod_s: Input should be greater than or " \
           "equal to 1 (got 1e-06)" in caplog.text
    engine.dispose()


def test_the_migration_goes_back_while_every_id_is_on_one_site(state_url):
    migrate(state_url)
    engine = open_state(state_url)
    store = ProgramStore(engine)
    store.save(holding("hq", 20))
    store.save(holding("hq", 21))
    store.deploy("ahu", 2, by="ann", site="hq")
    cfg = _alembic_config(state_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id, site_id, active_version FROM programs")).all() == [
            ("ahu", "hq", 2)]
        assert conn.execute(sa.text("SELECT program_id, version FROM program_versions ORDER BY version")
                            ).all() == [("ahu", 1), ("ahu", 2)]
        assert conn.execute(sa.select(audit_log.c.target)).scalars().all() == ["ahu"]
    engine.dispose()
    migrate(state_url)  # and forward again
    engine = open_state(state_url)
    assert ProgramStore(engine).get("ahu", site="hq").version == 2
    engine.dispose()


def test_drafts_beyond_the_limit_are_pruned_oldest_first_and_deployed_versions_kept(state_url):
    # Saving is open to every facility manager: without a bound, drafts could fill the database.
    migrate(state_url)
    engine = open_state(state_url)
    store = ProgramStore(engine, limits=Limits(max_drafts_per_program=3))
    for value in range(1, 4):
        store.save(holding("hq", value))
    store.deploy("ahu", 2, by="ann", site="hq")
    for value in range(4, 9):
        store.save(holding("hq", value))
    assert sorted(v.version for v in store.versions("ahu", site="hq")) == [2, 6, 7, 8]
    assert store.get("ahu", site="hq").version == 2  # the deployed one stays, and stays active
    store.deploy("ahu", 8, by="ann", site="hq")
    assert store.rollback("ahu", site="hq") == 2  # the rollback history is intact
    store.save(holding("annex", 1))  # another site's drafts are its own
    assert [v.version for v in store.versions("ahu", site="annex")] == [1]
    engine.dispose()
