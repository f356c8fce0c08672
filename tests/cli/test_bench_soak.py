"""``openbms bench soak``: a short soak of the real demo, and the figures it derives from its samples."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from openbms.bench.soak import _figures, _lag, _slope_per_hour, _Tally


def test_memory_growth_is_fitted_over_the_run_after_the_warm_up():
    t = _Tally()
    # 100 MB for the warm-up (a start-up step that must not count), then 2 MB more each hour.
    for i in range(0, 61):
        elapsed = i * 180.0  # 3 hours in 3-minute steps
        rss = (50 if elapsed < 900 else 100 + 2 * elapsed / 3600) * 2**20
        t.rows.append((elapsed, int(rss), int(elapsed * 1000), 4096, int(elapsed * 10), 3.0 + i % 2, 9.0,
                       int(rss / 2)))
    figures = {name: value for name, value, _unit in _figures(t, 0, 0)}
    assert figures["soak.hours"] == 3.0
    assert figures["soak.rss_growth_mb_per_h"] == pytest.approx(2.0, abs=0.01)
    assert figures["soak.rss_anon_growth_mb_per_h"] == pytest.approx(1.0, abs=0.01)
    assert figures["soak.rss_after_warmup_mb"] == pytest.approx(100 + 2 * 0.25, abs=0.01)
    assert figures["soak.history_bytes_per_sample"] == 100.0  # 1 000 bytes a second for 10 samples
    assert figures["soak.loop_lag_p99_ms"] == 4.0 and figures["soak.loop_lag_max_ms"] == 9.0
    assert math.isnan(_slope_per_hour([0.0, 1.0], [1.0, 2.0]))  # too few points to say


def test_loop_lag_is_read_from_a_health_component_in_ms_or_s():
    ms = {"status": "ok", "lag_p99_ms": 2.5, "lag_max_ms": 40}
    assert _lag({"components": {"event_loop": ms}}) == (2.5, 40)
    # As /api/v1/health says it (service/health.py): seconds, with a window.
    seconds = {"status": "ok", "reasons": [], "lag_p99_s": 0.002, "lag_max_s": 0.05, "window_s": 60}
    assert _lag({"components": {"event_loop": seconds}}) == (2.0, 50.0)
    assert _lag({"components": {"historian": {"stored": 1}}}) == (None, None)


@pytest.mark.slow
def test_a_short_soak_drives_the_demo_and_prints_only_figures(tmp_path):
    # 43 s, not 90: long enough for every client to act (the operator's first command comes at 20 s)
    # and for the sampler (every 10 s) to take several rows; every figure line is checked below.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "openbms.cli", "bench", "soak", "--hours", "0.012"],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    figures = {}
    for line in proc.stdout.splitlines():
        name, value, unit = line.split(" ")  # nothing but 'name value unit' on stdout
        figures[name] = float(value)
        assert name.startswith("soak.") and unit
    assert list(figures) == [name for name, _value, _unit in _figures(_Tally(), 0, 0)]  # every one, once
    assert 0 < figures["soak.hours"] <= 0.012
    assert figures["soak.samples_stored"] > 100, proc.stderr[-4000:]
    assert figures["soak.requests"] > 20 and figures["soak.ws_messages"] > 0
    assert figures["soak.commands"] >= 1, proc.stderr[-4000:]
    assert figures["soak.rss_end_mb"] > 20 and figures["soak.rss_after_warmup_mb"] > 20
    assert figures["soak.wal_max_mb"] >= 0
    counts = [v for name, v in figures.items() if name not in (
        "soak.hours", "soak.building_hours") and not name.endswith(("_mb", "_per_h", "_ms", "_sample"))]
    assert all(v >= 0 and v == int(v) for v in counts), figures
    assert figures["soak.server_stop_error_lines"] == 0, proc.stderr[-4000:]  # the demo stops cleanly
    assert not list(tmp_path.glob("openbms-soak-*"))  # its folder is removed


def test_hours_is_refused_for_other_benchmarks():
    proc = subprocess.run([sys.executable, "-m", "openbms.cli", "bench", "ingest", "--hours", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "--hours is for the soak" in proc.stdout + proc.stderr
