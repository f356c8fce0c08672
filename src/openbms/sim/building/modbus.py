"""The emulated building's Modbus TCP face: its utility meters and the supply fan's drive.

::

    Building ──publish() after each step──▶ register words ──read──▶ ModbusTcpServer 127.0.0.1:PORT
      meter-elec/kw, kwh                      unit 1  electricity meter   (energy-meter profile)
      meter-gas/kw, kwh                       unit 2  gas meter           (energy-meter profile)
      ahu-1/sf-speed, sf-kw, fan-status       unit 3  supply fan VFD      (vfd profile)

One pymodbus server, one port, three unit ids, as three devices behind one
TCP gateway. The register maps are the shipped profiles'
(``examples/profiles/energy-meter.yaml``: float32 input registers in CDAB
order, watts and vars at ``scale: 0.001``; ``vfd.yaml``: 16-bit input
registers, a uint32 of run hours in ABCD). What a real meter shows beside its
kW and kWh is derived from them plausibly: 230 V phases sagging a little with
the load, a power factor rising with it, the amps and kvar that follow, a
50 Hz grid wandering by a few hundredths. The gas meter (a flow computer with
the same map) fills its power and energy registers; its electrical ones read 0.

The drive's run command (coil 0) and speed reference (holding 1) take writes
and keep them, but steer nothing: the fan follows the air handler's BACnet
commands, and the drive reports what the fan does. Unused registers between
the map's points read 0, as many meters' do, so merged reads may span them.

Nothing here touches openbms: it is reached over Modbus TCP only, as a field
device would be. ``encode_float32`` is written here, not borrowed from the
driver, so the tests compare two implementations.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
from collections.abc import Sequence

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from openbms.sim.building.building import Building

__all__ = ["ELEC_UNIT", "GAS_UNIT", "METER_REGISTERS", "MODBUS_UNITS", "VFD_REGISTERS", "VFD_UNIT",
           "ModbusFace", "encode_float32", "meter_words", "vfd_words"]

_log = logging.getLogger(__name__)

ELEC_UNIT, GAS_UNIT, VFD_UNIT = 1, 2, 3
#: Unit id → (the site's device name, its profile), what the demo site binds.
MODBUS_UNITS: dict[int, tuple[str, str]] = {
    ELEC_UNIT: ("elec-meter", "energy-meter"),
    GAS_UNIT: ("gas-meter", "energy-meter"),
    VFD_UNIT: ("sf-vfd", "vfd"),
}
#: Input registers of an energy meter: 0 up to the last float32 of the profile (kwh-export at 74).
METER_REGISTERS = 76
#: Input registers of the drive: 0 up to its fault code (12).
VFD_REGISTERS = 13
_FREQUENCY = 50.0  # Hz: the demo building is in London
_DC_BUS = 565  # V: a 400 V drive's rectified supply


def encode_float32(value: float, order: str = "CDAB") -> list[int]:
    """Two register words of a float32 in ``order`` (``CDAB``: the low word first)."""
    a_b, c_d = struct.unpack(">HH", struct.pack(">f", value))
    return [c_d, a_b] if order == "CDAB" else [a_b, c_d]


def _word(value: float) -> int:
    return min(65535, max(0, round(value)))


def meter_words(kw: float, kwh: float, when: float, electrical: bool = True) -> list[int]:
    """The energy-meter profile's input registers for a meter at ``kw`` and ``kwh``."""
    kw = max(0.0, kw)
    words = [0] * METER_REGISTERS

    def put(address: int, value: float) -> None:
        words[address:address + 2] = encode_float32(value)

    put(52, kw * 1000.0)  # W: the profile reads it at scale 0.001
    put(72, kwh)
    put(74, 0.0)  # exported energy: the building has no generation
    if electrical:
        pf = min(0.99, 0.90 + 0.0004 * kw)
        volts = [max(200.0, 240.0 - 0.02 * kw) + d for d in (0.4, -0.3, 0.1)]
        for phase, (v, share) in enumerate(zip(volts, (0.34, 0.32, 0.34), strict=True)):
            put(phase * 2, v)
            put(6 + phase * 2, kw * 1000.0 * share / (v * pf))
        put(60, kw * 1000.0 * math.tan(math.acos(pf)))  # var, at scale 0.001
        put(62, pf)
        put(70, _FREQUENCY + 0.03 * math.sin(2 * math.pi * when / 900.0))
    return words


def vfd_words(speed: float, kw: float, running: bool, run_hours: float) -> list[int]:
    """The vfd profile's input registers for a fan at ``speed`` % drawing ``kw``."""
    speed = min(100.0, max(0.0, speed)) if running else 0.0
    words = [0] * VFD_REGISTERS
    # Status word: bit 0 running, bit 1 ready, bit 5 at speed (bit 3, a fault, never set here).
    words[0] = (1 if running else 0) | 0b10 | ((1 << 5) if running and speed > 0 else 0)
    words[2] = _word(speed / 100.0 * _FREQUENCY * 10)  # Hz at scale 0.1
    words[3] = _word(speed * 100)  # % at scale 0.01
    words[4] = _word(kw * 1000.0 / (math.sqrt(3) * 400.0 * 0.85) * 10)  # A at scale 0.1
    words[5] = _word(kw * 100)  # kW at scale 0.01
    words[6] = _DC_BUS
    words[7] = _word((25.0 + 20.0 * speed / 100.0) * 10)  # °C at scale 0.1 (int16, positive here)
    hours = min(int(run_hours), 0xFFFFFFFF)
    words[10], words[11] = hours >> 16, hours & 0xFFFF  # uint32, ABCD
    words[12] = 0  # no fault
    return words


class ModbusFace:
    """The building's meters and fan drive on one Modbus TCP server at ``host:port`` (0: a free port).

    ``publish`` (after each step) recomputes the register words from the
    building; every read answers the words of the last publish.
    """

    def __init__(self, building: Building, host: str = "127.0.0.1", port: int = 0) -> None:
        self.building = building
        self.host, self.port = host, port
        self.run_hours = 0.0
        self._last: float | None = None
        self._input: dict[int, list[int]] = {}
        self._server: ModbusTcpServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.publish()

    def publish(self) -> None:
        """Copy the building's present values into the registers."""
        b = self.building
        now = b.timestamp
        running = bool(b.get("ahu-1/fan-status"))
        if self._last is not None and running and now > self._last:
            self.run_hours += (now - self._last) / 3600.0
        self._last = now
        self._input[ELEC_UNIT] = meter_words(float(b.get("meter-elec/kw")), float(b.get("meter-elec/kwh")),
                                             now)
        self._input[GAS_UNIT] = meter_words(float(b.get("meter-gas/kw")), float(b.get("meter-gas/kwh")),
                                            now, electrical=False)
        self._input[VFD_UNIT] = vfd_words(float(b.get("ahu-1/sf-speed")), float(b.get("ahu-1/sf-kw")),
                                          running, self.run_hours)

    def words(self, unit: int) -> list[int]:
        """The input registers ``unit`` answers now."""
        return list(self._input[unit])

    def _device(self, unit: int) -> SimDevice:
        async def action(function_code: int, start: int, address: int, count: int, registers: list[int],
                         values: Sequence[int] | None) -> None:
            if function_code == 4:  # read input registers: the last publish's words
                lo, hi = address - start, address - start + count
                registers[lo:hi] = self._input[unit][lo:hi]

        filler = SimData(65000, values=[0], datatype=DataType.REGISTERS)  # pymodbus wants every table
        bits = [SimData(0, values=[0], datatype=DataType.BITS)]
        registers = [SimData(0, values=self.words(unit), datatype=DataType.REGISTERS)]
        if unit == VFD_UNIT:
            running = bool(self.building.get("ahu-1/fan-status"))
            speed = _word(float(self.building.get("ahu-1/sf-speed")) * 100)
            coils = [SimData(0, values=[1 if running else 0], datatype=DataType.BITS)]
            holding = [SimData(0, values=[0, speed], datatype=DataType.REGISTERS)]
            return SimDevice(unit, simdata=(coils, bits, holding, registers), action=action)
        return SimDevice(unit, simdata=(bits, bits, [filler], registers), action=action)

    async def start(self) -> None:
        """Listen on ``host:port``; ``OSError`` when it cannot (the port is taken)."""
        if self._server is not None:
            return
        server = ModbusTcpServer([self._device(u) for u in MODBUS_UNITS], address=(self.host, self.port))
        task = asyncio.create_task(server.serve_forever(), name="openbms-emulator-modbus")
        for _ in range(500):  # until it listens (serve_forever binds in its task)
            sockets = getattr(server.transport, "sockets", None)
            if sockets:
                self.port = int(sockets[0].getsockname()[1])
                self._server, self._task = server, task
                return
            if task.done():
                break
            await asyncio.sleep(0.01)
        await server.shutdown()
        task.cancel()
        error = task.exception() if task.done() and not task.cancelled() else None
        await asyncio.gather(task, return_exceptions=True)
        if isinstance(error, OSError):
            raise error
        raise OSError(f"the emulator's Modbus server did not listen on {self.host}:{self.port}"
                      + (f": {error}" if error else ""))

    async def stop(self) -> None:
        """Close the listener and every connection."""
        server, task = self._server, self._task
        self._server = self._task = None
        if server is not None:
            await server.shutdown()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    @property
    def running(self) -> bool:
        return self._server is not None
