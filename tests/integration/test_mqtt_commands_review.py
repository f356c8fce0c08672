"""Review of command/response over MQTT (issue 16): defects found in drivers/mqtt/requests.py and
api/mqtt_commands.py, each a test that failed before its fix.

Same site, broker and users as ``test_mqtt_commands.py`` (its ``site`` fixture).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.integration.test_mqtt_commands import Site, site  # noqa: F401  (the fixture)


async def _answered_where(site: Site, name: str, body: dict[str, Any], response_topic: str,  # noqa: F811
                          watch: list[str]) -> tuple[str, dict[str, Any]]:
    """Send ``body`` as an MQTT v5 request naming ``response_topic``; the topic (among ``watch``
    and the default ``…/response``) where openbms published its answer first, and the answer."""
    default = f"bms/hq/command/{name}/response"
    async with aiomqtt.Client(site.broker.host, site.broker.port,
                              protocol=aiomqtt.ProtocolVersion.V5) as client:
        for topic in [default, *watch]:
            await client.subscribe(topic, qos=1)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = response_topic
        props.CorrelationData = b"review-1"
        await client.publish(f"bms/hq/command/{name}/request", json.dumps(body).encode(), qos=1,
                             properties=props)
        async with asyncio.timeout(10):
            async for message in client.messages:
                if message.topic.value == f"bms/hq/command/{name}/request":
                    continue  # our own request, where a watched filter covers it
                assert isinstance(message.payload, bytes)
                return message.topic.value, json.loads(message.payload)
    raise AssertionError("no answer anywhere")


async def test_a_response_topic_outside_the_sites_command_topics_is_not_used(site: Site) -> None:  # noqa: F811
    for foreign in ("bms/lab/command/write/request",  # another site's requests
                    "bms/hq/ahu-1/sat-sp/set",  # the site's own Home Assistant command topic
                    "bms/hq/ahu-1/sat",  # the bridge's per-point telemetry
                    "homeassistant/number/hq-ahu-1-sat-sp/config"):  # discovery
        where, answer = await _answered_where(site, "write", {"id": "r-1", "point": "ahu-1/sat-sp",
                                                              "value": 15}, foreign, [foreign])
        assert answer["ok"] is False and answer["error"]["code"] == "unauthorized"  # no token
        assert where == "bms/hq/command/write/response", f"openbms answered on {where}"


async def test_an_id_used_by_another_command_does_not_answer_a_write_with_its_result(site: Site) -> None:  # noqa: F811
    read = await site.ask("read", {"id": "same-1", "points": ["ahu-1/sat"]})
    assert read["ok"] is True
    write = await site.ask("write", {"id": "same-1", "point": "ahu-1/sat-sp", "value": 16})
    assert "values" not in (write.get("result") or {}), "the write got the read's answer"
    assert write["ok"] is True and write["result"]["command"]["value"] == 16
    assert site.device_value() == 16


async def test_a_huge_correlation_data_is_refused_not_remembered(site: Site) -> None:  # noqa: F811
    handler = site.runtime.command_links.handler
    commands = getattr(handler, "__self__", None)  # MqttCommands.handle, bound
    seen = commands._seen  # type: ignore[union-attr]
    before = sum(len(key[2]) for key in seen)
    huge = b"x" * 60_000
    async with site.requester() as client:
        props = [("authorization", f"Bearer {site.tokens['viewer']}")]
        answers = [json.loads(await client.ask("read", json.dumps({"points": ["ahu-1/sat"]}).encode(),
                                               correlation=huge[:-3] + b"%03d" % i,
                                               user_properties=props))
                   for i in range(20)]
    assert all(a["ok"] is False and a["error"]["code"] == "bad_id" for a in answers), answers[0]
    assert sum(len(key[2]) for key in seen) - before <= 20 * 256  # 1.2 MB today


async def test_the_answers_of_reads_are_not_kept_for_duplicates(site: Site) -> None:  # noqa: F811
    commands = getattr(site.runtime.command_links.handler, "__self__", None)
    seen = commands._seen  # type: ignore[union-attr]

    def kept() -> int:
        return sum(len(body) for _at, body in seen.values() if isinstance(body, bytes))

    before = kept()
    for i in range(20):
        answer = await site.ask("config", {"id": f"cfg-{i}"}, user="viewer")
        assert answer["ok"] is True
    assert kept() == before, f"{kept() - before} bytes of config answers kept"
