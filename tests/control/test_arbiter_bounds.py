"""The arbiter refuses any number no device may be given, whoever sends it, and never writes NaN.

Issue 12, item 1: a NaN limit let ±1e300 through, and a NaN relinquish default was
written to the device on release. The configuration models now refuse both, but the
arbiter is the last gate before equipment and checks for itself: a configuration built
without validation (``model_construct``) must not get a NaN to a device either.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openbms.control.commands import CommandStore, new_command_id
from openbms.db import migrate, open_state
from openbms.errors import CommandError
from openbms.model import Command, CommandSource, CommandStatus, SiteConfig
from openbms.model.site import MAX_VALUE, Equipment, Point, Site, WriteLimits
from openbms.runtime.clock import ManualClock
from tests.control.test_arbiter import SP, SP_URI, dev_array, rig
from tests.fixtures.waiting import eventually

T0 = 1_780_000_000.0


def site_without_limits() -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": "hq"},
        "equipment": [{"id": "ahu-1", "points": [
            {"name": "sat-sp", "writable": True, "relinquish_default": 13,
             "binding": SP_URI},
        ]}],
    })


def unvalidated_site(default: float, limits: WriteLimits | None) -> SiteConfig:
    """A site as if its validation had been skipped: the arbiter must still hold."""
    point = Point.model_construct(**{
        **Point(name="sat-sp", writable=True, binding=SP_URI).__dict__,
        "relinquish_default": default, "limits": limits})
    equip = Equipment.model_construct(**{**Equipment(id="ahu-1").__dict__, "points": (point,)})
    return SiteConfig.model_construct(**{**SiteConfig(site=Site(id="hq")).__dict__,
                                         "equipment": (equip,)})


@pytest.mark.parametrize("value", [1e300, -1e300, 10**30, -(10**400), MAX_VALUE * 1.0000001],
                         ids=["1e300", "-1e300", "10**30", "-10**400", "just-above"])
@pytest.mark.parametrize("source", ["operator", "api", "schedule", "logic", "optimiser"])
async def test_a_number_beyond_the_bound_is_refused_from_every_source(value, source):
    clock = ManualClock(T0)
    arb, io, _driver = rig(site_without_limits(), clock)
    with pytest.raises(CommandError, match="out of bounds"):
        await arb.command(SP, value, source=source)
    assert io.writes == [] and arb.effective(SP) == 13
    assert all(v is None for v in arb.priority_array(SP))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
async def test_a_non_finite_number_is_refused(value):
    clock = ManualClock(T0)
    arb, io, _driver = rig(site_without_limits(), clock)
    with pytest.raises(CommandError, match="not a finite number"):
        await arb.command(SP, value, source="logic")
    assert io.writes == []


async def test_the_bound_itself_is_accepted():
    clock = ManualClock(T0)
    arb, io, _driver = rig(site_without_limits(), clock)
    cmd = await arb.command(SP, -MAX_VALUE)
    assert cmd.status == "completed" and io.writes[-1][1] == -MAX_VALUE


async def test_a_nan_limit_refuses_everything_rather_than_nothing():
    clock = ManualClock(T0)
    arb, io, _driver = rig(unvalidated_site(13.0, WriteLimits.model_construct(
        min=math.nan, max=math.nan, min_interval=None, min_on=None, min_off=None)), clock)
    with pytest.raises(CommandError, match="minimum nan"):
        await arb.command(SP, 20)
    assert io.writes == []


async def test_a_release_never_writes_a_nan_relinquish_default():
    clock = ManualClock(T0)
    arb, io, driver = rig(unvalidated_site(math.nan, None), clock)
    held = await arb.command(SP, 20)
    assert held.status == "completed" and io.writes == [(SP, 20.0, 16)]
    released = await arb.release(SP)
    assert released.status == "failed"
    assert "not written" in released.error and "finite" in released.error
    assert all(not (isinstance(v, float) and math.isnan(v)) for _p, v, _prio in io.writes)
    assert len(io.writes) == 1 and dev_array(driver, SP_URI)[15] == 20


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers()))
async def test_whatever_is_commanded_the_device_gets_a_finite_number_within_bounds(value):
    clock = ManualClock(T0)
    arb, io, _driver = rig(site_without_limits(), clock)
    sane = math.isfinite(value) and abs(value) <= MAX_VALUE if isinstance(value, float) \
        else abs(value) <= MAX_VALUE
    if sane:
        cmd = await arb.command(SP, value, priority=1)
        assert cmd.status == "completed" and io.writes == [(SP, float(value), 16)]
    else:
        with pytest.raises(CommandError):
            await arb.command(SP, value, priority=1)
        assert io.writes == []


async def test_a_stored_command_beyond_the_bound_is_not_restored_at_start(tmp_path):
    # Before issue 12 a NaN limit let 1e300 complete; the command table still holds it.
    url = f"sqlite:///{tmp_path}/state.db"
    migrate(url)
    store = CommandStore(open_state(url))
    poisoned = Command(id=new_command_id(), point=SP, value=1e300, priority=8,
                       source=CommandSource.OPERATOR, requested_by="old", status=CommandStatus.COMPLETED,
                       created_at=T0 - 60, updated_at=T0 - 60)
    sane = Command(id=new_command_id(), point=SP, value=15.0, priority=12,
                   source=CommandSource.SCHEDULE, requested_by="sched", status=CommandStatus.COMPLETED,
                   created_at=T0 - 120, updated_at=T0 - 120)
    store.write([poisoned, sane], [])
    clock = ManualClock(T0)
    arb, io, _driver = rig(site_without_limits(), clock, store)
    await arb.start()
    await eventually(lambda: bool(io.writes), "the restored array written")
    assert io.writes == [(SP, 15.0, 16)]
    assert arb.priority_array(SP)[7] is None and arb.effective(SP) == 15.0
    await arb.flush()
    restored = store.get(poisoned.id)
    assert restored is not None and restored.status == "failed"
    assert "not restored" in restored.error and "out of bounds" in restored.error
    await arb.stop()
