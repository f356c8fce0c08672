"""The demo's throw-away Mosquitto: found where it is installed, listening on loopback, gone when stopped."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from openbms.sim.mosquitto import BrokerError, DemoBroker, find_mosquitto, free_port, port_is_free
from tests.fixtures.services import require_service


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status  # a zombie has exited


def _installed() -> Path:
    program = find_mosquitto()
    if program is None:
        require_service("Mosquitto", "no mosquitto (apt-get install mosquitto)")
    assert program is not None
    return program


def test_openbms_mosquitto_names_the_program_and_a_path_with_nothing_there_is_none(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENBMS_MOSQUITTO", str(tmp_path / "nothing"))
    assert find_mosquitto() is None
    fake = tmp_path / "mosquitto"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("OPENBMS_MOSQUITTO", str(fake))
    assert find_mosquitto() is None  # not executable
    fake.chmod(0o755)
    assert find_mosquitto() == fake
    monkeypatch.setenv("OPENBMS_MOSQUITTO", str(tmp_path / "nothing"))
    with pytest.raises(BrokerError, match="not installed"):
        DemoBroker(tmp_path, 1884)


def test_the_broker_listens_on_loopback_and_leaves_no_process_when_stopped(tmp_path):
    program = _installed()
    port = free_port()
    broker = DemoBroker(tmp_path / "data", port, program)
    broker.start()
    try:
        assert broker.process is not None
        pid = broker.process.pid
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert not port_is_free(port)
        config = broker.config.read_text()
        assert f"listener {port} 127.0.0.1\n" in config
        assert "allow_anonymous true\n" in config and "persistence false\n" in config
    finally:
        broker.stop()
    assert not _alive(pid)
    assert port_is_free(port)
    broker.stop()  # twice is harmless


def test_a_port_already_taken_is_an_error_that_says_so_and_leaves_nothing_running(tmp_path):
    program = _installed()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = DemoBroker(tmp_path / "data", port, program)
        with pytest.raises(BrokerError, match=f"127.0.0.1:{port} is taken"):
            broker.start()
    assert broker.process is None or broker.process.poll() is not None


def test_a_port_whose_last_server_just_stopped_is_free():
    """A broker that closed its connections leaves them in TIME_WAIT for a minute: no holder, so the
    next demo keeps its port (a bind without SO_REUSEADDR said it was taken)."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            accepted, _ = server.accept()
            accepted.close()  # the server's side closes first: TIME_WAIT is on its port
            assert client.recv(1) == b""
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # the TIME_WAIT is there
    assert port_is_free(port)
