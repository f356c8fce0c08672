"""``openbms bench bacnet --devices N --points P``: one openbms polling routed devices in other processes."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import yaml

from openbms.bench.bacnet_scale import plan, write_site

FIGURES = ["bacnet.scale_points", "bacnet.scale_first_cycle_s", "bacnet.scale_cycle_s",
           "bacnet.scale_client_cpu_ms_per_point", "bacnet.scale_rss_mb",
           "bacnet.scale_api_points_p95_ms", "bacnet.scale_loop_lag_max_ms"]


def cli(*args: str, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openbms.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_the_scale_benchmark_polls_every_point_through_the_routers_and_prints_only_its_figures(tmp_path):
    proc = cli("bench", "bacnet", "--devices", "8", "--points", "5", "--quick",
               env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    figures: dict[str, float] = {}
    for line in proc.stdout.splitlines():
        name, value, unit = line.split(" ")  # nothing but 'name value unit' on stdout
        assert name not in figures and unit
        figures[name] = float(value)
    assert list(figures) == FIGURES  # every one, once
    assert all(math.isfinite(v) and v > 0 for v in figures.values()), figures
    # 8 devices x 5 analog inputs, and the setpoint of the 4 scheduled devices: the server polls them all.
    assert figures["bacnet.scale_points"] == 44
    # Every device answered through its router (none offline), the server printed no error, and no
    # points page failed: the notes on stderr tell each of those.
    assert "note:" not in proc.stderr, proc.stderr[-4000:]
    assert not list(tmp_path.glob("openbms-bacnet-scale-*"))  # its folder is removed


def test_devices_and_points_are_refused_for_other_benchmarks_and_points_alone():
    proc = cli("bench", "ingest", "--devices", "5")
    assert proc.returncode == 1
    assert "--devices and --points are for the bacnet benchmark only" in proc.stdout + proc.stderr
    proc = cli("bench", "all", "--devices", "5", "--points", "5")
    assert proc.returncode == 1 and "bacnet benchmark only" in proc.stdout + proc.stderr
    proc = cli("bench", "bacnet", "--points", "5")
    assert proc.returncode == 1 and "--points needs --devices" in proc.stdout + proc.stderr


def test_the_layout_puts_250_devices_per_process_on_two_networks_with_distinct_numbers():
    layout = plan(1000, 100, 60.0)
    assert [(len(f.networks), f.per_network) for f in layout.fleets] == [(2, 125)] * 4
    devices = layout.devices()
    assert len({i for i, _, _ in devices}) == 1000
    assert len({(n, m) for _, n, m in devices}) == 1000
    assert len({n for f in layout.fleets for n in f.networks}) == 8
    assert len({(f.ip, f.port) for f in layout.fleets}) == 4
    odd = plan(251, 3, 60.0)  # an odd remainder: one network
    assert [(len(f.networks), f.per_network) for f in odd.fleets] == [(2, 125), (1, 1)]


def test_the_generated_site_passes_openbms_check_strict_with_every_device_behind_its_router(tmp_path):
    layout = plan(251, 3, 60.0)
    site = write_site(tmp_path, layout)
    proc = cli("check", "--strict", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok: 1 site, 251 equipment, 757 points" in proc.stdout  # 251 x 3 inputs, 4 setpoints
    doc = yaml.safe_load(site.read_text())
    bacnet = doc["drivers"]["bacnet"]
    assert bacnet["cov"] is False
    assert bacnet["devices"]["100001"] == "10:1" and bacnet["devices"]["100251"] == "12:1"
    routers = {f"{f.ip}:{f.port}" for f in layout.fleets}
    assert set(bacnet["routers"]) == {10, 11, 12} and set(bacnet["routers"].values()) == routers
    assert len(doc["alarms"]) == 251 and doc["schedules"][0]["targets"][0] == "scale/dev-100001/sp"


def test_a_fleet_refuses_more_devices_than_a_trunk_has_macs_with_the_limit():
    proc = subprocess.run([sys.executable, "-m", "openbms.sim.bacnet_fleet", "--ip", "127.0.0.1", "--port",
                           "47999", "--networks", "10", "--per-network", "300", "--points", "1",
                           "--first", "1", "--router-instance", "9"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "--per-network 300: expected 1 to 254 devices" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "openbms.sim.bacnet_fleet", "--ip", "127.0.0.1", "--port",
                           "47999", "--networks", "ten", "--per-network", "3", "--points", "1",
                           "--first", "1", "--router-instance", "9"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "expected network numbers separated by commas" in proc.stderr
