"""``mqtt.command_rtt_p50_ms`` / ``_p99_ms``: a quick run gives both, from real round trips."""

from __future__ import annotations

from openbms.bench.mqtt_command import figures


def test_the_command_benchmark_gives_the_round_trip_percentiles():
    found = {name: (value, unit) for name, value, unit in figures(quick=True)}
    assert set(found) == {"mqtt.command_rtt_p50_ms", "mqtt.command_rtt_p99_ms"}
    p50, p99 = found["mqtt.command_rtt_p50_ms"][0], found["mqtt.command_rtt_p99_ms"][0]
    assert 0 < p50 <= p99
    assert {unit for _value, unit in found.values()} == {"ms"}
