"""The Modbus driver against a Modbus TCP server that is not pymodbus: pyModbusTCP's.

pyModbusTCP (sourceperl/pyModbusTCP) is its own implementation of the protocol,
frames and exception answers included, so these tests would catch a driver that
only works with the library it is built on. Its server answers illegal-data-address
when its data bank returns nothing, which lets a test put a hole in its map.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pyModbusTCP.server import DataBank, ModbusServer

from openbms.drivers.modbus.driver import ModbusDriver
from openbms.errors import WriteRefused
from openbms.model import DriverSettings
from openbms.model.binding import parse_binding
from tests.fixtures.modbus import words

HOLE = 50  # a holding register the device does not have


class Bank(DataBank):
    """200 registers of each kind, holding register HOLE missing; holding reads counted."""

    def __init__(self) -> None:
        super().__init__(coils_size=64, d_inputs_size=64, h_regs_size=200, i_regs_size=200)
        self.holding_reads: list[tuple[int, int]] = []

    def get_holding_registers(self, address, number=1, srv_info=None):
        self.holding_reads.append((address, number))
        if address <= HOLE < address + number:
            return None  # the server answers exception 2
        return super().get_holding_registers(address, number, srv_info)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server() -> Iterator[tuple[ModbusServer, Bank]]:
    bank = Bank()
    srv = ModbusServer("127.0.0.1", _free_port(), no_block=True, data_bank=bank)
    srv.start()
    try:
        yield srv, bank
    finally:
        srv.stop()


def driver(srv: ModbusServer, **device: object) -> ModbusDriver:
    devices = {"meter": {"host": "127.0.0.1", "port": srv.port, "unit": 1, **device}}
    return ModbusDriver(DriverSettings(timeout=2.0, devices=devices))  # type: ignore[call-arg]


async def values(d: ModbusDriver, *uris: str) -> list[object]:
    readings = await d.read("meter", [parse_binding(u) for u in uris])
    return [r.value if r.status == "ok" else (r.status, r.error) for r in readings]


@pytest.mark.parametrize("order", ["ABCD", "CDAB", "BADC", "DCBA"])
async def test_every_type_in_every_order_from_an_independent_server(server, order):
    srv, bank = server
    cases = [("int16", "h", -1234), ("uint16", "H", 60000), ("int32", "i", -7654321),
             ("uint32", "I", 4_000_000_000), ("int64", "q", -(2**40) - 3), ("uint64", "Q", 2**62 + 5),
             ("float32", "f", 229.75), ("float64", "d", 12345.678)]
    uris, address = [], 100
    for kind, fmt, value in cases:
        regs = words(fmt, value, order)
        bank.set_holding_registers(address, regs)
        uris.append(f"modbus://meter/holding/{address}?type={kind}&order={order}")
        address += len(regs)
    d = driver(srv)
    try:
        assert await values(d, *uris) == [v for _, _, v in cases]
    finally:
        await d.stop()
    assert len(bank.holding_reads) == 1  # 25 registers: one merged request


async def test_input_registers_coils_and_discrete_inputs(server):
    srv, bank = server
    bank.set_input_registers(10, words("f", 50.02, "CDAB"))
    bank.set_coils(3, [True])
    bank.set_discrete_inputs(7, [True])
    d = driver(srv, order="CDAB")
    try:
        got = await values(d, "modbus://meter/input/10?type=float32", "modbus://meter/coil/3",
                           "modbus://meter/coil/4", "modbus://meter/discrete/7")
    finally:
        await d.stop()
    assert got[0] == pytest.approx(50.02, abs=1e-5) and got[1:] == [True, False, True]


async def test_a_merged_read_over_the_servers_hole_is_split_and_only_that_point_faults(server):
    srv, bank = server
    for address in (40, 50, 60):
        if address != HOLE:
            bank.set_holding_registers(address, [address * 10])
    d = driver(srv, gap=20)
    uris = ["modbus://meter/holding/40", f"modbus://meter/holding/{HOLE}", "modbus://meter/holding/60"]
    try:
        first = await values(d, *uris)
        bank.holding_reads.clear()
        second = await values(d, *uris)
    finally:
        await d.stop()
    for got in (first, second):
        assert got[0] == 400 and got[2] == 600
        status, error = got[1]
        assert status == "fault" and "illegal-data-address" in error
    # What the split found is remembered: no request crosses the hole again.
    assert all(not (a <= HOLE < a + n) or (a, n) == (HOLE, 1) for a, n in bank.holding_reads)


async def test_writes_are_read_back_and_a_refused_write_names_the_exception(server):
    srv, bank = server
    d = driver(srv, order="CDAB")
    try:
        await d.write(parse_binding("modbus://meter/holding/120?type=float32"), 21.5, None)
        assert bank.get_holding_registers(120, 2) == words("f", 21.5, "CDAB")
        await d.write(parse_binding("modbus://meter/holding/130?scale=0.1"), 42.3, None)
        assert bank.get_holding_registers(130, 1) == [423]
        await d.write(parse_binding("modbus://meter/coil/9"), True, None)
        assert bank.get_coils(9, 1) == [True]
        with pytest.raises(WriteRefused, match="illegal-data-address"):
            await d.write(parse_binding("modbus://meter/holding/250"), 1, None)  # past the map
    finally:
        await d.stop()


async def test_the_server_gone_makes_the_device_unreachable_and_back_when_it_returns(server):
    from openbms.errors import DeviceUnreachable

    srv, bank = server
    bank.set_holding_registers(0, [7])
    d = driver(srv)
    try:
        assert await values(d, "modbus://meter/holding/0") == [7]
        srv.stop()
        with pytest.raises(DeviceUnreachable):
            await values(d, "modbus://meter/holding/0")
        srv.start()
        assert await values(d, "modbus://meter/holding/0") == [7]
    finally:
        await d.stop()
