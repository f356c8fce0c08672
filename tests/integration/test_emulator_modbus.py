"""The emulated building's Modbus TCP face: Debian's mbpoll (libmodbus, an independent client) reads
the electricity meter's power as a float32 in CDAB order and gets the building's value, step after
step; openbms's Modbus driver reads the meters and the fan's drive through the shipped profiles; a
face whose port is taken is dropped and the building runs on; `openbms sim serve --modbus 0
--thermostats 0` (and ``python -m openbms.sim.building.live``) serves both faces on free ports and
says where."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import struct
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from openbms.config._yaml import parse
from openbms.drivers.modbus.profiles import expand_site
from openbms.model.site import SiteConfig
from openbms.model.validate import check_site
from openbms.runtime.clock import ManualClock, WallClock
from openbms.service.assembly import Assembly
from openbms.sim.building import SEQUENCES, Building
from openbms.sim.building.live import LiveEmulator
from openbms.sim.building.modbus import ModbusFace, encode_float32
from openbms.sim.building.rest import CLIENT_SECRET_ENV, WEBHOOK_SECRET_ENV
from tests.fixtures.waiting import eventually

SITE = """\
site: {{id: hq, timezone: Europe/London}}
drivers:
  modbus:
    timeout: 2
    retries: 0
    poll_interval: 0.2
    devices:
      elec-meter: {{host: 127.0.0.1, port: {port}, unit: 1, profile: energy-meter}}
      gas-meter: {{host: 127.0.0.1, port: {port}, unit: 2, profile: energy-meter}}
      sf-vfd: {{host: 127.0.0.1, port: {port}, unit: 3, profile: vfd}}
equipment:
  - {{id: elec-meter, type: meter, profile: "modbus://elec-meter"}}
  - {{id: gas-meter, type: meter, profile: "modbus://gas-meter"}}
  - {{id: sf-vfd, type: fan, profile: "modbus://sf-vfd"}}
"""


def working_building() -> Building:
    """A Monday morning with the heating on: gas burning, the fan running, lights and plugs on."""
    b = Building(start=datetime(2025, 1, 6, 7, 0))
    sequence = SEQUENCES["baseline"]()  # the controllers' own program: the plant on at the start
    for _ in range(120):  # two hours of the morning, at the minute
        sequence(b)
        b.step(60)
    assert b.get("meter-elec/kw") > 5 and b.get("meter-gas/kw") > 5 and b.get("ahu-1/fan-status")
    return b


def float32(value: float) -> float:
    return struct.unpack(">f", struct.pack(">f", value))[0]


async def mbpoll(port: int, unit: int, address: int, *more: str) -> str:
    program = shutil.which("mbpoll")
    if program is None:
        pytest.fail("mbpoll is not installed (apt-get install mbpoll; CI installs it)")
    proc = await asyncio.create_subprocess_exec(
        program, "-m", "tcp", "-p", str(port), "-a", str(unit), "-0", "-1", "-r", str(address), *more,
        "127.0.0.1", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return out.decode()


def polled(output: str, address: int) -> str:
    found = re.search(rf"^\[{address}\]:\s+(\S+)", output, re.M)
    assert found, output
    return found.group(1)


def test_a_float32_in_cdab_order_is_the_low_word_first():
    assert encode_float32(1.0) == [0x0000, 0x3F80]
    assert encode_float32(1.0, "ABCD") == [0x3F80, 0x0000]


async def test_mbpoll_reads_the_electricity_meters_power_as_float32_cdab_step_after_step():
    building = working_building()
    clock = ManualClock(building.timestamp)
    emulator = LiveEmulator(building, clock, step=60, modbus=ModbusFace(building))
    async with emulator:
        assert emulator.modbus is not None and emulator.unavailable == {}
        port = emulator.modbus.port
        seen = []
        for _ in range(3):
            kw = float(building.get("meter-elec/kw"))
            # libmodbus's default word order for a float is CDAB: no -B.
            watts = polled(await mbpoll(port, 1, 52, "-t", "3:float"), 52)
            assert watts == f"{float32(kw * 1000.0):g}"  # mbpoll prints a float with %g
            kwh = polled(await mbpoll(port, 1, 72, "-t", "3:float"), 72)
            assert kwh == f"{float32(float(building.get('meter-elec/kwh'))):g}"
            seen.append(watts)
            emulator.advance_to(building.timestamp + 600)  # ten minutes on: the next values
        assert len(set(seen)) == 3  # each read followed the building
        # The gas meter's power, and the drive's speed in 0.01 % (a uint16 input register).
        gas = polled(await mbpoll(port, 2, 52, "-t", "3:float"), 52)
        assert gas == f"{float32(float(building.get('meter-gas/kw')) * 1000.0):g}"
        speed = int(polled(await mbpoll(port, 3, 3, "-t", "3"), 3))
        assert speed == round(float(building.get("ahu-1/sf-speed")) * 100)
        assert 0 < speed <= 10000


def load(path: Path) -> SiteConfig:
    doc = parse(path.read_text())
    data, problems, issues = expand_site(doc.data, path, parse)
    assert (problems, issues) == ([], [])
    assert check_site(data, ("modbus",)) == []
    return SiteConfig.model_validate(data).with_source(path)


async def test_the_modbus_driver_reads_the_emulated_meters_and_drive_through_the_shipped_profiles(tmp_path):
    building = working_building()  # not stepped from here on: the values stay put
    face = ModbusFace(building)
    await face.start()
    path = tmp_path / "site.yaml"
    path.write_text(SITE.format(port=face.port))
    site = load(path)
    assembly = Assembly([site], WallClock())
    samples = []
    assembly.bus.subscribe_callback("*", samples.extend)
    try:
        await assembly.start_history(None)
        await assembly.start_drivers()

        def latest(point: str):
            got = [s for s in samples if s.point == point]
            return (got[-1].value, got[-1].status) if got else None

        points = sorted(pid for pid, _e, _p in site.points())
        assert len(points) == 2 * 12 + 14  # the shipped profiles' points: energy-meter 12, vfd 14
        await eventually(lambda: all(latest(p) is not None for p in points), "every point read")
        assert {latest(p)[1] for p in points} == {"ok"}
        value = {p.split("/", 1)[1]: latest(p)[0] for p in points}
        assert value["elec-meter/kw"] == pytest.approx(float(building.get("meter-elec/kw")), rel=1e-6)
        assert value["elec-meter/kwh"] == pytest.approx(float(building.get("meter-elec/kwh")), rel=1e-6)
        assert value["gas-meter/kw"] == pytest.approx(float(building.get("meter-gas/kw")), rel=1e-6)
        assert value["gas-meter/kwh"] == pytest.approx(float(building.get("meter-gas/kwh")), rel=1e-6)
        assert value["gas-meter/volts-l1"] == 0.0  # a gas meter has no phases
        # What a meter shows beside its power follows from it: three phases near 230 V whose
        # power adds up to the meter's, a power factor under 1, the grid's 50 Hz.
        volts = [value[f"elec-meter/volts-l{n}"] for n in (1, 2, 3)]
        amps = [value[f"elec-meter/amps-l{n}"] for n in (1, 2, 3)]
        pf = value["elec-meter/power-factor"]
        assert all(220 < v < 245 for v in volts) and 0.9 <= pf < 1.0
        assert sum(v * a for v, a in zip(volts, amps, strict=True)) * pf / 1000 == pytest.approx(
            value["elec-meter/kw"], rel=1e-4)
        assert value["elec-meter/frequency"] == pytest.approx(50.0, abs=0.05)
        assert value["elec-meter/kwh-export"] == 0.0
        speed = float(building.get("ahu-1/sf-speed"))
        assert value["sf-vfd/speed"] == pytest.approx(round(speed * 100) / 100)
        assert value["sf-vfd/frequency"] == pytest.approx(round(speed * 5) / 10)  # 50 Hz at 100 %, in 0.1 Hz
        assert value["sf-vfd/power"] == pytest.approx(round(float(building.get("ahu-1/sf-kw")) * 100) / 100)
        assert value["sf-vfd/running"] is True and value["sf-vfd/at-speed"] is True
        assert value["sf-vfd/fault"] is False and value["sf-vfd/fault-code"] == 0
        # The drive takes a speed reference (kept; the fan follows the air handler's commands).
        await assembly.manager.write("hq/sf-vfd/speed-sp", 55.5, 16)
        await eventually(lambda: latest("hq/sf-vfd/speed-sp") == (55.5, "ok"), "the reference read back")
    finally:
        await assembly.stop()
        await face.stop()


async def test_a_modbus_face_whose_port_is_taken_is_dropped_and_the_building_runs_on():
    building = Building(start=datetime(2025, 1, 6, 7, 0))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        clock = ManualClock(building.timestamp)
        emulator = LiveEmulator(building, clock, step=60, modbus=ModbusFace(building, port=port))
        async with emulator:
            assert emulator.modbus is None
            assert "modbus" in emulator.unavailable and str(port) in emulator.unavailable["modbus"]
            assert emulator.advance_to(building.timestamp + 120) == 2  # the building steps on


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "openbms.sim.building.live"],
    [sys.executable, "-m", "openbms.cli", "sim", "serve"],
], ids=["python-m", "openbms-sim-serve"])
async def test_sim_serve_serves_the_modbus_devices_and_the_rest_thermostats_on_free_ports(command):
    env = {**os.environ, CLIENT_SECRET_ENV: "client-secret-1", WEBHOOK_SECRET_ENV: "hook-secret-1"}
    proc = await asyncio.create_subprocess_exec(
        *command, "--port", str(free_udp_port()), "--subnet", "127.0.47", "--speed", "60",
        "--start", "2025-01-06T09:00", "--modbus", "0", "--thermostats", "0", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or lines[-1] != "ready":
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line, "the emulator exited before it was ready"
            lines.append(line.strip())
        (modbus,) = [ln.split() for ln in lines if ln.startswith("modbus ")]
        assert modbus[2:] == ["1=elec-meter", "2=gas-meter", "3=sf-vfd"]
        port = int(modbus[1].rsplit(":", 1)[1])
        watts = float(polled(await mbpoll(port, 1, 52, "-t", "3:float"), 52))
        assert watts >= 0
        (rest,) = [ln.split() for ln in lines if ln.startswith("rest ")]
        assert rest[2:] == ["T-100=n1", "T-101=c2", "T-102=s3"]
        async with httpx.AsyncClient(base_url=rest[1], timeout=10) as client:
            refused = await client.post("/oauth/token", data={"grant_type": "client_credentials",
                                                               "client_id": "openbms-demo",
                                                               "client_secret": "s3cret"})
            assert refused.status_code == 401  # only the secret from the environment signs in
            token = await client.post("/oauth/token", data={"grant_type": "client_credentials",
                                                             "client_id": "openbms-demo",
                                                             "client_secret": "client-secret-1"})
            assert token.status_code == 200, token.text
            status = await client.get("/devices/T-100/status",
                                      headers={"Authorization": f"Bearer {token.json()['access_token']}"})
            assert status.status_code == 200 and 5 < status.json()["temperature"] < 35
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0, (await proc.stderr.read()).decode() if proc.stderr else code


async def test_sim_serve_with_thermostats_needs_their_secrets_in_the_environment():
    env = {k: v for k, v in os.environ.items() if k not in (CLIENT_SECRET_ENV, WEBHOOK_SECRET_ENV)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openbms.cli", "sim", "serve", "--thermostats", "0", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2 and out == b""
    assert CLIENT_SECRET_ENV in " ".join(err.decode().split())
