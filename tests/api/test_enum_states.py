"""Enum points count their states from 1 everywhere (BACnet's multi-state convention), over HTTP.

A label is accepted where a person writes a value (commands, schedules, the site
file's relinquish default, alarm states) and becomes its state number on the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.service.runtime import Runtime
from tests.api.live import PASSWORD, password_hash

SITE = """\
site: {id: e, timezone: UTC}
drivers:
  sim: {poll_interval: 0.2}
equipment:
  - id: ahu
    points:
      - name: mode
        kind: enum
        states: ["off", auto, manual]
        writable: true
        relinquish_default: auto
        binding: "sim://ahu/mode?wave=constant&value=1"
      - name: fan-speed
        kind: enum
        states: [low, medium, high]
        writable: true
        relinquish_default: 3
        binding: "sim://ahu/fan-speed?wave=constant&value=1"
      - name: status
        kind: enum
        states: [ok, warning, fault]
        binding: "sim://ahu/status?wave=constant&value=3"
alarms:
  - {id: in-fault, type: state, point: e/ahu/status, alarm_states: [fault]}
  - {id: in-warning, type: state, point: e/ahu/status, alarm_states: [warning]}
"""

MODE = "/api/v1/sites/e/points/ahu/mode"
FAN_SPEED = "/api/v1/sites/e/points/ahu/fan-speed"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "e.yaml").write_text(SITE)
    runtime = Runtime(load_sites(tmp_path), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        create_user(runtime.state, "admin@example.com", password_hash(), grants={"*": "admin"})
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as c:
            r = await c.post("/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD})
            assert r.status_code == 200, r.text
            c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            yield c
    finally:
        await runtime.stop()


async def _until(fetch: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], what: str) -> Any:
    """What ``fetch`` answers once ``check`` accepts it (a generous bound only stops a hang)."""
    for _ in range(600):
        got = await fetch()
        if check(got):
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}; last: {got!r}")


async def _value(client: httpx.AsyncClient, path: str) -> object:
    r = await client.get(path)
    assert r.status_code == 200, r.text
    return r.json()["value"]


async def test_a_released_enum_point_gets_its_relinquish_default_as_a_state_number(client):
    # A label in the site file is the state's number on the wire, as every command is.
    r = await client.post(f"{MODE}/commands", json={"value": "manual", "priority": 8, "reason": "test"})
    assert r.status_code == 201 and r.json()["value"] == 3, r.text
    r = await client.post(f"{MODE}/release", json={"priority": 8, "reason": "test"})
    assert r.status_code == 201 and r.json()["status"] == "completed", r.text
    array = (await client.get(f"{MODE}/priority-array")).json()
    assert (array["effective"], array["relinquish_default"], array["active_priority"]) == (2, 2, None)
    # What the device holds now is state 2 ("auto"), not the text "auto".
    await _until(lambda: _value(client, MODE), lambda v: v == 2, "the device to report state 2")


async def test_a_relinquish_default_may_be_the_state_number(client):
    r = await client.post(f"{FAN_SPEED}/commands", json={"value": "low", "priority": 8, "reason": "test"})
    assert r.status_code == 201 and r.json()["value"] == 1, r.text
    r = await client.post(f"{FAN_SPEED}/release", json={"priority": 8, "reason": "test"})
    assert r.status_code == 201 and r.json()["status"] == "completed", r.text
    array = (await client.get(f"{FAN_SPEED}/priority-array")).json()
    assert (array["effective"], array["relinquish_default"]) == (3, 3)


async def test_an_alarm_state_given_as_a_label_matches_the_state_number_the_device_reports(client):
    async def states() -> dict[str, str]:
        r = await client.get("/api/v1/sites/e/alarms")
        assert r.status_code == 200, r.text
        return {a["id"]: a["state"] for a in r.json()["items"]}

    # The device reports 3, the third state ("fault"); "warning" is state 2 and stays normal.
    await _until(states, lambda s: s.get("in-fault") == "active-unacked", "in-fault to be active")
    assert (await states()).get("in-warning", "normal") == "normal"


def test_an_alarm_state_that_is_no_state_of_its_enum_point_is_refused_at_load(tmp_path):
    # 0 was the first state when the docs counted from 0; it is no state now, and says so.
    from openbms.errors import ConfigError

    bad = SITE.replace("alarm_states: [warning]", "alarm_states: [0, warning, party]")
    (tmp_path / "e.yaml").write_text(bad)
    with pytest.raises(ConfigError) as err:
        load_sites(tmp_path)
    text = str(err.value)
    assert ("alarm rule 'in-warning': 0 is not a state of enum point 'e/ahu/status': expected one of "
            "'ok', 'warning', 'fault', or its number (1 to 3: enum states count from 1)") in text
    assert "'party' is not a state" in text and "'warning' is not" not in text


async def test_point_lists_give_an_enum_point_s_states_so_its_number_can_be_worded(client):
    r = await client.get("/api/v1/sites/e/points")
    assert r.status_code == 200, r.text
    states = {p["name"]: p["states"] for p in r.json()["items"]}
    assert states == {"mode": ["off", "auto", "manual"], "fan-speed": ["low", "medium", "high"],
                      "status": ["ok", "warning", "fault"]}
    detail = (await client.get(MODE)).json()
    assert detail["states"] == ["off", "auto", "manual"] and detail["relinquish_default"] == "auto"
