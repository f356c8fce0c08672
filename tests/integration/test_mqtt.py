"""The MQTT driver on a real Mosquitto: plain and JSON payloads, retained values, stale and
offline points, a broker outage, malformed messages and writes."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess

import pytest

from openbms.errors import DeviceUnreachable, WriteRefused
from openbms.model import parse_binding
from openbms.runtime.clock import ManualClock
from tests.integration.mqtt_helpers import driver_for, publisher, subscribed, until

T0 = 1_700_000_000.0


async def test_plain_and_json_messages_become_values_with_their_own_time(mosquitto):
    plain = "mqtt://sensors/zone-3/temp"
    flag = "mqtt://sensors/zone-3/occupied?kind=bool"
    field = "mqtt://sensors/zone-3/env?field=data.temp&time=ts"
    fragment = "mqtt://sensors/zone-3/env#data.rh"
    listed = "mqtt://sensors/zone-3/env?field=readings[1].value&time=at"
    driver = driver_for(mosquitto, ManualClock(T0))
    async with subscribed(driver, plain, flag, field, fragment, listed) as changes, \
            publisher(mosquitto) as pub:
        await pub.publish("sensors/zone-3/temp", b"21.5")
        await pub.publish("sensors/zone-3/occupied", b"on")
        await pub.publish("sensors/zone-3/env", json.dumps({
            "data": {"temp": 22.25, "rh": 41}, "ts": T0 - 60,
            "readings": [{"value": 1}, {"value": 2.5}], "at": "2023-11-14T22:12:40Z"}))
        await until(lambda: changes.last(listed) is not None, what="the JSON message")
        assert changes.last(plain) == (21.5, "ok", None)
        assert changes.last(flag) == (True, "ok", None)
        assert changes.last(field) == (22.25, "ok", T0 - 60)
        assert changes.last(fragment) == (41, "ok", None)
        assert changes.last(listed) == (2.5, "ok", 1_700_000_000 - 40)  # 22:13:20Z is T0
        # Milliseconds are told from seconds by their size.
        await pub.publish("sensors/zone-3/env", json.dumps({"data": {"temp": 23, "rh": 40},
                                                            "ts": int((T0 - 30) * 1000)}))
        await until(lambda: changes.last(field)[0] == 23)
        assert changes.last(field) == (23, "ok", T0 - 30)
        assert (await driver.read("sensors", [parse_binding(plain)]))[0].value == 21.5
        # The second message has no readings: that point's missing field is counted.
        assert driver.errors == {**dict.fromkeys(driver.errors, 0), "field": 1}
        assert changes.last(listed) == (2.5, "ok", T0 - 40)


async def test_a_retained_message_gives_a_value_at_start(mosquitto):
    async with publisher(mosquitto) as pub:
        await pub.publish("plant/boiler/flow", b"71.5", qos=1, retain=True)
    driver = driver_for(mosquitto)
    async with subscribed(driver, "mqtt://plant/boiler/flow") as changes:
        await until(lambda: changes.seen, what="the retained value")
        assert changes.of("mqtt://plant/boiler/flow") == [(71.5, "ok", None)]


async def test_a_silent_point_goes_stale_then_offline_and_comes_back_with_a_message(mosquitto):
    clock = ManualClock(T0)
    uri = "mqtt://sensors/zone-1/co2?expect=60&offline=180"
    driver = driver_for(mosquitto, clock)
    async with subscribed(driver, uri) as changes, publisher(mosquitto) as pub:
        await pub.publish("sensors/zone-1/co2", b"612")
        await until(lambda: changes.of(uri), what="the first value")
        await clock.advance(30)
        assert changes.of(uri) == [(612, "ok", None)]
        await clock.advance(31)  # 61 s without a message
        assert changes.of(uri)[-1] == (612, "stale", None)
        await clock.advance(60)
        assert len(changes.of(uri)) == 2  # stale once, not every check
        await clock.advance(60)  # 181 s
        assert changes.of(uri)[-1] == (None, "offline", None)
        reading = (await driver.read("sensors", [parse_binding(uri)]))[0]
        assert reading.status == "offline"
        await pub.publish("sensors/zone-1/co2", b"640")
        await until(lambda: changes.of(uri)[-1][0] == 640)
        assert changes.of(uri) == [(612, "ok", None), (612, "stale", None), (None, "offline", None),
                                   (640, "ok", None)]


async def test_a_lost_broker_takes_the_points_offline_and_the_driver_comes_back_by_itself(
        mosquitto):
    uri = "mqtt://sensors/zone-2/temp"
    driver = driver_for(mosquitto)
    async with subscribed(driver, uri) as changes:
        async with publisher(mosquitto) as pub:
            await pub.publish("sensors/zone-2/temp", b"20.5")
        await until(lambda: changes.of(uri))
        await asyncio.to_thread(mosquitto.stop)
        await until(lambda: changes.last(uri) == (None, "offline", None), what="offline")
        assert not driver.connected
        assert driver.problems() == [f"mqtt broker 127.0.0.1:{mosquitto.port} not connected: "
                                     f"{driver.last_error}"]
        with pytest.raises(DeviceUnreachable, match="not connected"):
            await driver.read("sensors", [parse_binding(uri)])
        with pytest.raises(DeviceUnreachable):
            await driver.confirm("sensors")
        await asyncio.to_thread(mosquitto.start)
        await until(lambda: driver.connected, what="reconnected")
        await driver.confirm("sensors")
        assert driver.problems() == []
        async with publisher(mosquitto) as pub:  # the subscription was renewed
            await pub.publish("sensors/zone-2/temp", b"21")
        await until(lambda: changes.last(uri) == (21, "ok", None), what="a value after")
        assert driver.connects == 2
        assert [s for _v, s, _t in changes.of(uri)].count("offline") == 1


async def test_malformed_messages_are_counted_named_and_nothing_stops(mosquitto, caplog):
    number = "mqtt://bad/number"
    temp = "mqtt://bad/json?field=data.temp"
    driver = driver_for(mosquitto, max_payload=1_000_000)
    caplog.set_level(logging.WARNING, logger="openbms.drivers.mqtt.noise")
    async with subscribed(driver, number, temp) as changes, publisher(mosquitto) as pub:
        await pub.publish("bad/number", b"twenty")  # not a number
        await pub.publish("bad/json", b'{"data": {"temp": ')  # truncated JSON
        await pub.publish("bad/json", b'{"data": {"rh": 40}}')  # no such field
        await pub.publish("bad/json", b'{"data": {"temp": "warm"}}')  # a wrong type
        await pub.publish("bad/json", b'{"data": {"temp": [1, 2]}}')  # another
        await pub.publish("bad/json", b"\xff\xfe")  # not text
        await pub.publish("bad/json", b"[" * 100_000)  # nested past Python's stack
        await pub.publish("bad/number", b"1" * (10 * 1024 * 1024))  # 10 MB
        await pub.publish("bad/json", b'{"data": {"temp": 19.5}}')  # and a good one after
        await until(lambda: changes.of(temp), what="the good message after the bad ones")
        assert driver.errors == {"too_large": 1, "encoding": 1, "json": 2, "field": 1, "type": 3,
                                 "time": 0, "protobuf": 0, "alias": 0, "handler": 0}
        assert changes.seen == [(temp, 19.5, "ok", None)]
        lines = [r.getMessage() for r in caplog.records if r.name == "openbms.drivers.mqtt.noise"]
        # The first of each kind, naming the topic and the field; the rest wait for a summary.
        assert lines == [
            "mqtt message on bad/number (type): 'twenty' is not a number or a boolean",
            "mqtt message on bad/json (json): not JSON (Expecting value: line 1 column 19 (char 18))",
            "mqtt message on bad/json (field): no field 'data.temp'",
            "mqtt message on bad/json (encoding): the payload is not UTF-8 text",
            "mqtt message on bad/number (too_large): 10485760 bytes, more than max_payload (1000000)",
        ]


async def test_writes_publish_the_value_to_the_command_topic(mosquitto):
    plain = "mqtt://hvac/ahu-1/sp?command=hvac/ahu-1/sp/set"
    nested = "mqtt://hvac/ahu-1/state?field=fan.on&kind=bool&command=hvac/ahu-1/cmd"
    driver = driver_for(mosquitto)
    async with subscribed(driver, plain, nested, "mqtt://hvac/ahu-1/ro"), \
            publisher(mosquitto) as sub:
        await sub.subscribe("hvac/#", qos=1)
        got: list[tuple[str, bytes, int]] = []

        async def collect() -> None:
            async for m in sub.messages:
                got.append((m.topic.value, m.payload, m.qos))

        task = asyncio.create_task(collect())
        try:
            await driver.write(parse_binding(plain), 16.5, 8)
            await driver.write(parse_binding(nested), True, 8)
            await driver.write(parse_binding(plain), None, 8)
            await until(lambda: len(got) == 3, what="three commands")
        finally:
            task.cancel()
        assert got == [("hvac/ahu-1/sp/set", b"16.5", 1),
                       ("hvac/ahu-1/cmd", b'{"fan": {"on": true}}', 1),
                       ("hvac/ahu-1/sp/set", b"", 1)]
        with pytest.raises(WriteRefused, match=r"no command topic: add \?command=TOPIC"):
            await driver.write(parse_binding("mqtt://hvac/ahu-1/ro"), 1, 8)


def _mosquitto_sub(broker, topic: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-t",
                             topic, "-C", str(count), "-v", "-q", "1", "-W", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def test_mosquitto_pub_drives_the_driver_and_mosquitto_sub_reads_its_writes(mosquitto):
    uri = "mqtt://site/zone-4/sp?field=value&command=site/zone-4/sp/set"
    driver = driver_for(mosquitto)
    async with subscribed(driver, uri) as changes:
        await asyncio.to_thread(subprocess.run, [
            "mosquitto_pub", "-h", mosquitto.host, "-p", str(mosquitto.port), "-t",
            "site/zone-4/sp", "-m", '{"value": 22.5}', "-q", "1"], check=True)
        await until(lambda: changes.of(uri), what="the value mosquitto_pub sent")
        assert changes.of(uri) == [(22.5, "ok", None)]
        sub = _mosquitto_sub(mosquitto, "site/zone-4/sp/set", 1)
        try:
            for _ in range(200):  # until mosquitto_sub has subscribed, the write may pass it by
                await driver.write(parse_binding(uri), 21, 8)
                try:
                    out, err = await asyncio.to_thread(sub.communicate, timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                raise AssertionError("mosquitto_sub never saw a write")
        finally:
            if sub.poll() is None:
                sub.kill()
        assert out.splitlines() == ['site/zone-4/sp/set {"value": 21}'], err


async def test_a_bad_binding_is_a_fault_and_its_devices_other_points_are_read(mosquitto):
    good, bad = "mqtt://sensors/zone-5/temp", "mqtt://sensors/zone-5/rh?payload=xml"
    driver = driver_for(mosquitto)
    async with subscribed(driver, bad, good) as first, publisher(mosquitto) as pub:
        await pub.publish("sensors/zone-5/temp", b"20")
        await until(lambda: first.of(good), what="the good point's value")
        readings = await driver.read("sensors", [parse_binding(bad), parse_binding(good)])
        assert readings[0].status == "fault"
        assert readings[0].error == (f"{bad}: payload='xml'; expected one of plain, json, "
                                     "sparkplug")
        assert readings[1].value == 20
        # Subscribed again (a new manager after a configuration change): the new callback only.
        again = type(first)()
        await driver.subscribe("sensors", [parse_binding(good)], again)
        await pub.publish("sensors/zone-5/temp", b"21")
        await until(lambda: again.of(good), what="the value through the new callback")
        assert first.of(good) == [(20, "ok", None)]
        assert again.of(good) == [(21, "ok", None)]


async def test_a_broker_with_passwords_takes_the_secret_from_the_environment(tmp_path, monkeypatch):
    from tests.fixtures.services import mosquitto_server

    with mosquitto_server(users={"openbms": "s3cret-pw"}) as broker:
        (tmp_path / "user").write_text("openbms\n")
        monkeypatch.setenv("OPENBMS_TEST_MQTT_PASSWORD", "wrong")
        refused = driver_for(broker, username_file=str(tmp_path / "user"),
                             password_env="OPENBMS_TEST_MQTT_PASSWORD", timeout=1)
        async with subscribed(refused, "mqtt://sensors/zone-6/temp"):
            assert not refused.connected
            assert "authorized" in refused.last_error
        monkeypatch.setenv("OPENBMS_TEST_MQTT_PASSWORD", "s3cret-pw")
        driver = driver_for(broker, username_file=str(tmp_path / "user"),
                            password_env="OPENBMS_TEST_MQTT_PASSWORD")
        async with subscribed(driver, "mqtt://sensors/zone-6/temp") as changes:
            assert driver.connected
            await asyncio.to_thread(subprocess.run, [
                "mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-u", "openbms",
                "-P", "s3cret-pw", "-t", "sensors/zone-6/temp", "-m", "19.5", "-q", "1"],
                check=True)
            await until(lambda: changes.of("mqtt://sensors/zone-6/temp"), what="a value")
            assert changes.of("mqtt://sensors/zone-6/temp") == [(19.5, "ok", None)]


async def test_a_failure_while_handling_a_message_is_counted_and_the_connection_stays(mosquitto):
    uri = "mqtt://sensors/zone-7/temp"
    taken: list[object] = []

    def on_change(binding, value, status, ts=None):
        if value == 13:
            raise RuntimeError("unlucky")
        taken.append(value)

    driver = driver_for(mosquitto)
    await driver.start()
    try:
        await driver.subscribe("sensors", [parse_binding(uri)], on_change)
        async with publisher(mosquitto) as pub:
            for value in (b"12", b"13", b"14"):
                await pub.publish("sensors/zone-7/temp", value)
        await until(lambda: taken == [12, 14], what="the messages around the failing one")
        assert driver.errors["handler"] == 1
        assert driver.connects == 1 and driver.connected
    finally:
        await driver.stop()


async def test_integers_beyond_64_bits_become_floats_at_the_driver_s_edge(mosquitto):
    from tests.integration.test_mqtt_sparkplug import metric, payload

    plain, field = "mqtt://big/plain", "mqtt://big/json#v"
    metric_uri = "mqtt://spBv1.0/plant/edge-9#Count"
    driver = driver_for(mosquitto, ManualClock(T0))
    async with subscribed(driver, plain, field, metric_uri) as changes, \
            publisher(mosquitto) as pub:
        await pub.publish("big/plain", str(2**64 - 1).encode())
        await pub.publish("big/json", json.dumps({"v": -(2**64)}))
        await pub.publish("spBv1.0/plant/NBIRTH/edge-9", payload(
            metric("bdSeq", None, 8, 0), metric("Count", 1, 8, 2**64 - 1)))
        await pub.publish("big/json", '{"v": 1' + "0" * 400 + "}")  # not even a float
        await pub.publish("big/plain", str(2**63 - 1).encode())  # the largest that stays an int
        await until(lambda: driver.errors["type"] == 1 and len(changes.of(plain)) == 2,
                    what="the messages")
        assert changes.of(plain) == [(float(2**64 - 1), "ok", None), (2**63 - 1, "ok", None)]
        assert changes.of(field) == [(-float(2**64), "ok", None)]
        assert changes.of(metric_uri) == [(float(2**64 - 1), "ok", T0)]
        assert type(changes.of(plain)[0][0]) is float and type(changes.of(plain)[1][0]) is int


async def test_two_drivers_with_one_client_id_back_off_instead_of_a_takeover_storm(
        mosquitto, caplog):
    one = driver_for(mosquitto, client_id="same-id", reconnect_min=0.2, max_backoff=30)
    two = driver_for(mosquitto, client_id="same-id", reconnect_min=0.2, max_backoff=30)
    caplog.set_level(logging.WARNING, logger="openbms.drivers.mqtt.driver")
    await one.start()
    try:
        await two.start()
        await asyncio.sleep(4)  # a storm reconnects every 0.2 s; a backoff 0.2, 0.4, 0.8, 1.6, ...
        assert one.connects + two.connects <= 12
        assert one.connects >= 2 or two.connects >= 2  # they did knock each other off
        said = [r.getMessage() for r in caplog.records if "client_id 'same-id'" in r.getMessage()]
        assert 1 <= len(said) <= 2  # once per driver at most
    finally:
        await one.stop()
        await two.stop()


async def test_a_message_that_is_not_json_still_reaches_the_topic_s_plain_point(mosquitto):
    field, other = "mqtt://mixed/a?field=on", "mqtt://mixed/a?field=state"
    flag = "mqtt://mixed/a?payload=plain&kind=bool"
    driver = driver_for(mosquitto)
    async with subscribed(driver, field, other, flag) as changes, publisher(mosquitto) as pub:
        await pub.publish("mixed/a", b"on")
        await until(lambda: changes.of(flag), what="the plain point's value")
        assert changes.of(flag) == [(True, "ok", None)]
        assert changes.of(field) == changes.of(other) == []
        assert driver.errors["json"] == 1  # one count for the message, not one per JSON point


async def test_a_failed_write_leaves_no_read_back_wait_armed(mosquitto):
    import os
    import signal

    uri = "mqtt://hvac/ahu-9/sp?command=hvac/ahu-9/sp/set"
    driver = driver_for(mosquitto, timeout=1)
    async with subscribed(driver, uri):
        assert mosquitto._process is not None
        os.kill(mosquitto._process.pid, signal.SIGSTOP)  # connected, but no PUBACK comes
        try:
            with pytest.raises(DeviceUnreachable, match="publishing to hvac/ahu-9/sp/set failed"):
                await driver.write(parse_binding(uri), 18.0, 8)
        finally:
            os.kill(mosquitto._process.pid, signal.SIGCONT)
        # Nothing was sent: a read must not wait for (or take a later message as) its answer.
        assert driver._points[uri].echo is None
