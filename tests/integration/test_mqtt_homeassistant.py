"""Home Assistant MQTT discovery against a real Mosquitto and a running openbms (runtime + API).

A site on the ``sim`` driver with ``mqtt: homeassistant: enabled`` and command/response off:
the discovery configs are read retained by ``mosquitto_sub`` (an independent client, as Home
Assistant is), and Home Assistant's commands are sent with ``mosquitto_pub`` on the entities'
command topics. The token Home Assistant's commands use is an operator's API token in a file.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openbms import __version__
from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db import audit_entries
from openbms.db.accounts import create_api_token, create_user
from openbms.drivers.mqtt.bridge import start_bridge
from openbms.drivers.mqtt.homeassistant import discovery
from openbms.errors import OpenBMSError
from openbms.model import parse_binding
from openbms.model.site import SiteConfig
from openbms.runtime.bus import Bus
from openbms.runtime.clock import WallClock
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
  homeassistant: {{enabled: true, priority: 11, token_file: {token_file}}}
equipment:
  - id: ahu-1
    type: ahu
    name: AHU 1
    points:
      - {{name: sat, unit: degC, binding: "sim://ahu-1/sat?wave=constant&value=14"}}
      - name: sat-sp
        unit: degC
        writable: true
        relinquish_default: 13
        limits: {{min: 10, max: 18}}
        binding: "sim://ahu-1/sat-sp?wave=constant&value=13"
      - name: fan-cmd
        kind: bool
        writable: true
        binding: "sim://ahu-1/fan-cmd?wave=constant&value=0&kind=bool"
"""

SP = "sim://ahu-1/sat-sp?wave=constant&value=13"
FAN = "sim://ahu-1/fan-cmd?wave=constant&value=0&kind=bool"
CONFIGS = {"sensor": "homeassistant/sensor/hq/hq_ahu-1_sat/config",
           "number": "homeassistant/number/hq/hq_ahu-1_sat-sp/config",
           "switch": "homeassistant/switch/hq/hq_ahu-1_fan-cmd/config"}


@dataclass
class Site:
    runtime: Runtime
    broker: MosquittoBroker

    def device(self, uri: str) -> Any:
        return self.runtime.drivers["sim"].effective(parse_binding(uri))  # type: ignore[attr-defined]

    def audit(self, action: str) -> list[dict[str, Any]]:
        assert self.runtime.state is not None
        return audit_entries(self.runtime.state, action=action, limit=1000)

    async def publish(self, topic: str, payload: str, *login: str) -> None:
        pub = await asyncio.create_subprocess_exec(
            "mosquitto_pub", "-h", self.broker.host, "-p", str(self.broker.port), "-q", "1",
            *login, "-t", topic, "-m", payload)
        assert await pub.wait() == 0

    async def retained(self, topic_filter: str, *login: str) -> dict[str, bytes]:
        """The retained messages under ``topic_filter`` (what a new subscriber receives at once),
        read by mosquitto_sub (signed in with ``login``): topic → payload."""
        sub = await asyncio.create_subprocess_exec(
            "mosquitto_sub", "-h", self.broker.host, "-p", str(self.broker.port), *login, "-v",
            "-t", topic_filter, "--retained-only", "-W", "2", "-F", "%t\t%x",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, _err = await sub.communicate()
        assert sub.returncode in (0, 27), sub.returncode  # 27: the -W window ended
        found = {}
        for line in out.decode().splitlines():
            topic, _, hexed = line.partition("\t")
            found[topic] = bytes.fromhex(hexed)
        return found


def load_sites_text(text: str, tmp_path: Path) -> SiteConfig:
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "hq.yaml").write_text(text)
    return load_sites(folder)[0]


def _folder(folder: Path, broker: MosquittoBroker, token_file: Path) -> Path:
    folder.mkdir()
    (folder / "hq.yaml").write_text(SITE.format(port=broker.port, token_file=token_file))
    return folder


async def _site(folder: Path, broker: MosquittoBroker, token_file: Path, data: Path) -> Runtime:
    sites = load_sites(_folder(folder, broker, token_file))
    runtime = Runtime(sites, data, api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    return runtime


@pytest.fixture
async def site(mosquitto: MosquittoBroker, tmp_path: Path) -> AsyncIterator[Site]:
    token_file = tmp_path / "ha-token"
    token_file.write_text("")  # the operator's token is written once the state database is up
    runtime = await _site(tmp_path / "sites", mosquitto, token_file, tmp_path / "data")
    try:
        assert runtime.state is not None
        row = create_user(runtime.state, "ha@example.com", "x", grants={"hq": "operator"})
        token_file.write_text(create_api_token(runtime.state, row["id"], "home assistant")[0] + "\n")
        await runtime.command_links.apply(runtime.sites)  # the token is read when the site is applied
        assert runtime.command_links.servers["hq"].connected
        yield Site(runtime, mosquitto)
    finally:
        await runtime.stop()


async def test_the_configs_are_retained_with_the_state_and_command_topics(site: Site) -> None:
    found = await site.retained("homeassistant/#")
    assert set(found) == set(CONFIGS.values())
    c = {kind: json.loads(found[topic]) for kind, topic in CONFIGS.items()}
    assert c["sensor"]["state_topic"] == "bms/hq/ahu-1/sat" and "command_topic" not in c["sensor"]
    assert c["sensor"]["unit_of_measurement"] == "°C"
    assert (c["number"]["command_topic"], c["number"]["min"], c["number"]["max"]) == (
        "bms/hq/ahu-1/sat-sp/set", 10, 18)
    assert c["switch"]["command_topic"] == "bms/hq/ahu-1/fan-cmd/set"
    assert c["switch"]["state_topic"] == "bms/hq/ahu-1/fan-cmd"
    assert {e["origin"]["sw_version"] for e in c.values()} == {__version__}
    assert {e["device"]["name"] for e in c.values()} == {"AHU 1"}
    # No command/response: the connection takes no requests, only Home Assistant's commands.
    assert site.runtime.command_links.servers["hq"].handler is None


async def test_the_availability_template_reads_the_bridges_status_message(
        mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    # The bridge's link publishes {"status": "online", …} retained on {prefix}/{site}/status (and
    # {"status": "offline", …} as its Last Will): the template must give Home Assistant those words.
    cfg = load_sites_text(SITE.format(port=mosquitto.port, token_file=tmp_path / "none"), tmp_path)
    bridge = await start_bridge(cfg, tmp_path / "data", WallClock(), Bus())
    try:
        site = Site(None, mosquitto)  # type: ignore[arg-type]
        status = await site.retained("bms/hq/status")
    finally:
        await bridge.stop()
    assert set(status) == {"bms/hq/status"}
    config = json.loads(dict(discovery(cfg))[CONFIGS["sensor"]])
    link = next(a for a in config["availability"] if a["topic"] == "bms/hq/status")
    field = re.fullmatch(r"\{\{ value_json\.(\w+) \}\}", link["value_template"])
    assert field is not None, link["value_template"]
    assert json.loads(status["bms/hq/status"])[field.group(1)] == "online"  # payload_available
    offline = await Site(None, mosquitto).retained("bms/hq/status")  # type: ignore[arg-type]
    assert json.loads(offline["bms/hq/status"])[field.group(1)] == "offline"  # payload_not_available


async def test_a_number_and_a_switch_command_write_through_the_arbiter_at_the_priority(
        site: Site) -> None:
    await site.publish("bms/hq/ahu-1/sat-sp/set", "15.5")
    await site.publish("bms/hq/ahu-1/fan-cmd/set", "ON")
    await until(lambda: site.device(SP) == 15.5 and site.device(FAN) is True
                and len(site.audit("command.write")) == 2,
                what="Home Assistant's writes at the devices, audited")
    for pid, value in (("hq/ahu-1/sat-sp", 15.5), ("hq/ahu-1/fan-cmd", True)):
        slots = site.runtime.commands.slots(pid)
        held = [(i + 1, c.value, c.requested_by) for i, c in enumerate(slots) if c is not None]
        assert held == [(11, value, "ha@example.com")]  # homeassistant.priority
    rows = sorted(site.audit("command.write"), key=lambda r: r["target"])
    assert [(r["actor"], r["target"], r["details"]["via"], r["details"]["priority"]) for r in rows] == [
        ("ha@example.com", "hq/ahu-1/fan-cmd", "homeassistant", 11),
        ("ha@example.com", "hq/ahu-1/sat-sp", "homeassistant", 11)]
    assert site.runtime.command_links.homeassistant_refused == 0


async def test_a_value_outside_the_limits_and_a_bad_payload_write_nothing(site: Site) -> None:
    await site.publish("bms/hq/ahu-1/sat-sp/set", "99")
    await site.publish("bms/hq/ahu-1/sat-sp/set", "warm")
    await site.publish("bms/hq/ahu-1/fan-cmd/set", "maybe")
    links = site.runtime.command_links
    await until(lambda: links.homeassistant_refused == 3, what="three refusals")
    assert site.device(SP) == 13 and site.device(FAN) is False
    for pid in ("hq/ahu-1/sat-sp", "hq/ahu-1/fan-cmd"):
        assert site.runtime.commands.slots(pid) == [None] * 16
    # The arbiter keeps the one it refused (failed), as every command; the others never reach it.
    assert [(c.value, str(c.status)) for c in await site.runtime.commands.recent("hq")] == [
        (99, "failed")]
    rows = site.audit("command.write")
    assert len(rows) == 3 and {r["actor"] for r in rows} == {"ha@example.com"}
    refused = {(r["target"], r["details"]["refused"].split(": ", 1)[1]) for r in rows}
    assert refused == {("hq/ahu-1/sat-sp", "99 is above the point's maximum 18 degC"),
                       ("hq/ahu-1/sat-sp", "expected a number, not 'warm'"),
                       ("hq/ahu-1/fan-cmd", "expected ON or OFF, not 'maybe'")}


async def test_a_removed_points_config_is_cleared_after_a_configuration_change(site: Site) -> None:
    def without_fan(cfg: SiteConfig) -> SiteConfig:
        ahu = cfg.equipment[0]
        ahu = ahu.model_copy(update={"points": tuple(p for p in ahu.points if p.name != "fan-cmd")})
        return cfg.model_copy(update={"equipment": (ahu,)})

    assert CONFIGS["switch"] in await site.retained("homeassistant/#")
    await site.runtime.change_site("hq", without_fan)
    found = await site.retained("homeassistant/#")
    assert set(found) == {CONFIGS["sensor"], CONFIGS["number"]}
    await site.publish("bms/hq/ahu-1/fan-cmd/set", "ON")  # the point is gone: nothing to write
    links = site.runtime.command_links
    await until(lambda: links.homeassistant_refused == 1, what="the refusal")
    assert site.runtime.commands.slots("hq/ahu-1/sat-sp") == [None] * 16


async def test_without_a_token_the_entities_are_announced_and_nothing_is_written(
        mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    token_file = tmp_path / "ha-token"
    token_file.write_text("")
    runtime = await _site(tmp_path / "sites", mosquitto, token_file, tmp_path / "data")
    try:
        site = Site(runtime, mosquitto)
        assert set(await site.retained("homeassistant/#")) == set(CONFIGS.values())
        await site.publish("bms/hq/ahu-1/sat-sp/set", "15")
        await until(lambda: runtime.command_links.homeassistant_refused == 1, what="the refusal")
        assert site.device(SP) == 13 and await runtime.commands.recent("hq") == []
        assert runtime.commands.slots("hq/ahu-1/sat-sp") == [None] * 16
        rows = site.audit("access.denied")
        assert [(r["actor"], r["details"]["route"], r["details"]["status"]) for r in rows] == [
            ("mqtt:anonymous", "command/homeassistant/set", 401)]
    finally:
        await runtime.stop()


async def test_with_the_acl_home_assistant_sees_and_commands_its_site_and_another_login_cannot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The example ACL as shipped: its Home Assistant lines are what the site and HA need.
    acl = (Path(__file__).parents[2] / "docs" / "examples" / "mosquitto.acl").read_text()
    monkeypatch.setenv("HQ_MQTT_USER", "hq")
    monkeypatch.setenv("HQ_MQTT_PASSWORD", "hq-secret")
    users = {"hq": "hq-secret", "lab": "lab-secret", "homeassistant": "ha-secret"}
    with mosquitto_server(users, acl=acl) as broker:
        token_file = tmp_path / "ha-token"
        token_file.write_text("")
        folder = _folder(tmp_path / "sites", broker, token_file)
        text = (folder / "hq.yaml").read_text().replace(
            "  prefix: bms\n", "  prefix: openbms\n  username_env: HQ_MQTT_USER\n"
                               "  password_env: HQ_MQTT_PASSWORD\n")
        (folder / "hq.yaml").write_text(text)
        runtime = Runtime(load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
        await runtime.start()
        try:
            assert runtime.state is not None
            row = create_user(runtime.state, "ha@example.com", "x", grants={"hq": "operator"})
            token_file.write_text(create_api_token(runtime.state, row["id"], "ha")[0])
            await runtime.command_links.apply(runtime.sites)
            site = Site(runtime, broker)
            ha = ("-u", "homeassistant", "-P", "ha-secret")
            found = await site.retained("homeassistant/#", *ha)
            assert set(found) == set(CONFIGS.values())
            number = json.loads(found[CONFIGS["number"]])
            assert number["command_topic"] == "openbms/hq/ahu-1/sat-sp/set"
            await site.publish("openbms/hq/ahu-1/sat-sp/set", "12", "-u", "lab", "-P", "lab-secret")
            await site.publish("openbms/hq/ahu-1/sat-sp/set", "16", *ha)
            await until(lambda: site.device(SP) == 16, what="Home Assistant's write")
            # The lab site's login published first: the broker never delivered it.
            assert runtime.command_links.homeassistant_commands == 1
            assert [c.value for c in await runtime.commands.recent("hq")] == [16]
        finally:
            await runtime.stop()


async def test_refusals_are_logged_once_per_point_per_minute(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    links = site.runtime.command_links
    now = [1000.0]
    links.monotonic = lambda: now[0]

    def logged() -> list[str]:
        return [r.getMessage().split(":")[0] for r in caplog.records
                if r.name == "openbms.service.command_links" and "was refused" in r.getMessage()]

    for payload in ("warm", "hot", "99"):
        await site.publish("bms/hq/ahu-1/sat-sp/set", payload)
    await site.publish("bms/hq/ahu-1/fan-cmd/set", "maybe")
    await until(lambda: links.homeassistant_refused == 4, what="four refusals")
    assert sorted(logged()) == ["hq/ahu-1/fan-cmd", "hq/ahu-1/sat-sp"]
    now[0] += 59.0
    await site.publish("bms/hq/ahu-1/sat-sp/set", "cold")
    await until(lambda: links.homeassistant_refused == 5, what="a fifth refusal")
    assert len(logged()) == 2
    now[0] += 1.0  # a minute after the first line
    await site.publish("bms/hq/ahu-1/sat-sp/set", "colder")
    await until(lambda: links.homeassistant_refused == 6, what="a sixth refusal")
    assert sorted(logged()) == ["hq/ahu-1/fan-cmd", "hq/ahu-1/sat-sp", "hq/ahu-1/sat-sp"]
    assert site.device(SP) == 13 and len(site.audit("command.write")) == 6  # each one audited


async def test_a_token_variable_that_is_not_set_stops_the_start_saying_which(
        mosquitto: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENBMS_TEST_HA_TOKEN", raising=False)
    folder = _folder(tmp_path / "sites", mosquitto, tmp_path / "unused")
    text = (folder / "hq.yaml").read_text().replace(
        f"token_file: {tmp_path / 'unused'}", "token_env: OPENBMS_TEST_HA_TOKEN")
    (folder / "hq.yaml").write_text(text)
    runtime = Runtime(load_sites(folder), tmp_path / "data")
    with pytest.raises(OpenBMSError, match=r"site hq: mqtt: homeassistant: token_env: the environment "
                                           r"variable OPENBMS_TEST_HA_TOKEN is not set"):
        await runtime.start()
    assert runtime.command_links.servers == {}


async def test_the_configs_are_announced_again_when_the_connection_comes_back(site: Site) -> None:
    server = site.runtime.command_links.servers["hq"]
    before = server.announcements
    site.broker.stop()  # persistence false: what it retained is gone with it
    await until(lambda: not server.connected, what="the connection lost")
    await asyncio.to_thread(site.broker.start)
    await until(lambda: server.connected and server.announcements == before + len(CONFIGS),
                within=40, what="the configs published again")
    assert set(await site.retained("homeassistant/#")) == set(CONFIGS.values())
    await site.publish("bms/hq/ahu-1/sat-sp/set", "17")  # and the command topics subscribed again
    await until(lambda: site.device(SP) == 17, what="Home Assistant's write after the outage")


async def test_turning_home_assistant_off_deletes_its_entities(site: Site) -> None:
    def off(cfg: SiteConfig) -> SiteConfig:
        assert cfg.mqtt is not None
        ha = cfg.mqtt.homeassistant.model_copy(update={"enabled": False})
        return cfg.model_copy(update={"mqtt": cfg.mqtt.model_copy(update={"homeassistant": ha})})

    assert set(await site.retained("homeassistant/#")) == set(CONFIGS.values())
    await site.runtime.change_site("hq", off)
    assert site.runtime.command_links.servers == {}  # neither commands nor Home Assistant: no connection
    assert await site.retained("homeassistant/#") == {}


async def test_with_command_response_too_one_connection_serves_both(site: Site) -> None:
    def commands_on(cfg: SiteConfig) -> SiteConfig:
        assert cfg.mqtt is not None
        commands = cfg.mqtt.commands.model_copy(update={"enabled": True})
        return cfg.model_copy(update={"mqtt": cfg.mqtt.model_copy(update={"commands": commands})})

    before = site.runtime.command_links.servers["hq"]
    await site.runtime.change_site("hq", commands_on)
    after = site.runtime.command_links.servers["hq"]
    assert after is not before and after.handler is not None
    # The entities stay announced through the new connection.
    assert set(await site.retained("homeassistant/#")) == set(CONFIGS.values())
    async with site.runtime.command_links.client("hq") as client:
        answer = json.loads(await client.ask("config", b'{"id": "c-1"}'))
    assert answer["error"]["code"] == "unauthorized"  # a request answered (it carried no token)
    await site.publish("bms/hq/ahu-1/sat-sp/set", "12.5")
    await until(lambda: site.device(SP) == 12.5, what="Home Assistant's write")
