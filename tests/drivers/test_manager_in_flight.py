"""The manager starts no more reads than the driver serves at once (issue 15, 1 000 devices).

A read's timeout used to count the time it waited behind the driver's in-flight
limit: with many devices polled together, reads far down the queue timed out
although every device answered in time, and their devices went offline.
"""

from __future__ import annotations

import asyncio

from openbms.drivers.manager import DriverManager, PointBinding
from openbms.drivers.sim import SimDriver
from openbms.model import DriverSettings, parse_binding
from openbms.runtime.bus import Bus
from openbms.runtime.clock import ManualClock

DEVICES = 100
IN_FLIGHT = 2
ANSWER_S = 0.05  # each device answers in 1/40 of the timeout; all of them in 2.5 timeouts
TIMEOUT_S = 2.0


class Narrow(SimDriver):
    """Devices that answer in ANSWER_S, through IN_FLIGHT requests at a time (as BACnet's limit)."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock=clock)
        self.gate = asyncio.Semaphore(IN_FLIGHT)
        self.busy = self.most_busy = 0

    def max_in_flight(self) -> int:
        return IN_FLIGHT

    async def read(self, device, bindings):
        async with self.gate:
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
            try:
                await asyncio.sleep(ANSWER_S)
            finally:
                self.busy -= 1
            return await super().read(device, bindings)


async def test_reads_queued_behind_the_in_flight_limit_do_not_time_out():
    clock = ManualClock(1_700_000_000.0)
    bus, driver = Bus(), Narrow(clock)
    got = []
    all_in = asyncio.Event()

    def hear(batch):
        got.extend(batch)
        if len(got) >= DEVICES:
            all_in.set()

    bus.subscribe_callback("*", hear)
    points = [PointBinding(f"hq/d{n}/p", parse_binding(f"sim://d{n}/p?value=1"), 3600.0)
              for n in range(DEVICES)]
    settings = {"sim": DriverSettings(timeout=TIMEOUT_S, retries=0, max_backoff=3600)}
    manager = DriverManager(bus, clock, {"sim": driver}, points, settings, seed=1)
    await manager.start()
    for _ in range(5):  # every device's task waits for its first poll
        await asyncio.sleep(0)
    await clock.advance(3599)  # every device's first poll is due: all of them at once
    await all_in.wait()  # a sample (ok or offline) of every device
    await manager.stop()
    health = manager.health()
    assert sum(h.read_errors for h in health.values()) == 0
    assert {s.status for s in got} == {"ok"}
    assert len(got) == DEVICES and driver.most_busy <= IN_FLIGHT


def test_the_bacnet_driver_tells_the_manager_its_in_flight_setting():
    from openbms.drivers.bacnet.driver import BACnetDriver

    assert BACnetDriver(DriverSettings(max_in_flight=5)).max_in_flight() == 5
    assert BACnetDriver().max_in_flight() == 16  # the documented default


async def test_behind_an_in_flight_limit_the_first_round_runs_at_once_then_polls_are_spread():
    """Issue 15, item 11: at 1 000 devices the first cycle took the whole interval, because
    first polls were spread over it. Behind the limit they now run at once (as fast as the
    limit allows); each device's later polls keep its place in the spread."""
    clock = ManualClock(1_700_000_000.0)

    class Limited(SimDriver):
        def max_in_flight(self) -> int:
            return 2

    bus, driver = Bus(), Limited(clock=clock)
    got: list = []
    bus.subscribe_callback("*", got.extend)
    points = [PointBinding(f"hq/d{n}/p", parse_binding(f"sim://d{n}/p?value=1"), 40.0)
              for n in "abcd"]
    manager = DriverManager(bus, clock, {"sim": driver}, points, seed=1)
    await manager.start()
    for _ in range(20):
        await asyncio.sleep(0)
    assert sorted(s.point for s in got) == [f"hq/d{n}/p" for n in "abcd"]  # all at once, at 0
    assert {s.ts for s in got} == {1_700_000_000.0}
    got.clear()
    for _ in range(80):
        await clock.advance(1)
    seconds = sorted((s.ts - 1_700_000_000.0, s.point[4]) for s in got)
    # Second polls at 40 + the group's offset (0, 10, 20, 30), then every 40 s.
    assert seconds == [(40, "a"), (50, "b"), (60, "c"), (70, "d"), (80, "a")]
    await manager.stop()
