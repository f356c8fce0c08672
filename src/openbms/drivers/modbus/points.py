"""Modbus bindings: what a ``modbus://`` URI means, and values in and out of registers.

::

    modbus://meter-1/holding/1000?type=float32&order=CDAB&scale=0.1
             │       │       │    │            │          └ value = raw × scale + offset
             │       │       │    │            └ word and byte order (the device's default if absent)
             │       │       │    └ bool int16 uint16 int32 uint32 int64 uint64 float32 float64 string
             │       │       └ 0-based address (the protocol's, not the 40001 of some manuals)
             │       └ coil | discrete | input | holding
             └ a device under ``drivers: modbus: devices:``

    modbus://vfd-2/holding/12?bit=3          bit 3 (0 = least significant) of register 12, a bool
    modbus://meter-1/input/200?type=string&count=8   16 characters in 8 registers

Everything here is parsed once per binding (``point_spec``); per sample only
``decode`` runs: one ``struct`` call on the registers, no model, no logging.
Nothing here imports pymodbus, so ``openbms check`` uses it on any machine.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openbms.errors import BindingError
from openbms.model.binding import Binding
from openbms.model.sample import Value

__all__ = ["BIT_TABLES", "ORDERS", "TABLES", "TYPES", "PointSpec", "check_binding", "decode",
           "encode", "point_spec"]

#: The four Modbus tables; the first two hold bits, the others 16-bit registers.
TABLES = ("coil", "discrete", "input", "holding")
BIT_TABLES = frozenset(("coil", "discrete"))
WRITABLE = frozenset(("coil", "holding"))
#: type → (struct format of the whole value, big-endian; registers it takes).
TYPES: dict[str, tuple[str, int]] = {
    "bool": ("", 1), "int16": (">h", 1), "uint16": (">H", 1), "int32": (">i", 2),
    "uint32": (">I", 2), "int64": (">q", 4), "uint64": (">Q", 4), "float32": (">f", 2),
    "float64": (">d", 4), "string": ("", 0),
}
#: Byte order of a value's bytes A (most significant) … D as they arrive: ABCD is big-endian
#: (Modbus's own), CDAB swaps the words, BADC the bytes in each word, DCBA both.
ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")
_OPTIONS = ("type", "order", "scale", "offset", "bit", "count")
#: Registers one request may carry (Modbus's own limit): a longer string could never be read.
MAX_REGISTERS = 125


@dataclass(frozen=True, slots=True)
class PointSpec:
    """What one binding reads and writes, prepared once.

    ``size`` is the registers (bits in a bit table) the point takes from ``address``.
    """

    device: str
    table: str
    address: int
    type: str
    size: int
    order: str
    scale: float = 1.0
    offset: float = 0.0
    bit: int | None = None
    fmt: str = ""
    swap_words: bool = False
    swap_bytes: bool = False
    #: 1/scale when it is a whole number (scale=0.1: 10): dividing by it gives 230.1 for 2301,
    #: where multiplying by 0.1 gives 230.10000000000002.
    divisor: int = 0

    @property
    def end(self) -> int:
        """The first address after the point."""
        return self.address + self.size


def _a(kind: str) -> str:
    """``an int16``, ``a uint16``: the article a type's name takes."""
    return f"an {kind}" if kind.startswith("int") else f"a {kind}"


def _number(binding: Binding, key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise BindingError(f"binding {binding.uri!r}: {key}={text!r}; expected a finite number "
                           f"such as {key}=0.1")
    return value


def _whole(binding: Binding, key: str, text: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise BindingError(f"binding {binding.uri!r}: {key}={text!r}; expected a whole number "
                           f"from {low} to {high}")
    return int(text)


def point_spec(binding: Binding, default_order: str = "ABCD") -> PointSpec:
    """Parse a ``modbus://`` binding; ``BindingError`` saying what is wrong and what is expected."""
    uri = binding.uri
    table, _, where = binding.path.partition("/")
    if table not in TABLES:
        raise BindingError(f"binding {uri!r}: unknown table {table!r}; expected "
                           f"modbus://DEVICE/TABLE/ADDRESS with TABLE one of {', '.join(TABLES)}")
    if not where.isdigit() or int(where) > 65535:
        raise BindingError(f"binding {uri!r}: address {where!r}; expected a 0-based register "
                           "address from 0 to 65535 after the table, e.g. holding/1000")
    address = int(where)
    params: Mapping[str, str] = binding.params
    unknown = [k for k in params if k not in _OPTIONS]
    if unknown:
        raise BindingError(f"binding {uri!r}: unknown option {unknown[0]!r}; expected "
                           f"{', '.join(_OPTIONS)}")
    bits = table in BIT_TABLES
    kind = params.get("type", "bool" if bits or "bit" in params else "uint16")
    if kind not in TYPES:
        raise BindingError(f"binding {uri!r}: type={kind!r}; expected one of {', '.join(TYPES)}")
    if bits and kind != "bool":
        raise BindingError(f"binding {uri!r}: a {table} holds one bit: type must be bool, "
                           f"not {kind}")
    order = params.get("order", default_order).upper()
    if order not in ORDERS:
        raise BindingError(f"binding {uri!r}: order={params['order']!r}; expected one of "
                           f"{', '.join(ORDERS)}")
    bit = None
    if "bit" in params:
        if bits:
            raise BindingError(f"binding {uri!r}: bit= selects a bit of a register; a {table} "
                               "is a bit already")
        if kind != "bool":
            raise BindingError(f"binding {uri!r}: bit= reads a bool, not {kind}")
        bit = _whole(binding, "bit", params["bit"], 0, 15)
    fmt, size = TYPES[kind]
    if kind == "string":
        if "count" not in params:
            raise BindingError(f"binding {uri!r}: a string needs count=N, the registers it "
                               "takes (2 characters each)")
        size = _whole(binding, "count", params["count"], 1, MAX_REGISTERS)
    elif "count" in params:
        raise BindingError(f"binding {uri!r}: count= is the length of a string; {_a(kind)} "
                           f"takes {size} register{'s' if size > 1 else ''}")
    if address + size > 65536:
        raise BindingError(f"binding {uri!r}: {size} registers from {address} run past 65535")
    numeric = kind not in ("bool", "string")
    for key in ("scale", "offset"):
        if key in params and not numeric:
            raise BindingError(f"binding {uri!r}: {key}= applies to numbers, not to {_a(kind)}")
    scale = _number(binding, "scale", params["scale"]) if "scale" in params else 1.0
    offset = _number(binding, "offset", params["offset"]) if "offset" in params else 0.0
    if scale == 0:
        raise BindingError(f"binding {uri!r}: scale=0 would read every value as the offset; "
                           "expected a number other than 0")
    if scale == 1 and offset.is_integer() and kind.startswith(("int", "uint")):
        offset = int(offset)  # an enum's state 1 from a 0: stays whole
    inverse = 1 / scale
    divisor = round(inverse) if abs(scale) < 1 and abs(inverse - round(inverse)) < 1e-9 else 0
    return PointSpec(binding.device, table, address, kind, size, order, scale, offset, bit, fmt,
                     swap_words=order in ("CDAB", "DCBA"), swap_bytes=order in ("BADC", "DCBA"),
                     divisor=divisor)


def _bytes(spec: PointSpec, registers: Sequence[int]) -> bytes:
    """The registers' bytes in big-endian order (ABCD)."""
    words = reversed(registers) if spec.swap_words else registers
    if spec.swap_bytes:
        return struct.pack(f"<{spec.size}H", *words)
    return struct.pack(f">{spec.size}H", *words)


def decode(spec: PointSpec, raw: Sequence[int] | Sequence[bool]) -> Value:
    """The point's value from its own registers (bits): ``raw`` has exactly ``spec.size`` items."""
    if spec.table in BIT_TABLES:
        return bool(raw[0])
    kind = spec.type
    if kind == "bool":
        return bool(raw[0] >> spec.bit & 1) if spec.bit is not None else raw[0] != 0
    if kind == "string":
        data = struct.pack(f"<{spec.size}H" if spec.swap_bytes else f">{spec.size}H", *raw)
        return data.split(b"\0", 1)[0].decode("utf-8", "replace").rstrip()
    # One register: only its bytes may swap; more: words and bytes.
    data = struct.pack("<H" if spec.swap_bytes else ">H", raw[0]) if spec.size == 1 else _bytes(spec, raw)
    value = struct.unpack(spec.fmt, data)[0]
    if spec.divisor:
        return value / spec.divisor + spec.offset
    if spec.scale != 1.0:
        return value * spec.scale + spec.offset
    return value + spec.offset if spec.offset else value


def encode(spec: PointSpec, value: Value) -> list[int]:
    """The registers that hold ``value`` (a bit table's or a bool register's: [0] or [1]);
    ``ValueError`` saying why a value does not fit the point's type."""
    kind = spec.type
    if kind == "bool":
        if not isinstance(value, bool | int) or (isinstance(value, int) and value not in (0, 1)):
            raise ValueError(f"a {spec.table} bool takes true or false, not {value!r}")
        return [int(bool(value))]
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"a string point takes text, not {value!r}")
        data = value.encode("utf-8")
        if len(data) > 2 * spec.size:
            raise ValueError(f"{len(data)} bytes do not fit {spec.size} registers "
                             f"({2 * spec.size} bytes)")
        data = data.ljust(2 * spec.size, b"\0")
        return list(struct.unpack(f"<{spec.size}H" if spec.swap_bytes else f">{spec.size}H", data))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{_a(kind)} point takes a number, not {value!r}")
    raw: float | int = value
    if spec.divisor:
        raw = (value - spec.offset) * spec.divisor
    elif spec.scale != 1.0 or spec.offset != 0.0:
        raw = (value - spec.offset) / spec.scale
    if not kind.startswith("float"):
        if not math.isfinite(raw):
            raise ValueError(f"{value!r} is not a number {_a(kind)} register holds")
        raw = round(raw)
    try:
        data = struct.pack(spec.fmt, raw)
    except (struct.error, OverflowError) as err:
        raise ValueError(f"{value!r} (raw {raw!r}) does not fit {_a(kind)}") from err
    if spec.size == 1:
        return list(struct.unpack("<H" if spec.swap_bytes else ">H", data))
    words = list(struct.unpack(f"<{spec.size}H" if spec.swap_bytes else f">{spec.size}H", data))
    return words[::-1] if spec.swap_words else words


def check_binding(binding: Binding, settings: Mapping[str, Any] | None) -> None:
    """What ``openbms check`` asks of each ``modbus://`` binding: its form, and its device among
    ``drivers: modbus: devices:``."""
    given: Mapping[str, Any] = settings or {}
    devices = given.get("devices")
    devices = devices if isinstance(devices, Mapping) else {}
    device = devices.get(binding.device)
    mine = device.get("order") if isinstance(device, Mapping) else None
    order = next((o.upper() for o in (mine, given.get("order"))
                  if isinstance(o, str) and o.upper() in ORDERS), "ABCD")
    point_spec(binding, order)
    if binding.device not in devices:
        known = ", ".join(map(str, devices)) or "none yet"
        raise BindingError(f"binding {binding.uri!r}: no Modbus device {binding.device!r}; "
                           f"expected one under drivers: modbus: devices: (known: {known})")
