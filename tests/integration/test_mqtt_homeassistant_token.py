"""Home Assistant's token rotated in its file while openbms runs: the new one is used at the next
command (the old one, revoked, was sent until a restart or a configuration change, and every
command refused)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from openbms.db.accounts import create_api_token, create_user, revoke_api_token
from tests.fixtures.services import MosquittoBroker
from tests.integration.mqtt_helpers import until
from tests.integration.test_mqtt_homeassistant import SP, Site, _site


async def test_a_token_rotated_in_its_file_is_used_at_the_next_command(
        mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    token_file = tmp_path / "ha-token"
    token_file.write_text("")
    runtime = await _site(tmp_path / "sites", mosquitto, token_file, tmp_path / "data")
    try:
        assert runtime.state is not None
        row = create_user(runtime.state, "ha@example.com", "x", grants={"hq": "operator"})
        old, old_row = create_api_token(runtime.state, row["id"], "home assistant")
        token_file.write_text(old + "\n")
        await runtime.command_links.apply(runtime.sites)
        site = Site(runtime, mosquitto)
        await site.publish("bms/hq/ahu-1/sat-sp/set", "16")
        await until(lambda: site.device(SP) == 16, what="the write with the first token")
        # The operator rotates it: the old one revoked, the new one in the same file.
        revoke_api_token(runtime.state, old_row["id"], now=time.time())
        new, _ = create_api_token(runtime.state, row["id"], "home assistant 2")
        token_file.write_text(new + "\n")
        # A revocation made outside the API is seen once the API's sign-in cache (2 s) lapses.
        await asyncio.sleep(2.5)
        await site.publish("bms/hq/ahu-1/sat-sp/set", "12")
        await until(lambda: site.device(SP) == 12 or runtime.command_links.homeassistant_refused > 0,
                    what="the write with the new token, or its refusal")
        assert runtime.command_links.homeassistant_refused == 0
        assert site.device(SP) == 12
    finally:
        await runtime.stop()
