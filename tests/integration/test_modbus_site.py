"""A site file with Modbus points: ``openbms check`` takes it (and names a bad binding's or
setting's line and column), and the assembly runs it through the driver manager: samples on
the bus, a command written and read back, the device offline and back by itself."""

from __future__ import annotations

import struct

from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.config.loader import load_site
from openbms.runtime.clock import WallClock
from openbms.service.assembly import Assembly
from tests.fixtures.modbus import ModbusTestServer, Unit
from tests.fixtures.waiting import eventually

SITE = """\
site: {{id: hq, timezone: Europe/London}}
drivers:
  modbus:
    timeout: 0.5
    retries: 0
    poll_interval: 0.2
    max_backoff: 0.4
    devices:
      meter-1: {{host: 127.0.0.1, port: {port}, unit: 1, order: CDAB}}
      meter-2: {{host: 127.0.0.1, port: {port}, unit: 2}}
equipment:
  - id: meter-1
    type: meter
    points:
      - {{name: kw, unit: kW, binding: "modbus://meter-1/input/0?type=float32"}}
      - {{name: kwh, unit: kWh, binding: "modbus://meter-1/input/2?type=uint32&scale=0.1"}}
  - id: meter-2
    type: meter
    points:
      - {{name: volts, unit: V, binding: "modbus://meter-2/holding/0?scale=0.1"}}
  - id: ahu-1
    type: ahu
    points:
      - name: sat-sp
        unit: degC
        writable: true
        limits: {{min: 10, max: 18}}
        binding: "modbus://meter-2/holding/10?type=int16&scale=0.1"
"""


def cdab(fmt: str, value: float) -> list[int]:
    data = struct.pack(">" + fmt, value)
    return [int.from_bytes(data[2:4], "big"), int.from_bytes(data[0:2], "big")]


def units() -> dict[int, Unit]:
    kw, kwh = cdab("f", 12.5), cdab("I", 123456)
    return {1: Unit(input={0: kw[0], 1: kw[1], 2: kwh[0], 3: kwh[1]}),
            2: Unit(holding={0: 2301, 10: 150})}


async def test_a_site_with_modbus_points_is_checked_and_runs_through_the_driver_manager(tmp_path):
    server = ModbusTestServer(units())
    await server.start()
    path = tmp_path / "site.yaml"
    path.write_text(SITE.format(port=server.port))
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assembly = Assembly([load_site(path)], WallClock())
    samples = []
    assembly.bus.subscribe_callback("*", samples.extend)
    try:
        await assembly.start_history(None)
        await assembly.start_drivers()
        await assembly.start_arbiter(None)
        manager = assembly.manager
        assert manager is not None

        def latest(point: str):
            got = [s for s in samples if s.point == point]
            return (got[-1].value, got[-1].status) if got else None

        await eventually(lambda: latest("hq/meter-2/volts") is not None
                         and latest("hq/meter-1/kwh") is not None, "samples on the bus")
        assert latest("hq/meter-1/kw") == (12.5, "ok")
        assert latest("hq/meter-1/kwh")[0] == 12345.6
        assert latest("hq/meter-2/volts")[0] == 230.1
        cmd = await assembly.arbiter.command("hq/ahu-1/sat-sp", 16.5, 8, reason="test")
        assert (cmd.status, cmd.error) == ("completed", "")
        reading = await manager.read_point("hq/ahu-1/sat-sp")
        assert reading.value == 16.5
        await server.stop()
        await eventually(lambda: latest("hq/meter-1/kw") == (None, "offline")
                         and latest("hq/meter-2/volts") == (None, "offline"), "both offline")
        await server.start()
        await eventually(lambda: latest("hq/meter-1/kw") == (12.5, "ok"), "meter-1 back")
        assert manager.health()["modbus://meter-1"].state == "ok"
    finally:
        await assembly.stop()
        await server.stop()


BAD = """\
site: {id: hq, timezone: Europe/London}
drivers:
  modbus:
    gap: 500
    devices:
      meter-1: {host: 127.0.0.1, unit: 300}
equipment:
  - id: meter-1
    type: meter
    points:
      - {name: kw, binding: "modbus://meter-1/input/0?type=float33"}
      - {name: kwh, binding: "modbus://meter-9/input/2"}
"""


def test_openbms_check_names_a_bad_modbus_binding_or_setting_at_its_line_and_column(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(BAD)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code != 0
    out = " ".join(result.output.split())
    assert f"{path}:4:10: drivers: modbus: gap: 500; expected 0 to 124" in out
    assert "site.yaml:6:40: drivers: modbus: devices: meter-1: unit: 300; expected 0 to 255" in out
    assert ("site.yaml:11:29: binding 'modbus://meter-1/input/0?type=float33': type='float33'; "
            "expected one of bool, int16") in out
    assert ("site.yaml:12:30: binding 'modbus://meter-9/input/2': no Modbus device 'meter-9'; "
            "expected one under drivers: modbus: devices: (known: meter-1)") in out
