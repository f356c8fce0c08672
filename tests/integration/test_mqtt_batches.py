"""A change callback with a ``many`` form gets a message's changes in one call (one bus batch a
message, not one a point); without it, one call a point as before."""

from __future__ import annotations

import json

from openbms.model import parse_binding
from tests.integration.mqtt_helpers import Changes, driver_for, publisher, until

FIELDS = [f"mqtt://gw/dev-1#p{i}" for i in range(3)]
PLAIN = "mqtt://gw/dev-2/temp"


class Batches(Changes):
    """A recorder with the batch form: the size of each call, then each change as one."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def many(self, changes: list) -> None:
        self.calls.append(len(changes))
        for change in changes:
            self(*change)


async def test_a_message_s_changes_come_in_one_call_to_many(mosquitto):
    driver = driver_for(mosquitto)
    changes = Batches()
    await driver.start()
    try:
        await driver.subscribe("gw", [parse_binding(u) for u in (*FIELDS, PLAIN)], changes)
        async with publisher(mosquitto) as pub:
            await pub.publish("gw/dev-1", json.dumps({"p0": 1.5, "p1": 2, "p2": True}), qos=1)
            await pub.publish("gw/dev-2/temp", b"21.5", qos=1)
            await pub.publish("gw/dev-1", json.dumps({"p0": 3.5, "p2": 4}), qos=1)  # no p1
            await until(lambda: len(changes.calls) == 3, what="three messages")
        assert changes.calls == [3, 1, 2]
        assert [changes.last(u) for u in FIELDS] == [(3.5, "ok", None), (2, "ok", None),
                                                    (4, "ok", None)]
        assert changes.last(PLAIN) == (21.5, "ok", None)
        assert driver.errors["field"] == 1
        readings = await driver.read("gw", [parse_binding(u) for u in FIELDS])
        assert [(r.value, r.status) for r in readings] == [(3.5, "ok"), (2, "ok"), (4, "ok")]
    finally:
        await driver.stop()
