"""``openbms bacnet whois|discover|routers|read|write``: BACnet/IP from the command line."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from openbms.cli.common import console, err_console

__all__ = ["register"]

bacnet_app = typer.Typer(help="BACnet/IP: find devices, read and write points.",
                         no_args_is_help=True)

DEFAULT_ADDRESS = "127.0.0.1/8:47809"
DEFAULT_BROADCAST = "255.255.255.255:47808"

AddressOption = typer.Option(
    os.environ.get("OPENBMS_BACNET_ADDRESS", DEFAULT_ADDRESS), "--address",
    help="This machine's BACnet/IP address, ip/prefix:port ($OPENBMS_BACNET_ADDRESS).")
BBMDOption = typer.Option(
    None, "--bbmd", show_default=False,
    help="Register as a foreign device with this BBMD (ip:port) and broadcast through it: for "
         "devices on another subnet.")
DeviceAddressOption = typer.Option(
    ..., "--device-address", "-a",
    help="The device: ip:port, or network:mac behind a router (e.g. 2:5).")
RouteOption = typer.Option(
    None, "--broadcast", "-b", show_default=False,
    help="Where Who-Is-Router-To-Network is broadcast to find the router of a network:mac "
         f"device, ip:port (default {DEFAULT_BROADCAST}).")
TargetOption = typer.Option(
    [], "--broadcast", "-b", show_default=False,
    help=f"Where Who-Is is broadcast, ip:port (repeatable; default {DEFAULT_BROADCAST} "
         "unless --target is given).")


def fail(message: str) -> typer.Exit:
    """Print an error on one line (scripts grep it; rich would wrap it) and return the Exit."""
    from rich.markup import escape

    err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(1)


def _driver(address: str, devices: dict[str, str] | None = None, bbmd: str | None = None,
            broadcasts: list[str] | None = None) -> Any:
    from openbms.drivers.bacnet import BACnetDriver
    from openbms.drivers.bacnet.address import check_address, device_address
    from openbms.errors import DriverError
    from openbms.model import DriverSettings

    settings: dict[str, Any] = {"address": address, "devices": devices or {}}
    if bbmd:
        settings["bbmd"] = bbmd
    if broadcasts:
        settings["broadcast"] = broadcasts[0]
    try:
        check_address(address, "--address")
        for text in (devices or {}).values():
            device_address(text, "-a")
        if bbmd:
            check_address(bbmd, "--bbmd", bind=False)
        return BACnetDriver(DriverSettings.model_validate(settings))
    except DriverError as err:
        raise fail(str(err)) from None


async def _registered(driver: Any, seconds: float = 3.0) -> None:
    """Wait for the registration with ``--bbmd``: nothing broadcast reaches the devices before."""
    from openbms.errors import DriverError

    if driver.registration() is None:
        return
    for _ in range(int(seconds / 0.05)):
        if driver.registration() == "registered":
            return
        await asyncio.sleep(0.05)
    why = ("refused it (a NAK: is it a BBMD that accepts foreign devices?)"
           if driver.registration() == "refused" else f"did not answer in {seconds:g} s")
    raise DriverError(f"the BBMD {driver.bbmd} {why}: no broadcast would reach its network")


def _run(coro: Any) -> Any:
    from openbms.errors import OpenBMSError

    try:
        return asyncio.run(coro)
    except OpenBMSError as err:
        raise fail(str(err)) from None


def _broadcasts(broadcast: list[str], target: list[str]) -> list[str]:
    """The broadcasts given, else the default one unless Who-Is is only directed (--target)."""
    return broadcast or ([] if target else [DEFAULT_BROADCAST])


def _nobody_hint(address: str, broadcasts: list[str], target: list[str], listen: float) -> str:
    """What a Who-Is that found nobody used, and what to try."""
    from openbms.drivers.bacnet.address import local_ipv4

    ip = (address.rpartition(":")[0] or address).partition("/")[0]
    iface = local_ipv4().get(ip)
    sent = [f"broadcast to {', '.join(broadcasts)}"] if broadcasts else []
    sent += [f"sent to {', '.join(target)}"] if target else []
    tips = []
    if any(b.startswith("255.255.255.255") for b in broadcasts) and ip.startswith("127."):
        tips.append("on loopback the limited broadcast reaches no device: broadcast to the "
                    "subnet, e.g. -b 127.255.255.255:47808")
    else:
        tips.append("-b with your subnet's broadcast address and the devices' port "
                    "(e.g. 192.168.1.255:47808)")
    tips += ["--target ip:port for a device you know", f"a longer --listen (was {listen:g} s)",
             "--address on the devices' network (a firewall dropping UDP 47808 looks the same)"]
    return (f"no device answered Who-Is from {address}"
            f"{f' (interface {iface})' if iface else ''}, {' and '.join(sent)}. Try: "
            + "; ".join(tips))


@bacnet_app.command("whois")
def whois(
    address: str = AddressOption,
    broadcast: list[str] = TargetOption,
    target: list[str] = typer.Option([], "--target", "-t", help="Ask one device, ip:port."),
    low: int | None = typer.Option(None, "--low", help="Lowest device instance."),
    high: int | None = typer.Option(None, "--high", help="Highest device instance."),
    listen: float = typer.Option(3.0, "--listen", help="Seconds to collect I-Ams."),
    bbmd: str | None = BBMDOption,
) -> None:
    """List the devices that answer Who-Is, with their names and vendors (devices behind
    routers too, addressed network:mac)."""
    from openbms.drivers.bacnet.discovery import read_names, who_is

    broadcasts = _broadcasts(broadcast, target)

    async def go() -> list[Any]:
        async with _driver(address, bbmd=bbmd) as driver:
            await _registered(driver)
            found = await who_is(driver.app, broadcasts, low, high, listen, target, bbmd)
            await read_names(driver.app, found)
            return found

    devices = _run(go())
    if not devices:
        raise fail(_nobody_hint(address, broadcasts, target, listen))
    table = Table(title=f"{len(devices)} devices", title_justify="left")
    for col in ("instance", "name", "address", "vendor", "max APDU", "segmentation"):
        table.add_column(col)
    for d in devices:
        vendor = f"{d.vendor_name} ({d.vendor})" if d.vendor_name else str(d.vendor)
        table.add_row(str(d.instance), d.name, d.address, vendor, str(d.max_apdu), d.segmentation)
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
    bbmd: str | None = BBMDOption,
) -> None:
    """Find devices and their objects and write a site file, with a progress bar.

    The file's driver settings reach the devices the way discovery did: the
    broadcast given, and a static address for each device found by --target.
    """
    import yaml

    from openbms.drivers.bacnet.discovery import (
        driver_settings,
        learned_routes,
        read_objects,
        site_document,
        who_is,
    )

    if output.exists() and not force:
        raise fail(f"{output} exists: choose another file or use --force")
    broadcasts = _broadcasts(broadcast, target)

    async def go() -> tuple[list[Any], list[str], dict[int, str]]:
        async with _driver(address, bbmd=bbmd) as driver:
            await _registered(driver)
            devices = await who_is(driver.app, broadcasts, low, high, listen, target, bbmd)
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
            networks = sorted({int(d.address.split(":")[0]) for d in devices
                               if d.address.split(":")[0].isdigit()})
            return devices, problems, await learned_routes(driver.app, networks)

    devices, problems, routes = _run(go())
    if not devices:
        raise fail(_nobody_hint(address, broadcasts, target, listen))
    doc = site_document(site_id, devices,
                        driver_settings(address, broadcasts, devices, bbmd, routes))
    output.write_text("# Written by openbms bacnet discover: review names and tags, then run\n"
                      "# 'openbms check' on it.\n" + yaml.safe_dump(doc, sort_keys=False))
    points = sum(len(d.objects) for d in devices)
    console.print(f"[green]wrote {output}[/green]: {len(devices)} devices, {points} points")
    for p in problems:
        console.print(f"[yellow]skipped[/yellow] {p}")


@bacnet_app.command("routers")
def routers(
    address: str = AddressOption,
    broadcast: list[str] = typer.Option(
        [], "--broadcast", "-b", show_default=False,
        help=f"Where Who-Is-Router-To-Network is broadcast, ip:port (repeatable; default "
             f"{DEFAULT_BROADCAST})."),
    listen: float = typer.Option(2.0, "--listen", help="Seconds to collect the answers."),
    bbmd: str | None = BBMDOption,
) -> None:
    """List the BACnet routers that answer Who-Is-Router-To-Network, and the networks behind
    each (their devices are addressed network:mac, e.g. 2:5)."""
    from openbms.drivers.bacnet.discovery import routers as find_routers
    from openbms.drivers.bacnet.discovery import shared_networks

    broadcasts = broadcast or [DEFAULT_BROADCAST]

    async def go() -> dict[str, list[int]]:
        async with _driver(address, bbmd=bbmd) as driver:
            await _registered(driver)
            return await find_routers(driver.app, broadcasts, listen, bbmd)

    found = _run(go())
    if not found:
        raise fail(f"no router answered Who-Is-Router-To-Network from {address} "
                   f"({f'through BBMD {bbmd}' if bbmd else 'broadcast to ' + ', '.join(broadcasts)})"
                   f" in {listen:g} s: devices on this network need no router; otherwise try -b with "
                   "the subnet's broadcast and the routers' port, or a longer --listen")
    table = Table(title=f"{len(found)} routers", title_justify="left")
    table.add_column("router")
    table.add_column("networks")
    for router, networks in found.items():
        table.add_row(router, ", ".join(str(n) for n in networks))
    console.print(table)
    for network, claimants in shared_networks(found).items():
        err_console.print(f"[yellow]warning:[/yellow] network {network} is claimed by "
                          f"{' and '.join(claimants)}: two networks have one number, or one "
                          "router is not what it says; name the right one under "
                          "drivers.bacnet.routers", soft_wrap=True, highlight=False)


def _binding(device: int, obj: str) -> Any:
    from openbms.model import parse_binding

    return parse_binding(f"bacnet://{device}/{obj}")


@bacnet_app.command("read")
def read(
    device: int = typer.Argument(..., help="Device instance."),
    obj: str = typer.Argument(..., help="Object, e.g. analog-input,1, or 'device' for the device."),
    device_address: str = DeviceAddressOption,
    prop: str = typer.Option("present-value", "--property", "-P",
                             help="The property, e.g. object-name, units, priority-array."),
    address: str = AddressOption,
    broadcast: str | None = RouteOption,
    bbmd: str | None = BBMDOption,
) -> None:
    """Read an object's present value and status (and priority array when it has one), or any
    property with --property."""
    from openbms.drivers.bacnet.discovery import plain_text, read_property
    from openbms.errors import OpenBMSError

    if obj == "device":
        obj = f"device,{device}"
    if prop != "present-value" or obj.startswith("device"):
        async def one() -> Any:
            async with _driver(address, {str(device): device_address}, bbmd,
                                     [broadcast] if broadcast else None) as driver:
                await _registered(driver)
                return await read_property(driver.app, await driver.resolve(str(device)), obj,
                                           prop)

        console.print(plain_text(_run(one())), markup=False, highlight=False, soft_wrap=True)
        return

    async def go() -> tuple[Any, list[Any] | None]:
        async with _driver(address, {str(device): device_address}, bbmd,
                                     [broadcast] if broadcast else None) as driver:
            await _registered(driver)
            b = _binding(device, obj)
            reading = (await driver.read(str(device), [b]))[0]
            if reading.status == "fault":
                return reading, None
            try:
                return reading, list(await driver.priority_array(b))
            except OpenBMSError:
                return reading, None  # not commandable: no priority array to show

    reading, array = _run(go())
    if reading.status == "fault":
        raise fail(reading.error or "fault")
    console.print(f"{reading.value} [dim]({reading.status})[/dim]")
    if array is not None:
        slots = ", ".join(f"{i + 1}={v}" for i, v in enumerate(array) if v is not None) or "empty"
        console.print(f"priority array: {slots}", markup=False, highlight=False, soft_wrap=True)


@bacnet_app.command("write")
def write(
    device: int = typer.Argument(..., help="Device instance."),
    obj: str = typer.Argument(..., help="Object, e.g. analog-value,2."),
    value: str | None = typer.Argument(None, help="The value (omit with --release)."),
    priority: int = typer.Option(8, "--priority", "-p", min=1, max=16, help="1–16 (8: operator)."),
    release: bool = typer.Option(False, "--release", help="Relinquish this priority."),
    device_address: str = DeviceAddressOption,
    address: str = AddressOption,
    broadcast: str | None = RouteOption,
    bbmd: str | None = BBMDOption,
) -> None:
    """Write a present value at a priority, or release it; prints the priority array after.

    An object without a priority array (not commandable) is written without a priority, and
    cannot be released."""
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

    async def go() -> list[Any] | None:
        async with _driver(address, {str(device): device_address}, bbmd,
                                     [broadcast] if broadcast else None) as driver:
            await _registered(driver)
            b = _binding(device, obj)
            await driver.write(b, parsed, priority)  # refuses to release a non-commandable one
            if not await driver.commandable(b):  # read by the write: no second request
                return None
            return list(await driver.priority_array(b))

    array = _run(go())
    if array is None:
        console.print(f"[green]written[/green] {value} (not commandable: written without a "
                      "priority)", highlight=False)
        return
    slots = ", ".join(f"{i + 1}={v}" for i, v in enumerate(array) if v is not None) or "empty"
    console.print(f"[green]{'released' if release else 'written'}[/green] at priority {priority}; "
                  f"priority array: {slots}")


def register(app: typer.Typer) -> None:
    """Add the ``bacnet`` command group."""
    app.add_typer(bacnet_app, name="bacnet")
