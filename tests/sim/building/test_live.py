"""Live mode: the building follows a clock at a speed, and is served from another process."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import datetime

import pytest

from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.bacnet.discovery import who_is
from openbms.model import DriverSettings, parse_binding
from openbms.runtime.clock import ManualClock
from openbms.sim.building import Building
from openbms.sim.building.live import AcceleratedClock, LiveEmulator
from tests.fixtures.waiting import eventually
from tests.integration.test_bacnet import free_udp_port

START = datetime(2025, 4, 8, 6, 0)


class FakeWall:
    """A wall clock that moves only when told to."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_an_accelerated_clock_runs_speed_times_faster_than_the_wall():
    wall = FakeWall()
    clock = AcceleratedClock(start=1_744_000_000.0, speed=60, source=wall)
    assert clock.now() == 1_744_000_000.0
    wall.t += 2.5
    assert clock.now() == pytest.approx(1_744_000_000.0 + 150.0)
    # Another process with the same start, anchor and speed reads the same time.
    twin = AcceleratedClock(start=1_744_000_000.0, speed=60, anchor=clock.anchor, source=wall)
    assert twin.now() == clock.now()
    with pytest.raises(ValueError):
        AcceleratedClock(0.0, speed=0)


async def test_the_building_follows_a_shared_manual_clock_step_by_step():
    building = Building(start=START)
    t0 = building.timestamp
    clock = ManualClock(t0)
    async with LiveEmulator(building, clock, step=60) as emulator:
        await clock.advance(600)
        await eventually(lambda: building.timestamp >= t0 + 600, "ten simulated minutes")
        assert emulator.steps == 10
        await clock.advance(90)
        await eventually(lambda: building.timestamp >= t0 + 660, "one more step")
        assert building.timestamp == t0 + 660  # the next step is due at +720
    assert building.timestamp == t0 + 660


async def test_live_mode_advances_simulated_time_at_the_requested_speed():
    building = Building(start=START)
    t0 = building.timestamp
    clock = AcceleratedClock(t0, speed=3600)  # an hour a second
    async with LiveEmulator(building, clock) as emulator:
        assert emulator.step == 60  # one real second's worth, at most a minute
        await eventually(lambda: building.timestamp >= t0 + 1800, "half a simulated hour")
        advanced = building.timestamp - t0
        now = clock.now()
    # Simulated time tracks the clock (within one step), in whole steps of 60 s.
    assert now - 60 - 1e-6 <= t0 + advanced <= now + 1e-6
    assert advanced == pytest.approx(60 * emulator.steps)


def test_a_clock_far_ahead_of_the_building_is_refused():
    building = Building(start=START)
    emulator = LiveEmulator(building, ManualClock(building.timestamp + 5 * 86400))
    with pytest.raises(RuntimeError, match="ahead of the building"):
        emulator.advance_to(emulator.clock.now())


async def _ready(proc: asyncio.subprocess.Process) -> list[str]:
    assert proc.stdout is not None
    lines = []
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line, "the emulator exited before it was ready"
        if line.strip() == "ready":
            return lines
        lines.append(line.strip())


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "openbms.sim.building.live"],
    [sys.executable, "-m", "openbms.cli", "sim", "serve"],
], ids=["python-m", "openbms-sim-serve"])
async def test_served_from_another_process_every_device_answers_and_sigterm_stops_it(command):
    port = free_udp_port()
    proc = await asyncio.create_subprocess_exec(
        *command, "--port", str(port), "--subnet", "127.0.32", "--speed", "600",
        "--start", "2025-04-08T09:00", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        lines = await _ready(proc)
        devices = {int(line.split()[2]): line.split()[3] for line in lines if line.startswith("device ")}
        assert len(devices) == 19 and devices[2001] == f"127.0.32.1:{port}"
        (clock,) = [line for line in lines if line.startswith("clock ")]
        assert float(clock.split()[3]) == 600
        driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                             devices=devices, timeout=2, cov=False))
        await driver.start()
        try:
            found = await who_is(driver.app, [f"127.255.255.255:{port}"], listen=2)
            assert {d.instance for d in found} == set(devices)
            binding = parse_binding("bacnet://2001/analog-input,7")  # OA-T
            (reading,) = await driver.read("2001", [binding])
            assert reading.status == "ok" and -30 < float(reading.value) < 40
        finally:
            await driver.stop()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0, (await proc.stderr.read()).decode() if proc.stderr else code
