"""``openbms backup`` and ``openbms restore``: a site's configuration and databases, while it runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeRemainingColumn

from openbms.cli.common import DirOption, console, fail, site_dir

__all__ = ["register"]

DataOption = typer.Option(None, "--data", help="The data folder (default: DIR/data).", show_default=False)


class _Bars:
    """One rich progress bar per file, fed by ``openbms.db.backup``'s progress callback."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        task = self.tasks.get(what)
        if task is None:
            task = self.tasks[what] = self.progress.add_task(what, total=total or None)
        self.progress.update(task, completed=done, total=total or None)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description:<32}"), BarColumn(), TaskProgressColumn(),
                    TimeRemainingColumn(), console=console)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


def register(app: typer.Typer) -> None:
    """Add ``backup`` and ``restore``."""

    @app.command()
    def backup(
        dest: Path = typer.Argument(..., help="A new (or empty) folder to write the backup into."),
        directory: Path = DirOption,
        data: Path | None = DataOption,
    ) -> None:
        """Back up the site's files and databases into DEST; safe while 'openbms run' runs.

        History and state are copied with SQLite's backup API from one consistent
        snapshot (pg_dump for a PostgreSQL state database in $OPENBMS_DATABASE_URL).
        """
        from openbms.db.backup import backup as run_backup
        from openbms.errors import BackupError

        root = site_dir(directory)
        folder = (data or root / "data").resolve()
        with _progress() as progress:
            try:
                report = run_backup(root, folder, dest, now=time.time(),
                                    state_url=os.environ.get("OPENBMS_DATABASE_URL"),
                                    progress=_Bars(progress))
            except BackupError as err:
                raise fail(str(err)) from err
            except OSError as err:
                raise fail(f"cannot write the backup into {dest}: {err}") from err
        console.print(f"[green]backed up[/green] {len(report.files)} files ({_size(report.bytes)}) of "
                      f"[bold]{root}[/bold] into [bold]{report.folder}[/bold]")

    @app.command()
    def restore(
        src: Path = typer.Argument(..., help="A folder written by 'openbms backup'."),
        directory: Path = DirOption,
        data: Path | None = DataOption,
        overwrite: bool = typer.Option(False, "--overwrite",
                                       help="Replace the files the backup holds when they exist."),
    ) -> None:
        """Restore a backup into the site folder (an empty or new one unless --overwrite).

        Refuses while openbms runs on that data folder; checks every file against the
        backup's checksums before, and PRAGMA integrity_check on every database after.
        """
        from openbms.db.backup import restore as run_restore
        from openbms.errors import BackupError

        root = site_dir(directory)
        folder = (data or root / "data").resolve()
        state_url = os.environ.get("OPENBMS_DATABASE_URL")
        with _progress() as progress:
            try:
                report = run_restore(src, root, folder, state_url=state_url, overwrite=overwrite,
                                     progress=_Bars(progress))
            except BackupError as err:
                raise fail(str(err)) from err
            except OSError as err:
                raise fail(f"cannot restore into {root}: {err}") from err
        console.print(f"[green]restored[/green] {len(report.files)} files ({_size(report.bytes)}) into "
                      f"[bold]{root}[/bold]; integrity check: ok")
        if report.state == "sqlite" and state_url and not state_url.startswith("sqlite"):
            console.print(f"[yellow]note[/yellow]: the backup's state database is SQLite; it was restored "
                          f"to {folder / 'state.db'}, not into $OPENBMS_DATABASE_URL")
