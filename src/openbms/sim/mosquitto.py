"""A throw-away Mosquitto for the demo: loopback only, anonymous, nothing persisted, stopped with it.

``openbms demo`` runs the emulated building's MQTT sensors against a broker of
its own, so the demo needs no broker set up beforehand and leaves none behind::

    find_mosquitto()          OPENBMS_MOSQUITTO, else `mosquitto` on PATH, else /usr/sbin/mosquitto
    DemoBroker(folder, port)  folder/mosquitto.conf, folder/mosquitto.log
      .start()                the process, then wait until the port takes connections;
                              its pid and openbms's in folder/mosquitto.pid
      .stop()                 SIGTERM, then SIGKILL if it has not gone within 10 s; no pid file
    stop_left_behind(folder)  the broker a demo could not stop (the pid file is still there)

The configuration listens on ``127.0.0.1:PORT`` only, so ``allow_anonymous``
opens it to this machine's own processes and to nothing else.

The broker runs in a session of its own (Ctrl-C reaches openbms, which stops
it after itself). When openbms dies without stopping it (``kill -9``, a closed
terminal's SIGHUP) the broker lives on, holding the port; the pid file lets the
next demo in the same folder stop it, after checking that the openbms that
started it has gone and that the pid is still that folder's broker
(``/proc/PID/cmdline`` names its configuration file).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["BrokerError", "DemoBroker", "find_mosquitto", "free_port", "port_is_free",
           "stop_left_behind"]

#: Where Debian's package puts the broker (not on a user's PATH: /usr/sbin).
DEBIAN_MOSQUITTO = Path("/usr/sbin/mosquitto")
#: The files the broker of a folder is known by.
CONFIG, LOG, PID = "mosquitto.conf", "mosquitto.log", "mosquitto.pid"


class BrokerError(Exception):
    """The broker would not start or listen; the message says why (its log's last lines)."""


def find_mosquitto() -> Path | None:
    """The ``mosquitto`` program: ``$OPENBMS_MOSQUITTO`` if set (a path; nothing there: None), else
    ``mosquitto`` on PATH, else Debian's /usr/sbin/mosquitto; None when there is none."""
    chosen = os.environ.get("OPENBMS_MOSQUITTO")
    if chosen:
        path = Path(chosen)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which("mosquitto")
    if found:
        return Path(found)
    return DEBIAN_MOSQUITTO if DEBIAN_MOSQUITTO.is_file() and os.access(DEBIAN_MOSQUITTO, os.X_OK) else None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port`` (TCP) and it can be bound.

    With SO_REUSEADDR, as a server binds: the connections of a broker that stopped a moment ago
    (TIME_WAIT for a minute) do not make its port look taken to the next one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the system says is free on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status  # a zombie has exited (its parent has not reaped it yet)


def _is_broker_of(pid: int, config: Path) -> bool:
    """Whether process ``pid`` runs ``mosquitto -c config`` (a pid may have been reused)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return (len(argv) >= 3 and Path(os.fsdecode(argv[0])).name.startswith("mosquitto")
            and os.fsencode(str(config)) in argv[1:])


def stop_left_behind(folder: Path, timeout: float = 10.0) -> int | None:
    """Stop the broker that a demo started with ``folder`` and could not stop itself (its pid file
    is still there, and the demo's process has gone): SIGTERM, SIGKILL after ``timeout`` s. Its
    pid, or None when there was none (a pid file naming another process, or none at all, stops
    nothing; the broker of a demo still running is left alone). The pid file is removed."""
    pid_file = folder / PID
    try:
        pid, owner = (int(n) for n in [*pid_file.read_text().split(), "0"][:2])
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            pid_file.unlink()
        return None
    if owner > 0 and owner != os.getpid() and _running(owner):
        return None  # its demo still runs (another openbms in this folder): not left behind
    stopped = None
    if pid > 0 and _running(pid) and _is_broker_of(pid, folder / CONFIG):
        stopped = pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + timeout
            while _running(pid) and time.monotonic() < deadline:  # gone: its port is free
                time.sleep(0.05)
            if not _running(pid):
                break
    with contextlib.suppress(OSError):
        pid_file.unlink()
    return stopped


class DemoBroker:
    """Mosquitto on ``127.0.0.1:port``, configured in ``folder`` (``mosquitto.conf``, its log
    ``mosquitto.log``). Use as a context manager, or ``start``/``stop``."""

    def __init__(self, folder: Path, port: int, program: Path | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = int(port)
        self.program = program or find_mosquitto()
        if self.program is None:
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
        self.config = folder / CONFIG
        self.log = folder / LOG
        self.pid_file = folder / PID
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def write_config(self) -> None:
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            "# Written by `openbms demo` at each start: its emulated MQTT sensors' broker.\n"
            "# Loopback only, so anonymous clients can only be this machine's; nothing persisted.\n"
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "log_dest stderr\n"
            "log_type error\n"
            "log_type warning\n"
            "log_type notice\n")

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until its port takes connections (``BrokerError`` if not);
        first stop the one a demo left running in this folder."""
        stop_left_behind(self.config.parent)
        if not port_is_free(self.port, self.host):  # else we would wait for whoever listens there
            raise BrokerError(f"{self.host}:{self.port} is taken: another program listens there")
        self.write_config()
        # Its log goes through a file this process opened: a broker started as root drops to the
        # mosquitto user, who could not open a file in the demo's folder itself.
        self._log_file = self.log.open("ab")
        self.process = subprocess.Popen([str(self.program), "-c", str(self.config)],
                                        stdin=subprocess.DEVNULL, stdout=self._log_file,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.pid_file.write_text(f"{self.process.pid} {os.getpid()}\n")  # the broker, its demo
        deadline = time.monotonic() + timeout
        while True:  # its output is buffered when redirected: wait for the port, not a log line
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()  # its pid file and log
                raise BrokerError(f"mosquitto exited with {code}: {self.tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    pass
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port} within "
                                      f"{timeout:g} s: {self.tail()}") from None
                time.sleep(0.05)
                continue
            if self.process.poll() is None:  # listening, and it is the broker that listens
                return

    def tail(self, lines: int = 5) -> str:
        """The log's last lines, on one line."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(nothing in its log)"

    def stop(self) -> None:
        """Stop the broker (SIGTERM; SIGKILL after 10 s) and wait for it."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None:
            with contextlib.suppress(OSError):
                self.pid_file.unlink()
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> DemoBroker:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
