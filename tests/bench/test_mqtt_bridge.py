"""``mqtt.bridge_samples_per_s`` / ``mqtt.backlog_drain_samples_per_s``: a short run gives both,
from samples a separate subscriber (mosquitto_sub) received."""

from __future__ import annotations

from openbms.bench import mqtt_bridge


def test_the_bridge_benchmark_gives_the_delivered_and_drained_rates(monkeypatch):
    monkeypatch.setattr(mqtt_bridge, "QUICK_ROUNDS", 2)  # 20 000 samples a phase
    found = {name: (value, unit) for name, value, unit in mqtt_bridge.figures(quick=True)}
    assert set(found) == {"mqtt.bridge_samples_per_s", "mqtt.backlog_drain_samples_per_s"}
    assert all(value > 0 and unit == "samples/s" for value, unit in found.values())
