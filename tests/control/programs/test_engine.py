"""The engine through the real arbiter, driver manager and SimDriver, on a manual clock."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from openbms.control.programs import Program, ProgramError
from tests.control.programs.rig import Rig, pid, program

A, B, OUT1, OUT2 = pid("a"), pid("b"), pid("out1"), pid("out2")


def chain(prog_id: str = "p1", x: str = "a", out: str = "out1", **probe: Any) -> Program:
    """x → c1 → c2 → c3 → out, and y → d (a separate branch)."""
    return program(
        id=prog_id,
        inputs=[{"id": "x", "point": pid(x)}, {"id": "y", "point": pid("b")}],
        blocks=[{"id": "c1", "block": "probe", "params": {"tag": f"{prog_id}.c1", **probe}},
                {"id": "c3", "block": "probe", "params": {"tag": f"{prog_id}.c3"}},
                {"id": "c2", "block": "probe", "params": {"tag": f"{prog_id}.c2"}},
                {"id": "d", "block": "probe", "params": {"tag": f"{prog_id}.d"}}],
        outputs=[{"id": "o", "point": pid(out)}],
        wires=[{"from": "x", "to": "c1.in1"}, {"from": "c2.out", "to": "c3.in1"},
               {"from": "c1.out", "to": "c2.in1"}, {"from": "y", "to": "d.in1"},
               {"from": "c3.out", "to": "o"}])


async def test_an_input_change_steps_only_the_blocks_downstream_in_order(probe):
    rig = Rig()
    rig.engine.load(chain(), 1)
    await rig.engine.idle()
    probe.clear()
    await rig.publish({A: 7.0})
    assert probe == ["p1.c1", "p1.c2", "p1.c3"]  # one feed, topological order, not d
    assert rig.slot(OUT1) == 7.0 and rig.device(OUT1) == 7.0
    assert rig.io.writes == [(OUT1, 7.0, 16)]  # effective mode: the device slot of the point


async def test_a_diamond_is_computed_once_per_step(probe):
    rig = Rig()
    rig.engine.load(program(
        inputs=[{"id": "x", "point": A}],
        blocks=[{"id": "top", "block": "probe", "params": {"tag": "top"}},
                {"id": "left", "block": "probe", "params": {"tag": "left"}},
                {"id": "right", "block": "probe", "params": {"tag": "right"}},
                {"id": "join", "block": "probe", "params": {"tag": "join"}}],
        outputs=[{"id": "o", "point": OUT1}],
        wires=[{"from": "x", "to": "top.in1"}, {"from": "top.out", "to": "left.in1"},
               {"from": "top.out", "to": "right.in1"}, {"from": "left.out", "to": "join.in1"},
               {"from": "right.out", "to": "join.in2"}, {"from": "join.out", "to": "o"}]), 1)
    await rig.engine.idle()
    probe.clear()
    await rig.publish({A: 5.0})
    assert Counter(probe) == {"top": 1, "left": 1, "right": 1, "join": 1}
    assert probe[0] == "top" and probe[-1] == "join"
    assert rig.slot(OUT1) == 10.0


async def test_a_feedback_loop_through_a_delay_uses_the_previous_step():
    rig = Rig()
    rig.engine.load(program(  # peak hold: out = max(x, out one step ago)
        inputs=[{"id": "x", "point": A}],
        blocks=[{"id": "peak", "block": "max", "params": {}},
                {"id": "prev", "block": "delay", "params": {"t": 0}}],
        outputs=[{"id": "o", "point": OUT1}],
        wires=[{"from": "x", "to": "peak.in1"}, {"from": "prev.out", "to": "peak.in2"},
               {"from": "peak.out", "to": "prev.x"}, {"from": "peak.out", "to": "o"}]), 1)
    await rig.publish({A: 5.0})
    await rig.tick(5)
    assert rig.slot(OUT1) == 5.0
    await rig.publish({A: 3.0})  # the loop holds the peak: it sees the previous step's 5
    assert rig.slot(OUT1) == 5.0
    await rig.tick(5)
    assert rig.slot(OUT1) == 5.0
    await rig.publish({A: 8.0})
    assert rig.slot(OUT1) == 8.0


async def test_a_loop_without_a_delay_is_refused_and_the_running_version_stays():
    rig = Rig()
    good = program(constants=[{"id": "k", "value": 20}], outputs=[{"id": "o", "point": OUT1}],
                   wires=[{"from": "k", "to": "o"}])
    rig.engine.load(good, 1)
    bad = program(
        inputs=[{"id": "x", "point": A}],
        blocks=[{"id": "s", "block": "add", "params": {}}, {"id": "t", "block": "add", "params": {}}],
        outputs=[{"id": "o", "point": OUT1}],
        wires=[{"from": "x", "to": "s.in1"}, {"from": "t.out", "to": "s.in2"},
               {"from": "s.out", "to": "t.in1"}, {"from": "x", "to": "t.in2"}, {"from": "s.out", "to": "o"}])
    with pytest.raises(ProgramError, match="a loop that no delay breaks: s → t → s"):
        rig.engine.load(bad, 2)
    await rig.engine.idle()
    assert rig.engine.status(site="hq")["p1"].version == 1 and rig.slot(OUT1) == 20


async def test_a_block_that_raises_fails_its_program_only(probe):
    rig = Rig()
    rig.engine.load(chain("bad", fail_on=13), 1)
    rig.engine.load(chain("good", x="c", out="out2"), 1)
    await rig.publish({A: 5.0, pid("c"): 1.0})
    assert rig.slot(OUT1) == 5.0
    await rig.publish({A: 13.0})  # the first error: counted, the program runs on
    status = rig.engine.status(site="hq")["bad"]
    assert (status.state, status.errors) == ("running", 1)
    assert "block 'c1' (probe) raised ValueError: probe 'bad.c1' cannot take 13" in status.last_error
    await rig.tick(5)  # c1 is time-based: the next periods raise again
    await rig.tick(5)
    status = rig.engine.status(site="hq")["bad"]
    assert (status.state, status.errors) == ("failed", 3)
    assert rig.slot(OUT1) is None  # a failed program hands its slots back
    await rig.publish({pid("c"): 2.0})
    assert rig.slot(OUT2) == 2.0 and rig.engine.status(site="hq")["good"].state == "running"
    await rig.publish({A: 4.0})
    assert rig.slot(OUT1) is None  # the failed program stays stopped…
    rig.engine.enable("bad")  # …until it is enabled (or a new version is deployed)
    await rig.engine.idle()
    assert rig.slot(OUT1) == 4.0 and rig.engine.status(site="hq")["bad"].state == "running"


async def test_a_refused_write_is_an_error_of_its_program_and_the_others_carry_on():
    rig = Rig()
    for prog_id, point, out in (("p1", "a", "out1"), ("p2", "b", "out2")):
        rig.engine.load(program(id=prog_id, inputs=[{"id": "x", "point": pid(point)}],
                                outputs=[{"id": "o", "point": pid(out)}],
                                wires=[{"from": "x", "to": "o"}]), 1)
    await rig.publish({A: 80.0, B: 21.0})  # out1 takes 0–50
    status = rig.engine.status(site="hq")["p1"]
    assert (status.state, status.errors, status.writes) == ("running", 1, 0)
    assert "write refused: hq/plant/out1: 80 is above the point's maximum 50 degC" in status.last_error
    assert rig.slot(OUT1) is None and rig.slot(OUT2) == 21.0
    await rig.publish({A: 30.0})
    assert rig.slot(OUT1) == 30.0 and rig.engine.status(site="hq")["p1"].writes == 1


async def test_outputs_are_written_only_when_they_change_and_none_releases():
    rig = Rig()
    rig.engine.load(program(
        inputs=[{"id": "x", "point": A}, {"id": "y", "point": B}],
        blocks=[{"id": "lim", "block": "limit", "params": {"lo": 10, "hi": 20}}],
        outputs=[{"id": "o", "point": OUT1},
                 {"id": "keep", "point": OUT2, "release_when_none": False}],
        wires=[{"from": "x", "to": "lim.x"}, {"from": "lim.out", "to": "o"}, {"from": "y", "to": "keep"}]), 1)
    await rig.publish({A: 25.0, B: 5.0})
    assert rig.slot(OUT1) == 20.0 and rig.slot(OUT2) == 5.0
    commands = rig.engine.status(site="hq")["p1"].writes
    await rig.publish({A: 30.0, B: 5.0})  # still 20 after the limit; b unchanged
    assert rig.engine.status(site="hq")["p1"].writes == commands
    await rig.publish({A: 15.0})
    assert rig.slot(OUT1) == 15.0
    await rig.publish({A: 15.0, B: 5.0}, status="offline")  # offline: the values arrive as None
    assert rig.slot(OUT1) is None  # released: the relinquish default or a lower slot takes over
    assert rig.slot(OUT2) == 5.0  # release_when_none false: the last command stays
    assert rig.engine.status(site="hq")["p1"].outputs == {"o": None, "keep": 5.0}


async def test_time_based_blocks_run_on_the_period_of_their_program():
    rig = Rig()
    rig.engine.load(program(
        period_s=10,
        inputs=[{"id": "pv", "point": A}], constants=[{"id": "sp", "value": 20.0}],
        blocks=[{"id": "loop", "block": "pid",
                 "params": {"kp": 1, "ti": 100, "action": "reverse", "out_max": 50}}],
        outputs=[{"id": "o", "point": OUT1}],
        wires=[{"from": "pv", "to": "loop.pv"}, {"from": "sp", "to": "loop.sp"},
               {"from": "loop.out", "to": "o"}]), 1)
    await rig.publish({A: 18.0})
    first = rig.slot(OUT1)
    assert first == pytest.approx(2.0)  # P only at the first step
    task = asyncio.create_task(rig.engine.run())
    try:
        for _ in range(6):
            await rig.clock.advance(10)
            await rig.engine.idle()
        runs = rig.engine.status(site="hq")["p1"].runs
        assert runs >= 6
        assert rig.slot(OUT1) > first  # the integral acts without any input change
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_redeploy_carries_block_state_over_bumplessly():
    rig = Rig()

    def version(kp: float, extra_output: bool) -> Program:
        spare = [{"id": "spare", "point": OUT2}] if extra_output else []
        spare_wire = [{"from": "sp", "to": "spare"}] if extra_output else []
        return program(
            inputs=[{"id": "pv", "point": A}], constants=[{"id": "sp", "value": 20.0}],
            blocks=[{"id": "loop", "block": "pid", "params": {"kp": kp, "ti": 60, "action": "reverse"}}],
            outputs=[{"id": "o", "point": OUT1}, *spare],
            wires=[{"from": "pv", "to": "loop.pv"}, {"from": "sp", "to": "loop.sp"},
                   {"from": "loop.out", "to": "o"}, *spare_wire])

    rig.engine.load(version(1.0, True), 1)
    await rig.publish({A: 18.0})
    for _ in range(10):
        await rig.tick(5)
    before = rig.slot(OUT1)
    assert isinstance(before, float) and before > 2.0 and rig.slot(OUT2) == 20.0
    rig.engine.load(version(1.0, False), 2)  # same block id and kind: its integral carries over
    await rig.engine.idle()
    await rig.tick(5)
    after = rig.slot(OUT1)
    assert isinstance(after, float) and before < after < before + 0.5  # no bump back to P only
    assert rig.slot(OUT2) is None  # an output the new version dropped is released
    assert rig.engine.status(site="hq")["p1"].version == 2


async def test_disable_releases_and_enable_commands_again():
    rig = Rig()
    rig.engine.load(program(inputs=[{"id": "x", "point": A}], outputs=[{"id": "o", "point": OUT1}],
                            wires=[{"from": "x", "to": "o"}]), 1)
    await rig.publish({A: 12.0})
    await rig.engine.disable("p1")
    assert rig.slot(OUT1) is None and rig.engine.status(site="hq")["p1"].state == "disabled"
    await rig.publish({A: 13.0})
    assert rig.slot(OUT1) is None
    rig.engine.enable("p1")
    await rig.engine.idle()
    assert rig.slot(OUT1) == 13.0
    await rig.engine.unload("p1")
    assert rig.slot(OUT1) is None and rig.engine.loaded() == []


async def test_an_enum_output_gets_a_state_number_and_a_bool_output_a_bool():
    rig = Rig()
    rig.engine.load(program(
        inputs=[{"id": "x", "point": A}],
        blocks=[{"id": "hot", "block": "compare", "params": {"op": "gt", "b": 25}},
                {"id": "pick", "block": "limit", "params": {"lo": 1, "hi": 3}}],
        outputs=[{"id": "flag", "point": pid("bflag")}, {"id": "mode", "point": pid("mode")}],
        wires=[{"from": "x", "to": "hot.a"}, {"from": "hot.out", "to": "flag"},
               {"from": "x", "to": "pick.x"}, {"from": "pick.out", "to": "mode"}]), 1)
    await rig.publish({A: 30.0})
    assert rig.slot(pid("bflag")) is True and rig.slot(pid("mode")) == 3
    assert rig.engine.status(site="hq")["p1"].errors == 0

