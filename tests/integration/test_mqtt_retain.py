"""A configuration without some MQTT points: the driver forgets them and unsubscribes the topic
filters no point needs any more, so the broker stops sending what nothing reads."""

from __future__ import annotations

from openbms.model import parse_binding
from tests.integration.mqtt_helpers import driver_for, publisher, subscribed, until

KEPT = "mqtt://sensors/zone-1/temp"
DROPPED = "mqtt://sensors/zone-2/temp"
SPARKPLUG = "mqtt://spBv1.0/plant/edge-1/boiler#flow"


async def test_topics_no_point_needs_are_unsubscribed_after_a_reconfigure(mosquitto):
    driver = driver_for(mosquitto)
    async with subscribed(driver, KEPT, DROPPED, SPARKPLUG) as changes, \
            publisher(mosquitto) as pub:
        await pub.publish("sensors/zone-2/temp", b"19.5", qos=1)
        await until(lambda: changes.of(DROPPED), what="the dropped point's first value")
        await driver.retain([parse_binding(KEPT)])
        before = driver.messages
        # One publisher, in order: when the kept topic's message is in, the others would be too.
        await pub.publish("sensors/zone-2/temp", b"20.5", qos=1)
        await pub.publish("spBv1.0/plant/NDATA/edge-1", b"\x08\x01", qos=1)
        await pub.publish("sensors/zone-1/temp", b"21.5", qos=1)
        await until(lambda: changes.of(KEPT), what="the kept point's value")
        assert driver.messages == before + 1
        assert changes.of(DROPPED) == [(19.5, "ok", None)]
        reading = (await driver.read("sensors", [parse_binding(DROPPED)]))[0]
        assert reading.status == "fault" and "not subscribed" in (reading.error or "")
        # Subscribed again (a later configuration has it back): its messages come again.
        await driver.subscribe("sensors", [parse_binding(DROPPED)], changes)
        await pub.publish("sensors/zone-2/temp", b"22.5", qos=1)
        await until(lambda: changes.last(DROPPED) == (22.5, "ok", None), what="the point back")
