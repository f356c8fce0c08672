"""``openbms modbus read|write`` as a user runs them, and interop with libmodbus's ``mbpoll``
(an independent Modbus implementation) on a real pymodbus server."""

from __future__ import annotations

import asyncio
import shutil
import struct
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.drivers.modbus.driver import ModbusDriver
from openbms.model import DriverSettings
from openbms.model.binding import parse_binding
from tests.fixtures.modbus import ModbusTestServer, Unit, closed_port
from tests.fixtures.services import require_service


async def run(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openbms.cli", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), " ".join(err.decode().split())


async def cli(*args: str) -> tuple[int, str, str]:
    """The command in this process (in a thread: it runs its own event loop beside the server's)."""
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def cdab(value: float) -> list[int]:
    data = struct.pack(">f", value)
    return [int.from_bytes(data[2:], "big"), int.from_bytes(data[:2], "big")]


async def test_modbus_read_decodes_values_and_write_prints_the_read_back():
    kw = cdab(12.5)
    units = {1: Unit(holding={0: kw[0], 1: kw[1], 2: 65535, 3: 2301, **{10 + i: 0 for i in range(4)}},
                     coil={0: True, 1: False}),
             7: Unit(input={5: 0x4142, 6: 0x4300})}
    async with ModbusTestServer(units) as server:
        at = f"127.0.0.1:{server.port}"
        assert await run("modbus", "read", at, "1", "holding", "0", "--type", "float32", "--order",
                         "CDAB") == (0, f"holding/0\t12.5\t0x{kw[0]:04X} 0x{kw[1]:04X}\n", "")
        code, out, _ = await cli("modbus", "read", at, "1", "holding", "2", "--type", "int16",
                                 "--count", "2")
        assert (code, out) == (0, "holding/2\t-1\t0xFFFF\nholding/3\t2301\t0x08FD\n")
        code, out, _ = await cli("modbus", "read", at, "1", "holding", "3", "--scale", "0.1")
        assert out == "holding/3\t230.1\t0x08FD\n"
        code, out, _ = await cli("modbus", "read", at, "1", "coil", "0", "-n", "2")
        assert out == "coil/0\ttrue\t1\ncoil/1\tfalse\t0\n"
        code, out, _ = await cli("modbus", "read", at, "7", "input", "5", "--type", "string",
                                 "--count", "2")
        assert out == "input/5\t'ABC'\t0x4142 0x4300\n"
        code, out, _ = await cli("modbus", "write", at, "1", "holding", "10", "21.5", "--type",
                                 "float32")
        assert (code, out) == (0, "holding/10\t21.5\n")
        code, out, _ = await cli("modbus", "write", at, "1", "holding", "12", "true", "--bit", "4")
        assert (code, out) == (0, "holding/12\ttrue\n")
        code, out, _ = await cli("modbus", "read", at, "1", "holding", "12")
        assert out == "holding/12\t16\t0x0010\n"
        code, out, err = await cli("modbus", "read", at, "1", "holding", "500")
        assert code == 1
        assert "the device answered illegal-data-address (exception 2)" in err
        code, _, err = await cli("modbus", "write", at, "1", "holding", "2", "70000", "--type",
                                 "int16")
        assert code == 1 and "70000" in err and "does not fit an int16" in err


async def test_modbus_read_says_what_is_wrong_in_one_line():
    code, _, err = await run("modbus", "read", f"127.0.0.1:{closed_port()}", "1", "holding", "0",
                             "--timeout", "0.5")
    assert code == 1 and "no Modbus TCP connection" in err
    code, _, err = await cli("modbus", "read", "127.0.0.1", "1", "holdings", "0")
    assert code == 1 and "unknown table 'holdings'; expected" in err
    code, _, err = await cli("modbus", "read", "127.0.0.1:99999", "1", "holding", "0")
    assert code == 1 and "expected HOST or HOST:PORT" in err
    code, _, err = await cli("modbus", "write", "127.0.0.1", "1", "input", "0", "1")
    assert code == 1 and "input is read-only" in err


def mbpoll() -> str:
    path = shutil.which("mbpoll")
    if path is None:
        require_service("mbpoll", "apt-get install mbpoll (Debian's libmodbus client)")
    return str(path)


async def mbpoll_run(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(mbpoll(), *args, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, (out + err).decode()
    return out.decode()


@pytest.mark.parametrize(("flags", "order"), [((), "CDAB"), (("-B",), "ABCD")])
async def test_what_mbpoll_writes_the_driver_reads_and_what_the_driver_writes_mbpoll_reads(
        flags, order):
    async with ModbusTestServer({1: Unit(holding={a: 0 for a in range(10)})}) as server:
        port = str(server.port)
        await mbpoll_run("-m", "tcp", "-p", port, "-a", "1", "-0", "-1", "-r", "2", "-t", "4:float",
                         *flags, "127.0.0.1", "--", "-1234.5")
        devices = {"dev": {"host": "127.0.0.1", "port": server.port, "unit": 1, "order": order}}
        d = ModbusDriver(DriverSettings(timeout=1.0, devices=devices))  # type: ignore[call-arg]
        (reading,) = await d.read("dev", [parse_binding("modbus://dev/holding/2?type=float32")])
        assert reading.value == -1234.5
        await d.write(parse_binding("modbus://dev/holding/6?type=int32"), -70000, None)
        await d.stop()
        out = await mbpoll_run("-m", "tcp", "-p", port, "-a", "1", "-0", "-1", "-r", "6", "-t",
                               "4:int", *flags, "127.0.0.1")
    assert any(line.split() == ["[6]:", "-70000"] for line in out.splitlines()), out
