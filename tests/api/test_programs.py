"""Logic programs over HTTP: validate, save versions, deploy into the engine, roll back, disable."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping

import sqlalchemy as sa

from openbms.control.programs import Limits
from openbms.db.schema import audit_log
from tests.api.live import live  # noqa: F401  (the fixture)
from tests.fixtures.waiting import eventually

PROGRAMS = "/api/v1/sites/hq/programs"


def _program(setpoint: float, **extra) -> dict:
    """Holds AHU-1's supply-air setpoint at a constant, at the logic priority (10)."""
    return {"name": "SAT hold", "period_s": 1,
            "constants": [{"id": "sp", "value": setpoint}],
            "outputs": [{"id": "out", "point": "hq/ahu-1/sat-sp"}],
            "wires": [{"from": "sp", "to": "out"}], **extra}


def _deploy(version: int) -> dict:
    return {"version": version, "reason": "test"}


def _slot10(live) -> object:  # noqa: F811
    return live.runtime.arbiter.priority_array("hq/ahu-1/sat-sp")[9]


async def test_validation_lists_every_problem_with_its_path_and_saves_nothing(live):  # noqa: F811
    r = await live.post("fm", f"{PROGRAMS}/validate", json={"id": "p", "site": "hq", **_program(14)})
    assert r.status_code == 200, r.text
    assert r.json() == {"valid": True, "issues": []}

    bad = {"id": "p", "site": "hq", "inputs": [{"id": "t", "point": "hq/vav-1/zone-tmp"}],
           "blocks": [{"id": "c", "block": "pdi"}],
           "outputs": [{"id": "o", "point": "hq/vav-1/zone-temp"}], "wires": [{"from": "t", "to": "o"}]}
    found = (await live.post("fm", f"{PROGRAMS}/validate", json=bad)).json()["issues"]
    issues = {i["path"]: i["message"] for i in found}
    assert "did you mean 'hq/vav-1/zone-temp'" in issues["inputs[0].point"]
    assert "unknown block kind 'pdi'" in issues["blocks[0].block"]
    assert "not writable" in issues["outputs[0].point"]

    shape = (await live.post("fm", f"{PROGRAMS}/validate", json={"id": "p", "site": "hq", "period_s": 0,
                                                                   "colour": "red"})).json()
    assert shape["valid"] is False
    assert {i["path"] for i in shape["issues"]} == {"period_s", "colour"}
    other = (await live.post("fm", f"{PROGRAMS}/validate", json={"id": "p", "site": "lab"})).json()
    assert other["issues"][0]["path"] == "site"
    assert (await live.get("fm", PROGRAMS)).json()["items"] == []


async def test_save_deploy_run_rollback_disable_and_enable(live):  # noqa: F811
    r = await live.put("fm", f"{PROGRAMS}/sat-hold", json={"program": _program(14), "comment": "first"})
    assert r.status_code == 201, r.text
    assert r.json() == {"id": "sat-hold", "version": 1, "issues": [], "created": True, "note": ""}
    r = await live.put("fm", f"{PROGRAMS}/sat-hold", json={"program": _program(15), "comment": "warmer"})
    assert r.json()["version"] == 2
    assert _slot10(live) is None  # saving deploys nothing

    listed = (await live.get("viewer", PROGRAMS)).json()["items"]
    assert [(p["id"], p["active_version"], p["latest_version"], p["status"]) for p in listed] == [
        ("sat-hold", None, 2, None)]
    latest = (await live.get("viewer", f"{PROGRAMS}/sat-hold")).json()
    assert latest["version"] == 2 and latest["program"]["constants"][0]["value"] == 15
    assert latest["program"]["wires"] == [{"from": "sp", "to": "out"}]
    assert latest["created_by"] == "fm@example.com"

    r = await live.post("fm", f"{PROGRAMS}/sat-hold/deploy", json=_deploy(1))
    assert r.status_code == 200, r.text
    deployed = r.json()
    assert deployed["active_version"] == 1 and deployed["enabled"] is True and deployed["version"] == 1
    await eventually(lambda: _slot10(live) == 14, "the program's command")
    running = (await live.get("viewer", f"{PROGRAMS}/sat-hold")).json()
    assert running["status"]["state"] == "running" and running["status"]["version"] == 1
    assert running["status"]["runs"] >= 1 and running["status"]["outputs"] == {"out": 14}
    assert running["values"] == {"sp.value": 14}
    array = (await live.get("viewer", "/api/v1/sites/hq/points/ahu-1/sat-sp/priority-array")).json()
    assert array["slots"][9]["requested_by"] == "program:sat-hold" and array["effective"] == 14

    assert (await live.post("fm", f"{PROGRAMS}/sat-hold/deploy", json=_deploy(2))).status_code == 200
    await eventually(lambda: _slot10(live) == 15, "version 2's command")
    r = await live.post("fm", f"{PROGRAMS}/sat-hold/rollback")
    assert r.status_code == 200, r.text
    assert r.json()["active_version"] == 1
    await eventually(lambda: _slot10(live) == 14, "back to version 1")
    assert (await live.post("fm", f"{PROGRAMS}/sat-hold/rollback")).status_code == 409  # nothing before 1

    r = await live.post("fm", f"{PROGRAMS}/sat-hold/disable")
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["status"]["state"] == "disabled"
    await eventually(lambda: _slot10(live) is None, "the program's slot released")
    r = await live.post("fm", f"{PROGRAMS}/sat-hold/enable")
    assert r.status_code == 200 and r.json()["status"]["state"] == "running"
    await eventually(lambda: _slot10(live) == 14, "the program commanding again")

    versions = (await live.get("viewer", f"{PROGRAMS}/sat-hold/versions")).json()["items"]
    assert [(v["version"], v["comment"], v["deployed"]) for v in versions] == [
        (1, "first", True), (2, "warmer", False)]
    assert (await live.get("viewer", f"{PROGRAMS}/sat-hold", params={"version": 2})).json()["version"] == 2
    assert (await live.get("viewer", f"{PROGRAMS}/sat-hold", params={"version": 9})).status_code == 404
    assert (await live.post("fm", f"{PROGRAMS}/sat-hold/deploy", json=_deploy(9))).status_code == 404
    with live.runtime.state.connect() as conn:
        actions = [(r.action, r.actor) for r in conn.execute(
            sa.select(audit_log).where(audit_log.c.target == "hq/sat-hold").order_by(audit_log.c.id))]
    assert actions == [("program.save", "fm@example.com"), ("program.save", "fm@example.com"),
                       ("program.deploy", "fm@example.com"), ("program.deploy", "fm@example.com"),
                       ("program.rollback", "fm@example.com"), ("program.disable", "fm@example.com"),
                       ("program.enable", "fm@example.com")]


async def test_a_version_that_cannot_run_is_saved_but_not_deployed(live):  # noqa: F811
    broken = _program(14, outputs=[{"id": "out", "point": "hq/vav-1/zone-temp"}])
    r = await live.put("fm", f"{PROGRAMS}/broken", json={"program": broken})
    assert r.status_code == 201, r.text
    assert r.json()["issues"][0]["path"] == "outputs[0].point"
    r = await live.post("fm", f"{PROGRAMS}/broken/deploy", json=_deploy(1))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["loc"] == ["program", "outputs", 0, "point"]
    info = (await live.get("fm", f"{PROGRAMS}/broken")).json()
    assert info["active_version"] is None and info["status"] is None
    assert (await live.post("fm", f"{PROGRAMS}/broken/enable")).status_code == 409


async def test_a_bad_document_is_refused_field_by_field(live):  # noqa: F811
    r = await live.put("fm", f"{PROGRAMS}/p", json={"program": {"blocks": [{"id": "b", "block": "pid",
                                                                            "colour": "red"}]}})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"loc": ["body", "program", "blocks", 0, "colour"], "msg": "unknown field",
                                   "type": "program"}]
    r = await live.put("fm", f"{PROGRAMS}/p", json={"program": {"site": "lab"}})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "program", "site"]
    r = await live.put("fm", f"{PROGRAMS}/p", json={"program": {"id": "q"}})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "program", "id"]
    assert (await live.get("fm", PROGRAMS)).json()["items"] == []


async def test_program_ids_are_per_site_and_another_sites_programs_change_no_answer(live):  # noqa: F811
    lab = {"constants": [{"id": "c", "value": 20}], "outputs": [{"id": "o", "point": "lab/fc-1/sp"}],
           "wires": [{"from": "c", "to": "o"}]}
    before = await live.put("fm", f"{PROGRAMS}/fresh", json={"program": _program(14)})
    r = await live.put("admin", "/api/v1/sites/lab/programs/shared", json={"program": lab})
    assert r.status_code == 201
    after = await live.put("fm", f"{PROGRAMS}/shared", json={"program": _program(14)})
    assert (before.status_code, after.status_code) == (201, 201)  # an id used on lab answers as any other
    assert after.json() == {"id": "shared", "version": 1, "issues": [], "created": True, "note": ""}
    assert (await live.post("admin", f"{PROGRAMS}/shared/deploy", json=_deploy(1))).status_code == 200
    assert (await live.post("admin", "/api/v1/sites/lab/programs/shared/deploy",
                            json=_deploy(1))).status_code == 200
    await eventually(lambda: _slot10(live) == 14, "hq's program commanding hq")
    await eventually(lambda: live.runtime.arbiter.priority_array("lab/fc-1/sp")[9] == 20,
                     "lab's program of the same id commanding lab")
    hq = (await live.get("admin", f"{PROGRAMS}/shared")).json()
    lab_seen = (await live.get("admin", "/api/v1/sites/lab/programs/shared")).json()
    assert (hq["site"], hq["status"]["outputs"], lab_seen["site"], lab_seen["status"]["outputs"]) == (
        "hq", {"out": 14}, "lab", {"o": 20})
    assert (await live.post("admin", f"{PROGRAMS}/shared/disable")).status_code == 200
    await eventually(lambda: _slot10(live) is None, "hq's program released")
    lab_after = (await live.get("admin", "/api/v1/sites/lab/programs/shared")).json()
    assert lab_after["enabled"] is True and lab_after["status"]["state"] == "running"
    assert [p["id"] for p in (await live.get("fm", PROGRAMS)).json()["items"]] == ["fresh", "shared"]


async def test_operators_and_viewers_cannot_change_programs_and_other_sites_stay_hidden(live):  # noqa: F811
    assert (await live.put("fm", f"{PROGRAMS}/sat-hold", json={"program": _program(14)})).status_code == 201
    for user in ("viewer", "operator"):
        r = await live.put(user, f"{PROGRAMS}/sat-hold", json={"program": _program(14)})
        assert r.status_code == 403
        assert (await live.post(user, f"{PROGRAMS}/validate", json={})).status_code == 403
        for action in ("disable", "enable", "rollback"):
            assert (await live.post(user, f"{PROGRAMS}/sat-hold/{action}")).status_code == 403
        r = await live.post(user, f"{PROGRAMS}/sat-hold/deploy", json=_deploy(1))
        assert r.status_code == 403
        assert (await live.get(user, f"{PROGRAMS}/sat-hold")).status_code == 200
    for path in (PROGRAMS, f"{PROGRAMS}/sat-hold", f"{PROGRAMS}/sat-hold/versions"):
        r = await live.get("labviewer", path)
        assert r.status_code == 404 and r.json()["detail"] == "no site 'hq'"
    r = await live.post("labviewer", f"{PROGRAMS}/sat-hold/deploy", json=_deploy(1))
    assert r.status_code == 404
    assert (await live.get("viewer", f"{PROGRAMS}/nope")).status_code == 404
    assert _slot10(live) is None


class GatedCatalog(Mapping):
    """The engine's point catalog, holding up the first lookup until the test opens the gate."""

    def __init__(self, inner: Mapping, events: list[str]) -> None:
        self.inner = inner
        self.events = events
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __getitem__(self, key: str) -> object:
        if not self.entered.is_set():
            self.entered.set()
            if not self.opened.wait(20):  # only so that a loop blocked by the validation is let go
                self.events.append("the gate gave up waiting")
        return self.inner[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.inner)

    def __len__(self) -> int:
        return len(self.inner)


def _chain(n: int) -> dict:
    """A valid program of ``n`` add blocks in a row, from the supply-air temperature to its setpoint."""
    blocks = [{"id": f"s{i}", "block": "add", "params": {}} for i in range(n)]
    wires = [{"from": "sat", "to": "s0.in1"}, {"from": "zero", "to": "s0.in2"}]
    for i in range(1, n):
        wires += [{"from": f"s{i - 1}.out", "to": f"s{i}.in1"}, {"from": "zero", "to": f"s{i}.in2"}]
    return {"id": "big", "site": "hq", "inputs": [{"id": "sat", "point": "hq/ahu-1/sat"}],
            "constants": [{"id": "zero", "value": 0}], "blocks": blocks,
            "outputs": [{"id": "o", "point": "hq/ahu-1/sat-sp"}],
            "wires": [*wires, {"from": f"s{n - 1}.out", "to": "o"}]}


async def test_health_is_served_while_a_large_program_validates(live):  # noqa: F811
    events: list[str] = []
    engine = live.runtime.programs
    gate = GatedCatalog(engine.catalog, events)
    engine.catalog = gate
    try:
        validating = asyncio.create_task(live.post("fm", f"{PROGRAMS}/validate", json=_chain(2000)))
        assert await asyncio.to_thread(gate.entered.wait, 30)  # the validation is under way
        for _ in range(3):
            r = await live.get("anonymous", "/api/v1/health")
            events.append(f"health {r.status_code}")
        events.append("gate opened")
        gate.opened.set()
        r = await validating
        events.append(f"validated {r.json()['valid']}")
    finally:
        engine.catalog = gate.inner
    assert events == ["health 200", "health 200", "health 200", "gate opened", "validated True"]


async def test_program_limits_are_field_errors_and_a_program_over_its_cpu_budget_stops(live):  # noqa: F811
    r = await live.put("fm", f"{PROGRAMS}/fast", json={"program": _program(14, period_s=0.000001)})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    (error,) = r.json()["errors"]
    assert error["loc"] == ["body", "program", "period_s"]
    assert error["msg"].startswith("Input should be greater than or equal to 1")
    huge = _chain(2001)
    r = await live.put("fm", f"{PROGRAMS}/huge", json={"program": huge})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"loc": ["body", "program", "blocks"],
                                   "msg": "2001 blocks; a program may have at most 2000", "type": "program"}]
    found = (await live.post("fm", f"{PROGRAMS}/validate", json=huge)).json()
    assert found == {"valid": False, "issues": [{"path": "blocks",
                                                 "message": "2001 blocks; a program may have at most 2000"}]}

    live.runtime.program_store.limits = Limits(max_programs_per_site=1)
    assert (await live.put("fm", f"{PROGRAMS}/sat-hold", json={"program": _program(14)})).status_code == 201
    r = await live.put("fm", f"{PROGRAMS}/other", json={"program": _program(14)})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "program", "id"]
    assert "already has 1 programs, the most a site may have (1)" in r.json()["errors"][0]["msg"]

    assert (await live.post("fm", f"{PROGRAMS}/sat-hold/deploy", json=_deploy(1))).status_code == 200
    await eventually(lambda: _slot10(live) == 14, "the program's command")
    live.runtime.programs.limits = Limits(run_cpu_s=1e-9)  # any evaluation is over this budget
    await live.post("fm", f"{PROGRAMS}/sat-hold/deploy", json=_deploy(1))  # evaluated afresh
    await eventually(lambda: _slot10(live) is None, "the stopped program's slot released")
    status = (await live.get("viewer", f"{PROGRAMS}/sat-hold")).json()["status"]
    assert status["state"] == "failed" and status["cpu_s"] > 0
    assert status["last_error"].startswith("stopped: one evaluation took")
    assert "over the budget of 1e-09 s per evaluation" in status["last_error"]


async def test_saving_the_same_document_twice_makes_one_version_and_says_so(live):  # noqa: F811
    first = await live.put("fm", f"{PROGRAMS}/sat-hold", json={"program": _program(14), "comment": "first"})
    assert (first.status_code, first.json()["version"], first.json()["created"]) == (201, 1, True)
    again = await live.put("fm", f"{PROGRAMS}/sat-hold", json={"program": _program(14), "comment": "again"})
    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["version"], body["created"], body["issues"]) == (1, False, [])
    assert "version 1 holds this document already" in body["note"]
    changed = await live.put("fm", f"{PROGRAMS}/sat-hold", json={"program": _program(15)})
    assert (changed.status_code, changed.json()["version"]) == (201, 2)
    versions = (await live.get("viewer", f"{PROGRAMS}/sat-hold/versions")).json()["items"]
    assert [(v["version"], v["comment"]) for v in versions] == [(1, "first"), (2, "")]
    with live.runtime.state.connect() as conn:
        saves = conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(
            audit_log.c.target == "hq/sat-hold", audit_log.c.action == "program.save")).scalar()
    assert saves == 2  # the save that stored nothing is not audited as one


async def test_a_deploy_needs_a_reason_and_every_reason_is_audited(live):  # noqa: F811
    await live.put("fm", f"{PROGRAMS}/sat-hold", json={"program": _program(14)})
    await live.put("fm", f"{PROGRAMS}/sat-hold", json={"program": _program(15)})
    for body in ({"version": 1}, {"version": 1, "reason": ""}, {"version": 1, "reason": "   "}):
        r = await live.post("fm", f"{PROGRAMS}/sat-hold/deploy", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert ["body", "reason"] in [e["loc"] for e in r.json()["errors"]]
    assert (await live.get("viewer", f"{PROGRAMS}/sat-hold")).json()["active_version"] is None

    r = await live.post("fm", f"{PROGRAMS}/sat-hold/deploy", json={"version": 1, "reason": "winter setpoint"})
    assert r.status_code == 200, r.text
    r = await live.post("fm", f"{PROGRAMS}/sat-hold/deploy", json={"version": 2, "reason": " trial "})
    assert r.status_code == 200, r.text
    r = await live.post("fm", f"{PROGRAMS}/sat-hold/rollback", json={"reason": "zones too warm"})
    assert r.status_code == 200 and r.json()["active_version"] == 1
    r = await live.post("fm", f"{PROGRAMS}/sat-hold/disable", json={"reason": "valve work"})
    assert r.status_code == 200
    assert (await live.post("fm", f"{PROGRAMS}/sat-hold/enable")).status_code == 200  # a reason is optional
    with live.runtime.state.connect() as conn:
        rows = [(r.action, r.details.get("reason")) for r in conn.execute(
            sa.select(audit_log).where(audit_log.c.target == "hq/sat-hold",
                                       audit_log.c.action != "program.save").order_by(audit_log.c.id))]
    assert rows == [("program.deploy", "winter setpoint"), ("program.deploy", "trial"),
                    ("program.rollback", "zones too warm"), ("program.disable", "valve work"),
                    ("program.enable", None)]
