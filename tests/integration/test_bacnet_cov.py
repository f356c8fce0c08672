"""Change-of-value subscriptions: notifications reach the bus, refusals fall back to polling,
subscriptions come back after a device restart."""

from __future__ import annotations

import asyncio

from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.manager import DriverManager, PointBinding
from openbms.model import DriverSettings, parse_binding
from openbms.runtime.bus import Bus
from openbms.runtime.clock import ManualClock, WallClock
from openbms.sim.bacnet import ObjectSpec, SimulatedBACnet
from tests.fixtures.waiting import eventually
from tests.integration.test_bacnet import free_udp_port

SPECS = (ObjectSpec("analog-input", 1, "SA-T", 13.5, "degreesCelsius"),
         ObjectSpec("binary-input", 2, "SF-S", False))


async def start(lifetime: int = 4):
    sim = SimulatedBACnet.build(2, SPECS, port=free_udp_port(), subnet="127.0.12")
    sim.start()
    settings = DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}", devices=sim.address_map(),
                              cov_lifetime=lifetime, poll_interval=3600)
    driver = BACnetDriver(settings)
    await driver.start()
    bus = Bus()
    got = []
    bus.subscribe_callback("*", got.extend)
    points = [PointBinding(f"hq/d{d}/{n}", parse_binding(f"bacnet://{d}/{o}"), 1.0)
              for d in (1001, 1002) for n, o in (("sat", "analog-input,1"),
                                                  ("fan", "binary-input,2"))]
    manager = DriverManager(bus, WallClock(), {"bacnet": driver}, points, {"bacnet": settings})
    return sim, driver, manager, got


async def test_cov_notifications_reach_the_bus_without_polling():
    sim, driver, manager, got = await start()
    await manager.start()
    try:
        await eventually(lambda: manager.health()["bacnet://1001"].reads >= 1, "the first poll")
        assert manager.health()["bacnet://1001"].subscribed
        reads = driver.rpm_requests  # subscribed devices are polled only every 60 s from here
        sim[1001].set_value(("analog-input", 1), 17.25)
        sim[1001].set_value(("binary-input", 2), True)
        await eventually(lambda: any(s.point == "hq/d1001/sat" and s.value == 17.25 for s in got),
                         "the analog change on the bus")
        await eventually(lambda: any(s.point == "hq/d1001/fan" and s.value is True for s in got),
                         "the binary change on the bus")
        assert driver.rpm_requests == reads  # it came by notification, not by a poll
    finally:
        await manager.stop()
        await driver.stop()
        sim.stop()


async def test_a_device_that_refuses_cov_is_polled_instead():
    sim, driver, manager, got = await start()
    sim[1002].reject_cov()
    await manager.start()
    try:
        await eventually(lambda: any(s.point == "hq/d1002/sat" for s in got), "a polled value")
        health = manager.health()
        assert health["bacnet://1002"].subscribed is False
        assert health["bacnet://1001"].subscribed is True
    finally:
        await manager.stop()
        await driver.stop()
        sim.stop()


async def test_subscriptions_come_back_after_a_device_restart():
    sim, driver, manager, got = await start(lifetime=4)
    await manager.start()
    try:
        await eventually(lambda: manager.health()["bacnet://1001"].subscribed, "subscription")
        sim[1001].restart()  # a restart forgets every subscription
        got.clear()
        # The next renewal (every half lifetime) subscribes again and the device reports.
        await eventually(lambda: any(s.point == "hq/d1001/sat" for s in got), "re-subscription")
        sim[1001].set_value(("analog-input", 1), 19.5)
        await eventually(lambda: any(s.point == "hq/d1001/sat" and s.value == 19.5 for s in got),
                         "a change after the restart")
    finally:
        await manager.stop()
        await driver.stop()
        sim.stop()


async def test_a_subscribed_device_that_goes_silent_is_offline_after_a_confirmation_not_a_minute():
    # Subscribed devices were polled to confirm only every max(5 x interval, 60 s): a gone device
    # stayed "ok" for up to a minute. Now one small request every cov_confirm notices it. The
    # manager runs on a manual clock: the test counts its seconds, not the wall's.
    sim = SimulatedBACnet.build(1, SPECS, port=free_udp_port(), subnet="127.0.13")
    sim.start()
    settings = DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}", devices=sim.address_map(),
                              poll_interval=3600, cov_confirm=1, timeout=0.5, retries=1)
    driver = BACnetDriver(settings)
    await driver.start()
    clock = ManualClock(1_780_000_000.0)
    points = [PointBinding("hq/d1001/sat", parse_binding("bacnet://1001/analog-input,1"), 1.0)]
    manager = DriverManager(Bus(), clock, {"bacnet": driver}, points, {"bacnet": settings})
    health = manager.health
    await manager.start()

    async def run_until(condition, seconds: float) -> bool:
        """Let the manager's clock run up to ``seconds``, a second a step; whether ``condition`` came true."""
        for _ in range(int(seconds)):
            for _ in range(40):  # let the requests of this second come and go
                if condition():
                    return True
                await asyncio.sleep(0.025)
            await clock.advance(1.0)
        return condition()

    try:
        await eventually(lambda: health()["bacnet://1001"].subscribed, "the subscription")
        polls = health()["bacnet://1001"].reads
        requests = driver.rpm_requests
        assert await run_until(lambda: driver.rpm_requests >= requests + 3, 10)  # confirmations
        assert health()["bacnet://1001"].reads == polls  # confirmed, not polled
        sim[1001].set_silent(True)
        assert await run_until(lambda: health()["bacnet://1001"].state == "offline", 30), \
            "still ok after 30 s of the manager's clock"  # before: the next poll came at 60 s
    finally:
        await manager.stop()
        await driver.stop()
        sim.stop()
