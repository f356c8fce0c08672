"""MQTT security on a real Mosquitto: TLS with a CA and client certificates, passwords from the
environment and from files, and the ACL shipped in docs/examples/mosquitto.acl (one site's
credentials reach only its own topics), checked with mosquitto_pub/mosquitto_sub and the driver."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from pathlib import Path

import aiomqtt
import pytest

from openbms.drivers.mqtt.connect import tls_context
from openbms.model import parse_binding
from tests.fixtures.certs import Pki, make_pki
from tests.fixtures.services import BrokerTLS, MosquittoBroker, mosquitto_server
from tests.integration.mqtt_helpers import driver_for, subscribed, until

ACL = (Path(__file__).parents[2] / "docs" / "examples" / "mosquitto.acl").read_text()
USERS = {"site-a": "pw-a site", "site-b": "pw-b", "central": "pw-central",
         "gateway-site-a": "pw-gw"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), ("site-a", "gateway-site-a"))


def _tool(name: str, broker: MosquittoBroker, user: str | None, *args: str,
          cert: tuple[Path, Path] | None = None, ca: Path | None = None) -> list[str]:
    cmd = [name, "-h", broker.host, "-p", str(broker.port), "-q", "1", *args]
    if user is not None:
        cmd += ["-u", user, "-P", USERS[user]]
    if ca is not None:
        cmd += ["--cafile", str(ca)]
    if cert is not None:
        cmd += ["--cert", str(cert[0]), "--key", str(cert[1])]
    return cmd


async def _pub(broker: MosquittoBroker, user: str | None, topic: str, message: str,
               **tls: object) -> None:
    await asyncio.to_thread(subprocess.run, _tool("mosquitto_pub", broker, user, "-t", topic, "-m",
                                                  message, **tls), check=True, capture_output=True)  # type: ignore[arg-type]


async def _first_two(broker: MosquittoBroker, user: str, pattern: str,
                     rounds: list[tuple[str, str, str]]) -> list[str]:
    """The first two messages ``user`` reads on ``pattern`` while ``rounds`` of (publisher, topic,
    message) are published again and again: a message the ACL let through would be among them
    (each round publishes it before the allowed one)."""
    sub = await asyncio.create_subprocess_exec(
        *_tool("mosquitto_sub", broker, user, "-t", pattern, "-v", "-C", "2", "-W", "60"),
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


async def test_the_example_acl_keeps_one_site_s_credentials_to_its_own_topics():
    with mosquitto_server(USERS, acl=ACL) as broker:
        # Site A cannot send a command request to site B, nor to itself; the central user can.
        got = await _first_two(broker, "central", "openbms/+/command/+/request", [
            ("site-a", "openbms/site-b/command/write/request", "forged"),
            ("site-a", "openbms/site-a/command/write/request", "self-made"),
            ("central", "openbms/site-b/command/read/request", "genuine")])
        assert got == ["openbms/site-b/command/read/request genuine"] * 2
        # Site A reads nothing of site B (subscribed to everything), only what is sent to it.
        got = await _first_two(broker, "site-a", "openbms/#", [
            ("site-b", "openbms/site-b/ahu-1/sat", "13.5"),
            ("central", "openbms/site-b/command/read/request", "for-b"),
            ("central", "openbms/site-a/command/read/request", "for-a")])
        assert got == ["openbms/site-a/command/read/request for-a"] * 2
        # Its own telemetry and responses are allowed, and read by the central user.
        got = await _first_two(broker, "central", "openbms/site-a/#", [
            ("site-b", "openbms/site-a/ahu-1/sat", "99"),
            ("site-a", "openbms/site-a/ahu-1/sat", "12.5")])
        assert got == ["openbms/site-a/ahu-1/sat 12.5"] * 2


async def test_the_driver_with_a_site_s_credentials_reads_its_sensors_and_nothing_else(
        tmp_path, monkeypatch):
    own, other = "mqtt://sensors/site-a/zone-1/temp", "mqtt://openbms/site-b/ahu-1/sat"
    forged = "mqtt://sensors/site-a/zone-1/sp?command=openbms/site-b/command/write/request"
    monkeypatch.setenv("OPENBMS_TEST_MQTT_USER", "site-a")
    (tmp_path / "password").write_text(USERS["site-a"] + "\n")  # a space in it, kept
    with mosquitto_server(USERS, acl=ACL) as broker:
        driver = driver_for(broker, username_env="OPENBMS_TEST_MQTT_USER",
                            password_file=str(tmp_path / "password"))
        async with subscribed(driver, own, other, forged) as changes, \
                aiomqtt.Client(broker.host, broker.port, username="central",
                               password=USERS["central"], identifier="test-central") as central:
            assert driver.connected
            await central.subscribe("openbms/+/command/+/request", qos=1)
            await driver.write(parse_binding(forged), 30, 8)  # accepted by the broker, dropped
            await central.publish("openbms/site-b/command/read/request", b"genuine", qos=1)
            async for message in central.messages:
                assert (message.topic.value, message.payload) == (
                    "openbms/site-b/command/read/request", b"genuine")
                break
            await _pub(broker, "site-b", "openbms/site-b/ahu-1/sat", "13.5")
            await _pub(broker, "gateway-site-a", "sensors/site-a/zone-1/temp", "21.5")
            await until(lambda: changes.of(own), what="the site's own sensor")
            assert changes.of(own) == [(21.5, "ok", None)]
            assert changes.of(other) == [] and driver.messages == 1


async def test_tls_with_client_certificates_lets_in_only_a_certificate_of_the_ca(pki, tmp_path):
    tls = BrokerTLS(pki.ca, pki.server_cert, pki.server_key, require_certificate=True)
    with mosquitto_server(tls=tls) as broker:
        cert, key = pki.clients["site-a"]
        driver = driver_for(broker, ca_file=str(pki.ca), cert_file=str(cert), key_file=str(key))
        async with subscribed(driver, "mqtt://sensors/site-a/zone-1/temp") as changes:
            assert driver.connected
            await _pub(broker, None, "sensors/site-a/zone-1/temp", "20.5", ca=pki.ca,
                       cert=pki.clients["gateway-site-a"])
            await until(lambda: changes.seen, what="a value over TLS")
            assert changes.of("mqtt://sensors/site-a/zone-1/temp") == [(20.5, "ok", None)]
        # Refused, each saying why (what paho saw, not only aiomqtt's "Operation timed out").
        stranger = {"cert_file": str(pki.stranger[0]), "key_file": str(pki.stranger[1])}
        refused = [
            ({"ca_file": str(pki.ca)}, "certificate required"),
            ({"ca_file": str(pki.ca), **stranger}, "unknown ca"),
            ({"tls": True, "cert_file": str(cert), "key_file": str(key)},
             "CERTIFICATE_VERIFY_FAILED"),  # the system's CAs do not know the broker's
        ]
        for settings, why in refused:
            driver = driver_for(broker, timeout=1, reconnect_min=30, **settings)
            async with subscribed(driver, "mqtt://sensors/site-a/zone-1/temp"):
                await until(lambda d=driver: d.last_error != "not connected yet", what=why)
                assert not driver.connected
                assert why in driver.last_error
                assert driver.problems() == [f"mqtt broker {broker.host}:{broker.port} not "
                                             f"connected: {driver.last_error}"]


async def test_a_failed_tls_handshake_closes_its_socket(pki):
    """paho wraps the socket and shakes hands; when that fails it drops the socket unclosed (a
    ResourceWarning, and a descriptor held until the garbage collector comes, at each attempt)."""
    tls = BrokerTLS(pki.ca, pki.server_cert, pki.server_key, require_certificate=False)
    with mosquitto_server(tls=tls) as broker:
        ctx = tls_context({"tls": True}, "mqtt")  # the system's CAs: the broker is not trusted
        assert ctx is not None
        raw = socket.create_connection((broker.host, broker.port))
        sock = ctx.wrap_socket(raw, server_hostname=broker.host, do_handshake_on_connect=False)
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                sock.do_handshake()
            assert sock.fileno() == -1
        finally:
            sock.close()


async def test_a_client_certificate_is_the_site_s_identity_for_the_acl(pki):
    tls = BrokerTLS(pki.ca, pki.server_cert, pki.server_key, identity_as_username=True)
    own, other = "mqtt://sensors/site-a/zone-2/temp", "mqtt://sensors/site-b/zone-2/temp"
    with mosquitto_server(tls=tls, acl=ACL) as broker:
        cert, key = pki.clients["site-a"]
        driver = driver_for(broker, ca_file=str(pki.ca), cert_file=str(cert), key_file=str(key))
        async with subscribed(driver, own, other) as changes:
            assert driver.connected
            gateway = {"ca": pki.ca, "cert": pki.clients["gateway-site-a"]}
            await _pub(broker, None, "sensors/site-b/zone-2/temp", "30", **gateway)  # not its site
            await _pub(broker, None, "sensors/site-a/zone-2/temp", "22", **gateway)
            await until(lambda: changes.of(own), what="the site's own sensor")
            assert changes.of(other) == [] and driver.messages == 1


async def test_the_command_line_s_connection_says_why_a_tls_broker_refused_it(pki):
    from openbms.drivers.mqtt.client import BrokerError, subscribe

    tls = BrokerTLS(pki.ca, pki.server_cert, pki.server_key, require_certificate=True)
    with mosquitto_server(tls=tls) as broker:
        with pytest.raises(BrokerError, match="certificate required") as refused:
            await subscribe(broker.host, broker.port, ["#"], lambda _t, _p: False, 5,
                            tls_context=tls_context({"ca_file": str(pki.ca)}, ""),
                            connect_timeout=1)
        assert not refused.value.connected
