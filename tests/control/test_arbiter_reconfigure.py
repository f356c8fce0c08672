"""A configuration change re-checks what the priority arrays hold (issue 12 follow-up).

Lowering a point's limits under a held command used to leave the command in its slot,
effective, and re-asserted to the device; a kind change (number → bool) kept a number
in a bool point's array. Now the arbiter withdraws such a command (failed, with the
reason, as at start) and writes the new effective value.
"""

from __future__ import annotations

from typing import Any

from openbms.control.commands import CommandStore
from openbms.db import migrate, open_state
from openbms.model import SiteConfig
from openbms.runtime.clock import ManualClock
from tests.control.test_arbiter import SP, SP_URI, dev_array, rig
from tests.fixtures.waiting import eventually

T0 = 1_780_000_000.0


def site(max_: float = 100, *, kind: str = "number", mode: str = "effective",
         default: Any = 13) -> SiteConfig:
    point: dict[str, Any] = {"name": "sat-sp", "kind": kind, "writable": True,
                             "relinquish_default": default, "command": {"mode": mode},
                             "binding": SP_URI}
    if kind == "number":
        point["limits"] = {"min": 0, "max": max_}
    return SiteConfig.model_validate({"site": {"id": "hq"},
                                      "equipment": [{"id": "ahu-1", "points": [point]}]})


def state(tmp_path) -> CommandStore:
    url = f"sqlite:///{tmp_path}/state.db"
    migrate(url)
    return CommandStore(open_state(url))


async def test_lowering_the_max_under_a_held_command_withdraws_it_and_writes_the_default(tmp_path):
    store = state(tmp_path)
    clock = ManualClock(T0)
    arb, io, driver = rig(site(100), clock, store)
    cmd = await arb.command(SP, 80, 8, requested_by="ops")
    assert cmd.status == "completed" and dev_array(driver, SP_URI)[15] == 80
    writes = len(io.writes)
    arb.reconfigure([site(50)])
    assert arb.priority_array(SP)[7] is None and arb.effective(SP) == 13
    await eventually(lambda: len(io.writes) > writes, "the new effective value written")
    assert io.writes[writes:] == [(SP, 13, 16)] and dev_array(driver, SP_URI)[15] == 13
    assert cmd.status == "failed"
    assert "configuration change" in cmd.error and "above the point's maximum 50" in cmd.error
    await arb.flush()
    stored = store.get(cmd.id)
    assert stored is not None and stored.status == "failed" and "maximum 50" in stored.error
    # Later drift is re-asserted to the new value, not to the withdrawn 80.
    await clock.advance(400)
    assert arb.effective(SP) == 13 and all(v != 80 for _p, v, _prio in io.writes[writes:])
    await arb.stop()


async def test_a_command_the_new_limits_allow_stays_and_takes_over(tmp_path):
    clock = ManualClock(T0)
    arb, io, driver = rig(site(100), clock, state(tmp_path))
    low = await arb.command(SP, 40, 12, source="schedule")
    high = await arb.command(SP, 80, 8)
    assert dev_array(driver, SP_URI)[15] == 80
    arb.reconfigure([site(50)])
    assert arb.priority_array(SP)[7] is None and arb.priority_array(SP)[11] == 40
    await eventually(lambda: dev_array(driver, SP_URI)[15] == 40, "40 written")
    assert (high.status, low.status) == ("failed", "completed")
    assert io.writes[-1] == (SP, 40, 16)
    await arb.stop()


async def test_a_kind_change_from_number_to_bool_keeps_no_number_in_a_slot(tmp_path):
    clock = ManualClock(T0)
    arb, io, _driver = rig(site(100), clock, state(tmp_path))
    cmd = await arb.command(SP, 1, 8)
    assert arb.priority_array(SP)[7] == 1.0
    writes = len(io.writes)
    arb.reconfigure([site(kind="bool", default=False)])
    assert arb.priority_array(SP) == [None] * 16 and arb.effective(SP) is False
    assert cmd.status == "failed" and "expected true or false" in cmd.error
    await eventually(lambda: len(io.writes) > writes, "the bool default written")
    assert io.writes[writes:] == [(SP, False, 16)]
    await arb.stop()


async def test_passthrough_releases_the_withdrawn_priority_on_the_device(tmp_path):
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(100, mode="passthrough"), clock, state(tmp_path))
    await arb.command(SP, 40, 12, source="schedule")
    await arb.command(SP, 80, 8)
    assert dev_array(driver, SP_URI)[7] == 80 and dev_array(driver, SP_URI)[11] == 40
    arb.reconfigure([site(50, mode="passthrough")])
    await eventually(lambda: dev_array(driver, SP_URI)[7] is None, "priority 8 released")
    assert dev_array(driver, SP_URI)[11] == 40
    await arb.stop()


async def test_a_change_that_refuses_nothing_writes_nothing(tmp_path):
    clock = ManualClock(T0)
    arb, io, _driver = rig(site(100), clock, state(tmp_path))
    cmd = await arb.command(SP, 40, 8)
    writes = len(io.writes)
    arb.reconfigure([site(50)])
    await clock.advance(1)
    assert cmd.status == "completed" and arb.priority_array(SP)[7] == 40
    assert len(io.writes) == writes
    await arb.stop()
