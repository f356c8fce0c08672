"""``openbms bench control``: 1 000 programs behind the arbiter and the driver manager the assembly builds."""

from __future__ import annotations

from openbms.bench import control


def test_the_control_benchmark_drives_every_program_through_the_assembly_without_an_error():
    figures = {name: (value, unit) for name, value, unit in control.run(quick=True)}
    assert figures["control.programs_loaded"] == (1000, "1")
    # 300 single samples and 5 bursts of 100, each awaited until its write reached the driver manager.
    assert figures["control.samples"] == (800, "1")
    assert figures["control.errors"] == (0, "1")
    assert set(figures) == {"control.programs_loaded", "control.samples", "control.latency_p50_ms",
                            "control.latency_p99_ms", "control.burst_latency_p99_ms",
                            "control.load_ms_per_program", "control.errors"}
