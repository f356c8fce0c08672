"""A site file with Modbus RTU devices: ``openbms check`` takes a serial line and an RTU-over-TCP
gateway (and names a bad transport setting at its line and column), and the assembly runs them
through the driver manager: samples, a command written and read back, offline and back."""

from __future__ import annotations

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
      vfd-1: {{transport: rtu, port: {path}, baudrate: 19200, parity: N, unit: 3}}
      vfd-2: {{transport: rtu, port: {path}, baudrate: 19200, parity: N, unit: 4}}
      pump-1: {{transport: rtu-over-tcp, host: 127.0.0.1, port: {port}, unit: 1}}
equipment:
  - id: vfd-1
    type: fan
    points:
      - {{name: speed, unit: "%", binding: "modbus://vfd-1/holding/0?scale=0.1"}}
      - name: speed-sp
        unit: "%"
        writable: true
        limits: {{min: 0, max: 100}}
        binding: "modbus://vfd-1/holding/1?scale=0.1"
  - id: vfd-2
    type: fan
    points:
      - {{name: speed, unit: "%", binding: "modbus://vfd-2/holding/0?scale=0.1"}}
  - id: pump-1
    type: pump
    points:
      - {{name: running, kind: bool, binding: "modbus://pump-1/coil/0"}}
"""


async def test_a_site_with_a_serial_line_and_an_rtu_gateway_is_checked_and_runs(tmp_path):
    line = ModbusTestServer({3: Unit(holding={0: 455, 1: 0}), 4: Unit(holding={0: 812})},
                            transport="rtu")
    gateway = ModbusTestServer({1: Unit(coil={0: True})}, transport="rtu-over-tcp")
    await line.start()
    await gateway.start()
    path = tmp_path / "site.yaml"
    path.write_text(SITE.format(path=line.path, port=gateway.port))
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

        await eventually(lambda: latest("hq/vfd-2/speed") is not None
                         and latest("hq/pump-1/running") is not None, "samples on the bus")
        assert latest("hq/vfd-1/speed") == (45.5, "ok")
        assert latest("hq/vfd-2/speed") == (81.2, "ok")
        assert latest("hq/pump-1/running") == (True, "ok")
        cmd = await assembly.arbiter.command("hq/vfd-1/speed-sp", 62.5, 8, reason="test")
        assert (cmd.status, cmd.error) == ("completed", "")
        assert (await manager.read_point("hq/vfd-1/speed-sp")).value == 62.5
        await line.stop()
        await eventually(lambda: latest("hq/vfd-1/speed") == (None, "offline")
                         and latest("hq/vfd-2/speed") == (None, "offline"), "the line offline")
        assert latest("hq/pump-1/running") == (True, "ok")  # the gateway's device reads on
        await line.start()
        await eventually(lambda: latest("hq/vfd-2/speed") == (81.2, "ok"), "vfd-2 back")
        await eventually(lambda: manager.health()["modbus://vfd-1"].state == "ok", "vfd-1 back")
    finally:
        await assembly.stop()
        await line.__aexit__()
        await gateway.stop()


BAD = """\
site: {id: hq, timezone: Europe/London}
drivers:
  modbus:
    devices:
      a: {transport: rs485, port: /dev/ttyUSB0}
      b: {host: 10.0.0.5, baudrate: 9600}
      c: {transport: rtu, unit: 2}
      d: {transport: rtu, port: /dev/ttyUSB0, parity: X}
      e: {transport: rtu, port: /dev/ttyUSB1, baudrate: 9600}
      f: {transport: rtu, port: /dev/ttyUSB1, baudrate: 19200}
equipment: []
"""


def test_openbms_check_names_bad_transport_settings_at_their_line_and_column(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(BAD)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code != 0
    out = " ".join(result.output.split())
    assert ("site.yaml:5:22: drivers: modbus: devices: a: transport: 'rs485'; expected tcp, rtu "
            "or rtu-over-tcp") in out
    assert ("site.yaml:6:37: drivers: modbus: devices: b: baudrate is a serial line's setting; "
            "expected transport: rtu with it (tcp has none)") in out
    assert ("site.yaml:7:10: drivers: modbus: devices: c: no port; expected port: /dev/ttyUSB0 "
            "(the serial line's device) with transport: rtu") in out
    assert "site.yaml:8:55: drivers: modbus: devices: d: parity: 'X'; expected N, E or O" in out
    assert "site.yaml:5:35" not in out  # a's port waits for a transport that exists


def test_devices_on_one_serial_line_that_disagree_are_named_at_the_second(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(BAD.replace("      a: {transport: rs485, port: /dev/ttyUSB0}\n", "")
                    .replace("      b: {host: 10.0.0.5, baudrate: 9600}\n", "")
                    .replace("      c: {transport: rtu, unit: 2}\n", "")
                    .replace("parity: X", "parity: N"))
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code != 0
    out = " ".join(result.output.split())
    assert ("site.yaml:7:57: drivers: modbus: devices: f: baudrate: 19200; device e on the same "
            "line /dev/ttyUSB1 has 9600, and a serial line has one baudrate") in out
