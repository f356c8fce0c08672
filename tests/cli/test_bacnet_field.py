"""The BACnet CLI as a new user meets it (issue 15, items 1 and 8): a discovered site reaches its
devices, ``check`` warns when a BACnet site cannot, and the commands' errors and output."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tests.integration.test_bacnet import free_udp_port
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.config import load_site
from openbms.drivers.bacnet import BACnetDriver
from openbms.model import parse_binding

runner = CliRunner()
WIDE = {"COLUMNS": "300"}


@pytest.fixture(scope="module")
def devices() -> Iterator[tuple[int, str]]:
    """Two simulated air handlers in another process, on a random 127.x subnet (not 127.0.20)."""
    port = free_udp_port()
    subnet = f"127.{random.randint(30, 250)}.{random.randint(0, 255)}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "openbms.sim.bacnet", "--count", "2", "--port", str(port),
         "--subnet", subnet], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().startswith("serving 2 devices")
        yield port, subnet
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


def client() -> list[str]:
    return ["--address", f"127.0.0.1/8:{free_udp_port()}"]


def lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


# ---------------------------------------------------------------------------- item 1


def test_a_site_discovered_with_target_reaches_its_device_and_checks_clean(devices, tmp_path):
    port, subnet = devices
    out = tmp_path / "site.yaml"
    found = runner.invoke(app, ["bacnet", "discover", str(out), "--site", "s",
                                "--target", f"{subnet}.2:{port}", "--listen", "1", *client()],
                          env=WIDE)
    assert found.exit_code == 0, found.output
    settings = yaml.safe_load(out.read_text())["drivers"]["bacnet"]
    # The address the device answered from, not a broadcast that never reaches it.
    assert settings["devices"] == {1002: f"{subnet}.2:{port}"}
    assert settings.get("broadcast") != "255.255.255.255:47808"
    checked = runner.invoke(app, ["check", str(out)], env=WIDE)
    assert checked.exit_code == 0 and ": warning: bacnet" not in checked.output, checked.output

    # And the driver the site file describes reads the device's points.
    site = load_site(out)

    async def read_all() -> list[str]:
        async with BACnetDriver(site.drivers["bacnet"]) as driver:
            bindings = [parse_binding(p.binding) for _i, _e, p in site.points() if p.binding]
            return [r.status for r in await driver.read("1002", bindings)]

    statuses = asyncio.run(read_all())
    assert statuses and set(statuses) == {"ok"}


def test_a_site_discovered_by_broadcast_keeps_the_broadcast_it_used(devices, tmp_path):
    port, _subnet = devices
    out = tmp_path / "site.yaml"
    found = runner.invoke(app, ["bacnet", "discover", str(out), "-b", f"127.255.255.255:{port}",
                                "--listen", "1", *client()], env=WIDE)
    assert found.exit_code == 0, found.output
    settings = yaml.safe_load(out.read_text())["drivers"]["bacnet"]
    assert settings["broadcast"] == f"127.255.255.255:{port}"
    assert "devices" not in settings  # resolved by that broadcast at run time
    checked = runner.invoke(app, ["check", str(out)], env=WIDE)
    assert checked.exit_code == 0 and ": warning: bacnet" not in checked.output, checked.output


SITE = """\
site: {id: s, name: S, timezone: UTC}
drivers:
  bacnet:
%s
equipment:
- id: ahu
  type: ahu
  points:
  - {name: sat, unit: degC, tags: [temp, sensor], binding: "bacnet://260001/analog-input,1"}
  - {name: rat, unit: degC, tags: [temp, sensor], binding: "bacnet://260002/analog-input,1"}
"""


@pytest.mark.parametrize(("settings", "why"), [
    ("    address: 127.0.0.1/8:47809", "no device on loopback receives"),
    ("    address: 192.168.1.5/24:47808\n    broadcast: 10.0.0.255:47808",
     "outside the client's network 192.168.1.0/24"),
])
def test_check_warns_when_a_bacnet_site_reaches_no_device(tmp_path, settings, why):
    path = tmp_path / "site.yaml"
    path.write_text(SITE % settings)
    result = runner.invoke(app, ["check", str(path)], env=WIDE)
    assert result.exit_code == 0, result.output
    warnings = [line for line in lines(result.output) if ": warning: bacnet" in line]
    assert len(warnings) == 1, result.output
    line = 5 if "broadcast" in settings else 4  # the broadcast's value, else the bacnet settings
    assert warnings[0].startswith(f"{path}:{line}:")
    assert "2 devices (260001, 260002) have no address under 'devices:'" in warnings[0]
    assert why in warnings[0]
    strict = runner.invoke(app, ["check", "--strict", str(path)], env=WIDE)
    assert strict.exit_code == 1


@pytest.mark.parametrize("settings", [
    "    address: 127.0.0.1/8:47809\n    broadcast: 127.255.255.255:47808",
    "    address: 192.168.1.5/24:47808",
    "    address: 127.0.0.1/8:47809\n    devices: {260001: 127.0.0.2:47808, 260002: 127.0.0.3:47808}",
])
def test_check_does_not_warn_when_a_broadcast_or_addresses_reach_the_devices(tmp_path, settings):
    path = tmp_path / "site.yaml"
    path.write_text(SITE % settings)
    result = runner.invoke(app, ["check", str(path)], env=WIDE)
    assert result.exit_code == 0 and "warning" not in result.output, result.output


def test_check_warns_only_for_the_devices_without_an_address(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(SITE % "    address: 127.0.0.1/8:47809\n    devices: {260001: 127.0.0.2:47808}")
    result = runner.invoke(app, ["check", str(path)], env=WIDE)
    assert "1 device (260002) has no address" in result.output


# ---------------------------------------------------------------------------- item 8


@pytest.mark.parametrize("address", ["foo", "127.0.0.1/33:47809", "127.0.0.1/8:port",
                                     "300.1.1.1/8:47809", "127.0.0.1/8:70000"])
def test_a_malformed_address_is_one_line_naming_the_option_and_the_form(address):
    result = runner.invoke(app, ["bacnet", "whois", "--address", address, "--listen", "0.1"])
    assert result.exit_code == 1
    assert lines(result.output) == [f"error: --address {address!r} is not a BACnet/IP address: "
                                    "expected ip/prefix:port, e.g. 192.168.1.20/24:47808"]


def test_an_address_not_on_this_machine_is_one_line():
    address = f"198.51.100.77/24:{free_udp_port()}"  # TEST-NET-2: on no machine
    for command in (["whois"], ["read", "1", "analog-input,1", "-a", "198.51.100.1:47808"]):
        result = runner.invoke(app, ["bacnet", *command, "--address", address, "--listen", "0.1"]
                               if command == ["whois"] else ["bacnet", *command, "--address", address])
        assert result.exit_code == 1
        assert len(lines(result.output)) == 1, result.output
        assert "198.51.100.77 is not an address of this machine" in result.output
        assert "127.0.0.1" in result.output  # the addresses it has


def test_whois_finding_nobody_says_what_it_used_and_what_to_try():
    address = f"127.0.0.1/8:{free_udp_port()}"
    result = runner.invoke(app, ["bacnet", "whois", "--address", address, "--listen", "0.2"])
    assert result.exit_code == 1
    (line,) = lines(result.output)
    assert f"no device answered Who-Is from {address}" in line
    assert "broadcast to 255.255.255.255:47808" in line
    assert "-b 127.255.255.255:47808" in line and "--target" in line and "--listen" in line


def test_whois_lists_device_names_and_vendors(devices):
    port, _subnet = devices
    result = runner.invoke(app, ["bacnet", "whois", "-b", f"127.255.255.255:{port}",
                                 "--listen", "1", *client()], env=WIDE)
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in lines(result.output) if "│" in line}
    assert set(rows) == {"1001", "1002"}
    assert "AHU-2" in rows["1002"] and "BACpypes (999)" in rows["1002"]


def test_read_any_property_and_the_priority_array(devices):
    port, subnet = devices
    where = ["-a", f"{subnet}.2:{port}", *client()]

    def read(*args: str) -> list[str]:
        result = runner.invoke(app, ["bacnet", "read", "1002", *args, *where], env=WIDE)
        assert result.exit_code == 0, result.output
        return lines(result.output)

    # A commandable object: its value, then its priority array.
    assert read("analog-value,2") == ["13.0 (ok)", "priority array: empty"]
    assert read("analog-input,1") == ["13.5 (ok)"]  # not commandable: no array
    assert read("analog-value,2", "--property", "object-name") == ["SA-T-SP"]
    assert read("analog-value,2", "-P", "priority-array") == ["[" + ", ".join(["null"] * 16) + "]"]
    assert read("device", "-P", "object-name") == ["AHU-2"]
    assert read("device,1002", "-P", "vendor-name") == ["BACpypes"]
    (objects,) = read("device", "-P", "object-list")
    assert objects.startswith("[device,1002, network-port,1, analog-input,1, analog-value,2")
    bad = runner.invoke(app, ["bacnet", "read", "1002", "analog-value,2", "-P", "bogus", *where])
    assert bad.exit_code == 1
    assert lines(bad.output) == ["error: bacnet analog-value,2: 'bogus' is not a BACnet property "
                                 "name: expected one such as present-value, object-name, units, "
                                 "priority-array, vendor-name"]
    missing = runner.invoke(app, ["bacnet", "read", "1002", "analog-input,1", "-P",
                                  "priority-array", *where])
    assert missing.exit_code == 1 and "unknown-property" in missing.output


def test_discover_writes_nothing_when_nobody_answers(tmp_path):
    out = tmp_path / "site.yaml"
    result = runner.invoke(app, ["bacnet", "discover", str(out), "--listen", "0.2", *client()])
    assert result.exit_code == 1 and "no device answered Who-Is" in result.output
    assert not Path(out).exists()


def test_the_settings_discovery_writes_for_each_way_it_found_devices():
    from openbms.drivers.bacnet.discovery import DeviceInfo, driver_settings

    def dev(instance: int, directed: bool = False) -> DeviceInfo:
        return DeviceInfo(instance, f"10.0.0.{instance % 256}:47808", 1476, "segmented-both", 999,
                          directed=directed)

    found = [dev(1), dev(2, directed=True)]
    assert driver_settings("10.0.0.9/24:47808", ["10.0.0.255:47808"], found) == {
        "address": "10.0.0.9/24:47808", "broadcast": "10.0.0.255:47808",
        "devices": {2: "10.0.0.2:47808"}}
    # The driver broadcasts to one address: with two, every device gets its address.
    assert driver_settings("10.0.0.9/24:47808", ["10.0.0.255:47808", "10.0.1.255:47808"],
                           found)["devices"] == {1: "10.0.0.1:47808", 2: "10.0.0.2:47808"}
    assert driver_settings("10.0.0.9/24:47808", [], [dev(3, directed=True)]) == {
        "address": "10.0.0.9/24:47808", "devices": {3: "10.0.0.3:47808"}}


def test_an_address_whose_port_another_program_holds_says_so():
    import socket

    from openbms.drivers.bacnet.address import check_address
    from openbms.errors import DriverError

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        with pytest.raises(DriverError, match=f"drivers.bacnet.address '127.0.0.1/8:{port}': UDP "
                                              f"port {port} on 127.0.0.1 is in use"):
            check_address(f"127.0.0.1/8:{port}", "drivers.bacnet.address")
        result = runner.invoke(app, ["bacnet", "whois", "--address", f"127.0.0.1/8:{port}"])
        assert result.exit_code == 1 and len(lines(result.output)) == 1, result.output
    check_address(f"127.0.0.1/8:{port}")  # free again: no error


@pytest.mark.parametrize(("settings", "expected"), [
    ("    address: 192.168.1.5:47808:1\n    devices: {260001: a, 260002: b}",
     "4:14: warning: bacnet address '192.168.1.5:47808:1' is not a BACnet/IP address: expected "
     "ip/prefix:port, e.g. 192.168.1.20/24:47808; the driver would not start"),
    ("    address: 192.168.1.5/24:47808\n    broadcast: 192.168.1.255/24:47808",
     "5:16: warning: bacnet broadcast '192.168.1.255/24:47808' is not a BACnet/IP broadcast: "
     "expected ip:port, e.g. 192.168.1.255:47808; devices without a 'devices:' address would "
     "never be found"),
])
def test_check_warns_about_a_bacnet_address_or_broadcast_the_driver_cannot_use(
        tmp_path, settings, expected):
    path = tmp_path / "site.yaml"
    path.write_text(SITE % settings)
    result = runner.invoke(app, ["check", str(path)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert f"{path}:{expected}" in lines(result.output), result.output


@pytest.mark.parametrize(("settings", "expected"), [
    ("    address: 10.0.0.9/24:47808\n    devices: {260001: '2:5', 260002: '5'}",
     "5:38: warning: bacnet device 260002's address '5' is not a BACnet address: expected "
     "ip:port (192.168.1.31:47808), or network:mac for a device behind a router"),
    ("    address: 10.0.0.9/24:47808\n    devices: {260001: '70000:5', 260002: '2:0x1a'}",
     "5:23: warning: bacnet device 260001's address '70000:5' is not a BACnet address"),
    ("    address: 10.0.0.9/24:47808\n    routers: {x: 10.0.0.1:47808}",
     "5:18: warning: bacnet routers: 'x' is not a network number (1–65534)"),
    ("    address: 10.0.0.9/24:47808\n    routers: {2: '2:5'}",
     "5:18: warning: bacnet router to network 2: '2:5' is not a BACnet/IP address: expected "
     "ip:port"),
    ("    address: 10.0.0.9/24:47808\n    bbmd: 10.0.0.1/24",
     "5:11: warning: bacnet bbmd '10.0.0.1/24' is not a BACnet/IP bbmd: expected ip:port"),
])
def test_check_warns_about_device_addresses_routers_and_bbmds_the_driver_cannot_use(
        tmp_path, settings, expected):
    path = tmp_path / "site.yaml"
    path.write_text(SITE % settings)
    result = runner.invoke(app, ["check", str(path)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert any(line.startswith(f"{path}:{expected}") for line in lines(result.output)), \
        result.output


def test_check_takes_a_bbmd_as_reaching_the_devices(tmp_path):
    path = tmp_path / "site.yaml"
    # The limited broadcast on loopback reaches nobody, but the BBMD distributes broadcasts.
    path.write_text(SITE % "    address: 127.0.0.1/8:47809\n    bbmd: 127.0.0.2:47808\n"
                           "    devices: {260001: '2:5'}")
    result = runner.invoke(app, ["check", str(path)], env=WIDE)
    assert result.exit_code == 0 and "warning" not in result.output, result.output


@pytest.mark.parametrize(("settings", "binding", "expected"), [
    # A routed device named in a binding, or under devices:, needs a router the broadcast finds.
    ("    address: 127.0.0.1/8:47809", "2:5",
     "warning: bacnet: network 2 (devices 2:5) has no router under 'routers:' and the broadcast "
     "255.255.255.255:47808 is the limited broadcast"),
    ("    address: 127.0.0.1/8:47809\n    devices: {260001: '2:5'}", "260001",
     "warning: bacnet: network 2 (devices 260001) has no router under 'routers:'"),
    ("    address: 127.0.0.1/8:47809", "2:256",
     "warning: bacnet binding 'bacnet://2:256/analog-input,1': '2:256' is neither a device "
     "instance nor a BACnet address"),
    ("    address: 127.0.0.1/8:47809\n    devices: {260001: 2:5}", "260001",
     "warning: bacnet device 260001's address is the number 125: YAML reads an unquoted 2:5 as "
     "a number (base 60); quote it"),
    ("    address: 127.0.0.1/8:47809\n    devices: [1, 2]", "260001",
     "warning: bacnet devices: expected a map of device instance to its address"),
    ("    address: 10.0.0.9/24:47808\n    bbmd: 10.0.0.1:47808\n    bbmd_ttl: 0", "260001",
     "warning: bacnet bbmd_ttl 0: expected seconds from 1 to 65535"),
])
def test_check_warns_about_routed_devices_nothing_reaches_and_forms_the_driver_refuses(
        tmp_path, settings, binding, expected):
    path = tmp_path / "site.yaml"
    path.write_text(SITE.replace("bacnet://260001/", f"bacnet://{binding}/") % settings)
    result = runner.invoke(app, ["check", str(path)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert any(expected in line for line in lines(result.output)), result.output


def test_check_takes_a_router_under_routers_as_reaching_a_routed_device(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(SITE.replace("bacnet://260001/", "bacnet://2:5/").replace(
        "bacnet://260002/", "bacnet://2:6/") % "    address: 127.0.0.1/8:47809\n"
                                               "    routers: {2: 127.0.0.3:47808}")
    result = runner.invoke(app, ["check", str(path)], env=WIDE)
    assert result.exit_code == 0 and "warning" not in result.output, result.output
