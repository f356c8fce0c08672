"""The sim driver: waves within bounds, deterministic, priority-array writes."""

from __future__ import annotations

import pytest

from openbms.drivers.sim import SimDriver
from openbms.errors import DeviceUnreachable, WriteRefused
from openbms.model import parse_binding
from openbms.runtime.clock import ManualClock


@pytest.mark.parametrize("wave", ["sine", "ramp", "square", "random-walk", "constant"])
async def test_every_wave_stays_within_its_bounds_and_repeats_for_the_same_seed(wave):
    b = parse_binding(f"sim://d/x?wave={wave}&min=12&max=16&period=600&noise=0.3&value=14")
    a, c = SimDriver(clock=ManualClock(), seed=5), SimDriver(clock=ManualClock(), seed=5)
    va = [a.value_at(b, 1_700_000_000 + t) for t in range(0, 3600, 7)]
    vc = [c.value_at(b, 1_700_000_000 + t) for t in range(0, 3600, 7)]
    assert va == vc
    assert all(12 <= v <= 16 for v in va)
    if wave != "constant":
        assert max(va) - min(va) > 1


def test_sine_follows_its_period_and_bool_points_switch():
    sim = SimDriver(clock=ManualClock())
    b = parse_binding("sim://d/x?wave=sine&min=0&max=10&period=100")
    assert sim.value_at(b, 25) == pytest.approx(10)
    assert sim.value_at(b, 75) == pytest.approx(0)
    on = parse_binding("sim://d/fan?wave=square&period=100&kind=bool")
    assert sim.value_at(on, 10) is True and sim.value_at(on, 60) is False


async def test_writes_fill_a_priority_array_and_release_returns_to_the_generated_value():
    clock = ManualClock(1000)
    sim = SimDriver(clock=clock)
    b = parse_binding("sim://d/sp?wave=constant&value=21")
    assert (await sim.read("d", [b]))[0].value == 21
    await sim.write(b, 18.0, 10)
    await sim.write(b, 23.0, 8)
    assert (await sim.read("d", [b]))[0].value == 23.0  # priority 8 beats 10
    await sim.write(b, None, 8)
    assert (await sim.read("d", [b]))[0].value == 18.0
    await sim.write(b, None, 10)
    assert (await sim.read("d", [b]))[0].value == 21
    with pytest.raises(WriteRefused):
        await sim.write(b, 1.0, 17)


async def test_malformed_bindings_are_faults_with_a_reason_and_offline_devices_raise():
    sim = SimDriver(clock=ManualClock())
    readings = await sim.read("d", [parse_binding("sim://d/x?wave=sine&min=abc"),
                                    parse_binding("sim://d/y?colour=red")])
    assert [r.status for r in readings] == ["fault", "fault"]
    assert "min='abc' is not a number" in readings[0].error
    assert "unknown parameter" in readings[1].error
    sim.set_offline("d")
    with pytest.raises(DeviceUnreachable):
        await sim.read("d", [parse_binding("sim://d/x")])


def test_a_constant_bool_point_reads_what_its_value_says():
    sim = SimDriver(clock=ManualClock())
    assert sim.value_at(parse_binding("sim://d/f?wave=constant&value=1&kind=bool"), 0) is True
    assert sim.value_at(parse_binding("sim://d/f?wave=constant&value=0&kind=bool"), 0) is False
