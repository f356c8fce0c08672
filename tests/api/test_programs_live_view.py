"""The live view of a running program: wire values and each block's insides (PID terms, timers)."""

from __future__ import annotations

from tests.api.live import live  # noqa: F401  (the fixture)
from tests.fixtures.waiting import eventually

PROGRAMS = "/api/v1/sites/hq/programs"


def _loop() -> dict:
    """The zone setpoint from a PI loop on the supply air, and an on-delay on the fan command."""
    return {"name": "live view", "period_s": 1,
            "inputs": [{"id": "sat", "point": "hq/ahu-1/sat"}],
            "constants": [{"id": "sp", "value": 14}, {"id": "on", "value": True}],
            "blocks": [{"id": "loop", "block": "pid", "params": {"kp": 0.5, "ti": 60, "action": "reverse",
                                                                  "out_min": 16, "out_max": 28}},
                       {"id": "wait", "block": "delay_on", "params": {"t": 3600}}],
            "outputs": [{"id": "zsp", "point": "hq/vav-1/zone-sp"},
                        {"id": "fan", "point": "hq/ahu-1/fan-cmd"}],
            "wires": [{"from": "sat", "to": "loop.pv"}, {"from": "sp", "to": "loop.sp"},
                      {"from": "loop.out", "to": "zsp"}, {"from": "on", "to": "wait.x"},
                      {"from": "wait.out", "to": "fan"}]}


async def test_a_running_program_shows_each_blocks_state_beside_its_wire_values(live):  # noqa: F811
    assert (await live.put("fm", f"{PROGRAMS}/live", json={"program": _loop()})).status_code == 201
    r = await live.post("fm", f"{PROGRAMS}/live/deploy", json={"version": 1, "reason": "test"})
    assert r.status_code == 200, r.text

    async def states() -> dict:
        return (await live.get("viewer", f"{PROGRAMS}/live")).json()

    engine = live.runtime.programs
    await eventually(lambda: engine.block_states("live", site="hq")["loop"]["p"] is not None,
                     "the PID's first step")
    detail = await states()
    loop, wait = detail["block_states"]["loop"], detail["block_states"]["wait"]
    assert set(loop) >= {"p", "i", "d", "out"}
    assert loop["out"] == detail["values"]["loop.out"]
    assert 0 < wait["remaining_s"] <= 3600 and wait["since"] is not None
    assert detail["values"]["wait.out"] is False
    saved = (await live.get("viewer", f"{PROGRAMS}/live", params={"version": 1})).json()
    assert saved["block_states"] is not None  # the running version's, whichever version is shown
    r = await live.post("fm", f"{PROGRAMS}/live/disable")
    assert r.json()["block_states"] is not None  # a disabled program is still loaded: its last state
