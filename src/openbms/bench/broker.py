"""The MQTT benchmarks' broker: the demo's Mosquitto, holding every QoS 1 message for a
subscriber that is slower for a while (Mosquitto's default drops past 1 000 queued)."""

from __future__ import annotations

from openbms.sim.mosquitto import DemoBroker

__all__ = ["HoldingBroker"]


class HoldingBroker(DemoBroker):
    """The demo's broker, holding every QoS 1 message for a subscriber that is slower for a while."""

    def write_config(self) -> None:
        super().write_config()
        with self.config.open("a") as f:
            f.write("max_queued_messages 1000000\nmax_queued_bytes 0\n")
