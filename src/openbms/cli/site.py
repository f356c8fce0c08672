"""``openbms init DIR``: a new site folder from the example office."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import typer

from openbms.cli.common import console, fail


def register(app: typer.Typer) -> None:
    """Add ``init``."""

    @app.command()
    def init(
        directory: Path = typer.Argument(..., help="The folder to create."),
        force: bool = typer.Option(False, "--force", help="Write into a folder that is not empty."),
    ) -> None:
        """Create a site folder from the example office, ready to edit and run."""
        if directory.exists() and any(directory.iterdir()) and not force:
            raise fail(f"{directory} exists and is not empty: choose another folder or use --force")
        directory.mkdir(parents=True, exist_ok=True)
        src = resources.files("openbms.examples") / "office"
        with resources.as_file(src) as folder:
            for item in sorted(Path(folder).iterdir()):
                if item.suffix in (".yaml", ".yml", ".md"):
                    shutil.copy2(item, directory / item.name)
                    console.print(f"created {directory / item.name}")
        console.print(
            "\nNext:\n"
            f"  openbms check {directory}        validate the site file after editing it\n"
            f"  openbms run -d {directory}       run it (simulated equipment until you change the "
            "bindings)\n"
            f"  openbms points -d {directory}    see the points and their latest values"
        )
