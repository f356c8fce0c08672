"""Logging for the command line: readable text or one JSON object a line, on stderr.

Only the CLI configures the root logger; library modules just use
``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

import typer

__all__ = ["JsonFormatter", "setup_logging"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and any extra fields."""

    _STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in self._STANDARD})
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(level: str, fmt: str = "text") -> None:
    """Send openbms's logs to stderr at ``level`` in ``fmt`` (text or json)."""
    if level.lower() not in _LEVELS:
        raise typer.BadParameter(f"log level {level!r}: expected one of {', '.join(_LEVELS)}")
    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"log format {fmt!r}: expected text or json")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level.lower()])
