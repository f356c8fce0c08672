"""The MQTT driver under the driver manager, on a real Mosquitto: what reaches the bus."""

from __future__ import annotations

import json

from openbms.drivers.manager import DriverManager, PointBinding
from openbms.model import parse_binding
from openbms.model.sample import Sample
from openbms.runtime.bus import Bus
from openbms.runtime.clock import ManualClock
from tests.integration.mqtt_helpers import driver_for, publisher, until

T0 = 1_790_000_000.0


async def test_the_confirming_poll_publishes_no_old_value_again_and_nothing_for_a_silent_point(
        mosquitto):
    clock = ManualClock(T0)
    driver = driver_for(mosquitto, clock)
    bus = Bus()
    seen: list[Sample] = []
    bus.subscribe_callback("*", seen.extend)
    manager = DriverManager(bus, clock, {"mqtt": driver}, [
        PointBinding("hq/z1/temp", parse_binding("mqtt://sensors/zone-1/env?field=temp&time=ts"), 10),
        PointBinding("hq/z1/rh", parse_binding("mqtt://sensors/zone-1/rh"), 10)],
        {"mqtt": driver.settings})
    await driver.start()
    await manager.start()
    try:
        await until(lambda: all(h.subscribed for h in manager.health().values()), what="subscribed")
        async with publisher(mosquitto) as pub:
            await pub.publish("sensors/zone-1/env", json.dumps({"temp": 21.5, "ts": T0 - 3600}))
            await until(lambda: seen, what="the message")
        for _ in range(40):  # ten minutes: the manager polls the subscribed group every minute
            await clock.advance(15)
        assert manager.health()["mqtt://sensors"].reads >= 9
        assert seen == [Sample("hq/z1/temp", T0 - 3600, 21.5, "ok")]
    finally:
        await manager.stop()
        await driver.stop()


async def test_a_stopped_manager_publishes_nothing_after_a_reconfiguration(mosquitto):
    from openbms.runtime.clock import WallClock

    clock = WallClock()
    driver = driver_for(mosquitto, clock)
    bus = Bus()
    seen: list[tuple[str, object]] = []
    bus.subscribe_callback("*", lambda batch: seen.extend((s.point, s.value) for s in batch))
    await driver.start()
    old = DriverManager(bus, clock, {"mqtt": driver}, [
        PointBinding("hq/z1/temp", parse_binding("mqtt://old/z1/temp"), 10),
        PointBinding("hq/z1/gone", parse_binding("mqtt://old/z1/gone"), 10)],
        {"mqtt": driver.settings})
    new = DriverManager(bus, clock, {"mqtt": driver}, [
        PointBinding("hq/z1/temp", parse_binding("mqtt://new/z1/temp"), 10)],
        {"mqtt": driver.settings})
    try:
        await old.start()
        await until(lambda: all(h.subscribed for h in old.health().values()), what="old")
        await old.stop()
        await new.start()
        await until(lambda: all(h.subscribed for h in new.health().values()), what="new")
        async with publisher(mosquitto) as pub:
            await pub.publish("old/z1/temp", b"99")
            await pub.publish("old/z1/gone", b"7")
            await pub.publish("new/z1/temp", b"21")  # after the others: when it is seen, so are they
            await until(lambda: ("hq/z1/temp", 21) in seen, what="the new topic's value")
        assert driver.messages == 1  # the old topics were unsubscribed when the new manager started
        assert [s for s in seen if s[1] is not None] == [("hq/z1/temp", 21)]
    finally:
        await new.stop()
        await driver.stop()


async def test_a_reconfigured_manager_unsubscribes_what_the_new_configuration_dropped(mosquitto):
    """The new manager tells the driver which bindings remain (``retain``): the topic of a
    removed point is unsubscribed, so the broker stops sending it (it was received and dropped)."""
    from openbms.runtime.clock import WallClock

    clock = WallClock()
    driver = driver_for(mosquitto, clock)
    bus = Bus()
    seen: list[tuple[str, object]] = []
    bus.subscribe_callback("*", lambda batch: seen.extend((s.point, s.value) for s in batch))
    await driver.start()
    old = DriverManager(bus, clock, {"mqtt": driver}, [
        PointBinding("hq/z1/temp", parse_binding("mqtt://site/z1/temp"), 10),
        PointBinding("hq/z1/gone", parse_binding("mqtt://site/z1/gone"), 10)],
        {"mqtt": driver.settings})
    new = DriverManager(bus, clock, {"mqtt": driver}, [
        PointBinding("hq/z1/temp", parse_binding("mqtt://site/z1/temp"), 10)],
        {"mqtt": driver.settings})
    try:
        await old.start()
        await until(lambda: all(h.subscribed for h in old.health().values()), what="subscribed")
        await old.stop()
        await new.start()
        await until(lambda: all(h.subscribed for h in new.health().values()), what="subscribed again")
        before = driver.messages
        async with publisher(mosquitto) as pub:  # one publisher, in order
            await pub.publish("site/z1/gone", b"1.0", qos=1)
            await pub.publish("site/z1/temp", b"21.0", qos=1)
            await until(lambda: ("hq/z1/temp", 21.0) in seen, what="the kept point's value")
        assert driver.messages == before + 1  # the dropped topic's message never came
    finally:
        await new.stop()
        await driver.stop()


async def test_a_message_of_many_fields_is_one_bus_batch(mosquitto):
    """The manager's change callback takes a JSON message's fields at once (``many``)."""
    clock = ManualClock(T0)
    driver = driver_for(mosquitto, clock)
    bus = Bus()
    batches: list[list[Sample]] = []
    bus.subscribe_callback("*", lambda batch: batches.append(list(batch)))
    fields = [f"p{i}" for i in range(20)]
    manager = DriverManager(bus, clock, {"mqtt": driver}, [
        PointBinding(f"hq/dev/{f}", parse_binding(f"mqtt://plant/dev?field={f}"), 10) for f in fields],
        {"mqtt": driver.settings})
    await driver.start()
    await manager.start()
    try:
        await until(lambda: all(h.subscribed for h in manager.health().values()), what="subscribed")
        async with publisher(mosquitto) as pub:
            await pub.publish("plant/dev", json.dumps({f: i for i, f in enumerate(fields)}))
            await until(lambda: sum(len(b) for b in batches) >= len(fields), what="the fields")
        assert len(batches) == 1 and sorted(s.point for s in batches[0]) == sorted(
            f"hq/dev/{f}" for f in fields)
    finally:
        await manager.stop()
        await driver.stop()
