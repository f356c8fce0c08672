"""``openbms modbus read|write|scan`` over a serial line (``/dev/…``) and an RTU-over-TCP gateway
(``rtu+tcp://HOST:PORT``), and interop over RTU with libmodbus's ``mbpoll`` (an independent
Modbus implementation) on the same serial line as pymodbus's RTU server."""

from __future__ import annotations

import asyncio
import struct

import pytest
import yaml
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.drivers.modbus.driver import ModbusDriver
from openbms.model import DriverSettings
from openbms.model.binding import parse_binding
from tests.fixtures.modbus import ModbusTestServer, Unit
from tests.integration.test_modbus_cli import mbpoll_run


async def cli(*args: str) -> tuple[int, str, str]:
    """The command in this process (in a thread: it runs its own event loop beside the server's
    and the serial line's)."""
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def f32(value: float) -> list[int]:
    data = struct.pack(">f", value)
    return [int.from_bytes(data[:2], "big"), int.from_bytes(data[2:], "big")]


@pytest.mark.parametrize("transport", ["rtu", "rtu-over-tcp"])
async def test_read_and_write_over_rtu_from_the_command_line(transport):
    kw = f32(12.5)
    units = {1: Unit(holding={0: kw[0], 1: kw[1], 2: 2301, 10: 0, 11: 0}, coil={0: True}),
             7: Unit(input={5: 0xFFFE})}
    async with ModbusTestServer(units, transport=transport) as server:
        if transport == "rtu":
            at, line = [server.path], ["--baudrate", "19200", "--parity", "N"]
        else:
            at, line = [f"rtu+tcp://127.0.0.1:{server.port}"], []
        code, out, err = await cli("modbus", "read", *at, "1", "holding", "0", "--type", "float32",
                                   *line)
        assert (code, out, err) == (0, f"holding/0\t12.5\t0x{kw[0]:04X} 0x{kw[1]:04X}\n", "")
        code, out, _ = await cli("modbus", "read", *at, "7", "input", "5", "--type", "int16", *line)
        assert out == "input/5\t-2\t0xFFFE\n"
        code, out, _ = await cli("modbus", "write", *at, "1", "holding", "10", "--type", "float32",
                                 *line, "--", "-7.25")
        assert (code, out) == (0, "holding/10\t-7.25\n")
        code, out, _ = await cli("modbus", "read", *at, "1", "coil", "0", *line)
        assert out == "coil/0\ttrue\t1\n"
        code, _, err = await cli("modbus", "read", *at, "1", "holding", "500", *line)
        assert code == 1 and "the device answered illegal-data-address (exception 2)" in err
    assert [r[2] for r in server.requests if r[1] == 16] == [10]  # the write, as multiple registers


async def test_scan_a_serial_line_finds_its_unit_ids_and_their_registers(tmp_path):
    units = {1: Unit(holding={a: a for a in range(4)}), 3: Unit(input={2: 5, 3: 6})}
    out_file = tmp_path / "line.yaml"
    async with ModbusTestServer(units, transport="rtu") as server:
        path = server.path
        code, out, err = await cli("modbus", "scan", path, "--parity", "N", "--units", "1-3",
                                   "--range", "0-9", "--tables", "holding,input", "--timeout",
                                   # Long enough for a busy machine (0.3 s once lost a read of unit
                                   # 3 in CI); only the absent unit 2 waits it out.
                                   "2", "--profile-out", str(out_file))
    assert code == 0, err
    assert out.splitlines() == [
        "unit 1: 4 addresses answer", "  holding   0-3 (4)", "  input     -",
        "unit 3: 2 addresses answer", "  holding   -", "  input     2-3 (2)",
        "no answer from unit 2", f"profile skeleton of unit 1 written to {out_file}"]
    profile = yaml.safe_load(out_file.read_text())
    assert profile["description"] == f"scanned from {path} unit 1"
    assert [p["address"] for p in profile["points"]] == [0, 1, 2, 3]


async def test_serial_options_belong_to_a_serial_target_and_a_target_has_one_of_three_forms():
    code, _, err = await cli("modbus", "read", "127.0.0.1", "1", "holding", "0", "--baudrate",
                             "9600")
    assert code == 1 and ("--baudrate is a serial line's setting; expected a serial device such "
                          "as /dev/ttyUSB0 as the target, not '127.0.0.1'") in err
    code, _, err = await cli("modbus", "read", "/dev/ttyUSB0", "1", "holding", "0", "--parity", "X")
    assert code == 1 and "--parity 'X': expected N, E or O" in err
    code, _, err = await cli("modbus", "read", "udp://10.0.0.5", "1", "holding", "0")
    assert code == 1 and ("'udp://10.0.0.5': expected HOST[:PORT], rtu+tcp://HOST[:PORT] or a "
                          "serial device") in err
    code, _, err = await cli("modbus", "read", "rtu+tcp://h:0", "1", "holding", "0")
    assert code == 1 and "expected rtu+tcp://HOST or rtu+tcp://HOST:PORT with a port" in err


async def test_a_serial_line_that_is_not_there_is_one_line_and_exit_1(tmp_path):
    code, _, err = await cli("modbus", "read", str(tmp_path / "ttyUSB7"), "1", "holding", "0",
                             "--timeout", "0.3")
    # (the error line is wrapped at the terminal's width: a long temporary path may break in it)
    assert code == 1 and "ttyUSB7:theseriallinecannotbeopened" in "".join(err.split())


@pytest.mark.parametrize(("flags", "order"), [((), "CDAB"), (("-B",), "ABCD")])
async def test_mbpoll_over_rtu_and_the_driver_read_what_the_other_wrote(flags, order):
    async with ModbusTestServer({1: Unit(holding={a: 0 for a in range(10)})},
                                transport="rtu") as server:
        line = ("-m", "rtu", "-b", "19200", "-P", "none", "-d", "8", "-s", "1", "-a", "1", "-0",
                "-1", "-o", "1")
        await mbpoll_run(*line, "-r", "2", "-t", "4:float", *flags, server.path, "--", "-1234.5")
        d = ModbusDriver(DriverSettings(timeout=1.0, devices={  # type: ignore[call-arg]
            "dev": server.device(1, order=order)}))
        (reading,) = await d.read("dev", [parse_binding("modbus://dev/holding/2?type=float32")])
        assert reading.value == -1234.5
        await d.write(parse_binding("modbus://dev/holding/6?type=int32"), -70000, None)
        await d.stop()  # the driver lets go of the line for mbpoll
        out = await mbpoll_run(*line, "-r", "6", "-t", "4:int", *flags, server.path)
    assert any(row.split() == ["[6]:", "-70000"] for row in out.splitlines()), out
