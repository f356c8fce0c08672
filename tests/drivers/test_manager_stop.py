"""The manager's stop ends every polling task even when a client library swallows one
cancellation (Python 3.11's ``wait_for`` drops a cancel that arrives with the answer: pymodbus's
reads did, and the manager's stop waited for ever)."""

from __future__ import annotations

import asyncio

from openbms.drivers.manager import DriverManager, PointBinding
from openbms.drivers.sim import SimDriver
from openbms.model import DriverSettings, parse_binding
from openbms.runtime.bus import Bus
from openbms.runtime.clock import WallClock


class Deaf(SimDriver):
    """A read that takes the first cancellation as an answer and goes on reading."""

    def __init__(self) -> None:
        super().__init__(clock=WallClock())
        self.reading = asyncio.Event()
        self.swallowed = 0

    async def read(self, device, bindings):
        self.reading.set()
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if self.swallowed:
                    raise
                self.swallowed += 1  # as wait_for does when the answer came at the same time


async def test_stop_cancels_again_until_every_task_has_ended():
    driver = Deaf()
    manager = DriverManager(Bus(), WallClock(), {"sim": driver},
                            [PointBinding("s/e/p", parse_binding("sim://dev/p"), 10)],
                            {"sim": DriverSettings(timeout=600)})  # no read timeout to end it
    await manager.start()
    await asyncio.wait_for(driver.reading.wait(), 10)
    await asyncio.wait_for(manager.stop(), 30)  # the bound only stops a broken test hanging
    assert driver.swallowed == 1
