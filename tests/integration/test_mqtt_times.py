"""Message times on a real Mosquitto: a publisher may not stamp a value in the future, replay or
back-fill history, nor rewrite a sample it already sent (plain JSON and Sparkplug B alike)."""

from __future__ import annotations

import json

from openbms.runtime.clock import ManualClock
from tests.integration.mqtt_helpers import driver_for, publisher, subscribed, until
from tests.integration.test_mqtt_sparkplug import metric, payload

T0 = 1_700_000_000.0
ENV = "mqtt://sensors/zone-1/env?field=temp&time=ts"


async def test_a_time_ahead_of_the_clock_is_stamped_with_the_clock_and_counted(mosquitto):
    driver = driver_for(mosquitto, ManualClock(T0))
    async with subscribed(driver, ENV) as changes, publisher(mosquitto) as pub:
        await pub.publish("sensors/zone-1/env", json.dumps({"temp": 21.0, "ts": T0 + 600}))
        await until(lambda: changes.of(ENV), what="the fast-clock message")
        assert changes.of(ENV) == [(21.0, "ok", None)]  # None: the manager's clock stamps it
        assert driver.errors["time"] == 1
        await pub.publish("sensors/zone-1/env", json.dumps({"temp": 22.0, "ts": T0 + 3}))
        await until(lambda: len(changes.of(ENV)) == 2, what="a time a little ahead")
        assert changes.last(ENV) == (22.0, "ok", T0 + 3)
        assert driver.errors["time"] == 1


async def test_a_replayed_or_older_time_is_refused_and_never_rewrites_a_sample(mosquitto):
    driver = driver_for(mosquitto, ManualClock(T0))
    async with subscribed(driver, ENV) as changes, publisher(mosquitto) as pub:
        for temp, ts in ((20.0, T0 - 60), (99.0, T0 - 60), (98.0, T0 - 120), (21.0, T0 - 30)):
            await pub.publish("sensors/zone-1/env", json.dumps({"temp": temp, "ts": ts}))
        await until(lambda: len(changes.of(ENV)) == 2, what="the newer message")
        assert changes.of(ENV) == [(20.0, "ok", T0 - 60), (21.0, "ok", T0 - 30)]
        assert driver.errors["time"] == 2


async def test_a_time_older_than_max_age_is_refused(mosquitto):
    driver = driver_for(mosquitto, ManualClock(T0), max_age=3600)
    async with subscribed(driver, ENV) as changes, publisher(mosquitto) as pub:
        await pub.publish("sensors/zone-1/env", json.dumps({"temp": 1.0, "ts": 946_684_800}))
        await pub.publish("sensors/zone-1/env", json.dumps({"temp": 2.0, "ts": T0 - 7200}))
        await pub.publish("sensors/zone-1/env", json.dumps({"temp": 3.0, "ts": T0 - 1800}))
        await until(lambda: changes.of(ENV), what="the message within max_age")
        assert changes.of(ENV) == [(3.0, "ok", T0 - 1800)]
        assert driver.errors["time"] == 2


async def test_a_replayed_sparkplug_message_is_refused(mosquitto):
    uri = "mqtt://spBv1.0/plant/edge-5#Temp"
    driver = driver_for(mosquitto, ManualClock(T0))
    ms = int(T0 * 1000)
    async with subscribed(driver, uri) as changes, publisher(mosquitto) as edge:
        await edge.publish("spBv1.0/plant/NBIRTH/edge-5", payload(
            metric("bdSeq", None, 8, 0), metric("Temp", 1, 10, 20.0), ts=ms - 5000))
        data = payload(metric(alias=1, datatype=10, value=21.0), ts=ms - 1000, seq=1)
        await edge.publish("spBv1.0/plant/NDATA/edge-5", data)
        await edge.publish("spBv1.0/plant/NDATA/edge-5", data)  # the same message again
        await edge.publish("spBv1.0/plant/NDATA/edge-5", payload(
            metric(alias=1, datatype=10, value=22.0), ts=ms + 600_000, seq=2))  # 10 min ahead
        await until(lambda: len(changes.of(uri)) == 3, what="the messages")
        assert changes.of(uri) == [(20.0, "ok", T0 - 5), (21.0, "ok", T0 - 1), (22.0, "ok", None)]
        await until(lambda: driver.errors["time"] == 2, what="the replay and the fast clock counted")


async def test_a_retained_message_older_than_max_age_is_the_point_s_value_at_start(mosquitto):
    async with publisher(mosquitto) as pub:
        await pub.publish("sensors/zone-2/env", json.dumps({"temp": 19.5, "ts": T0 - 7200}),
                          qos=1, retain=True)
    uri = "mqtt://sensors/zone-2/env?field=temp&time=ts"
    driver = driver_for(mosquitto, ManualClock(T0), max_age=3600)
    async with subscribed(driver, uri) as changes:
        await until(lambda: changes.of(uri), what="the retained value")
        assert changes.of(uri) == [(19.5, "ok", T0 - 7200)]
        assert driver.errors["time"] == 0


async def test_a_retained_message_sent_again_at_reconnection_brings_the_point_back(mosquitto):
    import aiomqtt

    async with publisher(mosquitto) as pub:
        await pub.publish("sensors/zone-3/env", json.dumps({"temp": 18.5, "ts": T0 - 60}),
                          qos=1, retain=True)
    uri = "mqtt://sensors/zone-3/env?field=temp&time=ts"
    driver = driver_for(mosquitto, ManualClock(T0), client_id="times-dup")
    async with subscribed(driver, uri) as changes:
        await until(lambda: changes.of(uri), what="the retained value")
        # Another client with the driver's id knocks it off; it reconnects and subscribes again.
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="times-dup"):
            await until(lambda: changes.last(uri) == (None, "offline", None), what="offline")
        await until(lambda: driver.connects == 2 and changes.last(uri)[1] == "ok",
                    what="the retained value again")
        assert changes.of(uri) == [(18.5, "ok", T0 - 60), (None, "offline", None),
                                   (18.5, "ok", None)]
        assert driver.errors["time"] == 0
