"""One Modbus connection per gateway (host:port) or serial line, shared by the unit ids on it.

::

    driver, openbms modbus read|write|scan (read_values, write_value)
        ──▶ Gateway.read|write(unit, table, address, …)
        wait for the unit's inter-request delay ──▶ one request at a time on the connection
        ──▶ pymodbus, no retries of its own (the driver manager retries), by the endpoint's
            transport: tcp ──▶ AsyncModbusTcpClient (MBAP framing)
                       rtu-over-tcp ──▶ AsyncModbusTcpClient(framer=RTU) (a serial gateway)
                       rtu ──▶ AsyncModbusSerialClient(framer=RTU) on the line's device
        ◀── registers or bits │ ModbusRefused(code, name) │ DeviceUnreachable

The transport is only the connection: merged reads, their splitting, writes,
exception names and offline handling are the same code for all three. On a
serial line "one request at a time" is the medium's own rule (a half-duplex
bus, one master), and a request waits for the line's silent interval after the
last frame (3.5 characters, ``Endpoint.frame_gap``): pymodbus finds a frame's
end by its length and CRC and sends the next request as soon as it is asked.

This is the only module that imports pymodbus, so the command line and the
rest of the driver import no protocol library. Any failure of the transport
(refused, timeout, a garbled or short answer) closes the connection: the next
request opens a fresh one, so a late or garbled frame is never taken for the
answer to another request. Pacing is network time (real seconds), not the
building's clock, which may run faster in a co-simulation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from openbms.drivers.modbus.points import BIT_TABLES, PointSpec, decode, encode
from openbms.drivers.modbus.settings import Endpoint
from openbms.errors import DeviceUnreachable
from openbms.model.sample import Value

__all__ = ["EXCEPTION_NAMES", "Gateway", "ModbusRefused", "exception_name", "read_values",
           "write_point", "write_value"]

log = logging.getLogger(__name__)


class _LibraryDetail(logging.Filter):
    """pymodbus logs each failed request at ERROR (no answer, refused connection, a bad frame):
    the driver raises what failed and the driver manager logs it once, so at every poll of an
    offline device those lines repeated it. They are kept, at debug level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_LIBRARY_LOGGER = "pymodbus.logging"
if not any(isinstance(f, _LibraryDetail) for f in logging.getLogger(_LIBRARY_LOGGER).filters):
    logging.getLogger(_LIBRARY_LOGGER).addFilter(_LibraryDetail())

#: Modbus exception codes by their names in the specification (lower-case, hyphenated).
EXCEPTION_NAMES = {
    1: "illegal-function", 2: "illegal-data-address", 3: "illegal-data-value",
    4: "server-device-failure", 5: "acknowledge", 6: "server-device-busy",
    8: "memory-parity-error", 10: "gateway-path-unavailable",
    11: "gateway-target-device-failed-to-respond",
}
ILLEGAL_DATA_ADDRESS = 2
#: Exceptions a gateway sends for a device behind it that does not answer: the device is offline.
GATEWAY_NO_DEVICE = frozenset((10, 11))

_READ = {"coil": "read_coils", "discrete": "read_discrete_inputs",
         "input": "read_input_registers", "holding": "read_holding_registers"}


def exception_name(code: int) -> str:
    """The name of a Modbus exception code (``exception-N`` for one the standard does not name)."""
    return EXCEPTION_NAMES.get(code, f"exception-{code}")


class ModbusRefused(Exception):
    """The device answered with a Modbus exception: ``code`` and its ``name``."""

    def __init__(self, code: int, what: str) -> None:
        self.code = code
        self.name = exception_name(code)
        super().__init__(f"{what}: the device answered {self.name} (exception {code})")


class Gateway:
    """A Modbus endpoint (TCP, RTU over TCP, or a serial line): one connection, one request at a
    time, opened on demand.

    pymodbus serialises a connection's transactions itself, and many gateways
    reject pipelined requests, so one request is in flight per connection;
    ``requests`` counts those sent (tests and health read it). ``Gateway(host,
    port, timeout)`` is a Modbus TCP one; give an ``Endpoint`` for the others.
    """

    def __init__(self, host: str | Endpoint, port: int = 502, timeout: float = 3.0) -> None:
        self.endpoint = host if isinstance(host, Endpoint) else Endpoint("tcp", host, port)
        self.timeout = timeout
        self.requests = 0
        self.connects = 0
        self._client: Any = None  # pymodbus's AsyncModbusTcpClient, imported on first use
        self._lock = asyncio.Lock()
        self._last: dict[int, float] = {}  # unit → time.monotonic() its last request ended
        self._ended = 0.0  # time.monotonic() the last request on the line ended

    def __str__(self) -> str:
        return str(self.endpoint)

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def read(self, unit: int, table: str, address: int, count: int,
                   delay: float = 0.0) -> list[int] | list[bool]:
        """``count`` registers (or bits) of ``table`` from ``address`` on ``unit``."""
        what = f"{self} unit {unit}: reading {count} {table} from {address}"
        response = await self._call(unit, delay, what, _READ[table], address, count=count)
        values = getattr(response, "bits" if table in ("coil", "discrete") else "registers")
        if len(values) < count:
            self.close()
            raise DeviceUnreachable(f"{what}: the answer holds {len(values)} of {count}")
        return list(values[:count])

    async def write(self, unit: int, table: str, address: int, values: Sequence[int],
                    delay: float = 0.0) -> None:
        """Write registers (or coils, each 0 or 1) from ``address``; one value: the single form."""
        what = f"{self} unit {unit}: writing {table} {address}"
        if table == "coil":
            bits = [bool(v) for v in values]
            if len(bits) == 1:
                await self._call(unit, delay, what, "write_coil", address, bits[0])
            else:
                await self._call(unit, delay, what, "write_coils", address, bits)
        elif table == "holding":
            if len(values) == 1:
                await self._call(unit, delay, what, "write_register", address, int(values[0]))
            else:
                await self._call(unit, delay, what, "write_registers", address, list(values))
        else:
            raise ModbusRefused(1, f"{what}: {table} is read-only")

    def _new_client(self) -> Any:
        from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
        from pymodbus.framer import FramerType

        at = self.endpoint
        common: dict[str, Any] = {"timeout": self.timeout, "retries": 0, "reconnect_delay": 0,
                                  "name": f"openbms {self}"}
        if at.transport == "rtu":
            return AsyncModbusSerialClient(at.host, framer=FramerType.RTU, baudrate=at.baudrate,
                                           parity=at.parity, stopbits=at.stopbits,
                                           bytesize=at.bytesize, **common)
        framer = FramerType.RTU if at.transport == "rtu-over-tcp" else FramerType.SOCKET
        return AsyncModbusTcpClient(at.host, port=at.port, framer=framer, **common)

    async def _connect(self) -> Any:
        try:
            client = self._new_client()
        except (RuntimeError, ValueError) as err:  # no pyserial, or settings pyserial refuses
            raise DeviceUnreachable(f"{self}: {err}") from err
        self.connects += 1
        at = self.endpoint
        try:
            async with asyncio.timeout(self.timeout * 2):
                ok = await client.connect()
        except TimeoutError:
            ok = False
        except Exception as err:  # termios.error: the serial port refuses the line's settings
            client.close()
            raise DeviceUnreachable(f"{self}: the serial line refuses {at.baudrate} baud, "
                                    f"{at.bytesize}{at.parity}{at.stopbits} ({err})") from err
        if not ok:
            client.close()
            if self.endpoint.transport == "rtu":
                raise DeviceUnreachable(f"{self}: the serial line cannot be opened (no such "
                                        "device, in use, or no permission: is the user in the "
                                        "dialout group?)")
            what = "RTU over TCP" if self.endpoint.transport == "rtu-over-tcp" else "TCP"
            raise DeviceUnreachable(f"{self}: no Modbus {what} connection (refused or no answer "
                                    f"within {self.timeout:g} s)")
        self._client = client
        return client

    async def _call(self, unit: int, delay: float, what: str, method: str, *args: object,
                    **kwargs: object) -> Any:
        from pymodbus.exceptions import ModbusException

        if delay > 0:  # the device's own pace, outside the lock: other units need not wait
            wait = self._last.get(unit, -delay) + delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        async with self._lock:
            gap = self.endpoint.frame_gap  # a serial line's silence between frames
            if gap > 0 and (wait := self._ended + gap - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            try:
                client = self._client or await self._connect()
                self.requests += 1
                async with asyncio.timeout(self.timeout * 2):
                    response = await getattr(client, method)(*args, device_id=unit, **kwargs)
            except DeviceUnreachable:
                raise
            except (ModbusException, OSError, TimeoutError) as err:
                self.close()
                raise DeviceUnreachable(f"{what}: {err or type(err).__name__}") from err
            except asyncio.CancelledError:
                self.close()  # an answer may still come: never take it for the next one's
                raise
            except Exception as err:  # a frame the library chokes on: the device's fault, not ours
                self.close()
                raise DeviceUnreachable(f"{what}: a bad answer ({type(err).__name__}: {err})") from err
            finally:
                self._last[unit] = self._ended = time.monotonic()
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Python 3.11's asyncio.wait_for (pymodbus waits for the answer with it) returns
                # the answer when it arrives as the task is cancelled, and the cancellation is
                # lost: the driver manager's stop waited forever for a poll that kept polling.
                raise asyncio.CancelledError
        if response.isError():
            code = int(getattr(response, "exception_code", 0) or 0)
            if code in GATEWAY_NO_DEVICE:
                raise DeviceUnreachable(f"{what}: the gateway answered {exception_name(code)}")
            raise ModbusRefused(code, what)
        return response


async def write_point(gateway: Gateway, unit: int, spec: PointSpec, words: list[int],
                      delay: float = 0.0) -> None:
    """Write a point's encoded ``words``: a coil, a register, registers (the multiple form), or
    one bit of a register (read, the bit changed, written back)."""
    if spec.bit is not None:
        (current,) = await gateway.read(unit, "holding", spec.address, 1, delay)
        mask = 1 << spec.bit
        words = [int(current) | mask if words[0] else int(current) & ~mask]
    await gateway.write(unit, spec.table, spec.address, words, delay)


async def read_values(host: str | Endpoint, port: int, unit: int, spec: PointSpec, n: int,
                      request_timeout: float) -> list[tuple[int, Value, list[int]]]:
    """``n`` values of ``spec``'s type from its address on, each as (address, value, the raw
    registers or bits): one connection (``host``: a TCP host, or an ``Endpoint``), requests of at
    most 125 registers (2000 bits)."""
    step = spec.size
    limit = 2000 if spec.table in BIT_TABLES else 125
    per_request = max(1, limit // step)
    out: list[tuple[int, Value, list[int]]] = []
    async with Gateway(host, port, request_timeout) as gateway:
        done = 0
        while done < n:
            take = min(per_request, n - done)
            start = spec.address + done * step
            raw = await gateway.read(unit, spec.table, start, take * step)
            for k in range(take):
                words = [int(v) for v in raw[k * step:(k + 1) * step]]
                one = replace(spec, address=start + k * step)
                out.append((one.address, decode(one, words), words))
            done += take
    return out


async def write_value(host: str | Endpoint, port: int, unit: int, spec: PointSpec, value: Value,
                      request_timeout: float) -> Value:
    """Write ``value`` to ``spec``'s coil or register(s) and read it back; ``ValueError`` when it
    does not fit the type, ``ModbusRefused`` or ``DeviceUnreachable`` as for reads."""
    words = encode(spec, value)
    async with Gateway(host, port, request_timeout) as gateway:
        await write_point(gateway, unit, spec, words)
        raw = await gateway.read(unit, spec.table, spec.address, spec.size)
    return decode(spec, raw)
