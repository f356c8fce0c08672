"""``openbms modbus read|write``: one Modbus TCP device's registers, decoded as the driver decodes
them, from the command line.

::

    openbms modbus read 10.0.0.5 1 holding 1000 --type float32 --order CDAB --count 4
        ──▶ the binding modbus://…/holding/1000?type=float32&order=CDAB (points.py: the same
            checks and decoding as a site's points) ──▶ client.read_values ──▶ one line a value
    openbms modbus write 10.0.0.5 1 holding 1000 21.5 --type float32
        ──▶ client.write_value: written, read back, printed

A command connects once; a device that cannot be reached or refuses a request
(with the Modbus exception's name) is one line on stderr and exit status 1.
The protocol library stays in ``openbms.drivers.modbus``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import typer

from openbms.cli.common import fail

__all__ = ["register"]

modbus_app = typer.Typer(help="Modbus TCP: read and write a device's coils and registers, decoded "
                              "as the modbus driver decodes them.", no_args_is_help=True)

_TRUE = ("true", "on", "yes", "1")
_FALSE = ("false", "off", "no", "0")

TypeOption = typer.Option(None, "--type", "-t", show_default=False,
                          help="bool, int16, uint16 (registers' default), int32, uint32, int64, "
                               "uint64, float32, float64 or string.")
OrderOption = typer.Option(None, "--order", "-o", show_default=False,
                           help="Word and byte order: ABCD (default, big-endian), CDAB, BADC, DCBA.")
ScaleOption = typer.Option(None, "--scale", show_default=False,
                           help="value = raw × scale + offset.")
OffsetOption = typer.Option(None, "--offset", show_default=False, help="Added after --scale.")
BitOption = typer.Option(None, "--bit", min=0, max=15, show_default=False,
                         help="One bit (0 = least significant) of a register, as a bool.")
TimeoutOption = typer.Option(3.0, "--timeout", min=0.05, help="Seconds per request.")


def _endpoint(text: str) -> tuple[str, int]:
    """HOST, HOST:PORT or [IPV6]:PORT; the port defaults to Modbus's 502."""
    host, port = text, "502"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise fail(f"{text!r}: expected HOST or HOST:PORT with a port from 1 to 65535")
    return host, int(port)


def _spec(table: str, address: int, kind: str | None, order: str | None, scale: float | None,
          offset: float | None, bit: int | None, count: int | None) -> Any:
    from openbms.drivers.modbus.points import point_spec
    from openbms.errors import BindingError
    from openbms.model.binding import parse_binding

    options: dict[str, Any] = {"type": kind, "order": order, "scale": scale, "offset": offset,
                               "bit": bit, "count": count if kind == "string" else None}
    query = urlencode({k: v for k, v in options.items() if v is not None})
    try:
        return point_spec(parse_binding(f"modbus://cli/{table}/{address}" + (f"?{query}" if query
                                                                            else "")))
    except BindingError as err:
        raise fail(str(err).replace("modbus://cli/", "")) from None


def _run(coro: Any) -> Any:
    from openbms.drivers.modbus.client import ModbusRefused
    from openbms.errors import OpenBMSError

    try:
        return asyncio.run(coro)
    except (OpenBMSError, ModbusRefused) as err:
        raise fail(str(err)) from None
    except ValueError as err:
        raise fail(str(err)) from None


def _raw(words: list[int], bits: bool) -> str:
    return " ".join(str(int(w)) for w in words) if bits else " ".join(f"0x{w:04X}" for w in words)


@modbus_app.command("read")
def read(
    endpoint: str = typer.Argument(..., metavar="HOST[:PORT]", help="The device or its gateway."),
    unit: int = typer.Argument(..., min=0, max=255, help="The unit id (1 for most TCP devices)."),
    table: str = typer.Argument(..., help="coil, discrete, input or holding."),
    address: int = typer.Argument(..., min=0, max=65535,
                                  help="0-based (holding 0 is the 40001 of some manuals)."),
    kind: str = TypeOption, order: str = OrderOption, scale: float = ScaleOption,
    offset: float = OffsetOption, bit: int = BitOption,
    count: int = typer.Option(1, "--count", "-n", min=1, max=2000,
                              help="How many values, one after another; for --type string the "
                                   "registers it takes."),
    timeout: float = TimeoutOption,
) -> None:
    """Read and decode values; each line: address, value, and the raw registers (or bits)."""
    from openbms.drivers.modbus.client import read_values
    from openbms.drivers.modbus.points import BIT_TABLES

    host, port = _endpoint(endpoint)
    spec = _spec(table, address, kind, order, scale, offset, bit, count)
    n = 1 if spec.type == "string" else count
    if spec.address + n * spec.size > 65536:
        raise fail(f"{n} values from {address} run past address 65535")
    rows = _run(read_values(host, port, unit, spec, n, timeout))
    for at, value, words in rows:
        shown = repr(value) if isinstance(value, str) else str(value).lower() \
            if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)
        typer.echo(f"{table}/{at}\t{shown}\t{_raw(words, spec.table in BIT_TABLES)}")


def _value(text: str, kind: str) -> Any:
    if kind == "bool":
        low = text.strip().lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise fail(f"{text!r}: expected true or false (on/off, 1/0)")
    if kind == "string":
        return text
    try:
        return int(text) if not kind.startswith("float") else float(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise fail(f"{text!r}: expected a number for a {kind}") from None


@modbus_app.command("write")
def write(
    endpoint: str = typer.Argument(..., metavar="HOST[:PORT]", help="The device or its gateway."),
    unit: int = typer.Argument(..., min=0, max=255, help="The unit id."),
    table: str = typer.Argument(..., help="coil or holding."),
    address: int = typer.Argument(..., min=0, max=65535, help="0-based."),
    value: str = typer.Argument(..., help="A number, true/false, or text for --type string."),
    kind: str = TypeOption, order: str = OrderOption, scale: float = ScaleOption,
    offset: float = OffsetOption, bit: int = BitOption,
    count: int = typer.Option(None, "--count", "-n", min=1, max=123, show_default=False,
                              help="For --type string: the registers it takes."),
    timeout: float = TimeoutOption,
) -> None:
    """Write one value (a coil, a register, the registers of its type, or a bit), then read it
    back and print what the device holds."""
    from openbms.drivers.modbus.client import write_value

    host, port = _endpoint(endpoint)
    spec = _spec(table, address, kind, order, scale, offset, bit, count)
    if spec.table not in ("coil", "holding"):
        raise fail(f"{table} is read-only: Modbus writes coils and holding registers")
    back = _run(write_value(host, port, unit, spec, _value(value, spec.type), timeout))
    shown = f"{back:g}" if isinstance(back, float) else str(back).lower() if isinstance(back, bool) \
        else repr(back) if isinstance(back, str) else str(back)
    typer.echo(f"{table}/{address}\t{shown}")


def register(app: typer.Typer) -> None:
    """Add the ``modbus`` command group."""
    app.add_typer(modbus_app, name="modbus")
