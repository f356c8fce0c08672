"""``openbms check PATH``: validate site files and print every problem."""

from __future__ import annotations

from pathlib import Path

import typer

from openbms.cli.common import console

__all__ = ["register"]


def _plural(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def register(app: typer.Typer) -> None:
    """Add ``check``."""

    @app.command()
    def check(
        path: Path = typer.Argument(Path("."), help="A site file, or a folder of them."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the problems, no summary."),
    ) -> None:
        """Validate site files: every problem as file:line:column: message. Exit 1 on problems."""
        from openbms.config import load_sites
        from openbms.errors import ConfigError

        try:
            sites = load_sites(path)
        except ConfigError as err:
            # Plain print, one line each: editors and CI jump to file:line:column, and rich
            # would wrap long lines and read [brackets] in messages as markup.
            for issue in err.issues:
                typer.echo(str(issue))
            if not quiet:
                files = len({i.file for i in err.issues})
                console.print(f"[red]{_plural(len(err.issues), 'problem')} in "
                              f"{_plural(files, 'file')}[/red]", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        if not quiet:
            equipment = sum(len(s.equipment) for s in sites)
            points = sum(len(s.points()) for s in sites)
            console.print(f"[green]ok: {_plural(len(sites), 'site')}, {equipment} equipment, "
                          f"{_plural(points, 'point')}[/green]", highlight=False, soft_wrap=True)
