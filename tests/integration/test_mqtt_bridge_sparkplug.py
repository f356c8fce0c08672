"""The telemetry bridge's Sparkplug B batches against a real Mosquitto.

Two readers: openbms's own MQTT driver with its Sparkplug B decoder (the round trip: the same
values, aliases resolved, deaths taking points offline), and a decoder of the wire format
written here from the specification's field numbers (Eclipse Tahu's sparkplug_b.proto), which
shares no code with the bridge's message classes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt

from openbms.drivers.mqtt.edge import EdgeMetric, EdgeNode, alias_of
from openbms.model.sample import OFFLINE, OK, Sample
from openbms.model.site import SiteConfig
from openbms.runtime.clock import ManualClock
from openbms.service.assembly import Assembly
from tests.fixtures.services import MosquittoBroker, mosquitto_server
from tests.integration.mqtt_helpers import driver_for, subscribed, until

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_765_000_000.0
T1 = T0 + 10  # sample times, after the births (the clock's T0)
B_SAT = "mqtt://spBv1.0/openbms/hq/bacnet:1001#ahu-1/sat"
B_FAN = "mqtt://spBv1.0/openbms/hq/bacnet:1001#ahu-1/fan"
B_MODE = "mqtt://spBv1.0/openbms/hq/bacnet:1001#ahu-1/mode"
B_SP = "mqtt://spBv1.0/openbms/hq/virtual:zone-1#zone-1/occ-sp"


def _site(port: int, **bridge: Any) -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": "hq", "timezone": "UTC"},
        "mqtt": {"port": port, "timeout": 2, "outbox": {"rate": 100_000},
                 "bridge": {"per_point": False, "per_device": True, "format": "sparkplug",
                            **bridge}},
        "equipment": [
            {"id": "ahu-1", "type": "ahu", "points": [
                {"name": "sat", "unit": "degC", "binding": "bacnet://1001/analog-input,1"},
                {"name": "fan", "kind": "bool", "binding": "bacnet://1001/binary-input,1"},
                {"name": "mode", "kind": "enum", "states": ["off", "heat", "cool"],
                 "binding": "bacnet://1001/multi-state-value,1"}]},
            {"id": "zone-1", "type": "sensor", "points": [{"name": "occ-sp", "unit": "degC"}]}]})


# ---------------------------------------------------------------------------- the wire format


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def _fields(data: bytes) -> list[tuple[int, Any]]:
    """(field number, value) of a protobuf message: varints as ints, fixed64 as 8 bytes,
    length-delimited as bytes."""
    out, i = [], 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise AssertionError(f"wire type {wire}")
        out.append((number, value))
    return out


def decode(payload: bytes) -> dict[str, Any]:
    """A Sparkplug B payload: timestamp, seq and metrics as dicts (name, alias, timestamp,
    datatype, value, null, units)."""
    doc: dict[str, Any] = {"metrics": []}
    for number, value in _fields(payload):
        if number == 1:
            doc["timestamp"] = value
        elif number == 3:
            doc["seq"] = value
        elif number == 2:
            m: dict[str, Any] = {}
            for n, v in _fields(value):
                if n == 1:
                    m["name"] = v.decode()
                elif n == 2:
                    m["alias"] = v
                elif n == 3:
                    m["timestamp"] = v
                elif n == 4:
                    m["datatype"] = v
                elif n == 5:
                    m["historical"] = bool(v)
                elif n == 7:
                    m["null"] = bool(v)
                elif n == 9:  # PropertySet: keys (1), values (2: PropertyValue, string 8)
                    props = _fields(v)
                    keys = [k.decode() for f, k in props if f == 1]
                    values = [next(x.decode() for f2, x in _fields(pv) if f2 == 8)
                              for f, pv in props if f == 2]
                    m["properties"] = dict(zip(keys, values, strict=True))
                elif n == 10:  # int_value: Int32 in two's complement
                    m["value"] = v - (1 << 32) if v >= 1 << 31 else v
                elif n == 11:
                    m["value"] = v
                elif n == 13:
                    m["value"] = struct.unpack("<d", v)[0]
                elif n == 14:
                    m["value"] = bool(v)
            doc["metrics"].append(m)
    return doc


def rebirth_request() -> bytes:
    """An NCMD payload: one metric, Node Control/Rebirth, Boolean true."""
    name = b"Node Control/Rebirth"
    metric = b"\x0a" + bytes([len(name)]) + name + b"\x20\x0b" + b"\x70\x01"
    return b"\x12" + bytes([len(metric)]) + metric


class Wire:
    """What a subscriber of spBv1.0/# read: (topic, decoded payload), in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def of(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(t, d) for t, d in self.messages if t.split("/")[2] == kind]


@asynccontextmanager
async def wire(broker: MosquittoBroker) -> AsyncIterator[Wire]:
    got = Wire()
    async with aiomqtt.Client(broker.host, broker.port, identifier="test-sparkplug-host") as client:
        await client.subscribe("spBv1.0/#", qos=1)

        async def read() -> None:
            async for m in client.messages:
                got.messages.append((m.topic.value, decode(bytes(m.payload))))  # type: ignore[arg-type]

        task = asyncio.create_task(read())
        try:
            yield got
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def bridged(site: SiteConfig, data: Path, clock: Any) -> AsyncIterator[Assembly]:
    assembly = Assembly([site], clock, data_dir=data)
    await assembly.start_site_services(None)
    try:
        yield assembly
    finally:
        await assembly.stop()


# ---------------------------------------------------------------------------- the tests


async def test_the_driver_reads_back_what_the_bridge_publishes_as_sparkplug_b(mosquitto, tmp_path):
    clock = ManualClock(T0)
    driver = driver_for(mosquitto, clock)
    async with wire(mosquitto) as raw, subscribed(driver, B_SAT, B_FAN, B_MODE, B_SP) as changes:
        async with bridged(_site(mosquitto.port), tmp_path, clock) as a:
            await until(lambda: len(raw.of("DBIRTH")) == 2, what="the births")
            await clock.set(T1 + 5)
            a.bus.publish([Sample("hq/ahu-1/sat", T1, 13.5), Sample("hq/ahu-1/fan", T1, True),
                           Sample("hq/ahu-1/mode", T1, 3), Sample("hq/zone-1/occ-sp", T1, 21)])
            await until(lambda: changes.last(B_SP) is not None and changes.last(B_SP)[0] == 21,
                        what="the data")
            assert changes.last(B_SAT) == (13.5, OK, T1)
            assert changes.last(B_FAN) == (True, OK, T1)
            assert changes.last(B_MODE) == (3, OK, T1)
            # Every point of the AHU's device offline: its death, and the driver's points offline.
            a.bus.publish([Sample("hq/ahu-1/sat", T1 + 1, None, OFFLINE),
                           Sample("hq/ahu-1/fan", T1 + 1, None, OFFLINE),
                           Sample("hq/ahu-1/mode", T1 + 1, None, OFFLINE)])
            await until(lambda: changes.last(B_SAT)[1] == OFFLINE, what="the device's death")
            assert changes.last(B_SP)[1] == OK  # another device: alive
            # Back: born again with its values, then data by alias again.
            a.bus.publish([Sample("hq/ahu-1/sat", T1 + 2, 14.0), Sample("hq/ahu-1/fan", T1 + 2, False),
                           Sample("hq/ahu-1/mode", T1 + 2, 1)])
            await until(lambda: changes.last(B_SAT) == (14.0, OK, T1 + 2), what="the rebirth")
            a.bus.publish([Sample("hq/ahu-1/sat", T1 + 3, 14.5)])
            await until(lambda: changes.last(B_SAT) == (14.5, OK, T1 + 3), what="data after it")
            bd_seq = raw.of("NBIRTH")[0][1]["metrics"][0]["value"]
        # The bridge stopped: its NDEATH (the Last Will's payload, sent at a clean stop too).
        await until(lambda: changes.last(B_SP)[1] == OFFLINE, what="the node's death")
        await until(lambda: raw.of("NDEATH"), what="the NDEATH on the wire")
    assert driver.errors["alias"] == 0 and driver.errors["protobuf"] == 0

    # The wire, read independently.
    kinds = [t.split("/")[2] + ("/" + t.split("/")[4] if len(t.split("/")) == 5 else "")
             for t, _d in raw.messages]
    assert kinds == ["NBIRTH", "DBIRTH/bacnet:1001", "DBIRTH/virtual:zone-1",
                     "DDATA/bacnet:1001", "DDATA/virtual:zone-1", "DDEATH/bacnet:1001",
                     "DBIRTH/bacnet:1001", "DDATA/bacnet:1001", "NDEATH"]
    assert all(t.startswith("spBv1.0/openbms/") and t.split("/")[3] == "hq" for t, _ in raw.messages)
    assert [d.get("seq") for _t, d in raw.messages] == [0, 1, 2, 3, 4, 5, 6, 7, None]
    nbirth = raw.messages[0][1]
    assert {m["name"]: m.get("value") for m in nbirth["metrics"]} == {
        "bdSeq": bd_seq, "Node Control/Rebirth": False}
    assert raw.of("NDEATH")[0][1]["metrics"] == [{"name": "bdSeq", "datatype": 8, "value": bd_seq}]
    birth = raw.messages[1][1]["metrics"]
    assert [(m["name"], m["alias"], m["datatype"], m.get("null", False), m.get("properties"))
            for m in birth] == [
        ("ahu-1/sat", alias_of("hq/ahu-1/sat"), 10, True, {"engUnit": "degC"}),
        ("ahu-1/fan", alias_of("hq/ahu-1/fan"), 11, True, None),
        ("ahu-1/mode", alias_of("hq/ahu-1/mode"), 3, True, None)]
    data = raw.messages[3][1]["metrics"]
    assert [(m.get("name"), m["alias"], m["timestamp"], m["value"]) for m in data] == [
        (None, alias_of("hq/ahu-1/sat"), int(T1 * 1000), 13.5),
        (None, alias_of("hq/ahu-1/fan"), int(T1 * 1000), True),
        (None, alias_of("hq/ahu-1/mode"), int(T1 * 1000), 3)]
    assert not any(m.get("historical") for _t, d in raw.of("DDATA") for m in d["metrics"])
    reborn = raw.messages[6][1]["metrics"]
    assert [(m["name"], m["value"], m["timestamp"]) for m in reborn] == [
        ("ahu-1/sat", 14.0, int((T1 + 2) * 1000)), ("ahu-1/fan", False, int((T1 + 2) * 1000)),
        ("ahu-1/mode", 1, int((T1 + 2) * 1000))]


async def test_a_rebirth_command_sends_the_births_again_from_seq_0(mosquitto, tmp_path):
    clock = ManualClock(T0)
    async with wire(mosquitto) as raw, bridged(_site(mosquitto.port, group="plant"), tmp_path,
                                               clock) as a:
        await until(lambda: len(raw.of("DBIRTH")) == 2, what="the births")
        a.bus.publish([Sample("hq/ahu-1/sat", T0, 13.5)])
        await until(lambda: raw.of("DDATA"), what="the data")
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-host") as host:
            await host.publish("spBv1.0/plant/NCMD/hq", rebirth_request())
        await until(lambda: len(raw.of("NBIRTH")) == 2, what="the rebirth")
        await until(lambda: len(raw.of("DBIRTH")) == 4, what="the devices' rebirth")
        assert a.bridges["hq"].link.rebirths == 1
    first, again = raw.of("NBIRTH")
    assert first[0] == "spBv1.0/plant/NBIRTH/hq"
    assert again[1]["seq"] == 0 and first[1]["metrics"][0] == again[1]["metrics"][0]  # same bdSeq
    births = raw.of("DBIRTH")
    assert [d["seq"] for _t, d in births] == [1, 2, 1, 2]
    sat = next(m for m in births[2][1]["metrics"] if m["name"] == "ahu-1/sat")
    assert sat["value"] == 13.5  # the last value published


async def test_after_an_outage_the_new_sessions_births_come_first_then_the_backlog(mosquitto,
                                                                                   tmp_path):
    clock = ManualClock(T0)
    async with bridged(_site(mosquitto.port), tmp_path, clock) as a:
        link = a.bridges["hq"].link
        link.reconnect_min, link.reconnect_max = 0.05, 0.2
        mosquitto.stop()
        await until(lambda: not link.connected, what="the link lost the broker")
        for i in range(5):
            a.bus.publish([Sample("hq/ahu-1/sat", T0 + i, float(i))])
        await link.outbox.flush()
        # The link's next connection waits for this gate, so the subscriber is there first.
        gate = asyncio.Event()
        numbers = link.outbox.next_number

        async def gated(name: str, modulo: int = 256) -> int:
            await gate.wait()
            return await numbers(name, modulo)

        link.outbox.next_number = gated  # type: ignore[method-assign]
        mosquitto.start()
        async with wire(mosquitto) as raw:
            gate.set()
            await until(lambda: len(raw.of("DDATA")) == 5, within=30, what="the backlog")
            await until(lambda: link.outbox.stats().queued == 0, what="the outbox emptied")
            a.bus.publish([Sample("hq/ahu-1/sat", T0 + 5, 5.0)])  # live again
            await until(lambda: len(raw.of("DDATA")) == 6, what="live data")
    kinds = [t.split("/")[2] for t, _d in raw.messages[:8]]
    assert kinds == ["NBIRTH", "DBIRTH", "DBIRTH", "DDATA", "DDATA", "DDATA", "DDATA", "DDATA"]
    assert [d["seq"] for _t, d in raw.messages[:8]] == list(range(8))
    assert [(d["metrics"][0]["value"], d["metrics"][0].get("historical", False))
            for _t, d in raw.of("DDATA")] == [  # older than the births' values: history
        (0.0, True), (1.0, True), (2.0, True), (3.0, True), (4.0, True), (5.0, False)]
    # The births carry the last value the bridge had: the newest of the backlog.
    sat = next(m for m in raw.messages[1][1]["metrics"] if m["name"] == "ahu-1/sat")
    assert sat["value"] == 4.0 and sat["timestamp"] == int((T0 + 4) * 1000)


def _unbound_site(port: int, equipment: dict[str, list[str]]) -> SiteConfig:
    """Points without bindings (devices ``virtual:{equipment}``): a reconfiguration starts no
    driver (a BACnet one would take a fixed UDP port)."""
    return SiteConfig.model_validate({
        "site": {"id": "hq", "timezone": "UTC"},
        "mqtt": {"port": port, "timeout": 2,
                 "bridge": {"per_point": False, "per_device": True, "format": "sparkplug"}},
        "equipment": [{"id": eq, "type": "ahu", "points": [{"name": n, "unit": "degC"}
                                                           for n in names]}
                      for eq, names in equipment.items()]})


async def test_a_new_configuration_births_the_changed_device_and_ends_the_removed_one(
        mosquitto, tmp_path):
    clock = ManualClock(T0)
    site = _unbound_site(mosquitto.port, {"ahu-1": ["sat"], "ahu-2": ["sat"]})
    async with wire(mosquitto) as raw, bridged(site, tmp_path, clock) as a:
        await until(lambda: len(raw.of("DBIRTH")) == 2, what="the births")
        a.sites[0] = _unbound_site(mosquitto.port, {"ahu-1": ["sat", "rat"]})
        await a.reconfigure()
        await until(lambda: len(raw.of("DBIRTH")) == 3 and raw.of("DDEATH"), what="the changes")
        a.bus.publish([Sample("hq/ahu-1/rat", T0, 20.5)])
        await until(lambda: raw.of("DDATA"), what="the new point's data")
        health = a.bridge_health()["mqtt_bridge_hq"]
    topic, reborn = raw.of("DBIRTH")[2]
    assert topic == "spBv1.0/openbms/DBIRTH/hq/virtual:ahu-1"
    assert [m["name"] for m in reborn["metrics"]] == ["ahu-1/sat", "ahu-1/rat"]
    assert raw.of("DDEATH")[0][0] == "spBv1.0/openbms/DDEATH/hq/virtual:ahu-2"
    assert raw.of("DDATA")[0][1]["metrics"][0]["alias"] == alias_of("hq/ahu-1/rat")
    assert health["sparkplug"] == {"group": "openbms", "node": "hq", "bd_seq": 0, "rebirths": 0,
                                   "value_errors": 0}


#: The ACL lines docs/mqtt.md gives for a Sparkplug B bridge (user name = site id), and a host.
SPARKPLUG_ACL = """
pattern write openbms/%u/status
pattern write spBv1.0/+/+/%u
pattern write spBv1.0/+/+/%u/+
pattern read spBv1.0/+/NCMD/%u

user host
topic read spBv1.0/#
topic write spBv1.0/+/NCMD/+
"""


async def test_the_documented_acl_lets_a_site_be_an_edge_node_and_a_host_ask_a_rebirth(
        tmp_path, monkeypatch):
    monkeypatch.setenv("OPENBMS_TEST_SP_USER", "hq")
    monkeypatch.setenv("OPENBMS_TEST_SP_PASSWORD", "pw-hq")
    with mosquitto_server({"hq": "pw-hq", "host": "pw-host"}, acl=SPARKPLUG_ACL) as broker:
        site = SiteConfig.model_validate({
            **_site(broker.port).model_dump(mode="json", exclude_defaults=True),
            "mqtt": {"port": broker.port, "timeout": 2, "username_env": "OPENBMS_TEST_SP_USER",
                     "password_env": "OPENBMS_TEST_SP_PASSWORD",
                     "bridge": {"per_point": False, "per_device": True, "format": "sparkplug",
                                "alarms": False, "commands": False}}})
        got: list[tuple[str, dict[str, Any]]] = []
        async with aiomqtt.Client(broker.host, broker.port, identifier="test-host",
                                  username="host", password="pw-host") as host:
            await host.subscribe("spBv1.0/#", qos=1)

            async def read() -> None:
                async for m in host.messages:
                    got.append((m.topic.value, decode(bytes(m.payload))))  # type: ignore[arg-type]

            reader = asyncio.create_task(read())
            try:
                async with bridged(site, tmp_path, ManualClock(T0)) as a:
                    await until(lambda: len(got) == 3, what="the births")
                    a.bus.publish([Sample("hq/ahu-1/sat", T0, 13.5)])
                    await until(lambda: len(got) == 4, what="the data")
                    await host.publish("spBv1.0/openbms/NCMD/hq", rebirth_request())
                    await until(lambda: a.bridges["hq"].link.rebirths == 1, what="the rebirth")
                    await until(lambda: len(got) == 8, what="the births again")
                await until(lambda: len(got) == 9, what="the NDEATH at the stop")
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
    assert [t.split("/")[2] for t, _d in got] == [
        "NBIRTH", "DBIRTH", "DBIRTH", "DDATA", "NCMD",  # the host reads its own request
        "NBIRTH", "DBIRTH", "DBIRTH", "NDEATH"]  # the rebirth, then the stop


def test_seq_wraps_after_255_and_aliases_do_not_depend_on_the_session():
    edge = EdgeNode("g", "hq")
    seqs = [decode(edge.stamp(b""))["seq"] for _ in range(300)]
    assert seqs == [i % 256 for i in range(300)]
    edge.births(7, T0)
    assert decode(edge.stamp(b""))["seq"] == 1  # the NBIRTH was 0 (no devices)
    assert alias_of("hq/ahu-1/sat") == alias_of("hq/ahu-1/sat") != alias_of("hq/ahu-1/fan")
    assert alias_of("hq/ahu-1/sat") < 1 << 56


def _child(data: Path, broker: MosquittoBroker) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.mqtt_bridge_child", str(data), str(broker.port),
         "10", "0.5", "sparkplug"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


async def test_the_last_will_is_the_ndeath_of_the_session_when_openbms_is_killed(mosquitto,
                                                                                tmp_path):
    child = _child(tmp_path, mosquitto)
    try:
        async with wire(mosquitto) as raw:
            line = await asyncio.to_thread(child.stdout.readline)  # type: ignore[union-attr]
            assert line.strip() == "ready"
            await until(lambda: raw.of("DDATA"), what="the child's data")
            child.send_signal(signal.SIGKILL)
            await asyncio.to_thread(child.wait, 10)
            await until(lambda: raw.of("NDEATH"), what="the Last Will")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    # The subscriber may have come after the NBIRTH: the child's bdSeq is the first one (0) of
    # its fresh data folder.
    assert raw.of("NDEATH")[0] == ("spBv1.0/openbms/NDEATH/hq",
                                   {"metrics": [{"name": "bdSeq", "datatype": 8, "value": 0}]})


def test_a_value_that_does_not_fit_its_metric_is_sent_null_and_counted():
    edge = EdgeNode("g", "hq")
    edge.define([("dev", EdgeMetric("hq/a/t", "a/t", alias_of("hq/a/t"), 10, "degC")),
                 ("dev", EdgeMetric("hq/a/on", "a/on", alias_of("hq/a/on"), 11, None)),
                 ("dev", EdgeMetric("hq/a/mode", "a/mode", alias_of("hq/a/mode"), 3, None))])
    doc = decode(edge.data([("hq/a/t", T0, "warm", OK), ("hq/a/on", T0, True, OK),
                            ("hq/a/mode", T0, 2.5, OK), ("hq/a/t", T0 + 1, None, OFFLINE)], T0))
    assert [(m.get("value"), m.get("null", False)) for m in doc["metrics"]] == [
        (None, True), (True, False), (None, True), (None, True)]
    assert edge.value_errors == 2  # the text and the fraction; offline is null by design


async def test_the_driver_keeps_the_backlog_sent_after_an_outage_as_history(mosquitto, tmp_path):
    """The backlog comes after the new session's births, each metric flagged is_historical and
    older than the births' values: the driver used to refuse all of it as replays (the history
    of the outage lost). Now each is reported once with its own time; the current value stays
    the births'."""
    clock = ManualClock(T0)
    driver = driver_for(mosquitto, clock)
    async with subscribed(driver, B_SAT) as changes, \
            bridged(_site(mosquitto.port), tmp_path, clock) as a:
        link = a.bridges["hq"].link
        link.reconnect_min, link.reconnect_max = 0.05, 0.2
        await until(lambda: changes.of(B_SAT), what="the first birth")  # no value yet: at T0
        await clock.set(T1 + 30)
        a.bus.publish([Sample("hq/ahu-1/sat", T1, 10.0)])
        await until(lambda: changes.last(B_SAT) == (10.0, OK, T1), what="live data")
        mosquitto.stop()
        await until(lambda: not link.connected, what="the link lost the broker")
        for i in range(1, 5):
            a.bus.publish([Sample("hq/ahu-1/sat", T1 + i, 10.0 + i)])
        await link.outbox.flush()
        gate = asyncio.Event()  # the link's next session waits until the driver is back
        numbers = link.outbox.next_number

        async def gated(name: str, modulo: int = 256) -> int:
            await gate.wait()
            return await numbers(name, modulo)

        link.outbox.next_number = gated  # type: ignore[method-assign]
        mosquitto.start()
        await until(lambda: driver.connected, within=30, what="the driver back")
        gate.set()
        await until(lambda: link.outbox.stats().queued == 0, within=30, what="the backlog sent")
        await until(lambda: len(changes.of(B_SAT)) >= 5, what="the births and the backlog")
        await asyncio.sleep(0.3)  # anything more would arrive now
    ok = [(v, t) for v, status, t in changes.of(B_SAT)[1:] if status == OK]
    assert ok == [(10.0, T1),
                  (14.0, T1 + 4),  # the birth: the newest value
                  (11.0, T1 + 1), (12.0, T1 + 2), (13.0, T1 + 3)]  # the outage's history, once
    assert driver.errors.get("time", 0) == 0
