"""openbms bacnet routers/whois/read/write/discover with devices behind a router and through a
BBMD (issue 15, items 9 and 10), served by another process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml
from tests.fixtures.network import free_udp_port, random_subnet
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.config import load_site

runner = CliRunner()


@pytest.fixture(scope="module")
def routed() -> Iterator[tuple[int, str]]:
    """Devices 1001-1003 on network 5 (MACs 1-3) behind a router at <subnet>.1, a BBMD at .254."""
    port, subnet = free_udp_port(), random_subnet()
    proc = subprocess.Popen(
        [sys.executable, "-m", "openbms.sim.bacnet", "--count", "3", "--port", str(port),
         "--subnet", subnet, "--routed", "5", "--bbmd"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().startswith("serving 3 devices on network 5")
        yield port, subnet
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


def client() -> list[str]:
    return ["--address", f"127.0.0.1/8:{free_udp_port()}"]


def nowhere() -> list[str]:
    """A broadcast that reaches nobody: the client is on "another subnet"."""
    return ["-b", f"127.255.255.255:{free_udp_port()}"]


def test_routers_lists_the_router_and_its_network(routed):
    port, subnet = routed
    result = runner.invoke(app, ["bacnet", "routers", "-b", f"127.255.255.255:{port}",
                                 "--listen", "0.5", *client()], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "1 routers" in result.output
    row = next(line for line in result.output.splitlines() if f"{subnet}.1:{port}" in line)
    assert "│ 5 " in row
    none = runner.invoke(app, ["bacnet", "routers", *nowhere(), "--listen", "0.3", *client()])
    assert none.exit_code == 1
    assert "no router answered Who-Is-Router-To-Network" in none.output


def test_whois_lists_routed_devices_by_network_and_mac(routed):
    port, _ = routed
    result = runner.invoke(app, ["bacnet", "whois", "-b", f"127.255.255.255:{port}",
                                 "--listen", "1", *client()], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for mac, instance in ((1, 1001), (2, 1002), (3, 1003)):
        row = next(line for line in result.output.splitlines() if f" {instance} " in line)
        assert f" 5:{mac} " in row and " 480 " in row and "no-segmentation" in row


def test_read_and_write_a_routed_device(routed):
    port, _ = routed
    where = ["-a", "5:2", "-b", f"127.255.255.255:{port}"]
    read = runner.invoke(app, ["bacnet", "read", "1002", "analog-input,1", *where, *client()])
    assert read.exit_code == 0 and "13.5 (ok)" in read.output, read.output
    name = runner.invoke(app, ["bacnet", "read", "1002", "device", "-P", "object-name", *where,
                               *client()])
    assert name.exit_code == 0 and name.output.strip() == "AHU-2", name.output
    written = runner.invoke(app, ["bacnet", "write", "1002", "analog-value,2", "17", "-p", "9",
                                  *where, *client()])
    assert written.exit_code == 0 and "9=17.0" in written.output, written.output
    released = runner.invoke(app, ["bacnet", "write", "1002", "analog-value,2", "--release",
                                   "-p", "9", *where, *client()])
    assert released.exit_code == 0 and "priority array: empty" in released.output
    lost = runner.invoke(app, ["bacnet", "read", "1002", "analog-input,1", "-a", "5:2",
                               *nowhere(), *client()])
    assert lost.exit_code == 1
    assert "no router to network 5 answered Who-Is-Router-To-Network" in lost.output
    bad = runner.invoke(app, ["bacnet", "read", "1002", "analog-input,1", "-a", "5", *client()])
    assert bad.exit_code == 1 and "expected ip:port" in bad.output and "network:mac" in bad.output


def test_whois_and_read_through_a_bbmd_from_another_subnet(routed):
    port, subnet = routed
    bbmd = ["--bbmd", f"{subnet}.254:{port}"]
    alone = runner.invoke(app, ["bacnet", "whois", *nowhere(), "--listen", "0.5", *client()])
    assert alone.exit_code == 1 and "no device answered Who-Is" in alone.output
    result = runner.invoke(app, ["bacnet", "whois", *bbmd, *nowhere(), "--listen", "1",
                                 *client()], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "5:3" in result.output and f"{subnet}.254:{port}" in result.output
    read = runner.invoke(app, ["bacnet", "read", "1003", "analog-input,1", "-a", "5:3", *bbmd,
                               *nowhere(), *client()])
    assert read.exit_code == 0 and "13.5 (ok)" in read.output, read.output
    gone = runner.invoke(app, ["bacnet", "whois", "--bbmd", f"{subnet}.200:{port}", *client()])
    assert gone.exit_code == 1
    assert f"the BBMD {subnet}.200:{port} did not answer in 3 s" in gone.output


def test_discover_through_a_bbmd_writes_it_and_the_site_checks(routed, tmp_path):
    port, subnet = routed
    out = tmp_path / "site.yaml"
    result = runner.invoke(app, ["bacnet", "discover", str(out), "--site", "plant", "--bbmd",
                                 f"{subnet}.254:{port}", *nowhere(), "--listen", "1",
                                 *client()])
    assert result.exit_code == 0, result.output
    settings = yaml.safe_load(out.read_text())["drivers"]["bacnet"]
    assert settings["bbmd"] == f"{subnet}.254:{port}"
    assert "devices" not in settings  # found by broadcast through the BBMD, as the driver will
    bindings = {p["binding"] for e in yaml.safe_load(out.read_text())["equipment"]
                for p in e["points"]}
    assert "bacnet://1003/analog-input,1" in bindings
    load_site(out)
    check = runner.invoke(app, ["check", str(out)])
    assert check.exit_code == 0, check.output


def test_discover_with_two_broadcasts_names_the_router_of_each_routed_device(routed, tmp_path):
    # Two broadcasts: every device gets a devices: entry (the driver broadcasts to one); a routed
    # one's (5:1) needs its router too, or its points stay offline (before: left out).
    port, subnet = routed
    out = tmp_path / "site.yaml"
    result = runner.invoke(app, ["bacnet", "discover", str(out), "--site", "plant", "-b",
                                 f"127.255.255.255:{port}", *nowhere(), "--listen", "1",
                                 *client()])
    assert result.exit_code == 0, result.output
    settings = yaml.safe_load(out.read_text())["drivers"]["bacnet"]
    assert settings["devices"][1001] == "5:1"
    assert settings["routers"] == {5: f"{subnet}.1:{port}"}
    check = runner.invoke(app, ["check", str(out)], env={"COLUMNS": "300"})
    assert check.exit_code == 0 and "bacnet" not in check.output, check.output  # reachable


def test_bad_addresses_on_the_command_line_are_named_as_given():
    bad = runner.invoke(app, ["bacnet", "read", "1002", "analog-input,1", "-a", "2:256",
                              *client()])
    assert bad.exit_code == 1 and "-a '2:256' is not a BACnet device address" in bad.output
    bbmd = runner.invoke(app, ["bacnet", "whois", "--bbmd", "10.0.0.1/24:47808", *client()])
    assert bbmd.exit_code == 1
    assert "--bbmd '10.0.0.1/24:47808' is not a BACnet/IP address: expected ip:port" in \
        bbmd.output
