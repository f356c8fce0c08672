"""Commissioning overrides of a running program: a block's output held in the engine, an output's point
commanded through the arbiter; both timed and audited."""

from __future__ import annotations

from tests.api.live import live  # noqa: F401  (the fixture)
from tests.fixtures.waiting import eventually

PROGRAMS = "/api/v1/sites/hq/programs"
SAT_SP = "hq/ahu-1/sat-sp"


def _program() -> dict:
    """A constant 14 through a limit block to the SAT setpoint (priority 10)."""
    return {"name": "commission me", "period_s": 1,
            "constants": [{"id": "sp", "value": 14}],
            "blocks": [{"id": "lim", "block": "limit", "params": {"lo": 10, "hi": 18}}],
            "outputs": [{"id": "out", "point": SAT_SP}],
            "wires": [{"from": "sp", "to": "lim.x"}, {"from": "lim.out", "to": "out"}]}


def _slot(live, priority: int):  # noqa: F811
    return live.runtime.arbiter.priority_array(SAT_SP)[priority - 1]


async def test_block_and_point_overrides_are_timed_listed_released_and_audited(live):  # noqa: F811
    assert (await live.put("fm", f"{PROGRAMS}/cx", json={"program": _program()})).status_code == 201
    deployed = await live.post("fm", f"{PROGRAMS}/cx/deploy", json={"version": 1, "reason": "t"})
    assert deployed.status_code == 200
    await eventually(lambda: _slot(live, 10) == 14, "the program's command")
    now = live.runtime.clock.now()

    r = await live.post("fm", f"{PROGRAMS}/cx/overrides",
                        json={"port": "lim.out", "value": 16.5, "duration_s": 600, "reason": "stroke test"})
    assert r.status_code == 201, r.text
    block = r.json()
    assert (block["kind"], block["port"], block["value"]) == ("block", "lim.out", 16.5)
    assert now + 600 <= block["until"] <= live.runtime.clock.now() + 600
    await eventually(lambda: _slot(live, 10) == 16.5, "the held block output at the program's priority")

    r = await live.post("fm", f"{PROGRAMS}/cx/overrides",
                        json={"port": "out", "value": 12, "duration_s": 300, "reason": "hand"})
    assert r.status_code == 201, r.text
    point = r.json()
    assert (point["kind"], point["point"], point["priority"]) == ("point", SAT_SP, 8)
    assert point["until"] is not None and _slot(live, 8) == 12
    assert live.runtime.arbiter.effective(SAT_SP) == 12

    listed = (await live.get("viewer", f"{PROGRAMS}/cx/overrides")).json()
    assert [(o["kind"], o["port"], o["value"], o["requested_by"]) for o in listed] == [
        ("block", "lim.out", 16.5, "fm@example.com"), ("point", "out", 12, "fm@example.com")]

    assert (await live.delete("fm", f"{PROGRAMS}/cx/overrides/lim.out")).status_code == 204
    await eventually(lambda: _slot(live, 10) == 14, "the block's own output again")
    r = await live.delete("fm", f"{PROGRAMS}/cx/overrides/out", params={"priority": 10})
    assert r.status_code == 404  # the program's own slot is never released as an override
    assert (await live.delete("fm", f"{PROGRAMS}/cx/overrides/out")).status_code == 204
    assert _slot(live, 8) is None and _slot(live, 10) == 14
    assert (await live.get("viewer", f"{PROGRAMS}/cx/overrides")).json() == []

    audit = (await live.get("admin", "/api/v1/audit")).json()["items"]
    assert sorted(a["action"] for a in audit if a["target"] == "hq/cx"
                  and a["action"] in ("program.override", "program.release")) == [
        "program.override", "program.override", "program.release", "program.release"]


async def test_who_may_override_and_what_cannot_be(live):  # noqa: F811
    assert (await live.put("fm", f"{PROGRAMS}/cx", json={"program": _program()})).status_code == 201
    body = {"port": "lim.out", "value": 15, "reason": "x"}
    assert (await live.post("fm", f"{PROGRAMS}/cx/overrides", json=body)).status_code == 409  # not running
    deployed = await live.post("fm", f"{PROGRAMS}/cx/deploy", json={"version": 1, "reason": "t"})
    assert deployed.status_code == 200
    assert (await live.post("operator", f"{PROGRAMS}/cx/overrides", json=body)).status_code == 403
    assert (await live.post("viewer", f"{PROGRAMS}/cx/overrides", json=body)).status_code == 403
    r = await live.post("fm", f"{PROGRAMS}/cx/overrides", json={**body, "port": "sp"})
    assert r.status_code == 422 and "neither a wired output of a block" in r.text
    r = await live.post("fm", f"{PROGRAMS}/cx/overrides", json={**body, "reason": " "})
    assert r.status_code == 422


async def test_an_override_that_is_no_finite_number_is_a_422_and_holds_nothing(live):  # noqa: F811
    assert (await live.put("fm", f"{PROGRAMS}/nan", json={"program": _program()})).status_code == 201
    deployed = await live.post("fm", f"{PROGRAMS}/nan/deploy", json={"version": 1, "reason": "t"})
    assert deployed.status_code == 200
    await eventually(lambda: _slot(live, 10) == 14, "the program's command")
    for raw in ("NaN", "Infinity", "-Infinity"):  # JSON as Python's json writes them
        body = '{"port": "lim.out", "value": ' + raw + ', "duration_s": 60, "reason": "x"}'
        r = await live.post("fm", f"{PROGRAMS}/nan/overrides", content=body,
                            headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert "not a finite number" in r.text
    assert (await live.get("viewer", f"{PROGRAMS}/nan/overrides")).json() == []
    assert _slot(live, 10) == 14
