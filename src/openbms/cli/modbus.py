"""``openbms modbus read|write|scan|profile``: one Modbus device's registers, decoded as the
driver decodes them, from the command line; a scan of what a device answers; profiles checked.

::

    openbms modbus read 10.0.0.5 1 holding 1000 --type float32 --order CDAB --count 4
        ──▶ the binding modbus://…/holding/1000?type=float32&order=CDAB (points.py: the same
            checks and decoding as a site's points) ──▶ client.read_values ──▶ one line a value
    openbms modbus write 10.0.0.5 1 holding 1000 21.5 --type float32
        ──▶ client.write_value: written, read back, printed

The target is Modbus TCP's ``HOST[:PORT]``, an RTU-over-TCP gateway's
``rtu+tcp://HOST[:PORT]``, or a serial line's device (``/dev/ttyUSB0``: RTU, with
``--baudrate``, ``--parity``, ``--stopbits``, ``--bytesize``): the three
transports of a device's settings.

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

modbus_app = typer.Typer(help="Modbus (TCP, RTU on a serial line, RTU over TCP): read and write "
                              "a device's coils and registers, decoded as the modbus driver "
                              "decodes them.", no_args_is_help=True)

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
TARGET = "TARGET"
TargetHelp = ("HOST[:PORT] (Modbus TCP), rtu+tcp://HOST[:PORT] (a gateway passing RTU frames), or "
              "a serial device such as /dev/ttyUSB0 (RTU).")
BaudrateOption = typer.Option(None, "--baudrate", "-b", min=50, max=4_000_000, show_default=False,
                              help="Serial line: bits per second (19200).")
ParityOption = typer.Option(None, "--parity", "-P", show_default=False,
                            help="Serial line: N, E or O (E).")
StopbitsOption = typer.Option(None, "--stopbits", "-s", min=1, max=2, show_default=False,
                              help="Serial line: 1 or 2 (1).")
BytesizeOption = typer.Option(None, "--bytesize", min=7, max=8, show_default=False,
                              help="Serial line: data bits, 7 or 8 (8).")


def _target(text: str, baudrate: int | None, parity: str | None, stopbits: int | None,
            bytesize: int | None) -> Any:
    """The command's target as an ``Endpoint``: a serial device path (RTU, with the line's
    options), ``rtu+tcp://HOST[:PORT]``, or Modbus TCP's ``HOST[:PORT]``."""
    from openbms.drivers.modbus.settings import Endpoint

    line = {"--baudrate": baudrate, "--parity": parity, "--stopbits": stopbits,
            "--bytesize": bytesize}
    if text.startswith("/"):
        if parity is not None and parity.upper() not in ("N", "E", "O"):
            raise fail(f"--parity {parity!r}: expected N, E or O (none, even, odd)")
        return Endpoint("rtu", text, 0, baudrate or 19200, (parity or "E").upper(), stopbits or 1,
                        bytesize or 8)
    given = [k for k, v in line.items() if v is not None]
    if given:
        raise fail(f"{given[0]} is a serial line's setting; expected a serial device such as "
                   f"/dev/ttyUSB0 as the target, not {text!r}")
    if text.lower().startswith("rtu+tcp://"):
        host, port = _endpoint(text[len("rtu+tcp://"):], "rtu+tcp://HOST or rtu+tcp://HOST:PORT")
        return Endpoint("rtu-over-tcp", host, port)
    if "://" in text:
        raise fail(f"{text!r}: expected HOST[:PORT], rtu+tcp://HOST[:PORT] or a serial device "
                   "such as /dev/ttyUSB0")
    host, port = _endpoint(text)
    return Endpoint("tcp", host, port)


def _endpoint(text: str, expected: str = "HOST or HOST:PORT") -> tuple[str, int]:
    """HOST, HOST:PORT or [IPV6]:PORT; the port defaults to Modbus's 502."""
    host, port = text, "502"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise fail(f"{text!r}: expected {expected} with a port from 1 to 65535")
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
    endpoint: str = typer.Argument(..., metavar=TARGET, help=TargetHelp),
    unit: int = typer.Argument(..., min=0, max=255, help="The unit id (1 for most TCP devices)."),
    table: str = typer.Argument(..., help="coil, discrete, input or holding."),
    address: int = typer.Argument(..., min=0, max=65535,
                                  help="0-based (holding 0 is the 40001 of some manuals)."),
    kind: str = TypeOption, order: str = OrderOption, scale: float = ScaleOption,
    offset: float = OffsetOption, bit: int = BitOption,
    count: int = typer.Option(1, "--count", "-n", min=1, max=2000,
                              help="How many values, one after another; for --type string the "
                                   "registers it takes."),
    timeout: float = TimeoutOption, baudrate: int = BaudrateOption, parity: str = ParityOption,
    stopbits: int = StopbitsOption, bytesize: int = BytesizeOption,
) -> None:
    """Read and decode values; each line: address, value, and the raw registers (or bits)."""
    from openbms.drivers.modbus.client import read_values
    from openbms.drivers.modbus.points import BIT_TABLES

    target = _target(endpoint, baudrate, parity, stopbits, bytesize)
    spec = _spec(table, address, kind, order, scale, offset, bit, count)
    n = 1 if spec.type == "string" else count
    if spec.address + n * spec.size > 65536:
        raise fail(f"{n} values from {address} run past address 65535")
    rows = _run(read_values(target, 0, unit, spec, n, timeout))
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
    endpoint: str = typer.Argument(..., metavar=TARGET, help=TargetHelp),
    unit: int = typer.Argument(..., min=0, max=255, help="The unit id."),
    table: str = typer.Argument(..., help="coil or holding."),
    address: int = typer.Argument(..., min=0, max=65535, help="0-based."),
    value: str = typer.Argument(..., help="A number, true/false, or text for --type string."),
    kind: str = TypeOption, order: str = OrderOption, scale: float = ScaleOption,
    offset: float = OffsetOption, bit: int = BitOption,
    count: int = typer.Option(None, "--count", "-n", min=1, max=123, show_default=False,
                              help="For --type string: the registers it takes."),
    timeout: float = TimeoutOption, baudrate: int = BaudrateOption, parity: str = ParityOption,
    stopbits: int = StopbitsOption, bytesize: int = BytesizeOption,
) -> None:
    """Write one value (a coil, a register, the registers of its type, or a bit), then read it
    back and print what the device holds."""
    from openbms.drivers.modbus.client import write_value

    target = _target(endpoint, baudrate, parity, stopbits, bytesize)
    spec = _spec(table, address, kind, order, scale, offset, bit, count)
    if spec.table not in ("coil", "holding"):
        raise fail(f"{table} is read-only: Modbus writes coils and holding registers")
    back = _run(write_value(target, 0, unit, spec, _value(value, spec.type), timeout))
    shown = f"{back:g}" if isinstance(back, float) else str(back).lower() if isinstance(back, bool) \
        else repr(back) if isinstance(back, str) else str(back)
    typer.echo(f"{table}/{address}\t{shown}")


def _numbers(text: str, what: str, low: int, high: int) -> list[int]:
    """``1-10,12``: the numbers of a list of ranges, each within low..high."""
    out: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise fail(f"{what} {text!r}: expected numbers and ranges such as 1-10,12")
        a, b = int(first), int(last or first)
        if not low <= a <= b <= high:
            raise fail(f"{what} {text!r}: expected ranges from {low} to {high}, low to high")
        out += [n for n in range(a, b + 1) if n not in out]
    return out


def _spans(numbers: list[int]) -> str:
    out: list[str] = []
    for n in sorted(numbers):
        if out and out[-1].split("-")[-1] == str(n - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)


@modbus_app.command("scan")
def scan(
    endpoint: str = typer.Argument(..., metavar=TARGET, help=TargetHelp),
    units: str = typer.Option("1-10", "--units", "-u",
                              help="Unit ids to probe: ranges such as 1-247 or 1,3,5-8."),
    tables: str = typer.Option(",".join(("holding", "input", "coil", "discrete")), "--tables",
                               help="Tables to scan, comma-separated."),
    addresses: str = typer.Option("0-999", "--range", "-r",
                                  help="0-based addresses to scan in each table, FIRST-LAST."),
    profile_out: str = typer.Option(None, "--profile-out", show_default=False,
                                    help="Write a profile skeleton (YAML) of the registers the "
                                         "first unit that answered holds."),
    timeout: float = typer.Option(1.0, "--timeout", min=0.05, help="Seconds per request."),
    baudrate: int = BaudrateOption, parity: str = ParityOption, stopbits: int = StopbitsOption,
    bytesize: int = BytesizeOption,
) -> None:
    """Probe unit ids, then the register ranges of each that answers; print what answers."""
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from openbms.drivers.modbus.points import TABLES
    from openbms.drivers.modbus.scan import scan as run_scan
    from openbms.drivers.modbus.scan import skeleton

    target = _target(endpoint, baudrate, parity, stopbits, bytesize)
    unit_ids = _numbers(units, "--units", 0, 255)
    chosen = [t.strip() for t in tables.split(",") if t.strip()]
    for t in chosen:
        if t not in TABLES:
            raise fail(f"--tables: unknown table {t!r}; expected some of {', '.join(TABLES)}")
    first, _, last = addresses.partition("-")
    if not first.isdigit() or not last.isdigit() or not int(first) <= int(last) <= 65535:
        raise fail(f"--range {addresses!r}: expected FIRST-LAST, 0-based, up to 65535 "
                   "(e.g. 0-999)")
    start, end = int(first), int(last)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("unit ids", total=len(unit_ids))
        answered: list[int] = []

        def on_unit(unit: int, here: bool) -> None:
            if here:
                answered.append(unit)
            if unit == unit_ids[-1]:
                bar.update(task, description="registers", completed=0,
                           total=max(1, len(answered) * len(chosen) * (end - start + 1)))

        results = _run(run_scan(target, 0, unit_ids, chosen, start, end, timeout,
                                progress=lambda n: bar.advance(task, n), on_unit=on_unit))
    quiet = [u for u in unit_ids if u not in {r.unit for r in results}]
    for result in results:
        typer.echo(f"unit {result.unit}: {result.registers} addresses answer")
        for table in chosen:
            ranges = result.ranges.get(table, [])
            shown = "  ".join(f"{a}-{a + n - 1} ({n})" if n > 1 else f"{a} (1)" for a, n in ranges)
            why = result.refused.get(table)
            typer.echo(f"  {table:<9} {shown or '-'}" + (f"  [{why}]" if why else ""))
        if result.stopped:
            typer.echo(f"  stopped: {result.stopped}")
    if quiet:
        typer.echo(f"no answer from unit {_spans(quiet)}")
    if profile_out:
        if not results:
            raise fail("no unit answered: no profile skeleton written")
        path = Path(profile_out)
        path.write_text(skeleton(results[0], path.stem or "scanned",
                                 f"scanned from {target} unit {results[0].unit}"))
        typer.echo(f"profile skeleton of unit {results[0].unit} written to {path}")


@modbus_app.command("profile")
def profile(
    paths: list[str] = typer.Argument(..., metavar="FILE...", help="Profile files (YAML)."),
) -> None:
    """Check device profiles: each problem at its file:line:column, or what each one declares."""
    from pathlib import Path

    from openbms.config._yaml import parse
    from openbms.drivers.modbus.profiles import load_profile

    problems = 0
    for text in paths:
        found, issues = load_profile(Path(text), parse)
        for issue in issues:
            typer.echo(str(issue), err=True)
        problems += len(issues)
        if found is not None:
            tables: dict[str, int] = {}
            for point in found.points:
                tables[point.table] = tables.get(point.table, 0) + 1
            shown = ", ".join(f"{n} {t}" for t, n in tables.items())
            typer.echo(f"{text}: {found.name}: {len(found.points)} points ({shown}), order "
                       f"{found.order}")
    if problems:
        raise fail(f"{problems} problem{'s' if problems > 1 else ''} in the profiles")


def register(app: typer.Typer) -> None:
    """Add the ``modbus`` command group."""
    app.add_typer(modbus_app, name="modbus")
