"""The telemetry bridge against a real Mosquitto: what a subscriber (aiomqtt, and mosquitto_sub,
the independent client) reads per point and per device, the retained status and Last Will, the
heartbeat, alarm and command changes, order across an outage, and health."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from openbms.model.sample import OFFLINE, OK, Sample
from openbms.model.site import SiteConfig
from openbms.runtime.clock import ManualClock, WallClock
from openbms.service.assembly import Assembly
from tests.fixtures.services import MosquittoBroker
from tests.integration.mqtt_helpers import until

ROOT = Path(__file__).resolve().parents[2]


def _site(port: int, **mqtt: Any) -> SiteConfig:
    bridge = {"per_point": True, "per_device": True, **mqtt.pop("bridge", {})}
    return SiteConfig.model_validate({
        "site": {"id": "hq", "timezone": "UTC"},
        "mqtt": {"port": port, "timeout": 2, "bridge": bridge, **mqtt},
        "equipment": [
            {"id": "ahu-1", "type": "ahu", "points": [
                {"name": "sat", "unit": "degC", "binding": "bacnet://1001/analog-input,1"},
                {"name": "fan", "kind": "bool", "binding": "bacnet://1001/binary-input,1"}]},
            {"id": "zone-1", "type": "sensor", "points": [
                {"name": "co2", "unit": "ppm", "binding": "mqtt://sensors/zone-1/co2"},
                {"name": "occ-sp", "unit": "degC"}]}]})


class Received:
    """What a subscriber read: (topic, payload, retained), in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []

    def on(self, topic: str) -> list[Any]:
        return [json.loads(p) for t, p, _r in self.messages if t == topic]

    def topics(self) -> set[str]:
        return {t for t, _p, _r in self.messages}


@asynccontextmanager
async def subscriber(broker: MosquittoBroker, pattern: str = "openbms/#") -> AsyncIterator[Received]:
    received = Received()
    async with aiomqtt.Client(broker.host, broker.port, identifier="test-subscriber") as client:
        await client.subscribe(pattern, qos=1)

        async def read() -> None:
            async for m in client.messages:
                received.messages.append((m.topic.value, bytes(m.payload), m.retain))  # type: ignore[arg-type]

        task = asyncio.create_task(read())
        try:
            yield received
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def bridged(site: SiteConfig, data: Path, clock: Any = None) -> AsyncIterator[Assembly]:
    assembly = Assembly([site], clock or WallClock(), data_dir=data)
    await assembly.start_site_services(None)
    try:
        yield assembly
    finally:
        await assembly.stop()


async def test_samples_are_published_per_point_and_per_device_with_names_units_status_and_keys(
        mosquitto, tmp_path):
    clock = ManualClock(1_765_000_000.25)
    async with subscriber(mosquitto) as got, bridged(_site(mosquitto.port), tmp_path, clock) as a:
        ts = clock.now()
        a.bus.publish([Sample("hq/ahu-1/sat", ts, 13.5), Sample("hq/ahu-1/fan", ts, True),
                       Sample("hq/zone-1/co2", ts, None, OFFLINE), Sample("hq/zone-1/occ-sp", ts, 21)])
        a.bus.publish([Sample("elsewhere/ahu-1/sat", ts, 1.0)])  # another site's: not bridged
        await until(lambda: len(got.on("openbms/hq/devices/virtual:zone-1")) == 1, what="all sent")
        health = a.bridge_health()["mqtt_bridge_hq"]
    assert got.on("openbms/hq/ahu-1/sat") == [
        {"value": 13.5, "unit": "degC", "status": OK, "time": ts, "key": f"hq/ahu-1/sat@{ts!r}"}]
    assert got.on("openbms/hq/ahu-1/fan")[0]["value"] is True
    assert got.on("openbms/hq/zone-1/co2") == [
        {"value": None, "unit": "ppm", "status": OFFLINE, "time": ts, "key": f"hq/zone-1/co2@{ts!r}"}]
    device = got.on("openbms/hq/devices/bacnet:1001")
    assert len(device) == 1 and device[0]["site"] == "hq" and device[0]["device"] == "bacnet:1001"
    assert [(s["point"], s["value"], s["unit"], s["status"], s["time"], s["key"])
            for s in device[0]["samples"]] == [
        ("hq/ahu-1/sat", 13.5, "degC", OK, ts, f"hq/ahu-1/sat@{ts!r}"),
        ("hq/ahu-1/fan", True, None, OK, ts, f"hq/ahu-1/fan@{ts!r}")]
    assert [s["point"] for s in got.on("openbms/hq/devices/mqtt:sensors")[0]["samples"]] == [
        "hq/zone-1/co2"]
    assert not any("elsewhere" in t for t in got.topics())
    assert health["status"] == "ok" and health["connected"] and health["samples"] == 4


async def test_mosquitto_sub_reads_the_bridge(mosquitto, tmp_path):
    mosquitto_sub = shutil.which("mosquitto_sub")
    if mosquitto_sub is None:
        pytest.fail("mosquitto_sub is missing (apt-get install mosquitto-clients)")
    site = _site(mosquitto.port, prefix="bms/eu", bridge={"per_device": False, "retain": True})
    async with bridged(site, tmp_path) as a:
        a.bus.publish([Sample("hq/ahu-1/sat", 1_765_000_000.5, 12.0)])
        await until(lambda: a.bridges["hq"].link.outbox.stats().sent >= 1, what="published")
        # The retained last value, read by the independent client after it was sent.
        out = await asyncio.to_thread(subprocess.run, [
            mosquitto_sub, "-h", mosquitto.host, "-p", str(mosquitto.port), "-t", "bms/eu/hq/+/+",
            "-C", "1", "-v", "-W", "10"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    topic, payload = out.stdout.strip().split(" ", 1)
    assert topic == "bms/eu/hq/ahu-1/sat"
    assert json.loads(payload) == {"value": 12.0, "unit": "degC", "status": "ok",
                                   "time": 1_765_000_000.5, "key": "hq/ahu-1/sat@1765000000.5"}


async def test_alarm_and_command_changes_of_the_site_are_published(mosquitto, tmp_path):
    async with subscriber(mosquitto) as got, bridged(_site(mosquitto.port), tmp_path) as a:
        a.bus.publish_event("alarm", {"alarm_id": "hi-sat", "point": "hq/ahu-1/sat", "ts": 5.0,
                                      "action": "raise", "to_state": "active", "site": "hq"})
        a.bus.publish_event("alarm", {"alarm_id": "x", "point": "b2/x/y", "ts": 5.0,
                                      "action": "raise", "site": "b2"})
        a.bus.publish_event("command", {"id": 7, "point": "hq/zone-1/occ-sp", "value": 21,
                                        "status": "completed"})
        a.bus.publish_event("command", {"id": 8, "point": "b2/x/y", "status": "completed"})
        await until(lambda: got.on("openbms/hq/commands"), what="the command change")
    assert [a["alarm_id"] for a in got.on("openbms/hq/alarms")] == ["hi-sat"]
    assert [(c["id"], c["status"]) for c in got.on("openbms/hq/commands")] == [(7, "completed")]


async def test_an_event_that_is_not_json_is_counted_and_the_next_ones_are_sent(mosquitto, tmp_path):
    async with subscriber(mosquitto) as got, bridged(_site(mosquitto.port), tmp_path) as a:
        a.bus.publish_event("alarm", {"site": "hq", "alarm_id": "odd", "value": {1: "x"}})
        a.bus.publish_event("alarm", {"site": "hq", "alarm_id": "hi-sat", "ts": 5.0})
        await until(lambda: got.on("openbms/hq/alarms"), what="the next alarm change")
        health = a.bridge_health()["mqtt_bridge_hq"]
    assert [a["alarm_id"] for a in got.on("openbms/hq/alarms")] == ["hi-sat"]
    assert health["event_errors"] == 1 and health["events"] == 1


async def test_status_is_retained_online_with_a_heartbeat_and_offline_at_stop(mosquitto, tmp_path):
    site = _site(mosquitto.port, bridge={"heartbeat": 0.2})
    async with bridged(site, tmp_path), subscriber(mosquitto, "openbms/hq/status") as got:
        await until(lambda: len(got.on("openbms/hq/status")) >= 3, what="two heartbeats")
    first = got.messages[0]
    assert first[2] is True  # retained: a subscriber arriving later reads it at once
    beats = got.on("openbms/hq/status")
    assert {b["status"] for b in beats} == {"online"} and beats[0]["version"]
    assert [b["time"] for b in beats] == sorted(b["time"] for b in beats)
    async with subscriber(mosquitto, "openbms/hq/status") as after:
        await until(lambda: after.messages, what="the retained status")
    assert after.on("openbms/hq/status")[0]["status"] == "offline"


def _child(data: Path, broker: MosquittoBroker, points: int, period: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.mqtt_bridge_child", str(data), str(broker.port),
         str(points), str(period)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


async def test_the_last_will_says_offline_when_openbms_is_killed(mosquitto, tmp_path):
    child = _child(tmp_path, mosquitto, 10, 0.5)
    try:
        line = await asyncio.to_thread(child.stdout.readline)  # type: ignore[union-attr]
        assert line.strip() == "ready"
        async with subscriber(mosquitto, "openbms/hq/status") as got:
            await until(lambda: got.messages, what="the retained status")
            assert got.on("openbms/hq/status")[0]["status"] == "online"
            child.send_signal(signal.SIGKILL)
            await asyncio.to_thread(child.wait, 10)
            await until(lambda: len(got.messages) >= 2, what="the Last Will")
        assert got.on("openbms/hq/status")[-1] == {"status": "offline", "site": "hq"}
        assert got.messages[-1][0] == "openbms/hq/status"
    finally:
        _reap(child)


def _reap(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.kill()
        child.wait()
    if child.stdout is not None:
        child.stdout.close()


async def test_samples_sent_during_a_broker_outage_arrive_after_it_in_order(mosquitto, tmp_path):
    site = _site(mosquitto.port, bridge={"per_device": False},
                 outbox={"rate": 100_000})
    async with bridged(site, tmp_path) as a:
        link = a.bridges["hq"].link
        link.reconnect_min, link.reconnect_max = 0.05, 0.2
        mosquitto.stop()
        await until(lambda: not link.connected, what="the link lost the broker")
        health = a.bridge_health()["mqtt_bridge_hq"]
        for i in range(300):
            a.bus.publish([Sample("hq/ahu-1/sat", 1_765_000_000.0 + i, float(i))])
        await a.bridges["hq"].link.outbox.flush()
        assert link.outbox.stats().queued == 300
        mosquitto.start()
        async with subscriber(mosquitto, "openbms/hq/ahu-1/sat") as got:
            await until(lambda: len(got.messages) >= 300, within=30, what="the backlog")
        assert [m["value"] for m in got.on("openbms/hq/ahu-1/sat")] == [float(i) for i in range(300)]
        await until(lambda: link.outbox.stats().queued == 0, what="the outbox emptied")
    assert health["status"] == "degraded" and not health["connected"]
    assert "not connected" in health["reasons"][0]


async def test_a_bridge_that_cannot_start_is_reported_and_the_site_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENBMS_TEST_NO_SUCH_SECRET", raising=False)
    site = _site(1883, password_env="OPENBMS_TEST_NO_SUCH_SECRET")
    async with bridged(site, tmp_path) as a:
        health = a.bridge_health()["mqtt_bridge_hq"]
        assert a.bridges == {}
    assert health["status"] == "degraded"
    assert health["reasons"] == ["mqtt bridge not started: mqtt: password_env: the environment "
                                 "variable OPENBMS_TEST_NO_SUCH_SECRET is not set"]
    nowhere = Assembly([_site(1883)], WallClock())  # no data folder: no outbox, said so
    await nowhere.start_site_services(None)
    assert "no data folder" in nowhere.bridge_health()["mqtt_bridge_hq"]["reasons"][0]
    await nowhere.stop()


def _plain_site(port: int, points: list[str], prefix: str = "openbms") -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": "hq", "timezone": "UTC"},
        "mqtt": {"port": port, "timeout": 2, "prefix": prefix},
        "equipment": [{"id": "ahu-1", "type": "ahu",
                       "points": [{"name": n, "unit": "degC"} for n in points]}]})


async def test_a_configuration_change_keeps_the_connection_and_bridges_the_new_points(
        mosquitto, tmp_path):
    async with subscriber(mosquitto, "#") as got, \
            bridged(_plain_site(mosquitto.port, ["sat"]), tmp_path) as a:
        link = a.bridges["hq"].link
        # What the runtime does on a change through the API: reconfigure, then the site again.
        a.sites[0] = _plain_site(mosquitto.port, ["sat", "rat"])
        await a.reconfigure()
        await a.stop_site("hq")
        await a.start_site(a.sites[0])
        assert a.bridges["hq"].link is link and link.connects == 1  # no new connection
        a.bus.publish([Sample("hq/ahu-1/rat", 5.0, 21.0)])
        await until(lambda: got.on("openbms/hq/ahu-1/rat"), what="the new point")
        a.sites[0] = _plain_site(mosquitto.port, ["sat", "rat"], prefix="bms")  # mqtt: changed
        await a.reconfigure()
        assert a.bridges["hq"].link is not link and a.bridges["hq"].link.base == "bms/hq"
        a.bus.publish([Sample("hq/ahu-1/rat", 6.0, 22.0)])
        await until(lambda: got.on("bms/hq/ahu-1/rat"), what="the new prefix")
    statuses = [s["status"] for s in got.on("openbms/hq/status")]
    assert statuses == ["online", "offline"]  # once each: no flapping at the first change
    assert a.subscriptions.count("mqtt bridge hq") == 0  # stopped with the assembly


async def test_qos_0_messages_are_sent_and_leave_the_outbox(mosquitto, tmp_path):
    site = _site(mosquitto.port, bridge={"qos": 0, "per_device": False})
    async with subscriber(mosquitto, "openbms/hq/ahu-1/sat") as got, bridged(site, tmp_path) as a:
        for i in range(50):
            a.bus.publish([Sample("hq/ahu-1/sat", 1_765_000_000.0 + i, float(i))])
        await until(lambda: len(got.messages) == 50, what="50 messages")
        outbox = a.bridges["hq"].link.outbox
        await until(lambda: outbox.stats().sent == 50 and outbox.queued == 0, what="sent, deleted")
    assert [m["value"] for m in got.on("openbms/hq/ahu-1/sat")] == [float(i) for i in range(50)]


async def test_a_window_slower_than_the_timeout_still_goes_while_acknowledgements_come(
        mosquitto, tmp_path):
    # A slow link (an edge site's uplink): a window of big messages takes longer than `timeout`
    # to send, each acknowledgement does not. The timeout is for no progress, not for a window.
    site = _site(mosquitto.port, timeout=0.05, bridge={"per_device": False})
    async with bridged(site, tmp_path) as a:
        link = a.bridges["hq"].link
        for i in range(60):
            link.publish("openbms/hq/bulk", bytes([i]) * 1_000_000, qos=1, key=f"bulk-{i}")
        await until(lambda: link.outbox.stats().sent >= 60, within=60, what="the big window sent")
