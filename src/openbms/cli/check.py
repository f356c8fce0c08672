"""``openbms check PATH``: validate site files and print every problem, then every warning.

A problem (exit 1) stops a site from loading. A warning is allowed but unsafe
(a writable number point without write limits); it is printed as
``file:line:column: warning: message`` and changes the exit status only with
``--strict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer

from openbms.cli.common import console
from openbms.model.site import SiteConfig

__all__ = ["register"]


def _plural(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def _warnings(path: Path, sites: Sequence[SiteConfig]) -> list[str]:
    """Every warning of the loaded ``sites`` of ``path``, as ``file:line:column: warning: …``."""
    from openbms.config import site_files
    from openbms.config._yaml import parse
    from openbms.config.checks import graphics_warnings, shared_driver_warnings
    from openbms.model.validate import site_warnings

    lines: list[str] = []
    shared = shared_driver_warnings(sites)
    # load_sites returns one site per file, in site_files' order, when nothing is wrong.
    for index, (file, cfg) in enumerate(zip(site_files(path), sites, strict=False)):
        lines += [f"{i.file}:{i.line}:{i.column}: warning: {i.message}" for i in graphics_warnings(cfg)]
        found = site_warnings(cfg) + [problem for at, problem in shared if at == index]
        if not found:
            continue
        doc = parse(file.read_text(encoding="utf-8-sig"))
        for loc, message in found:
            line, column = doc.position(loc)
            lines.append(f"{file}:{line}:{column}: warning: {message}")
    return lines


def register(app: typer.Typer) -> None:
    """Add ``check``."""

    @app.command()
    def check(
        path: Path = typer.Argument(Path("."), help="A site file, or a folder of them."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the problems, no summary."),
        strict: bool = typer.Option(False, "--strict", help="Exit 1 on warnings too."),
    ) -> None:
        """Validate site files: every problem as file:line:column: message. Exit 1 on problems.

        Warnings (allowed but unsafe, such as a writable number point without write
        limits) follow as file:line:column: warning: message; they fail only with --strict.
        """
        import openbms.drivers.registry  # noqa: F401 - registers the drivers' binding checks
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
        warnings = _warnings(path, sites)
        for line in warnings:
            typer.echo(line)
        if not quiet:
            equipment = sum(len(s.equipment) for s in sites)
            points = sum(len(s.points()) for s in sites)
            noted = f", {_plural(len(warnings), 'warning')}" if warnings else ""
            colour = "yellow" if warnings else "green"
            console.print(f"[{colour}]ok: {_plural(len(sites), 'site')}, {equipment} equipment, "
                          f"{_plural(points, 'point')}{noted}[/{colour}]", highlight=False,
                          soft_wrap=True)
        if strict and warnings:
            raise typer.Exit(1)
