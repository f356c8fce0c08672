"""The emulated building's MQTT sensors against a real Mosquitto: CO2 as JSON, people as plain numbers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime

import aiomqtt
import pytest

from openbms.runtime.clock import ManualClock
from openbms.sim.building import BaselineSequence, Building
from openbms.sim.building.air import OUTDOOR_CO2
from openbms.sim.building.live import AcceleratedClock, LiveEmulator, main
from openbms.sim.building.mqtt import MqttSensors, sensor_topics
from tests.fixtures.waiting import eventually


def _morning() -> Building:
    """The building at 10:00 on a Monday, after a morning of the baseline sequence: people in."""
    b = Building(start=datetime(2025, 4, 7, 6))
    seq = BaselineSequence()
    for _ in range(4 * 60):
        seq(b)
        b.step(60.0)
    return b


class Listener:
    """A subscriber to ``sensors/#`` on the broker (an independent client)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    async def listen(self, broker, subscribed: asyncio.Event) -> None:
        async with aiomqtt.Client(broker.host, broker.port, identifier="test-listener") as client:
            await client.subscribe("sensors/#")
            subscribed.set()
            async for message in client.messages:
                self.messages.append((message.topic.value, bytes(message.payload)))  # type: ignore[arg-type]


async def _listening(broker) -> tuple[Listener, asyncio.Task[None]]:
    listener, subscribed = Listener(), asyncio.Event()
    task = asyncio.create_task(listener.listen(broker, subscribed))
    await asyncio.wait_for(subscribed.wait(), 10)
    return listener, task


async def test_each_zone_publishes_co2_as_json_and_its_people_as_a_plain_number(mosquitto):
    building = _morning()
    clock = ManualClock(building.timestamp)
    listener, task = await _listening(mosquitto)
    try:
        async with MqttSensors(building, clock, mosquitto.host, mosquitto.port, every=60) as sensors:
            zones = building.layout.ids
            await eventually(lambda: len(listener.messages) >= 2 * len(zones), "the first publish")
            await clock.advance(60)  # one more publish, a simulated minute later
            await eventually(lambda: len(listener.messages) >= 4 * len(zones), "the second publish")
            await asyncio.sleep(0.2)
            assert sensors.connections == 1
    finally:
        task.cancel()
    got = listener.messages
    assert len(got) == 4 * len(zones)  # two publishes (t0 and t0 + 60 s), nothing in between
    by_topic: dict[str, list[bytes]] = {}
    for topic, payload in got:
        by_topic.setdefault(topic, []).append(payload)
    assert set(by_topic) == {t for z in zones for t in sensor_topics(z)}
    for i, zone in enumerate(zones):
        co2_topic, occ_topic = sensor_topics(zone)
        first, second = (json.loads(p) for p in by_topic[co2_topic])
        assert set(first) == {"co2", "ts"}
        assert isinstance(first["co2"], int) and OUTDOOR_CO2 < first["co2"] < 2500
        assert first["co2"] == round(building.air.co2[i])
        assert second["ts"] - first["ts"] == 60.0
        assert first["ts"] == pytest.approx(building.timestamp, abs=60)
        people = [int(p.decode()) for p in by_topic[occ_topic]]  # plain ASCII digits
        assert people == [int(building.air.occupants[i])] * 2
    assert sum(int(p.decode()) for t, p in got if t.endswith("/occupancy")) > 2 * 100  # a full office


async def test_the_sensors_reconnect_when_the_broker_comes_back(mosquitto):
    building = _morning()
    clock = AcceleratedClock(building.timestamp, speed=600)  # a publish every 0.1 s
    async with MqttSensors(building, clock, mosquitto.host, mosquitto.port, every=60,
                           reconnect_min=0.05, reconnect_max=0.2) as sensors:
        await eventually(lambda: sensors.published > 0, "a first publish")
        mosquitto.stop()
        await eventually(lambda: not sensors.connected, "the sensors to see the broker gone")
        mosquitto.start()
        listener, task = await _listening(mosquitto)
        try:
            await eventually(lambda: len(listener.messages) >= 30, "messages after the broker returned")
        finally:
            task.cancel()
        assert sensors.connections == 2


async def test_a_fast_clock_publishes_less_often_in_simulated_time():
    building = Building(start=datetime(2025, 4, 7, 10))
    assert MqttSensors(building, ManualClock(), every=60).period == 60
    assert MqttSensors(building, AcceleratedClock(0, speed=60), every=60).period == 60
    assert MqttSensors(building, AcceleratedClock(0, speed=3600), every=60).period == pytest.approx(360)


async def test_the_live_emulator_starts_and_stops_its_sensors(mosquitto):
    building = _morning()
    emulator = LiveEmulator(building, AcceleratedClock(building.timestamp, speed=600),
                            mqtt=(mosquitto.host, mosquitto.port))
    listener, task = await _listening(mosquitto)
    try:
        async with emulator:
            assert emulator.sensors is not None
            await eventually(lambda: len(listener.messages) >= 60, "two publishes")
        count = emulator.sensors.published
        await asyncio.sleep(0.5)
        assert emulator.sensors.published == count  # stopped with the emulator
    finally:
        task.cancel()


def test_the_command_line_refuses_a_broker_that_is_not_host_and_port(capsys):
    with pytest.raises(SystemExit):
        main(["--mqtt", "localhost"])
    assert "--mqtt: expected HOST:PORT" in capsys.readouterr().err


async def test_openbms_sim_serve_publishes_the_sensors_to_the_broker_it_is_given(mosquitto):
    import signal
    import sys

    from tests.fixtures.network import free_udp_port

    listener, task = await _listening(mosquitto)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openbms.cli", "sim", "serve", "--subnet", "127.0.33",
        "--port", str(free_udp_port()), "--speed", "600",
        "--start", "2025-04-08T10:00", "--mqtt", f"{mosquitto.host}:{mosquitto.port}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        await eventually(lambda: any(t.endswith("/co2") for t, _ in listener.messages)
                         and any(t.endswith("/occupancy") for t, _ in listener.messages),
                         "CO2 and people counters from openbms sim serve", within=60)
        co2 = next(json.loads(p) for t, p in listener.messages if t.endswith("/co2"))
        assert co2["co2"] >= OUTDOOR_CO2 - 1
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await task


def test_openbms_sim_serve_refuses_a_broker_that_is_not_host_and_port():
    from typer.testing import CliRunner

    from openbms.cli.main import app

    result = CliRunner().invoke(app, ["sim", "serve", "--mqtt", "localhost"])
    assert result.exit_code == 2 and "--mqtt: expected HOST:PORT" in result.output


async def test_stop_ends_the_sensors_even_when_one_cancellation_is_swallowed(monkeypatch):
    """A publish that completes as the cancellation comes (Python 3.11's wait_for drops it) must
    not leave stop() waiting for ever: a CI run hung there."""
    building = Building(start=datetime(2025, 4, 7, 10))
    sensors = MqttSensors(building, ManualClock(), every=60)
    running = asyncio.Event()
    swallowed: list[bool] = []

    async def deaf_run() -> None:
        running.set()
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed.append(True)  # as wait_for does when the publish finished with it

    monkeypatch.setattr(sensors, "run", deaf_run)
    sensors.start()
    await asyncio.wait_for(running.wait(), 10)
    stopping = asyncio.create_task(sensors.stop())
    done, _ = await asyncio.wait({stopping}, timeout=30)  # the bound only stops a broken test hanging
    if not done:
        stopping.cancel()
    assert done and swallowed == [True], "stop() waited for a task that swallowed its cancellation"
