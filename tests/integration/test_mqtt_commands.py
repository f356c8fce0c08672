"""Command/response over MQTT against a real Mosquitto and a running openbms (runtime + API).

A site on the ``sim`` driver with ``mqtt: commands: enabled``; users of each role hold API
tokens; requests go over MQTT v5 (``Requester``: response topic, correlation data, the token as
the ``authorization`` user property) or MQTT 3.1.1 (the correlation id and the token in the
JSON body, the answer on ``…/command/{name}/response``), and from ``mosquitto_pub`` /
``mosquitto_sub``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from openbms.api.mqtt_schemas import REQUESTS, RESPONSES, ErrorResponse
from openbms.api.server import serve
from openbms.config import load_sites
from openbms.control.programs import parse_program
from openbms.db import audit_entries
from openbms.db.accounts import create_api_token, create_user
from openbms.drivers.mqtt.requests import Requester
from openbms.errors import DriverError
from openbms.model import parse_binding
from openbms.service.runtime import Runtime
from tests.fixtures.services import MosquittoBroker, mosquitto_server
from tests.integration.mqtt_helpers import until

SITE = """\
site: {{id: hq, name: Headquarters, timezone: UTC}}
drivers:
  sim: {{poll_interval: 0.2}}
mqtt:
  host: 127.0.0.1
  port: {port}
  prefix: bms
  timeout: 5
  bridge: {{enabled: false}}
  commands: {{enabled: true, priority: 9, max_bytes: 2048}}
equipment:
  - id: ahu-1
    type: ahu
    points:
      - {{name: sat, unit: degC, binding: "sim://ahu-1/sat?wave=constant&value=14"}}
      - name: sat-sp
        unit: degC
        writable: true
        relinquish_default: 13
        limits: {{min: 10, max: 18}}
        binding: "sim://ahu-1/sat-sp?wave=constant&value=13"
"""

ROLES = {"fm": {"hq": "facility_manager"}, "operator": {"hq": "operator"}, "viewer": {"hq": "viewer"},
         "other": {"lab": "admin"}}
SP = "sim://ahu-1/sat-sp?wave=constant&value=13"


@dataclass
class Site:
    runtime: Runtime
    broker: MosquittoBroker
    tokens: dict[str, str]

    def requester(self) -> Requester:
        return Requester(self.broker.host, self.broker.port, "bms", "hq", timeout=10)

    async def ask(self, name: str, body: dict[str, Any], user: str | None = "operator",
                  **kw: Any) -> dict[str, Any]:
        props = [("authorization", f"Bearer {self.tokens[user]}")] if user else []
        async with self.requester() as client:
            return json.loads(await client.ask(name, json.dumps(body).encode(), user_properties=props,
                                               **kw))

    async def ask_v3(self, name: str, payload: bytes) -> dict[str, Any]:
        """A request from an MQTT 3.1.1 client: the answer comes on …/command/{name}/response."""
        async with aiomqtt.Client(self.broker.host, self.broker.port,
                                  protocol=aiomqtt.ProtocolVersion.V311) as client:
            await client.subscribe(f"bms/hq/command/{name}/response", qos=1)
            await client.publish(f"bms/hq/command/{name}/request", payload, qos=1)
            async with asyncio.timeout(10):
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    return dict(json.loads(message.payload))
        raise AssertionError("no response")

    def audit(self, action: str) -> list[dict[str, Any]]:
        assert self.runtime.state is not None
        return audit_entries(self.runtime.state, action=action, limit=1000)

    def device_value(self) -> Any:
        return self.runtime.drivers["sim"].effective(parse_binding(SP))  # type: ignore[attr-defined]


@pytest.fixture
async def site(mosquitto: MosquittoBroker, tmp_path: Path) -> AsyncIterator[Site]:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "hq.yaml").write_text(SITE.format(port=mosquitto.port))
    runtime = Runtime(load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        assert runtime.state is not None
        tokens = {}
        for user, grants in ROLES.items():
            row = create_user(runtime.state, f"{user}@example.com", "x", grants=grants)
            tokens[user] = create_api_token(runtime.state, row["id"], "mqtt")[0]
        assert runtime.command_links.servers["hq"].connected
        yield Site(runtime, mosquitto, tokens)
    finally:
        await runtime.stop()


async def test_a_write_reaches_the_device_through_the_arbiter_and_is_recorded(site: Site) -> None:
    answer = await site.ask("write", {"id": "w-1", "point": "ahu-1/sat-sp", "value": 15.5,
                                      "reason": "commissioning"})
    assert answer["ok"] is True and answer["id"] == "w-1"
    cmd = answer["result"]["command"]
    assert (cmd["point"], cmd["value"], cmd["priority"], cmd["status"]) == \
        ("hq/ahu-1/sat-sp", 15.5, 9, "completed")  # 9: the site's commands.priority
    assert cmd["source"] == "api" and cmd["requested_by"] == "operator@example.com"
    assert site.device_value() == 15.5
    stored = await site.runtime.commands.recent("hq", point="hq/ahu-1/sat-sp")
    assert [c.id for c in stored] == [cmd["id"]]
    rows = site.audit("command.write")
    assert len(rows) == 1
    assert rows[0]["actor"] == "operator@example.com" and rows[0]["target"] == "hq/ahu-1/sat-sp"
    assert rows[0]["details"]["via"] == "mqtt" and rows[0]["details"]["command_id"] == cmd["id"]
    # openbms run answers through the responses' store-and-forward outbox in its data folder
    # (responses were published directly, and lost while the broker was away).
    server = site.runtime.command_links.servers["hq"]
    assert server.outbox is not None
    assert (site.runtime.data_dir / "mqtt-responses-hq.db").exists()


async def test_release_empties_the_slot_and_the_default_returns(site: Site) -> None:
    await site.ask("write", {"id": "w", "point": "hq/ahu-1/sat-sp", "value": 16, "priority": 8})
    assert site.device_value() == 16
    answer = await site.ask("release", {"id": "r", "point": "ahu-1/sat-sp", "priority": 8})
    assert answer["ok"] is True and answer["result"]["command"]["release"] is True
    assert site.runtime.commands.slots("hq/ahu-1/sat-sp")[7] is None
    assert site.runtime.commands.effective("hq/ahu-1/sat-sp") == 13
    assert [r["target"] for r in site.audit("command.release")] == ["hq/ahu-1/sat-sp"]


async def test_read_gives_values_with_status_and_time(site: Site) -> None:
    await until(lambda: site.runtime.cache.get("hq/ahu-1/sat") is not None, what="a first poll")
    answer = await site.ask("read", {"id": "q", "points": ["ahu-1/sat", "hq/ahu-1/sat-sp"]},
                            user="viewer")
    values = answer["result"]["values"]
    assert [v["point"] for v in values] == ["hq/ahu-1/sat", "hq/ahu-1/sat-sp"]
    assert values[0]["value"] == 14 and values[0]["status"] == "ok"
    assert values[0]["ts"] == site.runtime.cache.get("hq/ahu-1/sat").ts  # type: ignore[union-attr]


async def test_priority_array_shows_the_slots_and_the_winner(site: Site) -> None:
    await site.ask("write", {"id": "a", "point": "ahu-1/sat-sp", "value": 12, "priority": 5})
    answer = await site.ask("priority-array", {"id": "p", "point": "ahu-1/sat-sp"}, user="viewer")
    result = answer["result"]
    assert result["active_priority"] == 5 and result["effective"] == 12
    assert result["relinquish_default"] == 13 and len(result["slots"]) == 16
    assert result["slots"][4]["value"] == 12
    assert result["slots"][4]["requested_by"] == "operator@example.com"


async def test_config_shows_the_site_as_the_rest_api_does(site: Site) -> None:
    answer = await site.ask("config", {"id": "c"}, user="viewer")
    result = answer["result"]
    assert result["site"]["id"] == "hq" and result["site"]["points"] == 2
    assert [e["id"] for e in result["equipment"]] == ["ahu-1"]
    assert result["equipment"][0]["points"] == ["sat", "sat-sp"]


async def test_without_a_correlation_id_the_error_response_and_an_audit_row(site: Site) -> None:
    body = json.dumps({"token": site.tokens["operator"], "point": "ahu-1/sat-sp", "value": 15})
    answer = await site.ask_v3("write", body.encode())
    assert answer == {"id": None, "ok": False, "error": {
        "code": "bad_id", "field": "id", "message": answer["error"]["message"]}}
    assert "id: required" in answer["error"]["message"]
    wrong = json.dumps({"id": 42, "token": site.tokens["operator"], "point": "ahu-1/sat-sp",
                        "value": 15})
    answer = await site.ask_v3("write", wrong.encode())
    assert answer["error"]["code"] == "bad_id" and "42" in answer["error"]["message"]
    assert site.device_value() == 13  # nothing was written
    rows = site.audit("access.denied")
    assert sorted(r["details"]["reason"].split(":")[0] for r in rows) == ["mqtt bad_id", "mqtt bad_id"]
    assert {r["actor"] for r in rows} == {"operator@example.com"}
    assert {r["details"]["route"] for r in rows} == {"command/write"}


async def test_an_unknown_point_is_an_error_response_and_an_audit_row(site: Site) -> None:
    answer = await site.ask("write", {"id": "u", "point": "ahu-1/nope", "value": 1})
    assert answer["ok"] is False
    assert answer["error"] == {"code": "unknown_point", "field": "point",
                               "message": "no point 'ahu-1/nope' on site 'hq'"}
    rows = site.audit("access.denied")
    assert len(rows) == 1 and rows[0]["details"]["reason"].startswith("mqtt unknown_point")


async def test_a_value_outside_the_limits_is_refused_by_the_arbiter_with_its_field(site: Site) -> None:
    answer = await site.ask("write", {"id": "big", "point": "ahu-1/sat-sp", "value": 99})
    assert answer["ok"] is False and answer["error"]["code"] == "refused"
    assert answer["error"]["field"] == "value" and "18" in answer["error"]["message"]
    assert site.device_value() == 13
    rows = site.audit("command.write")
    assert len(rows) == 1 and "refused" in rows[0]["details"] and rows[0]["details"]["value"] == 99


async def test_a_viewer_may_read_but_not_write(site: Site) -> None:
    answer = await site.ask("write", {"id": "v", "point": "ahu-1/sat-sp", "value": 15}, user="viewer")
    assert answer["ok"] is False and answer["error"]["code"] == "forbidden"
    assert "commands:write" in answer["error"]["message"]
    other = await site.ask("read", {"id": "o", "points": ["ahu-1/sat"]}, user="other")
    assert other["error"]["code"] == "forbidden"  # a role on another site only
    assert site.device_value() == 13
    rows = site.audit("access.denied")
    assert {(r["actor"], r["details"]["permission"], r["details"]["status"]) for r in rows} == {
        ("viewer@example.com", "commands:write", 403), ("other@example.com", "points:read", 403)}


async def test_a_bad_or_missing_token_is_refused_and_audited(site: Site) -> None:
    bad = {"id": "b", "token": "obms_not-a-token", "point": "ahu-1/sat-sp", "value": 15}
    answer = await site.ask_v3("write", json.dumps(bad).encode())
    assert answer["error"]["code"] == "unauthorized"
    assert answer["error"]["message"] == "invalid, revoked or expired token"
    answer = await site.ask("write", {"id": "n", "point": "ahu-1/sat-sp", "value": 15}, user=None)
    assert answer["error"]["code"] == "unauthorized" and "no token" in answer["error"]["message"]
    assert site.device_value() == 13
    rows = site.audit("access.denied")
    assert len(rows) == 2 and {r["actor"] for r in rows} == {"mqtt:anonymous"}
    assert {r["details"]["status"] for r in rows} == {401}


async def test_malformed_and_too_large_requests_are_answered(site: Site) -> None:
    answer = await site.ask_v3("write", b"{not json")
    assert answer["error"]["code"] == "malformed" and answer["id"] is None
    answer = await site.ask_v3("write", json.dumps({"id": "x", "pad": "a" * 4000}).encode())
    assert answer["error"]["code"] == "too_large" and "2048" in answer["error"]["message"]
    answer = await site.ask("explode", {"id": "e"})
    assert answer["error"]["code"] == "unknown_command" and "write" in answer["error"]["message"]
    assert len(site.audit("access.denied")) == 3


async def test_a_duplicate_correlation_id_is_executed_once_and_answered_again(site: Site) -> None:
    body = {"id": "dup-1", "token": site.tokens["operator"], "point": "ahu-1/sat-sp", "value": 17}
    first = await site.ask_v3("write", json.dumps(body).encode())
    again = await site.ask_v3("write", json.dumps({**body, "value": 11}).encode())
    assert again == first and first["ok"] is True
    assert len(await site.runtime.commands.recent("hq", point="hq/ahu-1/sat-sp")) == 1
    assert site.device_value() == 17
    assert len(site.audit("command.write")) == 1
    # The same id from another user is that user's own request.
    other = await site.ask("write", {"id": "dup-1", "point": "ahu-1/sat-sp", "value": 15}, user="viewer")
    assert other["error"]["code"] == "forbidden"


async def test_mqtt_v5_correlation_data_stands_for_the_id(site: Site) -> None:
    async with site.requester() as client:
        props = [("authorization", f"Bearer {site.tokens['operator']}")]
        raw = await client.ask("write", json.dumps({"point": "ahu-1/sat-sp", "value": 14}).encode(),
                               correlation=b"corr-7", user_properties=props)
        again = await client.ask("write", json.dumps({"point": "ahu-1/sat-sp", "value": 12}).encode(),
                                 correlation=b"corr-7", user_properties=props)
    answer = json.loads(raw)
    assert answer["ok"] is True and answer["id"] == "corr-7" and again == raw
    assert site.device_value() == 14


async def test_mosquitto_pub_and_mosquitto_sub_drive_command_response(site: Site) -> None:
    host, port = site.broker.host, str(site.broker.port)
    sub = await asyncio.create_subprocess_exec(
        "mosquitto_sub", "-h", host, "-p", port, "-V", "mqttv311", "-t", "bms/hq/command/write/response",
        "-C", "1", "-W", "20", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        body = json.dumps({"id": "cli-1", "token": site.tokens["operator"], "point": "ahu-1/sat-sp",
                           "value": 16.5, "reason": "from mosquitto_pub"})
        for _ in range(100):  # until the subscriber is in: it takes no retained answer
            pub = await asyncio.create_subprocess_exec(
                "mosquitto_pub", "-h", host, "-p", port, "-V", "mqttv311", "-q", "1",
                "-t", "bms/hq/command/write/request", "-m", body)
            assert await pub.wait() == 0
            assert sub.stdout is not None
            try:
                out = await asyncio.wait_for(sub.stdout.readline(), 0.5)
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("mosquitto_sub received no response")
    finally:
        if sub.returncode is None:
            sub.kill()
            await sub.wait()
    answer = json.loads(out)
    assert answer["id"] == "cli-1" and answer["ok"] is True
    assert answer["result"]["command"]["value"] == 16.5
    assert site.device_value() == 16.5
    assert len(await site.runtime.commands.recent("hq", point="hq/ahu-1/sat-sp")) == 1  # duplicates once


async def test_program_deploy_and_get_as_the_rest_api_does(site: Site) -> None:
    store = site.runtime.program_store
    assert store is not None
    program = parse_program({"id": "sat-hold", "site": "hq", "name": "SAT hold", "period_s": 1,
                             "constants": [{"id": "sp", "value": 14}],
                             "outputs": [{"id": "out", "point": "hq/ahu-1/sat-sp"}],
                             "wires": [{"from": "sp", "to": "out"}]})
    saved = await asyncio.to_thread(store.save, program, "fm@example.com")
    refused = await site.ask("program-deploy", {"id": "d0", "program": "sat-hold",
                                                "version": int(saved), "reason": "go"})
    assert refused["error"]["code"] == "forbidden"  # an operator may not deploy
    missing = await site.ask("program-deploy", {"id": "d1", "program": "sat-hold", "version": 7,
                                                "reason": "go"}, user="fm")
    assert missing["error"] == {"code": "not_found", "field": "version",
                                "message": "program 'sat-hold' has no version 7"}
    answer = await site.ask("program-deploy", {"id": "d2", "program": "sat-hold",
                                               "version": int(saved), "reason": "go"}, user="fm")
    assert answer["ok"] is True, answer
    assert answer["result"]["program"]["active_version"] == int(saved)
    await until(lambda: site.device_value() == 14, what="the program's output at the device")
    got = await site.ask("program-get", {"id": "g", "program": "sat-hold"}, user="viewer")
    assert got["result"]["program"]["version"] == int(saved)
    assert got["result"]["program"]["program"]["constants"] == [{"id": "sp", "value": 14}]
    deployed = [r for r in site.audit("program.*") if r["action"] == "program.deploy"]
    assert [(r["actor"], r["details"].get("reason")) for r in deployed] == [("fm@example.com", "go")]
    unknown = await site.ask("program-get", {"id": "g2", "program": "nope"}, user="viewer")
    assert unknown["error"]["code"] == "not_found"


async def _cli(site: Site, *args: str, token: str | None = "operator") -> tuple[int, str, str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("OPENBMS_TOKEN", None)
    if token:
        env["OPENBMS_TOKEN"] = site.tokens[token]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openbms.cli", "mqtt", "command", *args,
        "--broker", f"{site.broker.host}:{site.broker.port}", "--prefix", "bms",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_cli_sends_a_request_and_prints_the_response(site: Site) -> None:
    code, out, err = await _cli(site, "hq", "write", "--arg", "point=ahu-1/sat-sp", "--arg", "value=17",
                                "--arg", "reason=from the shell")
    assert code == 0, err
    assert out.startswith("ok cli-") and '"status": "completed"' in out
    assert site.device_value() == 17
    code, out, err = await _cli(site, "hq", "read", "--json", '{"points": ["ahu-1/sat-sp"]}', "--raw")
    assert code == 0, err
    assert json.loads(out)["result"]["values"][0]["point"] == "hq/ahu-1/sat-sp"


async def test_the_cli_exits_1_on_an_error_response_and_without_a_token(site: Site) -> None:
    code, _out, err = await _cli(site, "hq", "write", "-a", "point=ahu-1/sat-sp", "-a", "value=99")
    assert code == 1 and "error refused (value):" in err
    code, _out, err = await _cli(site, "hq", "write", "-a", "point=ahu-1/sat-sp", "-a", "value=15",
                                 token="viewer")
    assert code == 1 and "error forbidden:" in err
    code, _out, err = await _cli(site, "hq", "config", token=None)
    assert code == 1 and "OPENBMS_TOKEN is not set" in err
    assert site.device_value() == 13


async def test_real_requests_and_responses_validate_against_the_schemas(site: Site) -> None:
    store = site.runtime.program_store
    assert store is not None
    program = parse_program({"id": "p", "site": "hq", "name": "P", "period_s": 1,
                             "constants": [{"id": "sp", "value": 12}],
                             "outputs": [{"id": "out", "point": "hq/ahu-1/sat-sp"}],
                             "wires": [{"from": "sp", "to": "out"}]})
    version = int(await asyncio.to_thread(store.save, program, "fm@example.com"))
    requests = {
        "write": {"id": "1", "point": "ahu-1/sat-sp", "value": 15, "priority": 8, "duration_s": 600,
                  "reason": "schema"},
        "release": {"id": "2", "point": "ahu-1/sat-sp", "priority": 8},
        "read": {"id": "3", "points": ["ahu-1/sat", "ahu-1/sat-sp"]},
        "priority-array": {"id": "4", "point": "ahu-1/sat-sp"},
        "program-deploy": {"id": "5", "program": "p", "version": version, "reason": "schema"},
        "program-get": {"id": "6", "program": "p"},
        "config": {"id": "7"},
        "history": {"id": "8", "samples": {"point": "ahu-1/sat", "since": site.runtime.clock.now() - 86400,
                                           "until": site.runtime.clock.now() + 60, "limit": 2}},
    }
    assert set(requests) == set(REQUESTS)
    for name, body in requests.items():
        REQUESTS[name].model_validate(body, strict=True)
        answer = await site.ask(name, body, user="fm")
        assert answer["ok"] is True, (name, answer)
        RESPONSES[name].model_validate_json(json.dumps(answer), strict=True)
        refused = await site.ask(name, {**body, "id": f"x{body['id']}"}, user=None)
        ErrorResponse.model_validate_json(json.dumps(refused), strict=True)


async def test_the_connections_send_small_packets_at_once(site: Site) -> None:
    # Nagle's algorithm (paho leaves it on) held each response until the broker's delayed ACK:
    # 40 ms a step. Both ends of command/response turn it off.
    server = site.runtime.command_links.servers["hq"]
    assert server._client is not None
    sock = server._client._client.socket()
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    async with site.requester() as client:
        sock = client._client._client.socket()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


async def test_correlation_ids_are_remembered_up_to_the_settings_bound(site: Site) -> None:
    def remember_two(cfg: Any) -> Any:
        commands = cfg.mqtt.commands.model_copy(update={"remember": 2})
        return cfg.model_copy(update={"mqtt": cfg.mqtt.model_copy(update={"commands": commands})})

    before = site.runtime.command_links.servers["hq"]
    await site.runtime.change_site("hq", remember_two)
    after = site.runtime.command_links.servers["hq"]
    assert after is not before and after.connected  # the connection follows the new settings
    for cid, value in (("k-1", 11), ("k-2", 12), ("k-3", 14), ("k-1", 15)):
        answer = await site.ask("write", {"id": cid, "point": "ahu-1/sat-sp", "value": value})
        assert answer["ok"] is True
    # k-1 was forgotten (the third id pushed it out): its second request ran
    assert site.device_value() == 15
    assert len(await site.runtime.commands.recent("hq", point="hq/ahu-1/sat-sp")) == 4
    again = await site.ask("write", {"id": "k-3", "point": "ahu-1/sat-sp", "value": 11})
    assert again["result"]["command"]["value"] == 14 and site.device_value() == 15


async def test_without_the_api_every_request_is_answered_unavailable(
        mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "hq.yaml").write_text(SITE.format(port=mosquitto.port))
    runtime = Runtime(load_sites(folder), tmp_path / "data")  # openbms run --no-api
    await runtime.start()
    try:
        site = Site(runtime, mosquitto, {})
        answer = await site.ask_v3("write", b'{"id": "n-1", "point": "ahu-1/sat-sp", "value": 15}')
        assert answer["id"] == "n-1" and answer["error"]["code"] == "unavailable"
        assert "--no-api" in answer["error"]["message"]
        assert site.device_value() == 13
    finally:
        await runtime.stop()


async def test_with_the_example_acl_one_sites_credentials_cannot_command_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    acl = (Path(__file__).parents[2] / "docs" / "examples" / "mosquitto.acl").read_text()
    secrets = {"hq": "hq-secret", "lab": "lab-secret", "central": "central-secret"}
    monkeypatch.setenv("HQ_MQTT_USER", "hq")
    monkeypatch.setenv("HQ_MQTT_PASSWORD", "hq-secret")
    with mosquitto_server(secrets, acl=acl) as broker:
        folder = tmp_path / "sites"
        folder.mkdir()
        text = SITE.format(port=broker.port).replace(
            "  prefix: bms\n", "  prefix: openbms\n  username_env: HQ_MQTT_USER\n"
                               "  password_env: HQ_MQTT_PASSWORD\n")
        (folder / "hq.yaml").write_text(text)
        runtime = Runtime(load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
        await runtime.start()
        try:
            assert runtime.state is not None and runtime.command_links.servers["hq"].connected
            row = create_user(runtime.state, "operator@example.com", "x", grants={"hq": "operator"})
            props = [("authorization", f"Bearer {create_api_token(runtime.state, row['id'], 'm')[0]}")]
            body = json.dumps({"id": "acl-1", "point": "ahu-1/sat-sp", "value": 16}).encode()
            async with Requester(broker.host, broker.port, "openbms", "hq", username="central",
                                 password="central-secret", timeout=10) as central:
                answer = json.loads(await central.ask("write", body, user_properties=props))
            assert answer["ok"] is True  # the central user's request, the site's answer: allowed
            other = json.dumps({"id": "acl-2", "point": "ahu-1/sat-sp", "value": 11}).encode()
            async with Requester(broker.host, broker.port, "openbms", "hq", username="lab",
                                 password="lab-secret", timeout=2) as lab:
                with pytest.raises((TimeoutError, DriverError)):  # the broker never delivers it
                    await lab.ask("write", other, user_properties=props)
            assert Site(runtime, broker, {}).device_value() == 16
            assert len(await runtime.commands.recent("hq", point="hq/ahu-1/sat-sp")) == 1
        finally:
            await runtime.stop()
