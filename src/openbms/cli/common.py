"""Helpers shared by CLI commands: where a site's files are, time arguments, the historian."""

from __future__ import annotations

import fnmatch
import math
import os
import re
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from openbms.errors import HistorianError
from openbms.historian import Historian, open_historian
from openbms.model import Sample

__all__ = [
    "DirOption",
    "console",
    "data_dir",
    "err_console",
    "fail",
    "match_hint",
    "open_history",
    "parse_time",
    "site_now",
]

console = Console()
err_console = Console(stderr=True)

DirOption = typer.Option(
    None,
    "--dir",
    "-d",
    help="The site folder (site files and data/). Default: $OPENBMS_DIR or the current folder.",
    show_default=False,
)

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def site_dir(directory: Path | None) -> Path:
    """The site folder: ``--dir``, else $OPENBMS_DIR, else the current folder."""
    return Path(directory or os.environ.get("OPENBMS_DIR") or ".").resolve()


def data_dir(directory: Path | None) -> Path:
    """Where history and state live for a site folder."""
    return site_dir(directory) / "data"


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error in plain words and return the Exit to raise."""
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def parse_time(text: str | None, now: float | None = None) -> float:
    """Epoch seconds from 'now', a duration ago ('90m', '2h', '7d') or ISO 8601 (UTC if no zone)."""
    now = time.time() if now is None else now
    if text is None or text.strip().lower() == "now":
        return now
    m = _RELATIVE.match(text)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a time: use 'now', a duration ago such as 90m, 2h or 7d, "
            "or ISO 8601 such as 2026-11-24T08:00 or 2026-11-24"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


async def open_history(directory: Path | None) -> Historian:
    """The site's historian: owned when no server runs, else read-only beside it."""
    path = data_dir(directory) / "history.db"
    if not path.exists():
        raise fail(f"no history at {path}: run 'openbms run' in the site folder first")
    historian = open_historian(path)
    try:
        await historian.start()
    except HistorianError:
        historian = open_historian(path, readonly=True)
        await historian.start()
    return historian


def site_now(latest: Iterable[Sample]) -> float:
    """The site's time, as the history tells it: the newest stored sample's stamp when it is ahead of
    this machine's clock, else this machine's clock.

    openbms stamps every sample with its runtime's clock, and in the demo (or a co-simulation) that
    clock runs faster than the wall: the building is hours ahead after a few minutes. Ages and
    ``--since 2h`` are measured from this time, so they are never negative and a "last 2 hours"
    holds the building's last two hours. ``latest``: the latest sample of every point.
    """
    newest = max((s.ts for s in latest), default=0.0)
    return max(time.time(), math.nextafter(newest, math.inf))  # after it: an ``--until now`` holds it


def match_hint(pattern: str, ids: Sequence[str]) -> str:
    """What to try when ``pattern`` matched none of ``ids``: the site-prefixed pattern that matches
    (a point id starts with its site: ``ahu-1/*`` is ``demo/ahu-1/*``), else where to find the ids."""
    sites = sorted({i.split("/", 1)[0] for i in ids})
    better = [f"{site}/{pattern}" for site in sites
              if any(fnmatch.fnmatchcase(i, f"{site}/{pattern}") for i in ids)]
    if better:
        return f"point ids start with the site: did you mean {' or '.join(repr(b) for b in better[:3])}?"
    return "see 'openbms points' for the ids" + (f" (such as {ids[0]!r})" if ids else "")
