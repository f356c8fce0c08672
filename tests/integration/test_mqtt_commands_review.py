"""Review of command/response over MQTT (issue 16): defects found in files another session owns
(drivers/mqtt/requests.py, api/mqtt_commands.py), each a test that fails today, marked
``xfail(strict=True)`` so the suite stays green and the mark must go when the fix lands.

Same site, broker and users as ``test_mqtt_commands.py`` (its ``site`` fixture).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt
import pytest
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


@pytest.mark.xfail(strict=True, reason="defect: a request's MQTT v5 response topic is used as "
                   "given (only wildcards and the site's own request topics are refused): anyone "
                   "who may publish a request, even without a token, makes openbms publish with "
                   "the site's broker login on another site's request topic, on the site's own "
                   "telemetry or Home Assistant command topics, or on Home Assistant's discovery "
                   "prefix. Fix: drivers/mqtt/requests.py RequestServer._answer_topic")
async def test_a_response_topic_outside_the_sites_command_topics_is_not_used(site: Site) -> None:  # noqa: F811
    for foreign in ("bms/lab/command/write/request",  # another site's requests
                    "bms/hq/ahu-1/sat-sp/set",  # the site's own Home Assistant command topic
                    "bms/hq/ahu-1/sat",  # the bridge's per-point telemetry
                    "homeassistant/number/hq-ahu-1-sat-sp/config"):  # discovery
        where, answer = await _answered_where(site, "write", {"id": "r-1", "point": "ahu-1/sat-sp",
                                                              "value": 15}, foreign, [foreign])
        assert answer["ok"] is False and answer["error"]["code"] == "unauthorized"  # no token
        assert where == "bms/hq/command/write/response", f"openbms answered on {where}"


@pytest.mark.xfail(strict=True, reason="defect: duplicates are recognised by (site, user, id) "
                   "without the command: a write whose id was used by a read is answered with the "
                   "read's values and 'ok': true, and nothing is written. Fix: api/mqtt_commands.py "
                   "MqttCommands.handle: the _once key includes request.name")
async def test_an_id_used_by_another_command_does_not_answer_a_write_with_its_result(site: Site) -> None:  # noqa: F811
    read = await site.ask("read", {"id": "same-1", "points": ["ahu-1/sat"]})
    assert read["ok"] is True
    write = await site.ask("write", {"id": "same-1", "point": "ahu-1/sat-sp", "value": 16})
    assert "values" not in (write.get("result") or {}), "the write got the read's answer"
    assert write["ok"] is True and write["result"]["command"]["value"] == 16
    assert site.device_value() == 16


@pytest.mark.xfail(strict=True, reason="defect: the MQTT v5 correlation data is not bounded (the "
                   "JSON id is 1-128 characters): each request remembers its whole correlation "
                   "data (up to 64 KB) for commands.remember ids (10 000): a viewer's reads pin "
                   "655 MB. Fix: api/mqtt_commands.py _correlation refuses data over MAX_ID "
                   "bytes (bad_id), as the JSON id")
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


@pytest.mark.xfail(strict=True, reason="defect: every answer is remembered for duplicates, the "
                   "answers of read-only commands too (config: about 31 bytes a point, so 3 MB for "
                   "a site of 100 000 points): a viewer sending commands.remember (10 000) config "
                   "requests with new ids, which no rate limit slows, pins 30 GB for remember_s. "
                   "Fix: api/mqtt_commands.py MqttCommands.handle: only writes (spec.write) go "
                   "through _once; a read sent again is answered again")
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
