"""Device profiles against a real pymodbus server: three meters of one profile, each its own unit
id, read through the assembly's driver manager with the values each one serves."""

from __future__ import annotations

import struct
from pathlib import Path

from openbms.config._yaml import parse
from openbms.drivers.modbus.profiles import expand_site
from openbms.model.site import SiteConfig
from openbms.model.validate import check_site
from openbms.runtime.clock import WallClock
from openbms.service.assembly import Assembly
from tests.fixtures.modbus import ModbusTestServer, Unit
from tests.fixtures.waiting import eventually

SITE = """\
site: {{id: hq, timezone: Europe/London}}
drivers:
  modbus:
    timeout: 1
    retries: 0
    poll_interval: 0.2
    devices:
      meter-1: {{host: 127.0.0.1, port: {port}, unit: 1, profile: energy-meter}}
      meter-2: {{host: 127.0.0.1, port: {port}, unit: 2, profile: energy-meter}}
      meter-3: {{host: 127.0.0.1, port: {port}, unit: 3, profile: energy-meter}}
equipment:
  - {{id: meter-1, type: meter, profile: "modbus://meter-1"}}
  - {{id: meter-2, type: meter, profile: "modbus://meter-2"}}
  - id: meter-3
    type: meter
    profile: "modbus://meter-3"
    points:
      - {{name: kw, unit: W, binding: "modbus://meter-3/input/52?type=float32&order=CDAB"}}
"""


def cdab(value: float) -> list[int]:
    data = struct.pack(">f", value)
    return [int.from_bytes(data[2:4], "big"), int.from_bytes(data[0:2], "big")]


def meter(volts: float, watts: float, kwh: float) -> Unit:
    registers: dict[int, int] = dict.fromkeys(range(0, 80), 0)
    for address, value in ((0, volts), (52, watts), (72, kwh)):
        registers[address], registers[address + 1] = cdab(value)
    return Unit(input=registers)


def load(path: Path) -> SiteConfig:
    """A site file with its profiles expanded (what the loader's profile hook does)."""
    doc = parse(path.read_text())
    data, problems, issues = expand_site(doc.data, path, parse)
    assert (problems, issues) == ([], [])
    assert check_site(data, ("modbus",)) == []
    return SiteConfig.model_validate(data).with_source(path)


async def test_three_meters_of_one_profile_read_their_own_values(tmp_path):
    server = ModbusTestServer({1: meter(230.5, 1500.0, 100.25), 2: meter(231.5, 2500.0, 200.5),
                               3: meter(232.5, 3500.0, 300.75)})
    await server.start()
    path = tmp_path / "site.yaml"
    path.write_text(SITE.format(port=server.port))
    site = load(path)
    points = {pid: p for pid, _e, p in site.points()}
    assert len(points) == 3 * 12  # the shipped energy meter's 12 points each
    assert points["hq/meter-1/kwh"].binding == "modbus://meter-1/input/72?type=float32&order=CDAB"
    assert points["hq/meter-1/kw"].unit == "kW"
    assert points["hq/meter-3/kw"].unit == "W"  # the equipment's own point replaces the profile's
    assembly = Assembly([site], WallClock())
    samples = []
    assembly.bus.subscribe_callback("*", samples.extend)
    try:
        await assembly.start_history(None)
        await assembly.start_drivers()

        def latest(point: str):
            got = [s for s in samples if s.point == point]
            return (got[-1].value, got[-1].status) if got else None

        wanted = [f"hq/meter-{n}/{p}" for n in (1, 2, 3) for p in ("volts-l1", "kw", "kwh")]
        await eventually(lambda: all(latest(p) is not None for p in wanted), "every meter read")
        assert [latest(p) for p in wanted] == [
            (230.5, "ok"), (1.5, "ok"), (100.25, "ok"),
            (231.5, "ok"), (2.5, "ok"), (200.5, "ok"),
            (232.5, "ok"), (3500.0, "ok"), (300.75, "ok")]
        # The profile's max_registers (100) applies: input 0-75 is one request a meter.
        units = {r[0] for r in server.requests}
        assert units == {1, 2, 3}
        assert all(r[3] <= 100 for r in server.requests)
    finally:
        await assembly.stop()
        await server.stop()
