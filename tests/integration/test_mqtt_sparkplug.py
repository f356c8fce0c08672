"""Sparkplug B on a real Mosquitto: births teach aliases, data by alias, deaths take points
offline (a death of an earlier session does not), malformed payloads, and commands.

The edge node's payloads are encoded here by hand from the specification's field numbers
(Eclipse Tahu's sparkplug_b.proto), so the driver's message classes are checked against the
wire format, not against themselves.
"""

from __future__ import annotations

import asyncio
import struct
import time

from openbms.drivers.mqtt.sparkplug import Payload, metric_value
from openbms.model import parse_binding
from openbms.runtime.clock import ManualClock
from tests.integration.mqtt_helpers import driver_for, publisher, subscribed, until

T0 = 1_700_000_000.0
TEMP = "mqtt://spBv1.0/plant/edge-1#Supply/Temp"
RUN = "mqtt://spBv1.0/plant/edge-1#Pump/Run"
FLOW = "mqtt://spBv1.0/plant/edge-1/boiler#Flow"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def text(number: int, value: bytes) -> bytes:
    return tag(number, 2) + varint(len(value)) + value


def metric(name: str = "", alias: int | None = None, datatype: int = 10, value: object = None,
           ts: int | None = None, typed: bool = True) -> bytes:
    """A metric; ``typed=False`` leaves the datatype out (as NDATA/DDATA should), the value is
    still encoded as ``datatype`` says."""
    out = text(1, name.encode()) if name else b""
    if alias is not None:
        out += tag(2, 0) + varint(alias)
    if ts is not None:
        out += tag(3, 0) + varint(ts)
    if typed:
        out += tag(4, 0) + varint(datatype)
    if datatype == 10:  # Double
        out += tag(13, 1) + struct.pack("<d", value)
    elif datatype == 11:  # Boolean
        out += tag(14, 0) + varint(int(bool(value)))
    elif datatype in (3, 8):  # Int32 (two's complement in int_value), UInt64 (long_value)
        out += (tag(10, 0) + varint(int(value) & 0xFFFFFFFF) if datatype == 3
                else tag(11, 0) + varint(int(value)))
    return out


def payload(*metrics: bytes, ts: int = int(T0 * 1000), seq: int = 0) -> bytes:
    return tag(1, 0) + varint(ts) + b"".join(text(2, m) for m in metrics) + tag(3, 0) + varint(seq)


async def test_births_data_by_alias_deaths_and_commands(mosquitto):
    driver = driver_for(mosquitto, ManualClock(T0))
    async with subscribed(driver, TEMP, RUN, FLOW) as changes, publisher(mosquitto) as edge:
        await edge.publish("spBv1.0/plant/NBIRTH/edge-1", payload(
            metric("bdSeq", None, 8, 0), metric("Supply/Temp", 1, 10, 70.5),
            metric("Pump/Run", 2, 11, True)))
        await edge.publish("spBv1.0/plant/DBIRTH/edge-1/boiler", payload(
            metric("Flow", 3, 3, -5), seq=1))
        await until(lambda: changes.of(FLOW), what="the births")
        assert changes.last(TEMP) == (70.5, "ok", T0)
        assert changes.last(RUN) == (True, "ok", T0)
        assert changes.last(FLOW) == (-5, "ok", T0)
        # Data by alias only, with the metric's own timestamp.
        await edge.publish("spBv1.0/plant/NDATA/edge-1", payload(
            metric(alias=1, datatype=10, value=71.25, ts=int(T0 * 1000) + 2500), seq=2))
        await edge.publish("spBv1.0/plant/DDATA/edge-1/boiler", payload(
            metric(alias=3, datatype=3, value=12), metric(alias=9, datatype=3, value=1),
            ts=int(T0 * 1000) + 1000, seq=3))
        await edge.publish("spBv1.0/plant/DDATA/edge-1/boiler", payload(
            metric(alias=3, datatype=3, value=13))[:-6])  # truncated
        await until(lambda: changes.last(FLOW)[0] == 12, what="data by alias")
        assert changes.last(TEMP) == (71.25, "ok", T0 + 2.5)
        await until(lambda: driver.errors["protobuf"] == 1, what="the truncated payload counted")
        assert driver.errors["alias"] == 1
        assert changes.last(FLOW)[0] == 12
        # A command to the device's metric, with the data type its birth gave.
        await edge.subscribe("spBv1.0/plant/DCMD/edge-1/boiler", qos=1)
        got: list[tuple[str, bytes]] = []

        async def collect() -> None:
            async for m in edge.messages:
                got.append((m.topic.value, m.payload))

        task = asyncio.create_task(collect())
        try:
            await driver.write(parse_binding(FLOW), 20, 8)
            await until(lambda: got, what="the DCMD")
        finally:
            task.cancel()
        cmd = Payload()
        cmd.ParseFromString(got[0][1])
        (m,) = cmd.metrics
        assert (m.name, m.datatype, metric_value(m), cmd.timestamp) == ("Flow", 3, 20, T0 * 1000)
        # The device dies: its points only.
        await edge.publish("spBv1.0/plant/DDEATH/edge-1/boiler", payload(seq=4))
        await until(lambda: changes.last(FLOW) == (None, "offline", None), what="DDEATH")
        assert changes.last(TEMP)[1] == "ok"
        # A death certificate of an earlier session (another bdSeq) is not this session's death.
        await edge.publish("spBv1.0/plant/NDEATH/edge-1", payload(metric("bdSeq", None, 8, 7)))
        await edge.publish("spBv1.0/plant/NDATA/edge-1", payload(
            metric(alias=2, datatype=11, value=False), ts=int(T0 * 1000) + 3000, seq=5))
        await until(lambda: changes.last(RUN)[0] is False, what="data after the old death")
        assert changes.last(TEMP)[1] == "ok"
        await edge.publish("spBv1.0/plant/NDEATH/edge-1", payload(metric("bdSeq", None, 8, 0)))
        await until(lambda: changes.last(TEMP) == (None, "offline", None), what="NDEATH")
        assert changes.last(RUN) == (None, "offline", None)
        assert driver.errors["protobuf"] == 1 and driver.errors["alias"] == 1


EDGE = r'''
import sys, time, paho.mqtt.client as mqtt
port, birth, death = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="edge-2")
c.will_set("spBv1.0/plant/NDEATH/edge-2", death, qos=1)
c.connect("127.0.0.1", port, keepalive=5)
c.loop_start()
c.publish("spBv1.0/plant/NBIRTH/edge-2", birth, qos=1).wait_for_publish()
print("born", flush=True)
time.sleep(120)
'''


async def test_an_edge_node_killed_dies_by_its_will_and_its_points_go_offline(mosquitto):
    import sys

    uri = "mqtt://spBv1.0/plant/edge-2#Supply/Temp"
    born = int(time.time() * 1000)  # the driver's clock is the wall's here: a time it believes
    birth = payload(metric("bdSeq", None, 8, 3), metric("Supply/Temp", 1, 10, 65.0), ts=born)
    death = payload(metric("bdSeq", None, 8, 3))
    driver = driver_for(mosquitto)
    async with subscribed(driver, uri) as changes:
        edge = await asyncio.create_subprocess_exec(
            sys.executable, "-c", EDGE, str(mosquitto.port), birth.hex(), death.hex(),
            stdout=asyncio.subprocess.PIPE)
        try:
            assert edge.stdout is not None
            assert (await asyncio.wait_for(edge.stdout.readline(), 20)) == b"born\n"
            await until(lambda: changes.of(uri), what="the birth")
            assert changes.of(uri) == [(65.0, "ok", born / 1000)]
            edge.kill()  # no DISCONNECT: the broker publishes the will
        finally:
            if edge.returncode is None:
                edge.kill()
            await edge.wait()
        await until(lambda: changes.last(uri) == (None, "offline", None), within=20,
                    what="the will's NDEATH")


async def test_data_without_a_datatype_takes_the_birth_s_type_for_the_sign(mosquitto):
    offset = "mqtt://spBv1.0/plant/edge-3#Offset"
    driver = driver_for(mosquitto, ManualClock(T0))
    async with subscribed(driver, offset) as changes, publisher(mosquitto) as edge:
        await edge.publish("spBv1.0/plant/NBIRTH/edge-3", payload(
            metric("bdSeq", None, 8, 0), metric("Offset", 7, 3, -1)))
        await edge.publish("spBv1.0/plant/NDATA/edge-3", payload(
            metric(alias=7, datatype=3, value=-5, typed=False), ts=int(T0 * 1000) + 1000, seq=1))
        await until(lambda: len(changes.of(offset)) == 2, what="the data")
        assert changes.of(offset) == [(-1, "ok", T0), (-5, "ok", T0 + 1)]


async def test_a_command_the_metric_s_type_cannot_hold_is_refused_never_wrapped(mosquitto):
    import pytest

    from openbms.errors import WriteRefused

    level, count = "mqtt://spBv1.0/plant/edge-4#Level", "mqtt://spBv1.0/plant/edge-4#Count"
    driver = driver_for(mosquitto, ManualClock(T0))
    async with subscribed(driver, level, count) as changes, publisher(mosquitto) as edge:
        await edge.publish("spBv1.0/plant/NBIRTH/edge-4", payload(
            metric("bdSeq", None, 8, 0), metric("Level", 1, 3, 5), metric("Count", 2, 8, 7)))
        await until(lambda: changes.of(count), what="the birth")
        for uri, value, message in (
                (level, 21.7, "21.7 does not fit the metric's type Int32: it takes whole numbers "
                              "from -2147483648 to 2147483647"),
                (level, 2.0**31, "does not fit the metric's type Int32"),
                (level, "x", "'x' does not fit the metric's type Int32"),
                (count, -2.0, "-2.0 does not fit the metric's type UInt64: it takes whole numbers "
                              "from 0 to 18446744073709551615")):
            with pytest.raises(WriteRefused, match="^" + uri.replace("?", r"\?")) as err:
                await driver.write(parse_binding(uri), value, 8)
            assert message in str(err.value)
        await edge.subscribe("spBv1.0/plant/NCMD/edge-4", qos=1)
        got: list[bytes] = []

        async def collect() -> None:
            async for m in edge.messages:
                got.append(m.payload)

        task = asyncio.create_task(collect())
        try:
            await driver.write(parse_binding(level), -20.0, 8)  # a whole number as a float is one
            await until(lambda: got, what="the NCMD")
        finally:
            task.cancel()
        assert len(got) == 1
        (m,) = Payload.FromString(got[0]).metrics
        assert (m.name, m.datatype, metric_value(m)) == ("Level", 3, -20)


async def test_alias_tables_hold_only_bound_devices_and_each_birth_replaces_its_own(mosquitto):
    flow = "mqtt://spBv1.0/plant/edge-6/boiler#Flow"
    driver = driver_for(mosquitto, ManualClock(T0))
    ms = int(T0 * 1000)
    async with subscribed(driver, flow) as changes, publisher(mosquitto) as edge:
        for i in range(50):  # devices no point binds (device churn, anyone under the node)
            await edge.publish(f"spBv1.0/plant/DBIRTH/edge-6/dev-{i}", payload(
                metric("m0", 1, 10, 1.0), metric("m1", 2, 10, 2.0), ts=ms - 60_000))
        await edge.publish("spBv1.0/plant/DBIRTH/edge-6/boiler", payload(
            metric("Flow", 3, 10, 1.5), metric("Other", 4, 10, 0.0), ts=ms - 50_000))
        await edge.publish("spBv1.0/plant/DBIRTH/edge-6/boiler", payload(  # a rebirth, new aliases
            metric("Flow", 5, 10, 2.5), ts=ms - 40_000))
        await edge.publish("spBv1.0/plant/DDATA/edge-6/boiler", payload(
            metric(alias=3, datatype=10, value=9.0), metric(alias=5, datatype=10, value=3.5),
            ts=ms - 30_000))
        await until(lambda: len(changes.of(flow)) == 3, what="the births and data")
        assert [v for v, _s, _t in changes.of(flow)] == [1.5, 2.5, 3.5]
        assert driver.errors["alias"] == 1  # alias 3 was the earlier birth's
        node = driver._nodes[("plant", "edge-6")]
        assert node.aliases == {"boiler": {5: "Flow"}}
        assert node.datatypes == {"boiler": {"Flow": 10}}
        # A new node session: its devices' aliases are gone until they are born again.
        await edge.publish("spBv1.0/plant/NBIRTH/edge-6", payload(metric("bdSeq", None, 8, 1),
                                                                    ts=ms - 20_000))
        await edge.publish("spBv1.0/plant/DDATA/edge-6/boiler", payload(
            metric(alias=5, datatype=10, value=4.5), ts=ms - 10_000))
        await until(lambda: driver.errors["alias"] == 2, what="the old alias counted")
        assert node.aliases == {} and changes.last(flow)[0] == 3.5
