"""Change-of-value subscriptions: notifications reach the bus, refusals fall back to polling,
subscriptions come back after a device restart."""

from __future__ import annotations

from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.manager import DriverManager, PointBinding
from openbms.model import DriverSettings, parse_binding
from openbms.runtime.bus import Bus
from openbms.runtime.clock import WallClock
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
