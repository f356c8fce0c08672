"""The example ACL (docs/examples/mosquitto.acl) as a reviewer reads it: Home Assistant's login
sees its site's state and status, never the command requests sent to the site (they carry the
senders' openbms API tokens, in the JSON or an MQTT v5 user property)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from tests.fixtures.services import MosquittoBroker, mosquitto_server

ACL = (Path(__file__).parents[2] / "docs" / "examples" / "mosquitto.acl").read_text()
USERS = {"hq": "pw-hq", "central": "pw-central", "homeassistant": "pw-ha"}


def _tool(name: str, broker: MosquittoBroker, user: str, *args: str) -> list[str]:
    return [name, "-h", broker.host, "-p", str(broker.port), "-q", "1", "-u", user, "-P",
            USERS[user], *args]


async def _pub(broker: MosquittoBroker, user: str, topic: str, message: str) -> None:
    await asyncio.to_thread(subprocess.run, _tool("mosquitto_pub", broker, user, "-t", topic, "-m",
                                                  message), check=True, capture_output=True)


async def _first(broker: MosquittoBroker, user: str, pattern: str, count: int,
                 rounds: list[tuple[str, str, str]]) -> list[str]:
    """The first ``count`` messages ``user`` reads on ``pattern`` while ``rounds`` of (publisher,
    topic, message) are published again and again: a message the ACL let through would be among
    them (each round publishes it first)."""
    sub = await asyncio.create_subprocess_exec(
        *_tool("mosquitto_sub", broker, user, "-t", pattern, "-v", "-C", str(count), "-W", "60"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        for _ in range(200):
            if sub.returncode is not None:
                break
            for publisher, topic, message in rounds:
                await _pub(broker, publisher, topic, message)
            await asyncio.sleep(0.02)
        out, err = await sub.communicate()
    finally:
        if sub.returncode is None:
            sub.kill()
            await sub.wait()
    assert sub.returncode == 0, err.decode()
    return out.decode().splitlines()


async def test_home_assistant_s_login_reads_state_and_status_but_not_the_requests_and_tokens():
    with mosquitto_server(USERS, acl=ACL) as broker:
        got = await _first(broker, "homeassistant", "openbms/hq/#", 2, [
            ("central", "openbms/hq/command/write/request", '{"token":"secret-of-central"}'),
            ("hq", "openbms/hq/command/write/response", '{"ok":true}'),
            ("hq", "openbms/hq/status", "online"),
            ("hq", "openbms/hq/ahu-1/sat", "12.5")])
        assert got == ["openbms/hq/status online", "openbms/hq/ahu-1/sat 12.5"]
        # The site itself still reads its requests (it answers them).
        got = await _first(broker, "hq", "openbms/hq/command/+/request", 1, [
            ("central", "openbms/hq/command/write/request", "for-hq")])
        assert got == ["openbms/hq/command/write/request for-hq"]
