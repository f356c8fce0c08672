"""Giving a slot back: a command that fails (refused, or the device shows another value) puts
back what held its slot before, also when its write was held back and fails later, and a timed
override put back after its time is expired rather than held for good (from a review's tests)."""

from __future__ import annotations

import asyncio

from openbms.control.commands import CommandStore
from openbms.db import migrate, open_state
from openbms.errors import WriteRefused
from openbms.model import parse_binding
from openbms.runtime.clock import ManualClock
from tests.control.test_arbiter import SP, SP_URI, T0, dev_array, rig, site


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def refusing(driver, refused: float):
    """Make the sim device refuse ``refused`` (a clamp of its own)."""
    driver_write = driver.write

    async def write(binding, value, priority):
        if value == refused:
            raise WriteRefused("value-out-of-range")
        await driver_write(binding, value, priority)

    driver.write = write


async def test_a_restored_override_still_expires():
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock)
    first = await arb.command(SP, 20, 8, duration=100)  # an operator's 100 s override
    assert first.status == "completed" and first.expires_at == T0 + 100
    await clock.advance(90)

    gate = asyncio.Event()
    driver_write = driver.write

    async def slow_refusal(binding, value, priority):
        if value == 25.0:
            await gate.wait()  # a slow device...
            raise WriteRefused("value-out-of-range")  # ...that refuses in the end
        await driver_write(binding, value, priority)

    driver.write = slow_refusal
    second = asyncio.create_task(arb.command(SP, 25, 8))
    await settle()
    await clock.advance(20)  # T0 + 110: the first override's expiry comes while 25 is being written
    gate.set()
    assert (await second).status == "failed"
    await clock.advance(1000)
    await settle()
    assert arb.slots(SP)[7] is None and first.status == "expired"
    assert arb.effective(SP) == 13


async def test_a_held_back_command_refused_later_gives_the_slot_back_to_the_one_before(tmp_path):
    url = f"sqlite:///{tmp_path}/state.db"
    migrate(url)
    store = CommandStore(open_state(url))
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock, store)
    first = await arb.command(SP, 20, 8)  # no expiry
    assert first.status == "completed"
    await clock.advance(10)  # within the point's min_interval (60 s): the next write is held back
    refusing(driver, 25.0)
    second = await arb.command(SP, 25, 8)
    assert second.status == "executing"  # held back by min_interval
    await clock.advance(60)
    await settle()
    assert second.status == "failed"
    assert arb.slots(SP)[7] is first and first.status == "completed"
    await arb.flush()  # what a restart rebuilds the array from says so too
    assert store.get(first.id).status == "completed" and store.get(second.id).status == "failed"


async def test_commands_held_back_in_a_row_and_refused_give_the_slot_back_to_the_last_in_effect():
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock)
    first = await arb.command(SP, 20, 8)
    await clock.advance(10)
    refusing(driver, 26.0)
    second = await arb.command(SP, 25, 8)
    third = await arb.command(SP, 26, 8)
    assert (second.status, third.status) == ("superseded", "executing")
    await clock.advance(60)
    await settle()
    assert third.status == "failed" and second.status == "superseded"
    assert arb.slots(SP)[7] is first and first.status == "completed"
    assert dev_array(driver, SP_URI)[15] == 20


async def test_a_held_back_command_completed_supersedes_the_one_before():
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock)
    first = await arb.command(SP, 20, 8, duration=1000)
    await clock.advance(10)
    second = await arb.command(SP, 25, 8)
    await clock.advance(60)
    await settle()
    assert (first.status, second.status) == ("superseded", "completed")
    await clock.advance(2000)  # the first's expiry time passes: nothing changes
    await settle()
    assert arb.slots(SP)[7] is second and dev_array(driver, SP_URI)[15] == 25


async def test_a_held_back_override_refused_after_the_one_before_expired_leaves_the_slot_empty():
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock)
    first = await arb.command(SP, 20, 8, duration=30)
    await clock.advance(10)
    refusing(driver, 25.0)
    second = await arb.command(SP, 25, 8)
    await clock.advance(60)  # the write is made (and refused) after the first's time is up
    await settle()
    assert second.status == "failed" and first.status == "expired"
    assert arb.slots(SP)[7] is None
    await clock.advance(60)
    await settle()
    assert dev_array(driver, SP_URI)[15] == 13  # the relinquish default, on the device too


async def test_a_read_back_mismatch_after_a_held_back_write_gives_the_slot_back():
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock)
    first = await arb.command(SP, 20, 8)
    await clock.advance(10)
    second = await arb.command(SP, 18, 8)
    assert second.status == "executing"
    await driver.write(parse_binding(SP_URI), 24.0, 1)  # a panel override at priority 1
    await clock.advance(60)
    await settle()
    assert second.status == "failed" and "device reports 24.0" in second.error
    assert arb.slots(SP)[7] is first and first.status == "completed"


async def test_a_programs_value_held_back_under_a_refused_override_is_written_once_it_holds_the_slot_again():
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock)
    program = await arb.command(SP, 14, 10, source="logic", requested_by="program:ahu")
    await clock.advance(10)
    again = await arb.command(SP, 15, 10, source="logic", requested_by="program:ahu")
    assert again is program and program.status == "executing"  # its next value, held back
    refusing(driver, 25.0)
    override = await arb.command(SP, 25, 10)
    assert override.status == "executing" and program.status == "superseded"
    await clock.advance(60)
    await settle()
    assert override.status == "failed"
    # The program's command holds the slot again, not failed with the override: its value is written.
    assert arb.slots(SP)[9] is program and program.status == "completed" and not program.error
    assert dev_array(driver, SP_URI)[15] == 15


async def test_a_refused_safety_write_fails_only_itself_not_the_command_held_back_below_it():
    """An operator's write held back by min_interval, then a priority-1 write that the device
    refuses: only the priority-1 command fails; the operator's stays in the array and is written
    when its wait is over (it used to fail too, with the other's reason)."""
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock)
    first = await arb.command(SP, 20, 8)
    assert first.status == "completed"
    await clock.advance(10)  # within min_interval: the next operator write is held back
    second = await arb.command(SP, 25, 8)
    assert second.status == "executing"
    refusing(driver, 28.0)
    safety = await arb.command(SP, 28, 1)  # life safety waits for nothing, and is refused
    assert safety.status == "failed"
    assert second.status == "executing" and arb.slots(SP)[7] is second
    assert arb.slots(SP)[0] is None
    await clock.advance(60)
    await settle()
    assert second.status == "completed" and dev_array(driver, SP_URI)[15] == 25
