"""Replaying a program over recorded history: outputs computed from the historian's rows, nothing written."""

from __future__ import annotations

from typing import Any

from openbms.control.blocks import create_block
from openbms.model.sample import FAULT, OK, Sample
from tests.api.live import live  # noqa: F401  (the fixture)

REPLAY = "/api/v1/sites/hq/programs/replay"
SAT, ZONE, ZONE_SP = "hq/ahu-1/sat", "hq/vav-1/zone-temp", "hq/vav-1/zone-sp"
STEP = 10.0


def _program() -> dict[str, Any]:
    """The mean of SAT and the zone temperature, rate limited, to the zone setpoint."""
    return {"name": "replay me", "period_s": STEP,
            "inputs": [{"id": "sat", "point": SAT}, {"id": "zone", "point": ZONE}],
            "blocks": [{"id": "mean", "block": "expression", "params": {"formula": "(sat + zone) / 2"}},
                       {"id": "ramp", "block": "rate_limit", "params": {"rate_up": 0.05}}],
            "outputs": [{"id": "sp", "point": ZONE_SP, "priority": 12}],
            "wires": [{"from": "sat", "to": "mean.sat"}, {"from": "zone", "to": "mean.zone"},
                      {"from": "mean.out", "to": "ramp.x"}, {"from": "ramp.out", "to": "sp"}]}


def _history(t0: float) -> dict[str, list[Sample]]:
    """An hour before the test, minutes apart, one sample in fault; the zone's first before the range."""
    sat = [Sample(SAT, t0 + 7 * i, 12.0 + (i % 5), FAULT if i == 20 else OK) for i in range(60)]
    zone = [Sample(ZONE, t0 - 30, 21.0)] + [Sample(ZONE, t0 + 95 + 60 * i, 21.0 + i / 4) for i in range(8)]
    recorded_sp = [Sample(ZONE_SP, t0 + 100, 19.5), Sample(ZONE_SP, t0 + 300, 20.0)]
    return {SAT: sat, ZONE: zone, ZONE_SP: recorded_sp}


def _by_hand(history: dict[str, list[Sample]], start: float, end: float) -> list[list[Any]]:
    """The program's output computed step by step with fresh blocks: its changes."""
    mean = create_block("expression", {"formula": "(sat + zone) / 2"})
    ramp = create_block("rate_limit", {"rate_up": 0.05})

    def at(point: str, t: float) -> Any:
        before = [s for s in history[point] if s.ts <= t]
        return before[-1].value if before and before[-1].status == OK else None

    out: list[list[Any]] = []
    t = start
    while t <= end:
        x = mean.step(t, {"sat": at(SAT, t), "zone": at(ZONE, t)})["out"]
        y = ramp.step(t, {"x": x})["out"]
        if not out or out[-1][1] != y or type(out[-1][1]) is not type(y):
            out.append([t, y])
        t += STEP
    if out[-1][0] != t - STEP:
        out.append([t - STEP, out[-1][1]])
    return out


async def test_replay_computes_outputs_from_recorded_inputs_and_writes_nothing(live):  # noqa: F811
    runtime = live.runtime
    t0 = float(int(runtime.clock.now()) - 7200)
    history = _history(t0)
    runtime.historian.ingest([s for samples in history.values() for s in samples])
    await runtime.historian.flush()
    commands_before = await runtime.commands.recent("hq", limit=1000)
    array_before = runtime.arbiter.priority_array(ZONE_SP)

    start, end = t0, t0 + 600
    r = await live.post("viewer", REPLAY, json={"program": _program(), "start": start, "end": end})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["start"], answer["end"], answer["step_s"], answer["steps"]) == (start, end, STEP, 61)
    (out,) = answer["outputs"]
    assert (out["id"], out["point"], out["priority"]) == ("sp", ZONE_SP, 12)
    expected = _by_hand(history, start, end)
    assert out["computed"] == expected
    assert len(expected) > 10  # a moving ramp
    assert out["recorded"] == [[t0 + 100, 19.5], [t0 + 300, 20.0]]
    assert answer["values"]["ramp.out"] == expected
    assert answer["values"]["zone.value"][0] == [start, 21.0]  # the row before the range counts
    assert [t0 + 140, None] in answer["values"]["sat.value"]  # the sample in fault: unknown
    assert [t0 + 140, None] in answer["values"]["mean.out"]

    assert await runtime.commands.recent("hq", limit=1000) == commands_before
    assert runtime.arbiter.priority_array(ZONE_SP) == array_before
    assert runtime.programs.status(site="hq") == {}


async def test_replay_refuses_what_it_cannot_do_and_viewers_of_other_sites(live):  # noqa: F811
    now = live.runtime.clock.now()
    r = await live.post("viewer", REPLAY, json={"program": _program(), "start": now - 8 * 86400, "end": now})
    assert r.status_code == 422 and "at most 7 days" in r.text
    r = await live.post("viewer", REPLAY, json={"program": _program(), "start": now})
    assert r.status_code == 422 and "both start and end" in r.text
    broken = {**_program(), "outputs": [{"id": "sp", "point": "hq/vav-1/zone-temp"}]}
    r = await live.post("viewer", REPLAY, json={"program": broken, "start": now - 600, "end": now})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "program", "outputs", 0, "point"]
    r = await live.post("viewer", REPLAY, json={"program": _program(), "start": now - 86400, "end": now,
                                                "step_s": 1})
    assert r.status_code == 200, r.text  # 86 401 steps of 2 blocks: within the bound
    assert r.json()["steps"] == 86401 and len(r.json()["outputs"][0]["computed"]) <= 5000
    r = await live.post("labviewer", REPLAY, json={"program": _program(), "start": now - 600, "end": now})
    assert r.status_code == 404
    r = await live.post("viewer", REPLAY, json={"program": _program()})  # yesterday, the site's day
    assert r.status_code == 200 and r.json()["end"] - r.json()["start"] in (82800, 86400, 90000)
