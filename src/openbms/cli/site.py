"""``openbms init DIR``: a new site folder from the example office."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import typer

from openbms.cli.common import fail

__all__ = ["register"]

#: The example ``init`` copies, in the package data.
EXAMPLE = ("openbms.examples", "office")
#: Package plumbing that is not part of a site folder.
_SKIP = {"__init__.py", "__pycache__"}


def _copy(source: Traversable, target: Path, created: list[Path]) -> None:
    """Copy a package-data folder; Traversable, so it works from a wheel or a zip too."""
    target.mkdir(parents=True, exist_ok=True)
    for item in sorted(source.iterdir(), key=lambda t: t.name):
        if item.name in _SKIP or item.name.endswith(".pyc"):
            continue
        if item.is_dir():
            _copy(item, target / item.name, created)
        else:
            (target / item.name).write_bytes(item.read_bytes())
            created.append(target / item.name)


def register(app: typer.Typer) -> None:
    """Add ``init``."""

    @app.command()
    def init(
        directory: Path = typer.Argument(..., help="The folder to create."),
        force: bool = typer.Option(False, "--force", help="Write into a folder that is not empty."),
    ) -> None:
        """Create a site folder from the example office, ready to edit, check and run."""
        if directory.exists() and not directory.is_dir():
            raise fail(f"{directory} is a file: expected a folder to create")
        if directory.is_dir() and any(directory.iterdir()) and not force:
            raise fail(f"{directory} exists and is not empty: choose another folder, or use "
                       "--force to write the example files into it (files of the same name are "
                       "replaced)")
        package, folder = EXAMPLE
        created: list[Path] = []
        _copy(resources.files(package) / folder, directory, created)
        for path in created:
            typer.echo(f"created {path}")
        # Plain echo: rich would wrap long paths mid-name, and a path must stay copyable.
        typer.echo(
            "\nNext:\n"
            f"  openbms check {directory}        validate the site after editing it\n"
            f"  openbms run -d {directory}       run it (simulated equipment until you change "
            "the bindings)\n"
            f"  openbms points -d {directory}    see the points and their latest values"
        )
