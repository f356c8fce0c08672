"""The central's deployment files (deploy/): the compose file parses and names its services, and
the mosquitto.conf it ships, with the ACL ``openbms central acl`` writes, is accepted by the real
Mosquitto (its paths replaced by a temp copy's): it listens over TLS only, lets the central's
login in and refuses an anonymous client."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiomqtt
import pytest
import yaml
from typer.testing import CliRunner

from openbms.cli.main import app
from tests.fixtures.certs import make_pki
from tests.fixtures.services import MOSQUITTO, free_port, require_service

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_compose_file_names_the_central_services_and_their_commands() -> None:
    compose = yaml.safe_load((DEPLOY / "central" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "mosquitto", "central-serve", "central-worker"}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    assert services["central-serve"]["command"][:3] == ["openbms", "central", "serve"]
    assert services["central-worker"]["command"][:3] == ["openbms", "central", "run"]
    for name in ("central-serve", "central-worker"):  # the anchor's settings are merged in
        service = services[name]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["environment"]["OPENBMS_HISTORY_URL"].startswith("postgresql://")
        assert "--tokens" in service["command"] and "--ca-file" in service["command"]
    mounted = {v.split(":")[1] for v in services["mosquitto"]["volumes"]}
    assert "/mosquitto/config/mosquitto.conf" in mounted


def test_the_units_run_openbms() -> None:
    for unit, command in ((DEPLOY / "edge" / "openbms.service", "openbms run"),
                          (DEPLOY / "central" / "openbms-central@.service", "openbms central run"),
                          (DEPLOY / "central" / "openbms-central-serve.service",
                           "openbms central serve")):
        text = unit.read_text()
        assert f"/usr/local/bin/{command} " in text and "[Install]" in text, unit
        for line in text.splitlines():  # systemd takes no comment after a value
            assert line.startswith("#") or " #" not in line, line


@contextmanager
def shipped_broker(pki_dir: Path) -> Iterator[tuple[int, Path]]:
    """Mosquitto with deploy/central/mosquitto.conf (paths in a temp copy), the ACL of ``openbms
    central acl --site hq`` and a login ``central``; its port and the CA."""
    if not MOSQUITTO.exists():
        require_service("Mosquitto", f"no {MOSQUITTO} (apt-get install mosquitto)")
    pki = make_pki(pki_dir, clients=())
    base = Path(tempfile.mkdtemp(prefix="openbms-deploy-"))  # a folder the mosquitto user reaches
    try:
        (base / "certs").mkdir()
        (base / "data").mkdir()
        for name, source in (("ca.pem", pki.ca), ("server.pem", pki.server_cert),
                             ("server.key", pki.server_key)):
            shutil.copyfile(source, base / "certs" / name)
        subprocess.run(["mosquitto_passwd", "-c", "-b", str(base / "passwords"), "central",
                        "secret"], check=True, capture_output=True)
        result = CliRunner().invoke(app, ["central", "acl", "--site", "hq", "-o",
                                          str(base / "openbms.acl")])
        assert result.exit_code == 0, result.output
        port = free_port()
        conf = (DEPLOY / "central" / "mosquitto.conf").read_text()
        assert "listener 8883\n" in conf and "allow_anonymous false" in conf
        conf = (conf.replace("listener 8883\n", f"listener {port} 127.0.0.1\n")
                .replace("/mosquitto/config/", f"{base}/")
                .replace("/mosquitto/certs/", f"{base}/certs/")
                .replace("/mosquitto/data/", f"{base}/data/"))
        (base / "mosquitto.conf").write_text(conf)
        if os.geteuid() == 0:  # started as root, it drops to the mosquitto user
            for path in (base, *base.rglob("*")):
                shutil.chown(path, "mosquitto", "mosquitto")
        broker = subprocess.Popen([str(MOSQUITTO), "-c", str(base / "mosquitto.conf")],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            for _ in range(200):  # listening, or exited saying what it refused
                if broker.poll() is not None:
                    break
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    time.sleep(0.05)
            assert broker.poll() is None, broker.communicate()[0].decode(errors="replace")
            yield port, base / "certs" / "ca.pem"
        finally:
            broker.terminate()
            output = broker.communicate(timeout=10)[0].decode(errors="replace")
        started = output.split("New connection", 1)[0]  # what it said of its configuration
        assert "Error" not in started and "Warning" not in started and "Note" not in started, output
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def test_the_shipped_mosquitto_conf_is_accepted_by_mosquitto_with_tls_and_the_acl(
        tmp_path: Path) -> None:
    with shipped_broker(tmp_path / "pki") as (port, ca):
        context = ssl.create_default_context(cafile=str(ca))
        async with aiomqtt.Client("127.0.0.1", port, username="central", password="secret",
                                  tls_context=context, timeout=5) as client:
            await client.publish("openbms/hq/command/write/request", b"{}", qos=1)
        with pytest.raises(aiomqtt.MqttError):  # anonymous: refused
            async with aiomqtt.Client("127.0.0.1", port, tls_context=context, timeout=5):
                pass
