"""The arbiter on sim points through the real driver manager, with a manual clock."""

from __future__ import annotations

import pytest

from openbms.control.arbiter import Arbiter
from openbms.control.commands import CommandStore
from openbms.db import migrate, open_state
from openbms.drivers.manager import DriverManager, PointBinding
from openbms.drivers.sim.driver import SimDriver
from openbms.errors import CommandError
from openbms.model import Sample, SiteConfig, parse_binding
from openbms.runtime.bus import Bus
from openbms.runtime.clock import ManualClock
from tests.fixtures.waiting import eventually

T0 = 1_780_000_000.0


def site(dry_run: bool = False, mode: str = "effective") -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": "hq", "timezone": "Europe/London"},
        "control": {"dry_run": dry_run, "reassert_interval": 60},
        "equipment": [{"id": "ahu-1", "type": "ahu", "points": [
            {"name": "sat-sp", "unit": "degC", "writable": True, "relinquish_default": 13,
             "limits": {"min": 10, "max": 30, "min_interval": 60},
             "command": {"mode": mode},
             "binding": "sim://ahu-1/sat-sp?wave=constant&value=13"},
            {"name": "fan-cmd", "kind": "bool", "writable": True, "relinquish_default": False,
             "limits": {"min_on": 300, "min_off": 120},
             "binding": "sim://ahu-1/fan-cmd?wave=constant&value=0&kind=bool"},
            {"name": "mode", "kind": "enum", "states": ["off", "occupied", "unoccupied"],
             "writable": True, "binding": "sim://ahu-1/mode?wave=constant&value=1"},
            {"name": "sat", "unit": "degC", "binding": "sim://ahu-1/sat?wave=constant&value=14"},
        ]}],
    })


class Recorder:
    """The driver manager, with every write it was handed noted."""

    def __init__(self, manager: DriverManager) -> None:
        self.manager = manager
        self.writes: list[tuple[str, object, int | None]] = []

    async def write(self, point, value, priority=None):
        self.writes.append((point, value, priority))
        await self.manager.write(point, value, priority)

    async def read_point(self, point):
        return await self.manager.read_point(point)


def rig(cfg: SiteConfig, clock: ManualClock, store: CommandStore | None = None,
        driver: SimDriver | None = None):
    driver = driver or SimDriver(clock=clock)
    points = [PointBinding(pid, parse_binding(p.binding), 10.0) for pid, _e, p in cfg.points()]
    manager = DriverManager(Bus(), clock, {"sim": driver}, points)
    io = Recorder(manager)
    return Arbiter([cfg], io, clock, store), io, driver


def device(driver: SimDriver, name: str) -> object:
    return driver.effective(parse_binding(f"sim://ahu-1/{name}?wave=constant&value=0"))


def dev_array(driver: SimDriver, uri: str) -> list:
    return driver.priority_array(parse_binding(uri))


SP = "hq/ahu-1/sat-sp"
SP_URI = "sim://ahu-1/sat-sp?wave=constant&value=13"
FAN = "hq/ahu-1/fan-cmd"


async def test_the_highest_priority_wins_and_release_falls_back_to_the_relinquish_default():
    clock = ManualClock(T0)
    arb, io, driver = rig(site(), clock)
    await arb.command(SP, 20, 12, source="schedule")
    await clock.advance(60)
    c8 = await arb.command(SP, 18, 8, requested_by="ops@example.com", reason="hot call")
    assert c8.status == "completed"
    assert arb.priority_array(SP)[7] == 18 and arb.priority_array(SP)[11] == 20
    assert dev_array(driver, SP_URI)[15] == 18  # effective mode: written at the device priority
    await clock.advance(60)
    await arb.release(SP, 8)
    assert arb.effective(SP) == 20 and dev_array(driver, SP_URI)[15] == 20
    await clock.advance(60)
    await arb.release(SP, 12, source="schedule")
    assert arb.effective(SP) == 13 and dev_array(driver, SP_URI)[15] == 13
    # A command hidden by a higher slot is recorded but changes nothing on the device.
    await clock.advance(60)
    await arb.command(SP, 25, 8)
    writes = len(io.writes)
    hidden = await arb.command(SP, 11, 14, source="logic")
    assert hidden.status == "completed" and len(io.writes) == writes


async def test_a_timed_override_releases_itself_when_it_expires():
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock)
    await arb.command(SP, 20, 12, source="schedule")
    await clock.advance(60)
    override = await arb.command(SP, 16, 8, duration=600)
    assert override.expires_at == T0 + 660
    await clock.advance(599)
    assert dev_array(driver, SP_URI)[15] == 16
    await clock.advance(2)
    assert override.status == "expired"
    assert arb.priority_array(SP)[7] is None and dev_array(driver, SP_URI)[15] == 20


async def test_a_second_command_at_the_same_priority_supersedes_the_first():
    clock = ManualClock(T0)
    arb, _io, _driver = rig(site(), clock)
    first = await arb.command(SP, 20, 8)
    await clock.advance(60)
    second = await arb.command(SP, 21, 8)
    assert (first.status, second.status) == ("superseded", "completed")


@pytest.mark.parametrize(("point", "value", "priority", "message"), [
    ("hq/ahu-1/nope", 1, 8, "no such point"),
    ("hq/ahu-1/sat", 20, 8, "not writable"),
    (SP, 35, 8, "above the point's maximum 30 degC"),
    (SP, 5, 8, "below the point's minimum 10"),
    (SP, "warm", 8, "expected a number"),
    (SP, True, 8, "expected a number"),
    (SP, float("nan"), 8, "expected a number"),
    (SP, 20, 0, "priority must be a whole number from 1 to 16"),
    (SP, 20, 17, "priority must be a whole number from 1 to 16"),
    (FAN, 2, 8, "expected true or false"),
    ("hq/ahu-1/mode", "party", 8, "expected a state 1–3 or one of off, occupied, unoccupied"),
    ("hq/ahu-1/mode", 4, 8, "expected a state 1–3"),
])
async def test_bad_requests_are_refused_with_the_reason_and_nothing_is_written(
        tmp_path, point, value, priority, message):
    url = f"sqlite:///{tmp_path}/state.db"
    migrate(url)
    store = CommandStore(open_state(url))
    clock = ManualClock(T0)
    arb, io, _driver = rig(site(), clock, store)
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        await arb.command(point, value, priority)
    assert io.writes == []
    if point in arb.controlled():  # refusals of real points are on the record
        (refused,) = store.query(point=point)
        assert refused.status == "failed" and message.split(" ")[0] in refused.error


async def test_enum_states_are_accepted_by_label_or_number():
    clock = ManualClock(T0)
    arb, io, _driver = rig(site(), clock)
    await arb.command("hq/ahu-1/mode", "unoccupied", 8)
    assert io.writes[-1] == ("hq/ahu-1/mode", 3, 16)


async def test_writes_faster_than_the_rate_limit_are_held_back_then_made():
    clock = ManualClock(T0)
    arb, io, driver = rig(site(), clock)
    await arb.command(SP, 15, 8)
    await clock.advance(10)
    late = await arb.command(SP, 16, 8)
    assert late.status == "executing" and dev_array(driver, SP_URI)[15] == 15
    await clock.advance(49)
    assert dev_array(driver, SP_URI)[15] == 15 and len(io.writes) == 1
    await clock.advance(2)
    await eventually(lambda: dev_array(driver, SP_URI)[15] == 16 and late.status == "completed",
                     "the held-back write")
    assert [w[1] for w in io.writes] == [15.0, 16.0]


async def test_binary_outputs_keep_their_minimum_on_and_off_times():
    clock = ManualClock(T0)
    arb, io, driver = rig(site(), clock)
    fan = "sim://ahu-1/fan-cmd?wave=constant&value=0&kind=bool"
    await arb.command(FAN, True, 8)
    await clock.advance(10)
    off = await arb.command(FAN, False, 8)
    assert off.status == "executing" and dev_array(driver, fan)[15] is True
    await clock.advance(289)
    assert dev_array(driver, fan)[15] is True
    await clock.advance(2)
    await eventually(lambda: dev_array(driver, fan)[15] is False and off.status == "completed",
                     "the fan off after its minimum on time")
    # and back on no sooner than min_off (120 s) later
    await arb.command(FAN, True, 8)
    assert dev_array(driver, fan)[15] is False
    await clock.advance(121)
    await eventually(lambda: dev_array(driver, fan)[15] is True, "the fan on after its minimum off time")
    assert [w[1] for w in io.writes] == [True, False, True]


async def test_a_dry_run_site_writes_nothing_and_says_what_it_would_write(caplog):
    clock = ManualClock(T0)
    arb, io, _driver = rig(site(dry_run=True), clock)
    with caplog.at_level("INFO", logger="openbms.control.arbiter"):
        cmd = await arb.command(SP, 20, 8)
    assert io.writes == [] and cmd.status == "completed" and arb.dry_writes == 1
    assert "dry run: would write hq/ahu-1/sat-sp = 20.0 at priority 16" in caplog.text


async def test_a_value_the_device_does_not_take_fails_the_command_on_read_back():
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock)
    await driver.write(parse_binding(SP_URI), 24.0, 1)  # a local override at priority 1
    cmd = await arb.command(SP, 20, 8)
    assert cmd.status == "failed"
    assert "wrote 20.0 but the device reports 24.0" in cmd.error


async def test_a_write_to_an_offline_device_is_made_when_it_answers_again():
    clock = ManualClock(T0)
    arb, io, driver = rig(site(), clock)
    driver.set_offline("ahu-1")
    cmd = await arb.command(SP, 20, 8)
    assert cmd.status == "executing" and "will retry" in cmd.error
    driver.set_offline("ahu-1", False)
    await clock.advance(30)
    arb.on_samples([Sample(SP, clock.now(), 13.0, "ok")])  # the device answers a poll
    await eventually(lambda: cmd.status == "completed", "the write once the device answers")
    assert dev_array(driver, SP_URI)[15] == 20
    assert [w[1] for w in io.writes] == [20.0, 20.0]


async def test_a_device_that_lost_its_value_gets_it_re_asserted_once_per_interval():
    clock = ManualClock(T0)
    arb, io, driver = rig(site(), clock)
    await arb.command(SP, 20, 8)
    await driver.write(parse_binding(SP_URI), None, 16)  # the controller restarted
    await clock.advance(100)
    arb.on_samples([Sample(SP, clock.now(), 13.0, "ok")])
    await eventually(lambda: dev_array(driver, SP_URI)[15] == 20, "the re-assertion")
    await driver.write(parse_binding(SP_URI), None, 16)
    await clock.advance(30)
    arb.on_samples([Sample(SP, clock.now(), 13.0, "ok")])  # within reassert_interval: left alone
    await clock.advance(30)
    arb.on_samples([Sample(SP, clock.now(), 13.0, "ok")])  # a reassert_interval after the last
    await eventually(lambda: dev_array(driver, SP_URI)[15] == 20, "the second re-assertion")
    assert len(io.writes) == 3  # the command, the first re-assertion, the second


async def test_passthrough_writes_each_slot_at_its_own_priority():
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(mode="passthrough"), clock)
    await arb.command(SP, 20, 12, source="schedule")
    await clock.advance(60)
    await arb.command(SP, 18, 8)
    assert dev_array(driver, SP_URI)[7] == 18 and dev_array(driver, SP_URI)[11] == 20
    await clock.advance(60)
    await arb.release(SP, 8)
    assert dev_array(driver, SP_URI)[7] is None and dev_array(driver, SP_URI)[11] == 20


async def test_commands_survive_a_restart_and_unexpired_overrides_are_reapplied(tmp_path):
    url = f"sqlite:///{tmp_path}/state.db"
    migrate(url)
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock, CommandStore(open_state(url)))
    fan = "sim://ahu-1/fan-cmd?wave=constant&value=0&kind=bool"
    await arb.command(SP, 20, 12, source="schedule")
    await clock.advance(60)
    kept = await arb.command(SP, 17, 8, duration=3600, requested_by="ops")
    await clock.advance(60)
    await arb.command(FAN, True, 7, duration=60)
    assert dev_array(driver, fan)[15] is True
    await arb.stop()

    await clock.advance(300)  # down for five minutes: the fan override expired meanwhile
    await driver.write(parse_binding(SP_URI), None, 16)  # and the controller restarted
    store = CommandStore(open_state(url))
    arb2, io2, _ = rig(site(), clock, store, driver=driver)  # the same device
    await arb2.start()
    assert arb2.priority_array(SP)[7] == 17 and arb2.priority_array(SP)[11] == 20
    await eventually(lambda: dev_array(driver, SP_URI)[15] == 17, "the override written again")
    # The expired override is not applied, and the device that still held it is released.
    assert arb2.priority_array(FAN) == [None] * 16
    await eventually(lambda: dev_array(driver, fan)[15] is False, "the expired override undone")
    assert store.get(kept.id).status == "completed"
    assert [c.status for c in store.query(point=FAN)] == ["expired"]
    assert (SP, 17.0, 16) in io2.writes
    # and the restored override still expires on time
    await clock.advance(kept.expires_at - clock.now() + 1)
    await eventually(lambda: store.get(kept.id).status == "expired", "the restored override's expiry")
    assert arb2.effective(SP) == 20
    await arb2.stop()


async def test_a_restart_does_not_wait_for_an_offline_device(tmp_path):
    url = f"sqlite:///{tmp_path}/state.db"
    migrate(url)
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock, CommandStore(open_state(url)))
    await arb.command(SP, 20, 8)
    await arb.stop()
    driver.set_offline("ahu-1")
    arb2, _io2, _ = rig(site(), clock, CommandStore(open_state(url)), driver=driver)
    await arb2.start()  # returns at once: the write waits for the device
    assert arb2.effective(SP) == 20
    driver.set_offline("ahu-1", False)
    await clock.advance(30)
    arb2.on_samples([Sample(SP, clock.now(), 13.0, "ok")])
    await eventually(lambda: dev_array(driver, SP_URI)[15] == 20, "the write once the device answers")


async def test_life_safety_priorities_are_not_held_back_by_minimum_on_times():
    clock = ManualClock(T0)
    arb, _io, driver = rig(site(), clock)
    fan = "sim://ahu-1/fan-cmd?wave=constant&value=0&kind=bool"
    await arb.command(FAN, True, 8)
    await clock.advance(10)
    smoke = await arb.command(FAN, False, 1, reason="smoke detected")
    assert smoke.status == "completed" and dev_array(driver, fan)[15] is False


async def test_concurrent_commands_at_one_priority_leave_exactly_one_holder():
    import asyncio

    clock = ManualClock(T0)
    arb, _io, _driver = rig(site(), clock)
    cmds = await asyncio.gather(*(arb.command(SP, 14 + k, 8) for k in range(6)))
    holder = arb.slots(SP)[7]
    assert holder is cmds[-1]  # the last submitted wins
    assert sorted(c.status for c in cmds if c is not holder) == ["superseded"] * 5


async def test_a_refused_write_leaves_the_previous_command_in_effect():
    clock = ManualClock(T0)
    cfg = site()
    arb, _io, driver = rig(cfg, clock)
    first = await arb.command(SP, 20, 8)
    await clock.advance(60)
    driver_write = driver.write

    async def refuse(binding, value, priority):  # the device refuses 25 (a clamp of its own)
        if value == 25.0:
            from openbms.errors import WriteRefused
            raise WriteRefused("value-out-of-range")
        await driver_write(binding, value, priority)

    driver.write = refuse
    refused = await arb.command(SP, 25, 8)
    assert refused.status == "failed" and "value-out-of-range" in refused.error
    assert first.status == "completed" and arb.slots(SP)[7] is first
    assert arb.effective(SP) == 20 and dev_array(driver, SP_URI)[15] == 20


async def test_a_read_back_mismatch_restores_the_previous_value_and_is_not_re_asserted_in_a_loop():
    clock = ManualClock(T0)
    arb, io, driver = rig(site(), clock)
    first = await arb.command(SP, 20, 8)
    await clock.advance(60)
    await driver.write(parse_binding(SP_URI), 24.0, 1)  # a panel override at priority 1
    second = await arb.command(SP, 18, 8)
    assert second.status == "failed" and "device reports 24.0" in second.error
    assert arb.slots(SP)[7] is first
    await clock.advance(61)  # the rate limit holds the write-back for a minute
    await eventually(lambda: dev_array(driver, SP_URI)[15] == 20, "the previous value written back")
    writes = len(io.writes)
    for _ in range(5):  # the device keeps showing the panel's value: no re-assertion storm
        await clock.advance(120)
        arb.on_samples([Sample(SP, clock.now(), 24.0, "ok")])
    await clock.advance(1)
    assert len(io.writes) == writes


async def test_a_programs_successive_values_update_its_own_command_rather_than_pile_up(tmp_path):
    url = f"sqlite:///{tmp_path}/state.db"
    migrate(url)
    store = CommandStore(open_state(url))
    clock = ManualClock(T0)
    arb, io, driver = rig(site(), clock, store)
    first = await arb.command(SP, 14, 10, source="logic", requested_by="program:ahu")
    for k in range(5):
        await clock.advance(60)
        again = await arb.command(SP, 15 + k, 10, source="logic", requested_by="program:ahu")
        assert again.id == first.id and again.status == "completed"
    assert dev_array(driver, SP_URI)[15] == 19 and len(io.writes) == 6
    await arb.flush()  # status changes are stored in batches, moments later
    (row,) = store.query(point=SP)
    assert (row.value, row.status, row.source) == (19.0, "completed", "logic")
    other = await arb.command(SP, 16, 10, source="logic", requested_by="program:other")
    await arb.flush()
    assert other.id != first.id and store.get(first.id).status == "superseded"
