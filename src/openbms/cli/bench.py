"""``openbms bench NAME|all``: one ``name value unit`` line per figure on stdout, nothing else."""

from __future__ import annotations

import typer

from openbms.bench import BENCHMARKS, LONG, load
from openbms.cli.common import fail


def register(app: typer.Typer) -> None:
    """Add ``bench``."""

    @app.command()
    def bench(
        name: str = typer.Argument(..., help=f"One of: {', '.join(BENCHMARKS)}, or 'all'."),
        quick: bool = typer.Option(False, "--quick", help="Smaller and faster, less precise."),
        hours: float | None = typer.Option(
            None, "--hours", min=0.001, max=168.0,
            help="soak only: how long to run (default 1 h; 3 min with --quick)."),
        devices: int | None = typer.Option(
            None, "--devices", min=1, max=10_000,
            help="bacnet only: poll this many routed devices with a whole openbms (the scale "
                 "scenario; at most 40 with --quick)."),
        points: int | None = typer.Option(
            None, "--points", min=1, max=1_000,
            help="bacnet --devices only: analog inputs per device (default 100; at most 20 with --quick)."),
    ) -> None:
        """Measure this machine: prints 'name value unit' lines, for scripts to read.

        'all' runs every benchmark but the soak, which runs on its own for hours.
        """
        names = [n for n in BENCHMARKS if n not in LONG] if name == "all" else [name]
        if hours is not None and names != ["soak"]:
            raise fail("--hours is for the soak benchmark only: openbms bench soak --hours H")
        if (devices is not None or points is not None) and names != ["bacnet"]:
            raise fail("--devices and --points are for the bacnet benchmark only: "
                       "openbms bench bacnet --devices 1000 --points 100")
        if points is not None and devices is None:
            raise fail("--points needs --devices: openbms bench bacnet --devices 1000 --points 100")
        for n in names:
            if n not in BENCHMARKS:
                raise fail(f"unknown benchmark {n!r}: expected one of {', '.join(BENCHMARKS)} or all")
            extra: dict[str, float | int] = {"hours": hours} if hours is not None else {}
            if devices is not None:
                extra.update(devices=devices, points=points or 100)
            for figure, value, unit in load(n)(quick, **extra):
                print(f"{figure} {value:g} {unit}", flush=True)
