"""Writing an object without a priority array (issue 15, item 4): the write is made without a
priority and reported plainly, a release is refused with the reason, the driver reads whether
an object is commandable once, and discovery says so in the site file."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml
from tests.integration.test_bacnet import free_udp_port
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.drivers.bacnet import BACnetDriver
from openbms.errors import WriteRefused
from openbms.model import DriverSettings, parse_binding

runner = CliRunner()

# A device in its own process: a commandable analog value (2, the simulator's) and bacpypes3's
# local analog value (1), which has no priority array, as many controllers' setpoints have not.
_SERVE = """
import asyncio, sys
from bacpypes3.local.analog import AnalogValueObject
from openbms.sim.bacnet import ObjectSpec, SimulatedDevice

async def main():
    device = SimulatedDevice(2604, sys.argv[1], [ObjectSpec("analog-value", 2, "ZN-SP", 21.0)],
                             port=int(sys.argv[2]))
    device.start()
    device.app.add_object(AnalogValueObject(
        objectIdentifier=("analog-value", 1), objectName="ZN-OFFSET", presentValue=12.0,
        statusFlags=[0, 0, 0, 0], eventState="normal", outOfService=False, units="degreesCelsius"))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    device.stop()

asyncio.run(main())
"""


@pytest.fixture
def device() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``ip:port`` of device 2604 in another process, and the process."""
    port = free_udp_port()
    ip = f"127.{random.randint(30, 250)}.{random.randint(0, 255)}.9"  # not the CI's 127.0.20.x
    proc = subprocess.Popen([sys.executable, "-c", _SERVE, ip, str(port)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield f"{ip}:{port}", proc
    finally:
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(timeout=30)
        proc.stdout.close()


def client() -> list[str]:
    return ["--address", f"127.0.0.1/8:{free_udp_port()}"]


def test_a_write_at_a_priority_to_an_object_without_priority_array_succeeds_plainly(device):
    where = ["-a", device[0]]
    written = runner.invoke(app, ["bacnet", "write", "2604", "analog-value,1", "16.5",
                                  "--priority", "8", *where, *client()])
    assert written.exit_code == 0, written.output
    assert "not commandable: written without a priority" in written.output
    assert "error" not in written.output
    read = runner.invoke(app, ["bacnet", "read", "2604", "analog-value,1", *where, *client()])
    assert read.exit_code == 0 and "16.5 (ok)" in read.output, read.output
    # A commandable object still writes at its priority and prints its array.
    commanded = runner.invoke(app, ["bacnet", "write", "2604", "analog-value,2", "19", "-p", "8",
                                    *where, *client()])
    assert commanded.exit_code == 0 and "8=19.0" in commanded.output, commanded.output


def test_a_release_of_an_object_without_priority_array_says_it_cannot(device):
    where = ["-a", device[0]]
    released = runner.invoke(app, ["bacnet", "write", "2604", "analog-value,1", "--release",
                                   "-p", "8", *where, *client()])
    assert released.exit_code == 1, released.output
    assert "not commandable" in released.output and "release" in released.output
    assert "Traceback" not in released.output
    read = runner.invoke(app, ["bacnet", "read", "2604", "analog-value,1", *where, *client()])
    assert "12.0 (ok)" in read.output, read.output  # nothing was written


async def test_the_driver_reads_whether_an_object_is_commandable_once(device):
    address, proc = device
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices={"2604": address}, timeout=1, cov=False))
    await driver.start()
    plain, commanded = (parse_binding(f"bacnet://2604/analog-value,{i}") for i in (1, 2))
    try:
        assert await driver.commandable(plain) is False
        assert await driver.commandable(commanded) is True
        await driver.write(plain, 14.0, 8)  # the priority is left out, not refused
        assert (await driver.read("2604", [plain]))[0].value == 14.0
        with pytest.raises(WriteRefused, match="not commandable"):
            await driver.write(plain, None, 8)
        assert proc.stdin is not None
        proc.stdin.close()  # the device goes away: what was read is remembered
        proc.wait(timeout=30)
        assert await driver.commandable(plain) is False
        assert await driver.commandable(commanded) is True
    finally:
        await driver.stop()


def test_discovery_gives_an_object_without_priority_array_the_value_it_found(device, tmp_path):
    out = tmp_path / "site.yaml"
    found = runner.invoke(app, ["bacnet", "discover", str(out), "--site", "s",
                                "--target", device[0], "--listen", "1", *client()],
                          env={"COLUMNS": "200"})
    assert found.exit_code == 0, found.output
    points = {p["binding"]: p for e in yaml.safe_load(out.read_text())["equipment"]
              for p in e["points"]}
    plain = points["bacnet://2604/analog-value,1"]
    commanded = points["bacnet://2604/analog-value,2"]
    # Writable both; the one with no priority array to release goes back to the value found.
    assert plain["writable"] is True and plain["relinquish_default"] == 12.0
    assert commanded["writable"] is True and "relinquish_default" not in commanded
    checked = runner.invoke(app, ["check", str(out)], env={"COLUMNS": "200"})
    assert checked.exit_code == 0, checked.output
