"""``openbms points``, ``history`` and ``export``: read what the historian keeps;
``history-compact``: compact a PostgreSQL history's older weeks now."""

from __future__ import annotations

import asyncio
import fnmatch
import sys
import time
from pathlib import Path
from typing import Literal

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from openbms.cli.common import (
    DirOption,
    console,
    fail,
    match_hint,
    open_history,
    parse_time,
    site_dir,
    site_now,
)
from openbms.errors import ConfigError, HistorianError
from openbms.historian.export import FORMATS, export_history, iso
from openbms.model import Sample
from openbms.model.fields import state_number
from openbms.model.site import Point

__all__ = ["register"]

_STATUS_STYLE = {"ok": "green", "stale": "yellow", "fault": "red", "offline": "red",
                 "overridden": "magenta"}


def _age(seconds: float) -> str:
    """How long ago, measured on the site's clock (``site_now``); never negative."""
    seconds = max(0.0, seconds)
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
    if kind == "enum" and states and (number := state_number(states, value)) is not None:
        return states[number - 1]  # state 1 is the first label, as BACnet counts
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _points_table(configured: list[tuple[str, Point]], last: dict[str, Sample], now: float,
                  width: int) -> Table:
    """The points table; under 100 columns, the kind is left out and writable is ``w``.

    A point id is never cut: the other columns give way first (at 80 columns
    ``demo/ahu-1/fan-cmd`` and ``demo/ahu-1/fan-status`` stay two ids).
    """
    wide = width >= 100
    table = Table(title=f"{len(configured)} points", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, caption=None if wide else "w: writable", caption_justify="left")
    table.add_column("point", no_wrap=True, overflow="fold", min_width=min(
        40, max(len(pid) for pid, _ in configured)))
    table.add_column("value", justify="right", overflow="fold")
    table.add_column("unit", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("age", justify="right", no_wrap=True)
    if wide:
        table.add_column("kind")
    table.add_column("writable" if wide else "w")
    for pid, p in configured:
        s = last.get(pid)
        status = s.status if s else "no data"
        row = [
            pid,
            _fmt(s.value, p.kind, p.states) if s else "—",
            p.unit or "",
            f"[{_STATUS_STYLE.get(status, 'dim')}]{status}[/]",
            _age(now - s.ts) if s else "—",
        ]
        if wide:
            row.append(p.kind)
        row.append(("yes" if wide else "w") if p.writable else "")
        table.add_row(*row)
    return table


def register(app: typer.Typer) -> None:
    """Add ``points``, ``history``, ``history-compact`` and ``export``."""

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
        every = [(pid, p) for cfg in sites for pid, _, p in cfg.points()]
        configured = [(pid, p) for pid, p in every if fnmatch.fnmatchcase(pid, pattern)]
        if not configured:
            raise fail(f"no point matches {pattern!r}: {match_hint(pattern, [pid for pid, _ in every])}")
        last: dict[str, Sample] = {}
        now = time.time()
        if (root / "data" / "history.db").exists():
            async def latest() -> tuple[dict[str, Sample], float]:
                h = await open_history(directory)
                try:
                    everything = await h.last_values()
                    return everything, site_now(everything.values())
                finally:
                    await h.stop()
            every_last, now = asyncio.run(latest())
            last = {pid: every_last[pid] for pid, _ in configured if pid in every_last}
        console.print(_points_table(configured, last, now, console.width))

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
        parse_time(since), parse_time(until)  # a bad time is refused before the history opens

        async def query() -> None:
            h = await open_history(directory)
            try:
                known = h.points()
                if point not in known:
                    raise fail(f"no history for point {point!r}: {match_hint(point, known)}")
                now = site_now((await h.last_values()).values())
                start, end = parse_time(since, now), parse_time(until, now)
                if end <= start:
                    raise fail(f"--until ({iso(end)}) must be after --since ({iso(start)})")
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

    @app.command("history-compact")
    def history_compact(
        history_url: str = typer.Option(
            ..., "--history-url", envvar="OPENBMS_HISTORY_URL",
            help="The PostgreSQL history, postgresql://USER@HOST[:PORT]/DB ($OPENBMS_HISTORY_URL)."),
        older_than: float = typer.Option(
            7.0, "--older-than", min=0.0,
            help="Compact the weeks that ended at least this many days ago (0: every past week)."),
    ) -> None:
        """Compact a PostgreSQL history's older weeks now (it also runs hourly), with a progress bar."""
        from openbms.historian import open_historian
        from openbms.historian.postgres import PostgresHistorian
        from openbms.runtime.clock import WallClock

        if not history_url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise fail(f"--history-url: compaction is PostgreSQL's: expected postgresql://USER@HOST/DB, "
                       f"not {history_url.split(':', 1)[0]}:")
        clock = WallClock()

        async def run_compact() -> tuple[int, int]:
            h = open_historian(history_url, clock=clock)
            if not isinstance(h, PostgresHistorian):  # pragma: no cover - the scheme says it is
                raise fail("compaction is PostgreSQL's")
            await h.start()
            try:
                with Progress(
                    TextColumn("[bold]compacting"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("weeks"), TimeRemainingColumn(), console=console, transient=False,
                ) as progress:
                    task = progress.add_task("compact", total=None)
                    weeks = [0]

                    def step(done: int, total: int) -> None:  # on the historian's thread
                        weeks[0] = total
                        progress.update(task, completed=done, total=total)

                    packed = await h.compact(clock.now() - older_than * 86400.0, progress=step)
                    return packed, weeks[0]
            finally:
                await h.stop()

        try:
            packed, weeks = asyncio.run(run_compact())
        except HistorianError as err:
            raise fail(str(err)) from None
        console.print(f"[green]compacted {packed} samples[/green] ({weeks} weeks looked at)")

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
        parse_time(since), parse_time(until)  # a bad time is refused before the history opens
        kind: Literal["csv", "jsonl", "parquet"] = chosen

        async def run_export() -> int:
            h = await open_history(directory)
            try:
                known = h.points()
                chosen_points = [p for p in known if fnmatch.fnmatchcase(p, pattern)]
                if not chosen_points:
                    raise fail(f"no point with history matches {pattern!r}: {match_hint(pattern, known)}")
                now = site_now((await h.last_values()).values())
                start, end = parse_time(since, now), parse_time(until, now)
                if end <= start:
                    raise fail(f"--until ({iso(end)}) must be after --since ({iso(start)})")
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
