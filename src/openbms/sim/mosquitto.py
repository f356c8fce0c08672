"""A throw-away Mosquitto for the demo: loopback only, anonymous, nothing persisted, stopped with it.

``openbms demo`` runs the emulated building's MQTT sensors against a broker of
its own, so the demo needs no broker set up beforehand and leaves none behind::

    find_mosquitto()          OPENBMS_MOSQUITTO, else `mosquitto` on PATH, else /usr/sbin/mosquitto
    DemoBroker(folder, port)  folder/mosquitto.conf, folder/mosquitto.log
      .start()                the process, then wait until the port takes connections
      .stop()                 SIGTERM, then SIGKILL if it has not gone within 10 s

The configuration listens on ``127.0.0.1:PORT`` only, so ``allow_anonymous``
opens it to this machine's own processes and to nothing else.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["BrokerError", "DemoBroker", "find_mosquitto", "free_port", "port_is_free"]

#: Where Debian's package puts the broker (not on a user's PATH: /usr/sbin).
DEBIAN_MOSQUITTO = Path("/usr/sbin/mosquitto")


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
    """True when nothing listens on ``host:port`` (TCP) and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
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


class DemoBroker:
    """Mosquitto on ``127.0.0.1:port``, configured in ``folder`` (``mosquitto.conf``, its log
    ``mosquitto.log``). Use as a context manager, or ``start``/``stop``."""

    def __init__(self, folder: Path, port: int, program: Path | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = int(port)
        self.program = program or find_mosquitto()
        if self.program is None:
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
        self.config = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
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
        """Start the broker and wait until its port takes connections (``BrokerError`` if not)."""
        if not port_is_free(self.port, self.host):  # else we would wait for whoever listens there
            raise BrokerError(f"{self.host}:{self.port} is taken: another program listens there")
        self.write_config()
        # Its log goes through a file this process opened: a broker started as root drops to the
        # mosquitto user, who could not open a file in the demo's folder itself.
        self._log_file = self.log.open("ab")
        self.process = subprocess.Popen([str(self.program), "-c", str(self.config)],
                                        stdin=subprocess.DEVNULL, stdout=self._log_file,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:  # its output is buffered when redirected: wait for the port, not a log line
            if self.process.poll() is not None:
                code = self.process.returncode
                self._close_log()
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
