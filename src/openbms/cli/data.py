"""``openbms points``, ``history`` and ``export``: read what the historian keeps."""

from __future__ import annotations

import asyncio
import fnmatch
import sys
import time
from pathlib import Path
from typing import Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from openbms.cli.common import DirOption, console, fail, open_history, parse_time, site_dir
from openbms.errors import ConfigError
from openbms.historian.export import FORMATS, export_history, iso

__all__ = ["register"]

_STATUS_STYLE = {"ok": "green", "stale": "yellow", "fault": "red", "offline": "red",
                 "overridden": "magenta"}


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def _fmt(value: object, kind: str = "number", states: tuple[str, ...] | None = None) -> str:
    if value is None:
        return "—"
    if kind == "bool":
        return "on" if value else "off"
    if kind == "enum" and states and isinstance(value, int | float) and 0 <= int(value) < len(states):
        return states[int(value)]
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def register(app: typer.Typer) -> None:
    """Add ``points``, ``history`` and ``export``."""

    @app.command()
    def points(
        pattern: str = typer.Argument("*", help="Point ids to show, a glob such as 'hq/ahu-1/*'."),
        directory: Path = DirOption,
    ) -> None:
        """Table of the site's points with their latest values."""
        from openbms.config import load_sites

        root = site_dir(directory)
        try:
            sites = load_sites(root)
        except ConfigError as err:
            raise fail(f"the site configuration has problems (see 'openbms check'):\n{err}") from err
        configured = [(pid, p) for cfg in sites for pid, _, p in cfg.points()
                      if fnmatch.fnmatchcase(pid, pattern)]
        last = {}
        if (root / "data" / "history.db").exists():
            async def latest() -> dict:
                h = await open_history(directory)
                try:
                    return await h.last_values([pid for pid, _ in configured])
                finally:
                    await h.stop()
            last = asyncio.run(latest())
        table = Table(title=f"{len(configured)} points", title_justify="left")
        for col in ("point", "value", "unit", "status", "updated", "kind", "writable"):
            table.add_column(col, justify="right" if col in ("value", "updated") else "left")
        now = time.time()
        for pid, p in configured:
            s = last.get(pid)
            status = s.status if s else "no data"
            table.add_row(
                pid,
                _fmt(s.value, p.kind, p.states) if s else "—",
                p.unit or "",
                f"[{_STATUS_STYLE.get(status, 'dim')}]{status}[/]",
                _age(now - s.ts) + " ago" if s else "—",
                p.kind,
                "yes" if p.writable else "",
            )
        console.print(table)

    @app.command()
    def history(
        point: str = typer.Argument(..., help="The point id, e.g. hq/ahu-1/sat."),
        since: str = typer.Option("24h", "--since", help="Start: 'now', 90m, 2h, 7d or ISO 8601."),
        until: str = typer.Option("now", "--until", help="End (exclusive), same forms."),
        rollup: str | None = typer.Option(None, "--rollup", help="hour or day."),
        output: str = typer.Option("table", "--format", help="table, csv or jsonl (on stdout)."),
        directory: Path = DirOption,
    ) -> None:
        """A point's samples, or hourly/daily rollups, over a time range."""
        if rollup not in (None, "hour", "day"):
            raise fail(f"--rollup {rollup!r}: expected hour or day")
        if output not in ("table", "csv", "jsonl"):
            raise fail(f"--format {output!r}: expected table, csv or jsonl")
        start, end = parse_time(since), parse_time(until)
        if end <= start:
            raise fail(f"--until ({iso(end)}) must be after --since ({iso(start)})")

        async def query() -> None:
            h = await open_history(directory)
            try:
                if point not in h.points():
                    raise fail(f"no history for point {point!r}: see 'openbms points' for ids")
                if output != "table":
                    await export_history(h, [point], start, end, sys.stdout, output,  # type: ignore[arg-type]
                                         rollup=rollup)  # type: ignore[arg-type]
                    return
                if rollup:
                    rows = (await h.rollups(point, rollup, start, end)).rows()  # type: ignore[arg-type]
                    table = Table(title=f"{point}: {len(rows)} {rollup}s", title_justify="left")
                    for col in ("start", "count", "min", "max", "mean", "tw mean", "last"):
                        table.add_column(col, justify="left" if col == "start" else "right")
                    for r in rows:
                        table.add_row(iso(r.start), str(r.count), _fmt(r.min), _fmt(r.max),
                                      _fmt(r.mean), _fmt(r.tw_mean), _fmt(r.last))
                else:
                    samples = await h.raw(point, start, end)
                    table = Table(title=f"{point}: {len(samples)} samples", title_justify="left")
                    for col in ("time", "value", "status"):
                        table.add_column(col, justify="right" if col == "value" else "left")
                    for s in samples:
                        table.add_row(iso(s.ts), _fmt(s.value), s.status)
                console.print(table)
            finally:
                await h.stop()

        asyncio.run(query())

    @app.command()
    def export(
        output: Path = typer.Argument(..., help="The file to write."),
        pattern: str = typer.Option("*", "--points", help="Point ids, a glob such as 'hq/*'."),
        since: str = typer.Option("7d", "--since", help="Start: 'now', 90m, 2h, 7d or ISO 8601."),
        until: str = typer.Option("now", "--until", help="End (exclusive), same forms."),
        fmt: str | None = typer.Option(
            None, "--format", help="csv, jsonl or parquet; default from the file's extension."
        ),
        rollup: str | None = typer.Option(None, "--rollup", help="hour or day instead of raw."),
        directory: Path = DirOption,
    ) -> None:
        """Export history to CSV, JSON lines or Parquet, with a progress bar."""
        chosen = fmt or {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl",
                         ".parquet": "parquet"}.get(output.suffix.lower())
        if chosen not in FORMATS:
            raise fail(f"cannot tell the format of {output.name!r}: use --format csv, jsonl or parquet")
        if rollup not in (None, "hour", "day"):
            raise fail(f"--rollup {rollup!r}: expected hour or day")
        start, end = parse_time(since), parse_time(until)
        if end <= start:
            raise fail(f"--until ({iso(end)}) must be after --since ({iso(start)})")
        kind: Literal["csv", "jsonl", "parquet"] = chosen

        async def run_export() -> int:
            h = await open_history(directory)
            try:
                chosen_points = [p for p in h.points() if fnmatch.fnmatchcase(p, pattern)]
                if not chosen_points:
                    raise fail(f"no point with history matches {pattern!r}")
                total = len(chosen_points) if rollup else await h.count(chosen_points, start, end)
                with Progress(
                    TextColumn("[bold]exporting"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("rows" if not rollup else "points"), TimeRemainingColumn(),
                    console=console, transient=False,
                ) as progress:
                    task = progress.add_task("export", total=total)
                    step = (lambda n: progress.advance(task, 1)) if rollup else (
                        lambda n: progress.advance(task, n))
                    return await export_history(h, chosen_points, start, end, output, kind,
                                                rollup=rollup, progress=step)  # type: ignore[arg-type]
            finally:
                await h.stop()

        n = asyncio.run(run_export())
        console.print(f"[green]wrote {n} rows[/green] to {output}")
