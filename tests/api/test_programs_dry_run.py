"""Dry run: an edited program live on the live inputs for a while, its outputs computed and never written."""

from __future__ import annotations

from tests.api.live import live  # noqa: F401  (the fixture)
from tests.fixtures.waiting import eventually

PROGRAMS = "/api/v1/sites/hq/programs"
SAT_SP = "hq/ahu-1/sat-sp"


def _hold(setpoint: float) -> dict:
    """The supply-air setpoint held at a constant, plus the live SAT through a limit (a live input)."""
    return {"name": "hold", "period_s": 1,
            "inputs": [{"id": "sat", "point": "hq/ahu-1/sat"}],
            "constants": [{"id": "sp", "value": setpoint}],
            "blocks": [{"id": "lim", "block": "limit", "params": {"lo": 0, "hi": 100}},
                       {"id": "on", "block": "delay_on", "params": {"t": 600}},
                       {"id": "hot", "block": "compare", "params": {"op": "gt", "b": 0}}],
            "outputs": [{"id": "out", "point": SAT_SP}],
            "wires": [{"from": "sp", "to": "out"}, {"from": "sat", "to": "lim.x"},
                      {"from": "lim.out", "to": "hot.a"}, {"from": "hot.out", "to": "on.x"}]}


def _slot10(live):  # noqa: F811
    return live.runtime.arbiter.priority_array(SAT_SP)[9]


async def test_a_dry_run_computes_live_and_writes_nothing_beside_the_deployed_version(live):  # noqa: F811
    assert (await live.put("fm", f"{PROGRAMS}/hold", json={"program": _hold(14)})).status_code == 201
    r = await live.post("fm", f"{PROGRAMS}/hold/deploy", json={"version": 1, "reason": "test"})
    assert r.status_code == 200, r.text
    await eventually(lambda: _slot10(live) == 14, "the deployed version's command")
    commands = await live.runtime.commands.recent("hq", limit=1000)

    r = await live.post("fm", f"{PROGRAMS}/hold/dry-run", json={"program": _hold(16), "duration_s": 600})
    assert r.status_code == 201, r.text
    started = r.json()
    assert started["running"] is True and started["started_by"] == "fm@example.com"
    assert started["until"] == started["started_at"] + 600
    engine = live.runtime.programs
    dry = live.runtime.dry_runs.get("hq", "hold")
    await eventually(lambda: dry.engine.values("hold", site="hq").get("lim.out") is not None
                     and dry.engine.status("hold", site="hq")["hold"].outputs == {"out": 16},
                     "the dry run's first evaluation with a live input")

    seen = (await live.get("viewer", f"{PROGRAMS}/hold/dry-run")).json()
    assert seen["status"]["outputs"] == {"out": 16} and seen["status"]["state"] == "running"
    assert seen["values"]["sp.value"] == 16 and isinstance(seen["values"]["lim.out"], float)
    assert seen["block_states"]["on"]["remaining_s"] is not None  # the timer runs, live
    assert seen["would_write"] >= 1
    # Nothing was written: the deployed version still holds its slot, no command was made.
    assert _slot10(live) == 14
    assert engine.status("hold", site="hq")["hold"].outputs == {"out": 14}
    assert await live.runtime.commands.recent("hq", limit=1000) == commands
    audit = (await live.get("admin", "/api/v1/audit")).json()["items"]
    assert [a["target"] for a in audit if a["action"] == "program.dry_run"] == ["hq/hold"]

    assert (await live.delete("fm", f"{PROGRAMS}/hold/dry-run")).status_code == 204
    assert (await live.get("viewer", f"{PROGRAMS}/hold/dry-run")).status_code == 404
    assert dry.task.done() and dry.ended_at is not None


async def test_who_may_dry_run_and_what_is_refused(live):  # noqa: F811
    r = await live.post("operator", f"{PROGRAMS}/x/dry-run", json={"program": _hold(15)})
    assert r.status_code == 403
    r = await live.post("fm", f"{PROGRAMS}/x/dry-run", json={"program": _hold(15), "duration_s": 901})
    assert r.status_code == 422
    broken = {**_hold(15), "outputs": [{"id": "out", "point": "hq/vav-1/zone-temp"}]}
    r = await live.post("fm", f"{PROGRAMS}/x/dry-run", json={"program": broken})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "program", "outputs", 0, "point"]
    r = await live.post("fm", f"{PROGRAMS}/nothing-saved/dry-run", json={})
    assert r.status_code == 404  # no document and no saved version
    r = await live.post("fm", f"{PROGRAMS}/x/dry-run", json={"program": _hold(15), "duration_s": 5})
    assert r.status_code == 201
    again = await live.post("fm", f"{PROGRAMS}/x/dry-run", json={"program": _hold(17), "duration_s": 5})
    assert again.status_code == 201  # replaces the first: one per program
    runs = live.runtime.dry_runs
    assert runs.get("hq", "x").program.constants[0].value == 17
