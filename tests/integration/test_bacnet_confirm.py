"""Confirming a subscribed device with one small request (issue 15, item 6): how often
(``cov_confirm``, default the poll interval) and what it answers when the device is gone."""

from __future__ import annotations

import asyncio
import random

import pytest

from openbms.drivers.bacnet import BACnetDriver
from openbms.errors import DriverError
from openbms.model import DriverSettings
from openbms.sim.bacnet import ObjectSpec, SimulatedBACnet
from tests.integration.test_bacnet import free_udp_port

SPECS = (ObjectSpec("analog-input", 1, "SA-T", 13.5, "degreesCelsius"),)


def settings(sim: SimulatedBACnet | None = None, **extra: object) -> DriverSettings:
    return DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                          devices=sim.address_map() if sim else {}, **extra)


def test_the_confirm_interval_follows_the_poll_interval_unless_set():
    assert BACnetDriver(settings(poll_interval=7)).confirm_interval("1001") == 7.0
    assert BACnetDriver(settings(poll_interval=7, cov_confirm=2)).confirm_interval("1001") == 2.0
    with pytest.raises(DriverError, match="cov_confirm"):
        BACnetDriver(settings(cov_confirm=0))


async def test_a_confirmation_is_one_small_request_and_a_silent_device_does_not_answer():
    subnet = f"127.{random.randint(30, 250)}.{random.randint(0, 255)}"  # not the CI's 127.0.20
    sim = SimulatedBACnet.build(1, SPECS, port=free_udp_port(), subnet=subnet)
    sim.start()
    driver = BACnetDriver(settings(sim, cov=False))
    await driver.start()
    try:
        before = driver.rpm_requests + driver.rp_requests
        await asyncio.wait_for(driver.confirm("1001"), 5)
        assert driver.rpm_requests + driver.rp_requests == before + 1
        sim[1001].set_silent(True)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(driver.confirm("1001"), 0.5)
        sim[1001].set_silent(False)
        await asyncio.wait_for(driver.confirm("1001"), 5)  # back: it answers again
    finally:
        await driver.stop()
        sim.stop()
