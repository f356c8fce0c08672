"""MQTT sensors at full speed, for ``openbms bench mqtt``: JSON messages of many fields each.

``python -m openbms.sim.mqtt_load --port P --devices 100 --fields 100 --rounds 20``::

    connect ─▶ one retained message a device (the warm-up: a value for every field)
            ─▶ print "ready", wait for a line on stdin
            ─▶ ROUNDS × one message a device, as fast as the broker takes them (QoS 1)
            ─▶ print "done N" (messages published and acknowledged)

A message is ``{"p0": 20.01, "p1": 20.02, …}`` on ``{prefix}/dev-{d}``: one
field per point, as a gateway publishes a device's readings in one message.
It runs in its own process, as a field device would, so the broker and
openbms have the rest of the machine.
"""

from __future__ import annotations

import argparse
import json
import sys

import paho.mqtt.client as mqtt

__all__ = ["main", "message"]


def message(fields: int, round_: int) -> bytes:
    """One device's message of round ``round_``: every field a value that changes each round."""
    base = 20.0 + (round_ % 1000) / 100
    return json.dumps({f"p{i}": round(base + i / 1000, 3) for i in range(fields)}).encode()


def main(argv: list[str] | None = None) -> int:
    """Publish as the module docstring says; exit 0 when every message was acknowledged."""
    p = argparse.ArgumentParser(prog="python -m openbms.sim.mqtt_load")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--fields", type=int, default=100)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--prefix", default="bench")
    args = p.parse_args(argv)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="openbms-bench-load",
                         protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(1000)
    client.connect(args.host, args.port, keepalive=60)
    client.loop_start()
    try:
        topics = [f"{args.prefix}/dev-{d}" for d in range(args.devices)]
        warm = [client.publish(t, message(args.fields, 0), qos=1, retain=True) for t in topics]
        for info in warm:
            info.wait_for_publish(30)
        print("ready", flush=True)
        if not sys.stdin.readline():
            return 1
        payloads = [message(args.fields, r) for r in range(1, 11)]  # made before the clock runs
        last = None
        for r in range(args.rounds):
            payload = payloads[r % len(payloads)]
            for t in topics:
                last = client.publish(t, payload, qos=1)
        if last is not None:
            last.wait_for_publish(120)
        print(f"done {args.rounds * len(topics)}", flush=True)
        return 0
    finally:
        client.loop_stop()
        client.disconnect()


if __name__ == "__main__":
    sys.exit(main())
