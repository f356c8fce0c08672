"""The driver manager: polling on the clock, batching, offline marking and recovery."""

from __future__ import annotations

import asyncio

import pytest

from openbms.drivers.manager import DriverManager, PointBinding
from openbms.drivers.sim import SimDriver
from openbms.errors import DriverError
from openbms.model import DriverSettings, parse_binding
from openbms.model.sample import Reading
from openbms.runtime.bus import Bus
from openbms.runtime.clock import ManualClock


def points(device: str, n: int, interval: float = 10.0, start: int = 0) -> list[PointBinding]:
    return [PointBinding(f"hq/{device}/p{i}", parse_binding(f"sim://{device}/p{i}?value={i}"),
                         interval) for i in range(start, start + n)]


async def started(manager: DriverManager) -> None:
    await manager.start()
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


async def test_points_are_polled_every_interval_and_first_polls_are_spread(clock):
    bus, sim = Bus(), SimDriver(clock=clock)
    got = []
    bus.subscribe_callback("*", got.extend)
    pts = points("a", 2) + points("b", 2) + points("c", 2) + points("d", 2)
    m = DriverManager(bus, clock, {"sim": sim}, pts)
    await started(m)
    first = {}
    for _ in range(40):
        await clock.advance(1)
        for s in got:
            first.setdefault(s.point.split("/")[1], s.ts - 1_700_000_000)
    assert first == {"a": 0, "b": 2.5, "c": 5, "d": 7.5}
    # Over [0, 40]: a at 0, 10, 20, 30, 40; the others four times each.
    assert [sim.read_count(d) for d in "abcd"] == [5, 4, 4, 4]
    await m.stop()


async def test_reads_are_batched_by_the_drivers_max_batch(clock):
    class Small(SimDriver):
        def max_batch(self, device: str) -> int:
            return 3

    bus, sim = Bus(), Small(clock=clock)
    batches = []
    bus.subscribe_callback("*", lambda b: batches.append(len(b)))
    m = DriverManager(bus, clock, {"sim": sim}, points("a", 8))
    await started(m)
    assert batches == [3, 3, 2]
    await m.stop()


async def test_a_device_that_stops_answering_goes_offline_once_and_comes_back_by_itself(clock):
    bus, sim = Bus(), SimDriver(clock=clock)
    got = []
    bus.subscribe_callback("*", got.extend)
    settings = {"sim": DriverSettings(retries=2, max_backoff=60)}
    m = DriverManager(bus, clock, {"sim": sim}, points("a", 3) + points("b", 1), settings, seed=1)
    await started(m)
    sim.set_offline("a")
    got.clear()
    await clock.advance(300)
    offline = [s for s in got if s.status == "offline"]
    assert sorted(s.point for s in offline) == ["hq/a/p0", "hq/a/p1", "hq/a/p2"]  # once each
    assert all(s.value is None for s in offline)
    health = m.health()["sim://a"]
    assert health.state == "offline" and "offline" in health.last_error
    reads_while_offline = sim.read_count("a")
    assert reads_while_offline < 3 + 300 / 10  # retries, then backoff, not a poll every 10 s
    assert m.health()["sim://b"].state == "ok"  # the other device is untouched
    sim.set_offline("a", False)
    got.clear()
    await clock.advance(120)
    assert {s.status for s in got if s.point.startswith("hq/a/")} == {"ok"}
    assert m.health()["sim://a"].state == "ok"
    await m.stop()


async def test_a_driver_that_raises_anything_does_not_stop_the_manager(clock):
    class Buggy(SimDriver):
        calls = 0

        async def read(self, device, bindings):
            self.calls += 1
            if self.calls <= 3:
                raise ZeroDivisionError("driver bug")
            return await super().read(device, bindings)

    bus, sim = Bus(), Buggy(clock=clock)
    got = []
    bus.subscribe_callback("*", got.extend)
    m = DriverManager(bus, clock, {"sim": sim}, points("a", 1),
                      {"sim": DriverSettings(retries=2)}, seed=2)
    await started(m)
    await clock.advance(120)
    assert "ZeroDivisionError" in (m.health()["sim://a"].last_error or "")
    assert got[-1].status == "ok"
    await m.stop()


async def test_a_point_fault_is_a_fault_sample_not_a_device_failure(clock):
    bus, sim = Bus(), SimDriver(clock=clock)
    got = []
    bus.subscribe_callback("*", got.extend)
    bad = PointBinding("hq/a/bad", parse_binding("sim://a/bad?wave=triangle"), 10)
    m = DriverManager(bus, clock, {"sim": sim}, [*points("a", 1), bad])
    await started(m)
    by_point = {s.point: s for s in got}
    assert by_point["hq/a/p0"].status == "ok"
    assert by_point["hq/a/bad"].status == "fault" and by_point["hq/a/bad"].value is None
    assert m.health()["sim://a"].state == "ok"
    await m.stop()


async def test_write_routes_to_the_points_driver_and_unknown_points_are_refused(clock):
    bus, sim = Bus(), SimDriver(clock=clock)
    pts = points("a", 1)
    m = DriverManager(bus, clock, {"sim": sim}, pts)
    await m.write("hq/a/p0", 42.0, 8)
    assert sim.priority_array(pts[0].binding)[7] == 42.0
    with pytest.raises(DriverError, match="no binding"):
        await m.write("hq/a/nope", 1.0, 8)


async def test_a_read_returning_the_wrong_number_of_readings_counts_as_a_failure(clock):
    class Short(SimDriver):
        async def read(self, device, bindings):
            return [Reading(1.0)]

    bus = Bus()
    m = DriverManager(bus, clock, {"sim": Short(clock=clock)}, points("a", 2),
                      {"sim": DriverSettings(retries=0)})
    await started(m)
    assert m.health()["sim://a"].state == "offline"
    assert "2 points" in m.health()["sim://a"].last_error
    await m.stop()


async def test_a_nan_or_infinite_reading_is_a_fault_without_a_value_never_a_number(clock):
    # A sensor that answers NaN (a broken thermistor) must not poison rollups and alarms as a number.
    bus, sim = Bus(), SimDriver(clock=clock)
    got = []
    bus.subscribe_callback("*", got.extend)
    pts = [PointBinding(f"hq/a/{name}", parse_binding(f"sim://a/{name}?value={value}"), 10.0)
           for name, value in (("nan", "nan"), ("inf", "inf"), ("ninf", "-inf"), ("ok", "21.5"))]
    m = DriverManager(bus, clock, {"sim": sim}, pts)
    await started(m)
    await clock.advance(1)
    await m.stop()
    last = {s.point: s for s in got}
    assert {p: (s.value, s.status) for p, s in last.items()} == {
        "hq/a/nan": (None, "fault"), "hq/a/inf": (None, "fault"), "hq/a/ninf": (None, "fault"),
        "hq/a/ok": (21.5, "ok")}
    assert m.health()["sim://a"].point_faults >= 3
