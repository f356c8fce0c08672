"""``openbms check PATH``: validate site files and print every problem."""

from __future__ import annotations

from pathlib import Path

import typer

from openbms.cli.common import console, err_console


def register(app: typer.Typer) -> None:
    """Add ``check``."""

    @app.command()
    def check(
        path: Path = typer.Argument(Path("."), help="A site file, or a folder of them."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the problems, no summary."),
    ) -> None:
        """Validate site files: every problem as file:line:column: message. Exit 1 on problems."""
        from openbms.config import load_sites, site_files
        from openbms.errors import ConfigError

        try:
            sites = load_sites(path)
        except ConfigError as err:
            for issue in err.issues:
                print(issue)
            if not quiet:
                files = len({i.file for i in err.issues})
                noun = "problem" if len(err.issues) == 1 else "problems"
                err_console.print(f"[red]{len(err.issues)} {noun}[/red] in {files} "
                                  f"file{'s' if files != 1 else ''}")
            raise typer.Exit(1) from None
        if not quiet:
            equipment = sum(len(s.equipment) for s in sites)
            points = sum(len(s.points()) for s in sites)
            files = len(site_files(path))
            console.print(f"[green]ok[/green]: {len(sites)} site{'s' if len(sites) != 1 else ''} "
                          f"in {files} file{'s' if files != 1 else ''}, {equipment} equipment, "
                          f"{points} points")
