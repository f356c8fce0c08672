"""A command left retained on the broker is not a command now: openbms executes what is sent
while it listens, never what a (re)connection replays (a Home Assistant set or a request that
someone published with the retain flag would be written again at every reconnection, over the
operators' later changes)."""

from __future__ import annotations

import asyncio

import orjson

from openbms.model.site import SiteConfig
from openbms.service.command_links import CommandLinks
from openbms.service.protocols import CommandRequest
from tests.fixtures.services import MosquittoBroker
from tests.integration.mqtt_helpers import until


def _site(broker: MosquittoBroker) -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": "hq"},
        "mqtt": {"host": broker.host, "port": broker.port, "prefix": "bms", "timeout": 5,
                 "commands": {"enabled": True}, "homeassistant": {"enabled": True}},
        "equipment": [{"id": "ahu-1", "type": "ahu", "points": [
            {"name": "fan-cmd", "kind": "bool", "writable": True}]}]})


async def _pub(broker: MosquittoBroker, topic: str, payload: str, *flags: str) -> None:
    pub = await asyncio.create_subprocess_exec(
        "mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", "1", *flags,
        "-t", topic, "-m", payload)
    assert await pub.wait() == 0


async def test_retained_set_and_request_are_not_executed_live_ones_are(mosquitto: MosquittoBroker):
    await _pub(mosquitto, "bms/hq/ahu-1/fan-cmd/set", "ON", "-r")
    await _pub(mosquitto, "bms/hq/command/write/request", '{"id": "old", "point": "ahu-1/fan-cmd"}',
               "-r")
    seen: list[tuple[str, dict]] = []

    async def handler(request: CommandRequest) -> bytes:
        seen.append((request.name, orjson.loads(request.payload)))
        return b'{"ok": true}'

    links = CommandLinks()
    links.serve(handler)
    await links.apply([_site(mosquitto)])
    try:
        assert links.servers["hq"].connected
        await _pub(mosquitto, "bms/hq/ahu-1/fan-cmd/set", "OFF")
        await _pub(mosquitto, "bms/hq/command/write/request", '{"id": "new", "point": "ahu-1/fan-cmd"}')
        await until(lambda: len(seen) >= 2, what="the live command and request")
        await _pub(mosquitto, "bms/hq/ahu-1/fan-cmd/set", "ON")  # after them: all have arrived
        await until(lambda: len(seen) >= 3, what="the last live command")
        assert links.servers["hq"].retained == 2  # counted
    finally:
        await links.stop()
    assert [(name, body.get("value", body.get("id"))) for name, body in seen] == [
        ("homeassistant/set", False), ("write", "new"), ("homeassistant/set", True)]
    assert links.servers == {}
