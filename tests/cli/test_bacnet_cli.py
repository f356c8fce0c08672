"""openbms bacnet whois/discover/read/write against simulated devices in another process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml
from tests.integration.test_bacnet import free_udp_port
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.config import load_site

runner = CliRunner()


@pytest.fixture(scope="module")
def devices() -> Iterator[tuple[int, str]]:
    port = free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "openbms.sim.bacnet", "--count", "3", "--port", str(port),
         "--subnet", "127.0.10"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().startswith("serving 3 devices")
        yield port, "127.0.10"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


def client() -> list[str]:
    return ["--address", f"127.0.0.1/8:{free_udp_port()}"]


def test_whois_lists_every_device(devices):
    port, subnet = devices
    result = runner.invoke(app, ["bacnet", "whois", "-b", f"127.255.255.255:{port}",
                                 "--listen", "1", *client()], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "3 devices" in result.output
    for i in (1, 2, 3):
        assert f"{subnet}.{i}:{port}" in result.output


def test_read_and_write_with_release(devices):
    port, subnet = devices
    where = ["-a", f"{subnet}.2:{port}"]
    read = runner.invoke(app, ["bacnet", "read", "1002", "analog-input,1", *where, *client()])
    assert read.exit_code == 0 and "13.5 (ok)" in read.output
    written = runner.invoke(app, ["bacnet", "write", "1002", "analog-value,2", "16.5", "-p", "8",
                                  *where, *client()])
    assert written.exit_code == 0 and "8=16.5" in written.output
    assert "16.5" in runner.invoke(app, ["bacnet", "read", "1002", "analog-value,2", *where,
                                         *client()]).output
    released = runner.invoke(app, ["bacnet", "write", "1002", "analog-value,2", "--release",
                                   "-p", "8", *where, *client()])
    assert released.exit_code == 0 and "priority array: empty" in released.output
    unknown = runner.invoke(app, ["bacnet", "read", "1002", "analog-input,9", *where, *client()])
    assert unknown.exit_code == 1 and "unknown-object" in unknown.output


def test_discover_writes_a_site_file_that_checks(devices, tmp_path):
    port, _ = devices
    out = tmp_path / "site.yaml"
    result = runner.invoke(app, ["bacnet", "discover", str(out), "--site", "plant",
                                 "-b", f"127.255.255.255:{port}", "--listen", "1", *client()],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "3 devices, 18 points" in result.output
    site = load_site(out)
    assert [e.id for e in site.equipment] == ["ahu-1", "ahu-2", "ahu-3"]
    assert {p.name for p in site.equipment[0].points} >= {"sat", "sat-sp", "rat", "fan-cmd"}
    assert yaml.safe_load(out.read_text())["drivers"]["bacnet"]["broadcast"].endswith(str(port))
    again = runner.invoke(app, ["bacnet", "discover", str(out), *client()])
    assert again.exit_code == 1 and "exists" in again.output


def test_bacnet_benchmark_prints_its_figures_and_nothing_else():
    result = runner.invoke(app, ["bench", "bacnet", "--quick"])
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.stdout.strip().splitlines()]
    assert names == ["bacnet.points_per_s", "bacnet.cycle_s", "bacnet.client_cpu_ms_per_point",
                     "bacnet.cov_latency_p50_ms", "bacnet.cov_latency_p99_ms",
                     "bacnet.cov_received"]
    received = int(result.stdout.strip().splitlines()[-1].split()[1])
    assert received > 0  # notifications arrived through the driver
