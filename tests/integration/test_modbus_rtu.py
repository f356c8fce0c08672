"""The Modbus driver over RTU: a serial line (two joined pseudo-terminals, pymodbus's RTU server
on one end) and RTU over TCP (pymodbus's server with the RTU framer on a loopback port, as a
serial gateway passes frames). The same driver code as Modbus TCP; only the connection differs."""

from __future__ import annotations

import asyncio
import itertools
import struct

import pytest

from openbms.drivers.modbus.driver import ModbusDriver
from openbms.errors import DeviceUnreachable, WriteRefused
from openbms.model import DriverSettings
from openbms.model.binding import parse_binding
from tests.fixtures.modbus import ModbusTestServer, RawLine, Unit

TRANSPORTS = ["rtu", "rtu-over-tcp"]


def f32(value: float) -> list[int]:
    data = struct.pack(">f", value)
    return [int.from_bytes(data[:2], "big"), int.from_bytes(data[2:], "big")]


def driver(devices: dict[str, dict[str, object]], timeout: float = 1.0) -> ModbusDriver:
    return ModbusDriver(DriverSettings(timeout=timeout, devices=devices))  # type: ignore[call-arg]


async def read(d: ModbusDriver, *uris: str, device: str = "dev") -> list[object]:
    readings = await d.read(device, [parse_binding(u) for u in uris])
    return [r.value if r.status == "ok" else (r.status, r.error) for r in readings]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_every_table_reads_over_rtu_in_one_request_each(transport):
    unit = Unit(holding={0: f32(21.5)[0], 1: f32(21.5)[1], 2: 0xFFF9, 3: 2301},
                input={10: 7, 11: 0x4142, 12: 0x4300}, coil={0: True, 1: False, 2: True},
                discrete={5: True, 6: False})
    async with ModbusTestServer({1: unit}, transport=transport) as server:
        d = driver({"dev": server.device(1)})
        got = await read(d, "modbus://dev/holding/0?type=float32", "modbus://dev/holding/2?type=int16",
                         "modbus://dev/holding/3?scale=0.1", "modbus://dev/input/10",
                         "modbus://dev/input/11?type=string&count=2", "modbus://dev/coil/0",
                         "modbus://dev/coil/1", "modbus://dev/coil/2", "modbus://dev/discrete/5",
                         "modbus://dev/discrete/6")
        await d.stop()
    assert got == [21.5, -7, pytest.approx(230.1), 7, "ABC", True, False, True, True, False]
    assert sorted(r[1] for r in server.requests) == [1, 2, 3, 4]  # one request per table


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_merged_read_over_a_bad_address_is_split_over_rtu_and_remembered(transport):
    holding = {a: a + 1000 for a in range(0, 30) if a != 11}  # 11 answers illegal-data-address
    uris = [f"modbus://dev/holding/{a}" for a in range(30)]
    async with ModbusTestServer({1: Unit(holding=holding)}, transport=transport) as server:
        d = driver({"dev": server.device(1)})
        got = await read(d, *uris)
        assert got[11][0] == "fault" and "illegal-data-address" in got[11][1]
        assert [g for i, g in enumerate(got) if i != 11] == [a + 1000 for a in range(30) if a != 11]
        first = server.count()
        server.requests.clear()
        assert await read(d, *uris) == got
        await d.stop()
    assert first > 3
    assert server.count() == 3  # 0-10, 11 alone, 12-29


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_two_unit_ids_on_one_line_share_one_connection_and_their_delay_is_their_own(
        transport):
    units = {1: Unit(holding={a: 100 + a for a in range(30)}), 2: Unit(holding={0: 22})}
    async with ModbusTestServer(units, transport=transport) as server:
        d = driver({"a": server.device(1, delay=0.1, gap=0), "b": server.device(2)})
        assert await read(d, "modbus://a/holding/0", "modbus://a/holding/10",
                          "modbus://a/holding/20", device="a") == [100, 110, 120]
        assert await read(d, "modbus://b/holding/0", device="b") == [22]
        assert await read(d, "modbus://a/holding/0", device="a") == [100]
        assert len(d.gateways) == 1
        (gateway,) = d.gateways.values()
        assert gateway.connects == 1
        await d.stop()
    assert [r[0] for r in server.requests] == [1, 1, 1, 2, 1]
    times = [t for t, r in zip(server.times, server.requests, strict=True) if r[0] == 1]
    assert all(b - a >= 0.1 for a, b in itertools.pairwise(times))


async def test_a_serial_line_is_silent_for_3_5_characters_between_frames():
    # At 1200 baud, 8 data bits, no parity, 1 stop bit: 3.5 × 10 bits / 1200 = 29 ms. A device
    # finds where a frame begins by this silence; pymodbus sends the next request at once.
    units = {1: Unit(holding={0: 1}), 2: Unit(holding={0: 2})}
    async with ModbusTestServer(units, transport="rtu", baudrate=1200) as server:
        d = driver({"a": server.device(1), "b": server.device(2)})
        for _ in range(3):
            assert await read(d, "modbus://a/holding/0", device="a") == [1]
            assert await read(d, "modbus://b/holding/0", device="b") == [2]
        await d.stop()
    assert len(server.times) == 6
    assert all(b - a >= 3.5 * 10 / 1200 for a, b in itertools.pairwise(server.times))


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_writes_over_rtu_are_read_back_and_refusals_have_their_names(transport):
    unit = Unit(holding={a: 0 for a in range(10)}, coil={0: False}, input={0: 1}, refuse={8: 4})
    async with ModbusTestServer({1: unit}, transport=transport) as server:
        d = driver({"dev": server.device(1, order="CDAB")})
        cases = [("modbus://dev/holding/0?type=float32", -12.25),
                 ("modbus://dev/holding/2?type=int32", -70000),
                 ("modbus://dev/holding/4?scale=0.1", 12.3), ("modbus://dev/coil/0", True)]
        for uri, value in cases:
            await d.write(parse_binding(uri), value, None)
        await d.write(parse_binding("modbus://dev/holding/6?bit=2"), True, None)
        got = await read(d, *(uri for uri, _ in cases), "modbus://dev/holding/6")
        assert got == [*(pytest.approx(v) for _, v in cases), 4]
        with pytest.raises(WriteRefused, match=r"server-device-failure: .*exception 4"):
            await d.write(parse_binding("modbus://dev/holding/8"), 1, None)
        with pytest.raises(WriteRefused, match="illegal-data-address"):
            await d.write(parse_binding("modbus://dev/holding/50"), 1, None)
        (fault,) = await read(d, "modbus://dev/holding/8")
        assert fault[0] == "fault" and fault[1].startswith("server-device-failure: ")
        await d.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_device_on_rtu_that_stops_answering_is_unreachable_and_comes_back(transport):
    async with ModbusTestServer({1: Unit(holding={0: 5})}, transport=transport) as server:
        d = driver({"dev": server.device(1)}, timeout=0.3)
        assert await read(d, "modbus://dev/holding/0") == [5]
        await server.stop()
        for _ in range(2):
            with pytest.raises(DeviceUnreachable, match=r"reading 1 holding from 0|no Modbus RTU"):
                await read(d, "modbus://dev/holding/0")
        await server.start()
        assert await read(d, "modbus://dev/holding/0") == [5]
        await d.stop()


async def test_a_serial_line_that_cannot_be_opened_is_unreachable_and_says_so(tmp_path):
    d = driver({"dev": {"transport": "rtu", "port": str(tmp_path / "ttyUSB9")}})
    with pytest.raises(DeviceUnreachable, match="ttyUSB9: the serial line cannot be opened"):
        await read(d, "modbus://dev/holding/0")
    await d.stop()


async def test_a_serial_line_that_refuses_its_settings_says_which():
    # Linux's pseudo-terminals refuse even parity (EINVAL), as some USB adapters refuse a speed.
    async with ModbusTestServer({1: Unit(holding={0: 5})}, transport="rtu") as server:
        d = driver({"dev": server.device(1, parity="E")})
        with pytest.raises(DeviceUnreachable, match=r"the serial line refuses 19200 baud, 8E1"):
            await read(d, "modbus://dev/holding/0")
        await d.stop()


def crc16(frame: bytes) -> bytes:
    """Modbus RTU's CRC (computed here, independently of pymodbus), low byte first."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def good_answer(request: bytes) -> bytes:
    # Unit, function 3, 4 bytes: two registers (42, 43), as a device on the line would answer.
    body = request[:1] + b"\x03\x04\x00\x2a\x00\x2b"
    return body + crc16(body)


GARBAGE = {
    "silence": lambda request: b"",
    "text": lambda request: b"HTTP/1.1 400 Bad Request\r\n\r\n",
    "bad crc": lambda request: good_answer(request)[:-2] + b"\x00\x00",
    "truncated": lambda request: good_answer(request)[:5],
    "another unit": lambda request: good_answer(b"\x09" + request[1:]),
    "noise": lambda request: bytes(range(256)) * 2,
}


@pytest.mark.parametrize("kind", list(GARBAGE))
async def test_garbage_on_a_serial_line_makes_the_device_unreachable_not_the_driver(kind):
    async with RawLine(GARBAGE[kind]) as bad, RawLine(good_answer) as good:
        d = driver({"bad": {"transport": "rtu", "port": bad.path, "parity": "N"},
                    "good": {"transport": "rtu", "port": good.path, "parity": "N"}}, timeout=0.3)
        for _ in range(2):
            with pytest.raises(DeviceUnreachable, match=bad.path):
                await read(d, "modbus://bad/holding/0", "modbus://bad/holding/1", device="bad")
            assert await read(d, "modbus://good/holding/0", "modbus://good/holding/1",
                              device="good") == [42, 43]
        await d.stop()
    assert bad.requests >= 2


async def test_garbage_from_an_rtu_over_tcp_gateway_makes_it_unreachable_not_the_driver():
    answers = itertools.cycle(GARBAGE.values())

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(256):
                out = next(answers)(data)
                if out:
                    writer.write(out)
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with ModbusTestServer({1: Unit(holding={0: 42})}, transport="rtu-over-tcp") as good:
        d = driver({"bad": {"transport": "rtu-over-tcp", "host": "127.0.0.1", "port": port},
                    "good": good.device(1)}, timeout=0.3)
        for _ in range(len(GARBAGE)):
            with pytest.raises(DeviceUnreachable, match=rf"rtu\+tcp://127\.0\.0\.1:{port}"):
                await read(d, "modbus://bad/holding/0", device="bad")
            assert await read(d, "modbus://good/holding/0", device="good") == [42]
        await d.stop()
    server.close()
    await server.wait_closed()
