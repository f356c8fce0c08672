"""A demo's broker that outlived its openbms (SIGKILL, a closed terminal: no ``finally`` ran) is
stopped by the next demo in the same folder, which then takes its port back, and leaves the site
file as it was; a process that is not that broker is never touched."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from openbms.cli.run import _demo_mqtt, _set_mqtt_setting
from openbms.config import load_sites
from openbms.sim.mosquitto import DemoBroker, find_mosquitto, free_port, port_is_free, stop_left_behind
from tests.fixtures.services import require_service

DEMO = Path(__file__).parents[2] / "src" / "openbms" / "examples" / "demo"

#: An openbms demo reduced to its broker: it starts one, says its pid, and waits to be killed.
_DEMO_PROCESS = """
import sys, time
from pathlib import Path
from openbms.sim.mosquitto import DemoBroker
broker = DemoBroker(Path(sys.argv[1]), int(sys.argv[2]))
broker.start()
print(broker.process.pid, flush=True)
time.sleep(600)
"""


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


def _killed_demo(folder: Path, port: int) -> int:
    """Start a demo's broker from a process, SIGKILL that process; the broker's pid (still alive)."""
    demo = subprocess.Popen([sys.executable, "-c", _DEMO_PROCESS, str(folder), str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert demo.stdout is not None
        pid = int(demo.stdout.readline())
    finally:
        demo.send_signal(signal.SIGKILL)
        demo.wait()
        if demo.stdout is not None:
            demo.stdout.close()
    assert _alive(pid) and not port_is_free(port)  # left behind, holding the port
    return pid


def _gone(pid: int) -> bool:
    for _ in range(200):  # the orphan's new parent reaps it
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _kill(pid: int) -> None:
    if pid > 0 and _alive(pid):
        os.kill(pid, signal.SIGKILL)


def test_the_next_demo_stops_the_broker_a_killed_demo_left_and_listens_on_its_port(tmp_path):
    program = _installed()
    folder, port = tmp_path / "demo dir" / "data", free_port()  # a path with a space, too
    orphan = _killed_demo(folder, port)
    broker = DemoBroker(folder, port, program)
    try:
        broker.start()
        assert broker.process is not None and broker.process.pid != orphan
        assert _gone(orphan)
    finally:
        broker.stop()
        _kill(orphan)
    assert port_is_free(port)
    assert not (folder / "mosquitto.pid").exists()


def test_the_demo_keeps_the_site_files_port_when_its_own_broker_was_left_on_it(tmp_path, capsys):
    _installed()
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    port = free_port()
    assert _set_mqtt_setting(root / "site.yaml", "port", port)
    assert _set_mqtt_setting(root / "site.yaml", "enabled", True)
    text = (root / "site.yaml").read_text()
    orphan = _killed_demo(root / "data", port)
    try:
        _sites, mqtt = _demo_mqtt(root, load_sites(root), created=False)
        assert mqtt is not None and mqtt.broker is not None
        assert mqtt.broker.port == port  # not a new port written in the user's file
        assert (root / "site.yaml").read_text() == text
        assert _gone(orphan)
        assert f"(pid {orphan})" in capsys.readouterr().out
    finally:
        _kill(orphan)


def test_a_pid_file_naming_another_process_stops_nothing(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (folder / "mosquitto.pid").write_text(f"{other.pid}\n")
        assert stop_left_behind(folder) is None
        assert other.poll() is None  # not a broker of this folder: untouched
        assert not (folder / "mosquitto.pid").exists()
        (folder / "mosquitto.pid").write_text("not a pid\n")
        assert stop_left_behind(folder) is None
    finally:
        other.kill()
        other.wait()


def test_the_broker_of_a_demo_still_running_in_the_folder_is_not_stopped(tmp_path):
    _installed()
    folder, port, pid = tmp_path / "data", free_port(), 0
    demo = subprocess.Popen([sys.executable, "-c", _DEMO_PROCESS, str(folder), str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert demo.stdout is not None
        pid = int(demo.stdout.readline())
        assert stop_left_behind(folder) is None  # its demo runs: not left behind
        assert _alive(pid) and not port_is_free(port)
        demo.send_signal(signal.SIGKILL)
        demo.wait()
        assert stop_left_behind(folder) == pid  # now it is
        assert _gone(pid)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        if demo.stdout is not None:
            demo.stdout.close()
        _kill(pid)
