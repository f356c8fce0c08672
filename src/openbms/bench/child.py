"""A benchmark's child process (an ``openbms run``, a demo, a device fleet), its output read by a thread.

The benchmark reads what the child prints without blocking its event loop: the first
lines are kept (for the address it prints and for a failure's message), error lines are
counted, and the first errors are kept with the lines after them (a traceback), those
printed after the stop was asked for apart.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Sequence

__all__ = ["ERROR_LINE", "Child"]

ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL|Traceback)\b")


class Child:
    """``argv`` started with its stdout and stderr read by a thread.

    ``errors`` keeps up to ``keep_errors`` error lines, each with the ``context`` lines after it;
    ``error_lines`` counts the error lines printed before :meth:`stop`, ``stopping_error_lines``
    those printed after it. ``stop`` sends SIGTERM and kills after ``grace`` seconds.
    """

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None, *,
                 context: int = 20, keep_errors: int = 60, grace: float = 120.0) -> None:
        self.argv = list(argv)
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                                     "COLUMNS": "250", **(env or {})})
        self.lines: list[str] = []
        self.errors: list[str] = []
        self.error_lines = 0
        self.stopping_error_lines = 0
        self.stopping = False
        self._keep, self._after, self._grace = keep_errors, context, grace
        self._context = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if len(self.lines) < 200:
                self.lines.append(line)
            if ERROR_LINE.search(line):
                if self.stopping:
                    self.stopping_error_lines += 1
                else:
                    self.error_lines += 1
                if len(self.errors) < self._keep:
                    self._context = self._after
            if self._context > 0:
                self._context -= 1
                self.errors.append(line.rstrip())

    async def line(self, prefix: str, deadline: float) -> str:
        """The first output line starting with ``prefix``; RuntimeError if the process ends first
        or ``deadline`` (``time.monotonic()``) passes."""
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.startswith(prefix):
                    return line
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{' '.join(self.argv[1:4])}… did not print {prefix!r}:\n"
                           + "".join(self.lines[-30:]))

    def stop(self) -> int:
        """SIGTERM, then a kill after the grace period; the exit code."""
        self.stopping = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self._grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode
