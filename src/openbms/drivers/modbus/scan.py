"""``openbms modbus scan``: which unit ids answer behind an address (or on a serial line), and
which registers they hold.

::

    for each unit id: a probe (holding 0, then input 0) ──▶ an answer, even a Modbus exception:
            it is there; no answer, gateway-path / target-failed, or server-device-failure to
            both probes (pymodbus's answer for a unit id without a device): it is not
    for each unit that answers, each table, blocks of 125 registers (2000 bits) over the range:
        read ──▶ every address of the block is there
          │ illegal-data-address: split in two and read each half (again while refused),
          │   down to single addresses: what reads is there, what is refused is not
          └ no answer: the unit stopped answering; its scan ends with what was found

The ranges found (contiguous addresses per table) become a profile skeleton
(``profiles.profile_yaml``): one uint16 (or bool) point per address, to be
named, typed and scaled by someone with the device's manual. A scan of a
sparse map costs up to two requests per address of a refused block; the
range and tables bound it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from openbms.drivers.modbus.client import ILLEGAL_DATA_ADDRESS, Gateway, ModbusRefused
from openbms.drivers.modbus.points import BIT_TABLES, TABLES
from openbms.drivers.modbus.profiles import profile_yaml
from openbms.drivers.modbus.settings import Endpoint
from openbms.errors import DeviceUnreachable

__all__ = ["UnitScan", "scan", "skeleton"]

#: Called with the number of addresses just covered (for a progress bar).
Progress = Callable[[int], None]


@dataclass(slots=True)
class UnitScan:
    """What one unit id answered: per table, the ranges ``(start, count)`` that read, and their
    values (registers as words, bits as bools) by address."""

    unit: int
    ranges: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    values: dict[str, dict[int, int | bool]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # table → why it could not be read
    stopped: str = ""  # why the scan of this unit ended early ("" when it did not)

    @property
    def registers(self) -> int:
        """How many addresses answered, over every table."""
        return sum(n for ranges in self.ranges.values() for _start, n in ranges)


def _ranges(addresses: Sequence[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a in sorted(addresses):
        if out and out[-1][0] + out[-1][1] == a:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((a, 1))
    return out


#: server-device-failure: what pymodbus's server (and some gateways) answer for a unit id that
#: has no device; a device that is there answers it to a second table too only when it is broken.
_NO_DEVICE = 4


async def _present(gateway: Gateway, unit: int) -> bool:
    for table in ("holding", "input"):
        try:
            await gateway.read(unit, table, 0, 1)
        except DeviceUnreachable:
            return False
        except ModbusRefused as err:
            if err.code != _NO_DEVICE:
                return True  # an exception is an answer: something is there
            continue
        return True
    return False


async def _block(gateway: Gateway, unit: int, table: str, start: int, count: int,
                 found: dict[int, int | bool], progress: Progress) -> str:
    """Read [start, start+count) into ``found``; a refused block is split. Returns why a whole
    block could not be read for another reason than its addresses ("" when none)."""
    try:
        values: Sequence[Any] = await gateway.read(unit, table, start, count)
    except ModbusRefused as err:
        if err.code != ILLEGAL_DATA_ADDRESS:
            progress(count)
            return err.name
        if count == 1:
            progress(1)
            return ""
        half = count // 2
        why = await _block(gateway, unit, table, start, half, found, progress)
        if why:
            progress(count - half)
            return why
        return await _block(gateway, unit, table, start + half, count - half, found, progress)
    for k, value in enumerate(values):
        found[start + k] = value if table in BIT_TABLES else int(value)
    progress(count)
    return ""


async def scan(host: str | Endpoint, port: int, units: Sequence[int],
               tables: Sequence[str] = TABLES,
               start: int = 0, end: int = 999, request_timeout: float = 1.0,
               progress: Progress | None = None,
               on_unit: Callable[[int, bool], None] | None = None) -> list[UnitScan]:
    """Probe ``units`` at host:port (or an ``Endpoint``: a serial line, an RTU-over-TCP gateway),
    then the addresses ``start``..``end`` of each table of each unit that answered.
    ``progress`` gets the addresses (and unit probes) covered as it goes."""
    tick: Progress = progress or (lambda n: None)
    out: list[UnitScan] = []
    async with Gateway(host, port, request_timeout) as gateway:
        present = []
        for unit in units:
            here = await _present(gateway, unit)
            tick(1)
            if on_unit is not None:
                on_unit(unit, here)
            if here:
                present.append(unit)
        for unit in present:
            result = UnitScan(unit)
            out.append(result)
            for table in tables:
                step = 2000 if table in BIT_TABLES else 125
                found: dict[int, int | bool] = {}
                address = start
                why = ""
                try:
                    while address <= end and not why:
                        count = min(step, end + 1 - address)
                        why = await _block(gateway, unit, table, address, count, found, tick)
                        address += count
                except DeviceUnreachable as err:
                    result.stopped = str(err)
                if why:
                    result.refused[table] = why
                    tick(max(0, end + 1 - address))
                if found:
                    result.ranges[table] = _ranges(list(found))
                    result.values[table] = found
                if result.stopped:
                    break
    return out


def skeleton(result: UnitScan, name: str, description: str = "") -> str:
    """A profile's text with one point per address ``result`` found (uint16 registers, bools)."""
    points = []
    for table in TABLES:
        for start, count in result.ranges.get(table, []):
            for address in range(start, start + count):
                point: dict[str, Any] = {"name": f"{table}-{address}", "table": table,
                                         "address": address}
                if table in BIT_TABLES:
                    point["kind"] = "bool"
                points.append(point)
    return profile_yaml(name, description or f"scanned: unit {result.unit}", "ABCD", points)
