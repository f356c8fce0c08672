"""The Modbus driver against a real pymodbus TCP server on loopback."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import struct

import pytest
from pymodbus.client import AsyncModbusTcpClient

from openbms.drivers.modbus.driver import ModbusDriver
from openbms.errors import DeviceUnreachable, WriteRefused
from openbms.model import DriverSettings
from openbms.model.binding import parse_binding
from tests.fixtures.modbus import ModbusTestServer, Unit, closed_port, words

READ_HOLDING = 3


def driver(port: int, **device: object) -> ModbusDriver:
    devices = {"dev": {"host": "127.0.0.1", "port": port, "unit": 1, **device}}
    return ModbusDriver(DriverSettings(timeout=1.0, devices=devices))  # type: ignore[call-arg]


async def read(d: ModbusDriver, *uris: str, device: str = "dev") -> list[object]:
    readings = await d.read(device, [parse_binding(u) for u in uris])
    return [r.value if r.status == "ok" else (r.status, r.error) for r in readings]


TYPES = [("int16", "h", -12345), ("uint16", "H", 54321), ("int32", "i", -123456789),
         ("uint32", "I", 3_000_000_000), ("int64", "q", -(2**50) - 7), ("uint64", "Q", 2**63 + 11),
         ("float32", "f", 1234.5), ("float64", "d", -98765.4321)]


@pytest.mark.parametrize("order", ["ABCD", "CDAB", "BADC", "DCBA"])
async def test_every_type_in_every_order_reads_what_the_device_holds(order):
    holding: dict[int, int] = {}
    uris = []
    address = 100
    for kind, fmt, value in TYPES:
        for i, w in enumerate(words(fmt, value, order)):
            holding[address + i] = w
        uris.append(f"modbus://dev/holding/{address}?type={kind}&order={order}")
        address += struct.calcsize(fmt) // 2
    async with ModbusTestServer({1: Unit(holding=holding)}) as server:
        d = driver(server.port)
        got = await read(d, *uris)
        await d.stop()
    assert got == [value for _, _, value in TYPES]
    assert server.count() == 1  # 25 registers, one request


async def test_the_devices_order_is_the_default_and_a_points_order_overrides_it():
    holding = {0: words("f", 2.5, "CDAB")[0], 1: words("f", 2.5, "CDAB")[1],
               2: words("f", 7.25, "ABCD")[0], 3: words("f", 7.25, "ABCD")[1]}
    async with ModbusTestServer({1: Unit(holding=holding)}) as server:
        d = driver(server.port, order="CDAB")
        assert await read(d, "modbus://dev/holding/0?type=float32",
                          "modbus://dev/holding/2?type=float32&order=ABCD") == [2.5, 7.25]
        await d.stop()


async def test_bits_strings_scale_offset_bools_and_both_bit_tables():
    text = "Meter-42"
    data = text.encode().ljust(10, b"\0")
    holding = {10 + i: int.from_bytes(data[2 * i:2 * i + 2], "big") for i in range(5)}
    holding[20] = 0b1000_0000_0000_0101
    holding[21] = 2345  # × 0.1 − 40
    holding[22] = 0
    async with ModbusTestServer({1: Unit(holding=holding, input={5: 7},
                                         coil={0: True, 1: False, 2: True},
                                         discrete={3: True})}) as server:
        d = driver(server.port)
        got = await read(d, "modbus://dev/holding/10?type=string&count=5",
                         "modbus://dev/holding/20?bit=0", "modbus://dev/holding/20?bit=1",
                         "modbus://dev/holding/20?bit=15", "modbus://dev/holding/21?scale=0.1&offset=-40",
                         "modbus://dev/holding/22?type=bool", "modbus://dev/input/5?type=int16",
                         "modbus://dev/coil/0", "modbus://dev/coil/1", "modbus://dev/coil/2",
                         "modbus://dev/discrete/3")
        await d.stop()
    assert got[:4] == [text, True, False, True]
    assert got[4] == pytest.approx(194.5)
    assert got[5:] == [False, 7, True, False, True, True]


async def test_reads_merge_within_the_gap_and_split_beyond_it():
    holding = {a: a for a in range(0, 300)}
    uris = [f"modbus://dev/holding/{a}" for a in (0, 5, 10, 40, 41, 200)]
    async with ModbusTestServer({1: Unit(holding=holding)}) as server:
        d = driver(server.port, gap=5)
        assert await read(d, *uris) == [0, 5, 10, 40, 41, 200]
        assert server.count() == 3  # 0-10, 40-41, 200
        server.requests.clear()
        d2 = driver(server.port, gap=0)
        await read(d2, *uris)
        assert server.count() == 5  # only 40-41 are contiguous
        await d.stop()
        await d2.stop()


async def test_a_devices_max_registers_is_honoured():
    holding = {a: a for a in range(0, 250)}
    uris = [f"modbus://dev/holding/{a}" for a in range(0, 250, 2)]
    async with ModbusTestServer({1: Unit(holding=holding)}) as server:
        d = driver(server.port, gap=4, max_registers=40)
        assert await read(d, *uris) == list(range(0, 250, 2))
        await d.stop()
    counts = [r[3] for r in server.requests]
    assert max(counts) <= 40
    assert len(counts) == 7  # 249 registers in at most 40 at a time


async def test_a_merged_range_over_a_bad_address_is_split_and_only_that_point_faults():
    holding = {a: a + 1000 for a in range(0, 40) if a != 17}  # 17 unmapped: illegal-data-address
    uris = [f"modbus://dev/holding/{a}" for a in range(0, 40, 1)]
    async with ModbusTestServer({1: Unit(holding=holding)}) as server:
        d = driver(server.port)
        got = await read(d, *uris)
        assert got[17][0] == "fault" and "illegal-data-address" in got[17][1]
        assert [g for i, g in enumerate(got) if i != 17] == [a + 1000 for a in range(40) if a != 17]
        first = server.count()
        server.requests.clear()
        again = await read(d, *uris)  # the bad address is remembered: no search again
        await d.stop()
    assert again == got
    assert server.count() == 3  # 0-16, 17 alone, 18-39
    assert first > 3


async def test_a_gap_over_an_unmapped_register_is_remembered_as_a_break():
    holding = {a: a for a in (0, 1, 2, 4, 5)}  # 3 unmapped, in the gap, no point on it
    async with ModbusTestServer({1: Unit(holding=holding)}) as server:
        d = driver(server.port, gap=2)
        uris = [f"modbus://dev/holding/{a}" for a in (0, 1, 2, 4, 5)]
        assert await read(d, *uris) == [0, 1, 2, 4, 5]
        server.requests.clear()
        assert await read(d, *uris) == [0, 1, 2, 4, 5]
        await d.stop()
    assert server.count() == 2


async def test_two_unit_ids_behind_one_gateway_share_one_connection():
    async with ModbusTestServer({1: Unit(holding={0: 11}), 2: Unit(holding={0: 22})}) as server:
        devices = {"a": {"host": "127.0.0.1", "port": server.port, "unit": 1},
                   "b": {"host": "127.0.0.1", "port": server.port, "unit": 2}}
        d = ModbusDriver(DriverSettings(timeout=1.0, devices=devices))  # type: ignore[call-arg]
        assert await read(d, "modbus://a/holding/0", device="a") == [11]
        assert await read(d, "modbus://b/holding/0", device="b") == [22]
        assert await read(d, "modbus://a/holding/0", device="a") == [11]
        assert len(d.gateways) == 1
        (gateway,) = d.gateways.values()
        assert gateway.connects == 1
        await d.stop()
    assert [r[0] for r in server.requests] == [1, 2, 1]


async def test_writes_by_type_read_back_and_exceptions_have_their_names():
    holding = {a: 0 for a in range(0, 10)}
    async with ModbusTestServer({1: Unit(holding=holding, coil={0: False}, input={0: 1})}) as server:
        d = driver(server.port, order="CDAB")
        cases = [("modbus://dev/holding/0?type=float32", 21.5),
                 ("modbus://dev/holding/2?type=int16", -7),
                 ("modbus://dev/holding/3?scale=0.1", 12.3),
                 ("modbus://dev/holding/4?type=int32", -70000),
                 ("modbus://dev/coil/0", True)]
        for uri, value in cases:
            await d.write(parse_binding(uri), value, None)
        got = await read(d, *(uri for uri, _ in cases))
        assert got == [pytest.approx(v) for _, v in cases]
        assert await raw_holding(server.port, 0, 2) == words("f", 21.5, "CDAB")
        await d.write(parse_binding("modbus://dev/holding/6?bit=3"), True, None)
        await d.write(parse_binding("modbus://dev/holding/6?bit=0"), True, None)
        await d.write(parse_binding("modbus://dev/holding/6?bit=3"), False, None)
        assert await read(d, "modbus://dev/holding/6") == [1]
        with pytest.raises(WriteRefused, match="illegal-data-address"):
            await d.write(parse_binding("modbus://dev/holding/50"), 1, None)
        with pytest.raises(WriteRefused, match="read-only"):
            await d.write(parse_binding("modbus://dev/input/0"), 1, None)
        with pytest.raises(WriteRefused, match="does not fit an int16"):
            await d.write(parse_binding("modbus://dev/holding/2?type=int16"), 40000, None)
        await d.stop()


async def raw_holding(port: int, address: int, count: int) -> list[int]:
    """What the server holds now, read by a plain pymodbus client (not through the driver)."""
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    await client.connect()
    try:
        response = await client.read_holding_registers(address, count=count, device_id=1)
        return list(response.registers)
    finally:
        client.close()


async def test_exception_codes_fault_points_with_their_names():
    async with ModbusTestServer({1: Unit(holding={0: 1})}) as server:
        d = driver(server.port)
        got = await read(d, "modbus://dev/input/0", "modbus://dev/holding/0")
        await d.stop()
    assert got[1] == 1
    assert got[0][0] == "fault" and "illegal-data-address" in got[0][1]


async def test_a_device_that_does_not_answer_is_unreachable_and_comes_back():
    server = ModbusTestServer({1: Unit(holding={0: 5})})
    await server.start()
    d = driver(server.port)
    assert await read(d, "modbus://dev/holding/0") == [5]
    await server.stop()
    with pytest.raises(DeviceUnreachable):
        await read(d, "modbus://dev/holding/0")
    await server.start()
    assert await read(d, "modbus://dev/holding/0") == [5]
    await d.stop()
    await server.stop()


async def test_nothing_listening_is_unreachable():
    d = driver(closed_port())
    with pytest.raises(DeviceUnreachable, match="no Modbus TCP connection"):
        await read(d, "modbus://dev/holding/0")
    await d.stop()


@pytest.mark.parametrize(("code", "name"), [(1, "illegal-function"), (3, "illegal-data-value"),
                                            (4, "server-device-failure"), (6, "server-device-busy")])
async def test_a_modbus_exception_faults_the_points_and_refuses_the_write_with_its_name(code, name):
    holding = {a: a for a in range(20)}
    async with ModbusTestServer({1: Unit(holding=holding, refuse={10: code})}) as server:
        d = driver(server.port, gap=0)
        got = await read(d, "modbus://dev/holding/2", "modbus://dev/holding/10",
                         "modbus://dev/holding/13")
        assert got[0] == 2
        assert got[1][0] == "fault" and got[1][1].startswith(f"{name}: ")
        assert got[2] == 13
        with pytest.raises(WriteRefused, match=f"{name}: .*exception {code}"):
            await d.write(parse_binding("modbus://dev/holding/10"), 5, None)
        await d.stop()


async def test_coils_far_apart_merge_within_max_bits():
    coils = {a: a % 3 == 0 for a in range(0, 1500, 7)}
    async with ModbusTestServer({1: Unit(coil=coils)}) as server:
        d = driver(server.port, max_bits=1000, gap=10)
        uris = [f"modbus://dev/coil/{a}" for a in coils]
        assert await read(d, *uris) == list(coils.values())
        await d.stop()
    assert [r[3] for r in server.requests] == [995, 498]  # 0..994, then 1001..1498


class RawServer:
    """A TCP server on loopback that answers each request with ``answer(request)`` bytes
    (b"": silence), for frames no Modbus server would send."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = 0

    async def __aenter__(self):
        async def serve(reader, writer):
            try:
                while data := await reader.read(260):
                    self.requests += 1
                    out = self.answer(data)
                    if out:
                        writer.write(out)
                        await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()


def short_answer(request: bytes) -> bytes:
    # A well-formed frame holding one register where two were asked.
    return request[:2] + b"\0\0\0\x05" + request[6:8] + b"\x02\x00\x07"


GARBAGE = {
    "silence": lambda request: b"",
    "text": lambda request: b"HTTP/1.1 400 Bad Request\r\n\r\n",
    "truncated": lambda request: request[:2] + b"\0\0\0\x07" + request[6:8] + b"\x04",
    "short": short_answer,
    "wrong transaction": lambda request: b"\x99\x99\0\0\0\x07" + request[6:8] + b"\x04\0\x01\0\x02",
}


@pytest.mark.parametrize("kind", list(GARBAGE))
async def test_garbage_truncated_and_silent_answers_make_the_device_unreachable_not_the_driver(kind):
    async with RawServer(GARBAGE[kind]) as bad, ModbusTestServer({1: Unit(holding={0: 42, 1: 43})}) as good:
        devices = {"bad": {"host": "127.0.0.1", "port": bad.port},
                   "good": {"host": "127.0.0.1", "port": good.port}}
        d = ModbusDriver(DriverSettings(timeout=0.3, devices=devices))  # type: ignore[call-arg]
        for _ in range(2):
            with pytest.raises(DeviceUnreachable, match=r"127\.0\.0\.1"):
                await read(d, "modbus://bad/holding/0", "modbus://bad/holding/1", device="bad")
            assert await read(d, "modbus://good/holding/0", "modbus://good/holding/1",
                              device="good") == [42, 43]
        await d.stop()
    assert bad.requests >= 2


async def test_a_devices_delay_spaces_its_requests():
    async with ModbusTestServer({1: Unit(holding={a: a for a in range(100)}),
                                 2: Unit(holding={0: 9})}) as server:
        devices = {"slow": {"host": "127.0.0.1", "port": server.port, "unit": 1, "delay": 0.15,
                            "gap": 0},
                   "fast": {"host": "127.0.0.1", "port": server.port, "unit": 2}}
        d = ModbusDriver(DriverSettings(timeout=1.0, devices=devices))  # type: ignore[call-arg]
        assert await read(d, "modbus://slow/holding/0", "modbus://slow/holding/10",
                          "modbus://slow/holding/20", device="slow") == [0, 10, 20]
        await d.stop()
    times = server.times
    assert len(times) == 3
    assert all(b - a >= 0.15 for a, b in itertools.pairwise(times))


async def test_a_device_that_stays_unreachable_logs_nothing_of_its_own_at_warning(caplog):
    # The driver raises DeviceUnreachable and the manager logs it once; pymodbus's own ERROR line
    # for every failed request repeated it at each poll of an offline device.
    async with RawServer(GARBAGE["silence"]) as silent:
        devices = {"dev": {"host": "127.0.0.1", "port": silent.port},
                   "gone": {"host": "127.0.0.1", "port": closed_port()}}
        d = ModbusDriver(DriverSettings(timeout=0.2, devices=devices))  # type: ignore[call-arg]
        with caplog.at_level(logging.DEBUG):
            for device in ("dev", "gone") * 3:
                with pytest.raises(DeviceUnreachable):
                    await read(d, f"modbus://{device}/holding/0", device=device)
        await d.stop()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any(r.name.startswith("pymodbus") for r in caplog.records)  # kept, at debug level


async def test_random_answers_give_readings_or_unreachable_never_another_error():
    rng = random.Random(17)

    def answer(request: bytes) -> bytes:
        # The request's transaction id and unit, then a random function code, length and bytes.
        body = bytes([rng.choice((3, 4, 1, 0x83, 0x90, rng.randrange(256)))]) + rng.randbytes(
            rng.randrange(0, 12))
        length = rng.choice((len(body) + 1, rng.randrange(0, 300)))
        return request[:2] + b"\0\0" + length.to_bytes(2, "big") + request[6:7] + body

    async with RawServer(answer) as bad:
        d = ModbusDriver(DriverSettings(timeout=0.1, devices={  # type: ignore[call-arg]
            "bad": {"host": "127.0.0.1", "port": bad.port}}))
        outcomes = {"ok": 0, "unreachable": 0}
        for i in range(60):
            uris = [f"modbus://bad/holding/{i % 3}", "modbus://bad/holding/1?type=int16"]
            try:
                readings = await d.read("bad", [parse_binding(u) for u in uris])
            except DeviceUnreachable:
                outcomes["unreachable"] += 1
            else:
                assert len(readings) == 2 and all(r.status in ("ok", "fault") for r in readings)
                outcomes["ok"] += 1
        await d.stop()
    assert sum(outcomes.values()) == 60 and outcomes["unreachable"] > 0
