"""Releasing a commissioning override: the program's own value takes effect again (issue 20).

Both forms the editor offers: a block's output held in the engine, and an
output node's point held through the arbiter at a priority above the
program's. Inputs stay unchanged across the release: nothing but the release
itself may make the program write again. Through the real arbiter, driver
manager and SimDriver (``Rig``).
"""

from __future__ import annotations

import asyncio
import time

from openbms.control.programs import Program
from tests.control.programs.rig import Rig, pid, program
from tests.fixtures.waiting import eventually

OAT, RAT, ENABLE = pid("a"), pid("b"), pid("bflag")
PRIORITY = 9  # the program's slot, as the editor's e2e economiser uses


def _economiser() -> Program:
    """oat < rat → the economiser enable, at priority 9 (the editor's e2e program)."""
    return program(id="econ",
                   inputs=[{"id": "oat", "point": OAT}, {"id": "rat", "point": RAT}],
                   blocks=[{"id": "compare", "block": "compare", "params": {"op": "lt"}}],
                   outputs=[{"id": "econ-enable", "point": ENABLE, "priority": PRIORITY}],
                   wires=[{"from": "oat", "to": "compare.a"}, {"from": "rat", "to": "compare.b"},
                          {"from": "compare.out", "to": "econ-enable"}])


async def _enabled(rig: Rig) -> None:
    rig.engine.load(_economiser(), 1)
    await rig.publish({OAT: 10.0, RAT: 21.0})
    assert rig.slot(ENABLE, PRIORITY) is True and rig.device(ENABLE) is True


async def test_a_released_block_output_is_written_again_with_the_inputs_unchanged():
    rig = Rig()
    await _enabled(rig)
    rig.engine.override("econ", "hq", "compare", "out", False, None)
    await rig.engine.idle()
    assert rig.slot(ENABLE, PRIORITY) is False and rig.device(ENABLE) is False
    assert rig.engine.release_override("econ", "hq", "compare", "out") is True
    await rig.engine.idle()  # no sample since: the release alone recomputes the block
    assert rig.slot(ENABLE, PRIORITY) is True and rig.device(ENABLE) is True
    status = rig.engine.status("econ", "hq")["econ"]
    assert (status.state, status.errors, status.outputs) == ("running", 0, {"econ-enable": True})


async def test_a_release_is_written_by_the_running_engine_under_event_loop_lag():
    """The engine ticking as a service does (``run``), with a coroutine holding the loop for longer
    than an evaluation's CPU budget again and again: that lag is not the program's, so it keeps
    running, and the release is written on the loop's next turns without any sample."""
    rig = Rig()
    await _enabled(rig)
    ticking = asyncio.create_task(rig.engine.run())
    budget = rig.engine.limits.run_cpu_s

    async def busy() -> None:
        while True:
            start = time.thread_time()
            while time.thread_time() - start < budget * 1.2:
                pass  # CPU on the loop's thread, outside any evaluation
            await asyncio.sleep(0.05)  # a few turns of the loop between two stalls

    lag = asyncio.create_task(busy())
    try:
        rig.engine.override("econ", "hq", "compare", "out", False, None)
        await eventually(lambda: rig.slot(ENABLE, PRIORITY) is False, "the held value written", within=60)
        await rig.clock.advance(3 * _economiser().period_s)  # a few periods pass while it is held
        rig.engine.release_override("econ", "hq", "compare", "out")
        await eventually(lambda: rig.slot(ENABLE, PRIORITY) is True and rig.device(ENABLE) is True,
                         "the program's own value written again", within=60)
    finally:
        for task in (lag, ticking):
            task.cancel()
        await asyncio.gather(lag, ticking, return_exceptions=True)
    status = rig.engine.status("econ", "hq")["econ"]
    assert (status.state, status.errors) == ("running", 0), status.last_error


async def test_a_release_while_the_block_cannot_compute_releases_the_programs_slot():
    """What the editor's e2e test met: the outdoor-air sensor failed (its samples ``fault``), so the
    compare block has an unknown input. Held, its output is the held value; released, it is unknown
    again and the program releases its slot (``release_when_none``) rather than keep the held value.
    The sensor good again, the program writes its own value."""
    rig = Rig()
    await _enabled(rig)
    await rig.publish({OAT: 5.0}, status="fault")
    assert rig.slot(ENABLE, PRIORITY) is None
    rig.engine.override("econ", "hq", "compare", "out", False, None)
    await rig.engine.idle()
    assert rig.slot(ENABLE, PRIORITY) is False
    rig.engine.release_override("econ", "hq", "compare", "out")
    await rig.engine.idle()
    assert rig.slot(ENABLE, PRIORITY) is None  # not the held value left behind
    assert rig.engine.status("econ", "hq")["econ"].outputs == {"econ-enable": None}
    await rig.publish({OAT: 5.0})
    assert rig.slot(ENABLE, PRIORITY) is True and rig.device(ENABLE) is True


async def test_the_program_keeps_its_slot_under_an_output_point_override_and_wins_when_it_is_released():
    """The output node's form: the point commanded at priority 8 through the arbiter, as an operator.
    The program goes on writing its own slot below it (its value changing meanwhile); released, the
    program's value is the effective one again and reaches the device, with no new sample."""
    rig = Rig()
    await _enabled(rig)
    held = await rig.arbiter.command(ENABLE, False, 8, source="operator", requested_by="ann",
                                     reason="commissioning", duration=1800)
    assert str(held.status) == "completed" and rig.device(ENABLE) is False
    await rig.publish({OAT: 25.0})  # the program's own value turns false under the hold…
    assert rig.slot(ENABLE, PRIORITY) is False
    await rig.publish({OAT: 10.0})  # …and true again
    assert rig.slot(ENABLE, PRIORITY) is True and rig.device(ENABLE) is False
    await rig.arbiter.release(ENABLE, 8, source="operator", requested_by="ann", reason="done")
    await rig.engine.idle()
    assert rig.arbiter.priority_array(ENABLE)[7] is None
    assert rig.arbiter.effective(ENABLE) is True and rig.device(ENABLE) is True


async def test_an_expired_output_point_override_gives_the_point_back_to_the_program():
    rig = Rig()
    await _enabled(rig)
    await rig.arbiter.command(ENABLE, False, 8, source="operator", requested_by="ann",
                              reason="commissioning", duration=60)
    assert rig.device(ENABLE) is False
    await rig.clock.advance(61)
    await eventually(lambda: rig.arbiter.priority_array(ENABLE)[7] is None, "the override expired")
    await eventually(lambda: rig.device(ENABLE) is True, "the program's value on the device")
    assert rig.slot(ENABLE, PRIORITY) is True
