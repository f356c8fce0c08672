"""``openbms bacnet whois|discover|read|write``: BACnet/IP from the command line."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from openbms.cli.common import console, fail

__all__ = ["register"]

bacnet_app = typer.Typer(help="BACnet/IP: find devices, read and write points.",
                         no_args_is_help=True)

AddressOption = typer.Option(
    os.environ.get("OPENBMS_BACNET_ADDRESS", "127.0.0.1/8:47809"), "--address",
    help="This machine's BACnet/IP address, ip/prefix:port ($OPENBMS_BACNET_ADDRESS).")
TargetOption = typer.Option(
    ["255.255.255.255:47808"], "--broadcast", "-b",
    help="Where Who-Is is broadcast, ip:port (repeatable).")


def _driver(address: str, devices: dict[str, str] | None = None) -> Any:
    from openbms.drivers.bacnet import BACnetDriver
    from openbms.model import DriverSettings

    return BACnetDriver(DriverSettings.model_validate({"address": address, "devices": devices or {}}))


def _run(coro: Any) -> Any:
    from openbms.errors import OpenBMSError

    try:
        return asyncio.run(coro)
    except OpenBMSError as err:
        raise fail(str(err)) from None


@bacnet_app.command("whois")
def whois(
    address: str = AddressOption,
    broadcast: list[str] = TargetOption,
    target: list[str] = typer.Option([], "--target", "-t", help="Ask one device, ip:port."),
    low: int | None = typer.Option(None, "--low", help="Lowest device instance."),
    high: int | None = typer.Option(None, "--high", help="Highest device instance."),
    listen: float = typer.Option(3.0, "--listen", help="Seconds to collect I-Ams."),
) -> None:
    """List the devices that answer Who-Is."""
    from openbms.drivers.bacnet.discovery import who_is

    async def go() -> list[Any]:
        async with _driver(address) as driver:
            return await who_is(driver.app, [] if target else broadcast, low, high, listen, target)

    devices = _run(go())
    table = Table(title=f"{len(devices)} devices", title_justify="left")
    for col in ("instance", "address", "max APDU", "segmentation", "vendor"):
        table.add_column(col)
    for d in devices:
        table.add_row(str(d.instance), d.address, str(d.max_apdu), d.segmentation, str(d.vendor))
    console.print(table)


@bacnet_app.command("discover")
def discover(
    output: Path = typer.Argument(..., help="The site file to write."),
    site_id: str = typer.Option("discovered", "--site", help="The site id."),
    address: str = AddressOption,
    broadcast: list[str] = TargetOption,
    target: list[str] = typer.Option([], "--target", "-t", help="Ask one device, ip:port."),
    low: int | None = typer.Option(None, "--low"),
    high: int | None = typer.Option(None, "--high"),
    listen: float = typer.Option(3.0, "--listen", help="Seconds to collect I-Ams."),
    force: bool = typer.Option(False, "--force", help="Overwrite the output file."),
) -> None:
    """Find devices and their objects and write a site file, with a progress bar."""
    import yaml

    from openbms.drivers.bacnet.discovery import read_objects, site_document, who_is

    if output.exists() and not force:
        raise fail(f"{output} exists: choose another file or use --force")

    async def go() -> tuple[list[Any], list[str]]:
        async with _driver(address) as driver:
            devices = await who_is(driver.app, [] if target else broadcast, low, high, listen,
                                   target)
            problems = []
            with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                          MofNCompleteColumn(), console=console) as progress:
                task = progress.add_task("devices", total=len(devices))
                for dev in devices:
                    progress.update(task, description=f"device {dev.instance}")
                    try:
                        await read_objects(driver.app, dev)
                    except Exception as err:  # one broken device must not stop discovery
                        problems.append(f"device {dev.instance} at {dev.address}: {err}")
                    progress.advance(task)
            return devices, problems

    devices, problems = _run(go())
    if not devices:
        raise fail("no device answered Who-Is: check --address and --broadcast (or --target)")
    doc = site_document(site_id, devices, {"address": address, "broadcast": broadcast[0]})
    output.write_text("# Written by openbms bacnet discover: review names and tags, then run\n"
                      "# 'openbms check' on it.\n" + yaml.safe_dump(doc, sort_keys=False))
    points = sum(len(d.objects) for d in devices)
    console.print(f"[green]wrote {output}[/green]: {len(devices)} devices, {points} points")
    for p in problems:
        console.print(f"[yellow]skipped[/yellow] {p}")


def _binding(device: int, obj: str) -> Any:
    from openbms.model import parse_binding

    return parse_binding(f"bacnet://{device}/{obj}")


@bacnet_app.command("read")
def read(
    device: int = typer.Argument(..., help="Device instance."),
    obj: str = typer.Argument(..., help="Object, e.g. analog-input,1."),
    device_address: str = typer.Option(..., "--device-address", "-a", help="The device, ip:port."),
    address: str = AddressOption,
) -> None:
    """Read an object's present value (and status)."""

    async def go() -> Any:
        async with _driver(address, {str(device): device_address}) as driver:
            return (await driver.read(str(device), [_binding(device, obj)]))[0]

    reading = _run(go())
    if reading.status == "fault":
        raise fail(reading.error or "fault")
    console.print(f"{reading.value} [dim]({reading.status})[/dim]")


@bacnet_app.command("write")
def write(
    device: int = typer.Argument(..., help="Device instance."),
    obj: str = typer.Argument(..., help="Object, e.g. analog-value,2."),
    value: str | None = typer.Argument(None, help="The value (omit with --release)."),
    priority: int = typer.Option(8, "--priority", "-p", min=1, max=16, help="1–16 (8: operator)."),
    release: bool = typer.Option(False, "--release", help="Relinquish this priority."),
    device_address: str = typer.Option(..., "--device-address", "-a", help="The device, ip:port."),
    address: str = AddressOption,
) -> None:
    """Write a present value at a priority, or release it; prints the priority array after."""
    if release == (value is not None):
        raise fail("give a value, or --release (not both)")
    parsed: Any = None
    if value is not None:
        low = value.lower()
        parsed = True if low in ("on", "true", "active") else False if low in (
            "off", "false", "inactive") else None
        if parsed is None:
            try:
                parsed = float(value)
            except ValueError:
                raise fail(f"{value!r} is not a number or on/off") from None

    async def go() -> list[Any]:
        async with _driver(address, {str(device): device_address}) as driver:
            b = _binding(device, obj)
            await driver.write(b, parsed, priority)
            return list(await driver.priority_array(b))

    array = _run(go())
    slots = ", ".join(f"{i + 1}={v}" for i, v in enumerate(array) if v is not None) or "empty"
    console.print(f"[green]{'released' if release else 'written'}[/green] at priority {priority}; "
                  f"priority array: {slots}")


def register(app: typer.Typer) -> None:
    """Add the ``bacnet`` command group."""
    app.add_typer(bacnet_app, name="bacnet")
