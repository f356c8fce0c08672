"""``openbms sim run`` (batch, printing KPIs as ``name value unit`` lines) and ``openbms sim serve`` (live,
over BACnet/IP)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import typer

from openbms.cli.common import err_console, fail

__all__ = ["register"]

sim_app = typer.Typer(help="The building emulator.", no_args_is_help=True)


@sim_app.command("run")
def run(
    days: float = typer.Option(14.0, "--days", min=0.01, help="Days to simulate (after a one-day warm-up)."),
    start: str = typer.Option("2025-04-07", "--start", help="First counted day, local standard time."),
    baseline: bool = typer.Option(False, "--baseline", help="Run the conventional baseline sequence."),
    sequence: str | None = typer.Option(
        None, "--sequence", help="A built-in sequence: 'baseline' or 'improved'."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic weather and the occupants."),
    weather: Path | None = typer.Option(None, "--weather", help="An EPW weather file (default: synthetic)."),
    climate: str = typer.Option("temperate", "--climate", help="Synthetic weather's climate."),
    step: float = typer.Option(60.0, "--step", min=1.0, max=900.0,
                               help="Seconds between control decisions (physics steps at most 60 s)."),
) -> None:
    """Simulate the emulated office and print its KPIs: 'name value unit' lines, for scripts to read."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from openbms.sim.building import CLIMATES, SEQUENCES, Building, EpwWeather, SyntheticWeather

    if baseline and sequence not in (None, "baseline"):
        raise fail("--baseline and --sequence choose the same thing: give one of them")
    name = "baseline" if baseline else sequence
    if name is None:
        raise fail("running openbms's own control programs against the emulator is not wired yet: "
                   "use --baseline, or --sequence improved for the built-in improved sequence", code=2)
    if name not in SEQUENCES:
        raise fail(f"unknown sequence {name!r}: expected one of {', '.join(SEQUENCES)}", code=2)
    try:
        first = datetime.fromisoformat(start)
    except ValueError:
        raise fail(f"--start {start!r} is not a date such as 2025-04-07") from None
    if first.tzinfo is not None:
        raise fail("--start is local standard time: give it without a time zone")
    source: EpwWeather | SyntheticWeather
    if weather is not None:
        try:
            source = EpwWeather(weather)
        except (OSError, ValueError) as err:
            raise fail(f"cannot read weather file {weather}: {err}") from None
    elif climate in CLIMATES:
        source = SyntheticWeather(seed, climate)
    else:
        raise fail(f"unknown climate {climate!r}: expected one of {', '.join(CLIMATES)}", code=2)

    building = Building(weather=source, start=first - timedelta(days=1), seed=seed)
    with Progress(TextColumn(f"[bold]{name}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task(name, total=1.0)
        kpis = building.run(days * 86400.0, SEQUENCES[name](), dt=step, warmup=86400.0,
                            progress=lambda f: bar.update(task, completed=f))
    for figure, value, unit in kpis.lines():
        print(f"{figure} {value:.6g} {unit}", flush=True)


@sim_app.command("serve")
def serve(
    speed: float = typer.Option(60.0, "--speed", min=0.001,
                                help="Simulated seconds per real second (60: a minute a second)."),
    subnet: str = typer.Option("127.0.20", "--subnet", help="Devices at SUBNET.1, .2, … (loopback)."),
    port: int = typer.Option(47808, "--port", min=1, max=65535, help="The devices' UDP port."),
    start: str | None = typer.Option(
        None, "--start", help="Local standard time to start at, e.g. 2025-04-07T06:00 (default now)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic weather and the occupants."),
    sequence: str = typer.Option("none", "--sequence",
                                 help="none (control comes over BACnet), baseline or improved."),
    climate: str = typer.Option("london", "--climate", help="Synthetic weather's climate."),
) -> None:
    """Serve the emulated office over BACnet/IP in live mode until Ctrl-C."""
    import asyncio
    import sys

    from openbms.sim.building.live import demo_emulator, parse_start
    from openbms.sim.building.live import serve as serve_live

    try:
        first = parse_start(start)
    except ValueError:
        raise fail(f"--start {start!r} is not a date such as 2025-04-07 or 2025-04-07T06:00") from None
    try:
        emulator = demo_emulator(speed, subnet, port, first, seed,
                                 None if sequence == "none" else sequence, climate)
    except ValueError as err:
        raise fail(str(err), code=2) from None
    err_console.print(f"serving the emulated office over BACnet/IP at ×{speed:g} "
                      f"({len(emulator.face.devices) if emulator.face else 0} devices); Ctrl-C stops")
    try:
        asyncio.run(serve_live(emulator, sys.stdout))
    except OSError as err:
        raise fail(f"cannot bind the devices on {subnet}.x:{port}: {err}") from None


def register(app: typer.Typer) -> None:
    """Add ``sim``."""
    app.add_typer(sim_app, name="sim")
