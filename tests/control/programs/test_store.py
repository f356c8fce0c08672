"""Versions, deploy, disable and rollback in a SQLite state database, driving a running engine."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from openbms.control.programs import (
    Program,
    ProgramEngine,
    ProgramError,
    ProgramStore,
    catalog_from_sites,
)
from openbms.db import migrate, open_state
from openbms.db.schema import audit_log
from tests.control.programs.rig import Rig, pid, program, site

OUT1 = pid("out1")


def constant(value: float, prog_id: str = "p1") -> Program:
    return program(id=prog_id, name=f"hold {value}", constants=[{"id": "k", "value": value}],
                   outputs=[{"id": "o", "point": OUT1}], wires=[{"from": "k", "to": "o"}])


@pytest.fixture
def store(sqlite_url) -> ProgramStore:
    migrate(sqlite_url)
    return ProgramStore(open_state(sqlite_url))


async def apply(store: ProgramStore, engine: ProgramEngine, program_id: str) -> None:
    """What the runtime does after a change in the store: run what is deployed, stop what is not."""
    info = next(p for p in store.list() if p.id == program_id)
    if info.enabled and info.active_version is not None:
        stored = store.get(program_id)
        engine.load(stored.program, stored.version)
    elif program_id in engine.loaded():
        await engine.disable(program_id)
    await engine.idle()


def test_each_save_is_a_new_version_with_who_and_why(store):
    assert store.save(constant(20), "ann", "first") == 1
    assert store.save(constant(22), "bob", "warmer") == 2
    assert [(v.version, v.created_by, v.comment) for v in store.versions("p1")] == [
        (1, "ann", "first"), (2, "bob", "warmer")]
    assert store.get("p1").version == 2  # nothing deployed: the latest
    assert store.get("p1", 1).program == constant(20)
    (info,) = store.list(site="hq")
    assert (info.enabled, info.active_version, info.latest_version, info.name) == (False, None, 2, "hold 22")
    assert store.list(site="annex") == []
    with pytest.raises(ProgramError, match="no version 7 is stored"):
        store.get("p1", 7)


async def test_deploy_disable_enable_and_rollback_drive_the_engine(store):
    rig = Rig()
    for value in (20.0, 25.0, 30.0):
        store.save(constant(value))
    store.deploy("p1", 1, by="ann")
    await apply(store, rig.engine, "p1")
    assert rig.slot(OUT1) == 20.0
    store.deploy("p1", 2, by="ann")
    await apply(store, rig.engine, "p1")
    assert rig.slot(OUT1) == 25.0 and rig.engine.status(site="hq")["p1"].version == 2
    store.deploy("p1", 3, by="ann")
    await apply(store, rig.engine, "p1")
    assert rig.slot(OUT1) == 30.0

    assert store.rollback("p1", by="bob") == 2
    await apply(store, rig.engine, "p1")
    assert rig.slot(OUT1) == 25.0
    assert store.rollback("p1", by="bob") == 1  # successive rollbacks walk back
    await apply(store, rig.engine, "p1")
    assert rig.slot(OUT1) == 20.0
    with pytest.raises(ProgramError, match="no earlier deployed version"):
        store.rollback("p1")

    store.disable("p1")
    await apply(store, rig.engine, "p1")
    assert rig.slot(OUT1) is None and rig.engine.status(site="hq")["p1"].state == "disabled"
    assert store.deployed() == []
    store.enable("p1")
    await apply(store, rig.engine, "p1")
    assert rig.slot(OUT1) == 20.0
    assert [(d.program.id, d.version) for d in store.deployed("hq")] == [("p1", 1)]


def test_a_deploy_with_a_catalog_refuses_a_program_that_cannot_run(store):
    catalog = catalog_from_sites([site()])
    store.save(constant(20))
    broken = program(constants=[{"id": "k", "value": 20}], outputs=[{"id": "o", "point": pid("nope")}],
                     wires=[{"from": "k", "to": "o"}])
    store.save(broken)
    store.deploy("p1", 1, catalog=catalog)
    with pytest.raises(ProgramError, match=r"outputs\[0\]\.point: unknown point 'hq/plant/nope'"):
        store.deploy("p1", 2, catalog=catalog)
    assert store.get("p1").version == 1


def test_enable_needs_a_deployed_version_and_unknown_programs_are_errors(store):
    store.save(constant(20))
    with pytest.raises(ProgramError, match="no version is deployed"):
        store.enable("p1")
    with pytest.raises(ProgramError, match="no such program"):
        store.disable("nope")


def test_saving_the_latest_document_again_makes_no_new_version(store):
    assert store.save(constant(20), "ann", "first") == 1
    assert store.save(constant(20), "bob", "again") == 1  # the same document: version 1 answers
    assert store.save(constant(22), "bob", "warmer") == 2
    assert store.save(constant(22), "bob", "warmer, twice") == 2
    assert store.save(constant(20), "ann", "back") == 3  # equal to an older one, not the latest: new
    assert [(v.version, v.created_by, v.comment) for v in store.versions("p1")] == [
        (1, "ann", "first"), (2, "bob", "warmer"), (3, "ann", "back")]
    (info,) = store.list(site="hq")
    assert info.latest_version == 3


def test_deploy_rollback_and_disable_keep_their_reason_in_the_audit(store):
    store.save(constant(20))
    store.save(constant(22))
    store.deploy("p1", 1, by="ann", reason="first run")
    store.deploy("p1", 2, by="ann", reason="warmer for the visit")
    assert store.rollback("p1", by="bob", reason="too warm") == 1
    store.disable("p1", by="bob", reason="commissioning the valve")
    store.enable("p1", by="bob")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log.c.action, audit_log.c.actor, audit_log.c.details)
                            .where(audit_log.c.target == "hq/p1").order_by(audit_log.c.id)).all()
    assert [tuple(r) for r in rows] == [
        ("program.deploy", "ann", {"version": 1, "reason": "first run"}),
        ("program.deploy", "ann", {"version": 2, "reason": "warmer for the visit"}),
        ("program.rollback", "bob", {"version": 1, "reason": "too warm"}),
        ("program.disable", "bob", {"reason": "commissioning the valve"}),
        ("program.enable", "bob", {}),
    ]
