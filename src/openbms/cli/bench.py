"""``openbms bench NAME|all``: one ``name value unit`` line per figure on stdout, nothing else."""

from __future__ import annotations

import typer

from openbms.bench import BENCHMARKS, load
from openbms.cli.common import fail


def register(app: typer.Typer) -> None:
    """Add ``bench``."""

    @app.command()
    def bench(
        name: str = typer.Argument(..., help=f"One of: {', '.join(BENCHMARKS)}, or 'all'."),
        quick: bool = typer.Option(False, "--quick", help="Smaller and faster, less precise."),
    ) -> None:
        """Measure this machine: prints 'name value unit' lines, for scripts to read."""
        names = list(BENCHMARKS) if name == "all" else [name]
        for n in names:
            if n not in BENCHMARKS:
                raise fail(f"unknown benchmark {n!r}: expected one of {', '.join(BENCHMARKS)} or all")
            for figure, value, unit in load(n)(quick):
                print(f"{figure} {value:g} {unit}", flush=True)
