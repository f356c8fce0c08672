"""After stop(): the values it dropped are logged once and no longer count as written, and
nothing is evaluated or written any more (a sample, a load or an enable after it)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from openbms.control.programs import ProgramEngine, arbiter_write, catalog_from_sites
from openbms.model import Sample
from tests.control.programs.rig import Rig, pid, program

A = pid("a")
PROG = program(inputs=[{"id": "x", "point": A}],
               outputs=[{"id": f"o{i}", "point": pid(f"out{i}")} for i in (1, 2, 3)],
               wires=[{"from": "x", "to": f"o{i}"} for i in (1, 2, 3)])


def gated_engine(rig: Rig) -> tuple[ProgramEngine, asyncio.Event, list[tuple[str, Any]]]:
    """A second engine on ``rig`` whose writes wait while ``gate`` is clear; ``started`` notes each."""
    gate = asyncio.Event()
    gate.set()
    started: list[tuple[str, Any]] = []
    write = arbiter_write(rig.arbiter)

    async def gated(point: str, value: Any, priority: int, program_id: str) -> None:
        started.append((point, value))
        await gate.wait()
        await write(point, value, priority, program_id)

    engine = ProgramEngine(catalog_from_sites([rig.cfg]), rig.clock, gated)
    rig.bus.subscribe_callback("*", engine.feed, name=f"gated {id(engine)}")
    return engine, gate, started


async def stop_while_writing(engine: ProgramEngine, gate: asyncio.Event) -> None:
    """``engine.stop()`` while a write hangs at the gate; the gate opens once stop has begun."""
    stopping = asyncio.create_task(engine.stop())
    await asyncio.sleep(0)
    gate.set()
    await stopping


async def stopped_with_two_values_dropped() -> tuple[Rig, ProgramEngine, list[tuple[str, Any]]]:
    """out1 written at 20 while stopping; 20 for out2 and out3 dropped (they hold 10)."""
    # A demo's stop took 20 s: every value waiting was written first, one after another.
    rig = Rig()
    engine, gate, started = gated_engine(rig)
    engine.load(PROG, 1)
    rig.bus.publish([Sample(A, rig.clock.now(), 10.0, "ok")])
    await engine.idle()
    assert [rig.slot(pid(f"out{i}")) for i in (1, 2, 3)] == [10.0, 10.0, 10.0]
    gate.clear()  # the next write hangs until the gate opens
    rig.bus.publish([Sample(A, rig.clock.now(), 20.0, "ok")])
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert started[-1] == (pid("out1"), 20.0)  # under way; out2 and out3 wait
    await stop_while_writing(engine, gate)
    assert [rig.slot(pid(f"out{i}")) for i in (1, 2, 3)] == [20.0, 10.0, 10.0]
    assert len(started) == 4  # three at first, the one under way: none after stop
    return rig, engine, started


async def test_values_dropped_at_stop_no_longer_count_as_written_and_are_logged_once(caplog):
    caplog.set_level(logging.INFO, logger="openbms.control.programs.engine")
    _rig, engine, _started = await stopped_with_two_values_dropped()
    # What the program says it commanded: out1's 20 was written; out2's and out3's were not.
    assert engine.status(site="hq")["p1"].outputs == {"o1": 20.0, "o2": None, "o3": None}
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["stopping: 2 program output value(s) not yet written are dropped (hq/p1); "
                        "the programs write them again at the next start"]


async def test_nothing_is_evaluated_or_written_after_stop():
    rig, engine, started = await stopped_with_two_values_dropped()
    writes = len(started)
    rig.bus.publish([Sample(A, rig.clock.now(), 30.0, "ok")])  # a sample still fed
    engine.load(PROG, 2)  # a redeploy
    await engine.disable("p1", site="hq")
    engine.enable("p1", site="hq")
    await engine.tick(rig.clock.now() + 3600)
    await engine.idle()
    status = engine.status(site="hq")["p1"]
    assert len(started) == writes and (status.version, status.runs, status.last_run) == (2, 0, None)
    assert [rig.slot(pid(f"out{i}")) for i in (1, 2, 3)] == [20.0, 10.0, 10.0]


async def test_releases_waiting_at_stop_are_made():
    # Nothing would release those slots later.
    rig = Rig()
    engine, gate, _started = gated_engine(rig)
    engine.load(program(id="p2", inputs=[{"id": "x", "point": pid("b")}],
                        outputs=[{"id": f"o{i}", "point": pid(f"out{i}"), "priority": 11} for i in (1, 2)],
                        wires=[{"from": "x", "to": f"o{i}"} for i in (1, 2)]), 1)
    rig.bus.publish([Sample(pid("b"), rig.clock.now(), 5.0, "ok")])
    await engine.idle()
    assert rig.slot(pid("out1"), 11) == 5.0 and rig.slot(pid("out2"), 11) == 5.0
    gate.clear()
    rig.bus.publish([Sample(pid("b"), rig.clock.now(), 5.0, "offline")])  # unknown: both released
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await stop_while_writing(engine, gate)
    assert rig.slot(pid("out1"), 11) is None and rig.slot(pid("out2"), 11) is None
