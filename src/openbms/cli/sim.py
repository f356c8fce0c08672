"""``openbms sim run`` (batch, printing KPIs as ``name value unit`` lines), ``openbms sim serve`` (live,
over BACnet/IP) and ``openbms sim fault`` (the running demo's faults: ``openbms.cli.sim_faults``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from openbms.cli.common import err_console, fail

if TYPE_CHECKING:
    from openbms.sim.building import Building, Kpis

__all__ = ["register"]

sim_app = typer.Typer(help="The building emulator.", no_args_is_help=True)


@sim_app.command("run")
def run(
    days: float = typer.Option(14.0, "--days", min=0.01, help="Days to simulate (after a one-day warm-up)."),
    start: str = typer.Option("2025-04-07", "--start", help="First counted day, local standard time."),
    baseline: bool = typer.Option(False, "--baseline", help="Run the conventional baseline sequence."),
    programs: Path | None = typer.Option(
        None, "--programs", help="Co-simulate this site (a folder with a site.yaml) or these program "
                                 "JSON files (with the demo site) instead of the example programs."),
    sequence: str | None = typer.Option(
        None, "--sequence", help="A built-in sequence: 'baseline' or 'improved'."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic weather and the occupants."),
    weather: Path | None = typer.Option(None, "--weather", help="An EPW weather file (default: synthetic)."),
    climate: str = typer.Option("temperate", "--climate", help="Synthetic weather's climate."),
    step: float = typer.Option(60.0, "--step", min=1.0, max=900.0,
                               help="Seconds between control decisions (physics steps at most 60 s)."),
) -> None:
    """Simulate the emulated office and print its KPIs: 'name value unit' lines, for scripts to read.

    Without --baseline, --sequence or --programs, openbms's example control programs and schedules
    (the demo site's) control the building, co-simulated in this process.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from openbms.sim.building import CLIMATES, SEQUENCES, Building, EpwWeather, SyntheticWeather

    if baseline and sequence not in (None, "baseline"):
        raise fail("--baseline and --sequence choose the same thing: give one of them")
    name = "baseline" if baseline else sequence
    if name is not None and programs is not None:
        raise fail("--programs runs openbms's control programs instead of a built-in sequence: "
                   "give --programs or --baseline/--sequence, not both", code=2)
    if name is not None and name not in SEQUENCES:
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
    label = name or "programs"
    with Progress(TextColumn(f"[bold]{label}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=1.0)
        if name is not None:
            kpis = building.run(days * 86400.0, SEQUENCES[name](), dt=step, warmup=86400.0,
                                progress=lambda f: bar.update(task, completed=f))
        else:
            kpis = _cosimulate(building, programs, days, step, lambda f: bar.update(task, completed=f))
    for figure, value, unit in kpis.lines():
        print(f"{figure} {value:.6g} {unit}", flush=True)


@sim_app.command("meters")
def meters(
    days: int = typer.Option(..., "--days", min=1, help="Whole days to simulate (after a one-day warm-up)."),
    out: Path = typer.Option(..., "--out", help="CSV written: timestamp,value,temperature, one row an hour."),
    start: str = typer.Option("2025-01-01", "--start", help="First day, local standard time."),
    sequence: str = typer.Option("baseline", "--sequence",
                                 help="A built-in sequence: 'baseline' or 'improved'."),
    meter: str = typer.Option("electricity", "--meter", help="'electricity' or 'gas' (kWh)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic weather and the occupants."),
    climate: str = typer.Option("temperate", "--climate", help="Synthetic weather's climate."),
    step: float = typer.Option(300.0, "--step", min=1.0, max=3600.0,
                               help="Seconds between the sequence's decisions, a divisor of 3600 "
                                    "(physics steps at most 60 s)."),
) -> None:
    """Write the emulated office's hourly meter for energy analytics ('openbms analytics baseline --train').

    value is the meter's kWh in the hour, temperature the hour's mean outdoor degC; timestamps carry
    the climate's standard-time offset. The same --start, --days, --seed and --climate with
    --sequence baseline is the true counterfactual of an --sequence improved run: identical weather
    and occupants.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from openbms.sim.building import CLIMATES, SEQUENCES
    from openbms.sim.building.meters import METERS, Meter, simulate_hours

    if sequence not in SEQUENCES:
        raise fail(f"unknown --sequence {sequence!r}: expected one of {', '.join(SEQUENCES)}", code=2)
    if meter not in METERS:
        raise fail(f"unknown --meter {meter!r}: expected one of {', '.join(METERS)}", code=2)
    kind: Meter = "gas" if meter == "gas" else "electricity"
    if climate not in CLIMATES:
        raise fail(f"unknown --climate {climate!r}: expected one of {', '.join(CLIMATES)}", code=2)
    if 3600.0 / step != round(3600.0 / step):
        raise fail(f"--step {step:g}: expected a divisor of 3600 s such as 60, 300 or 900", code=2)
    try:
        first = datetime.fromisoformat(start)
    except ValueError:
        raise fail(f"--start {start!r} is not a date such as 2025-01-01") from None
    if first.tzinfo is not None or first != datetime(first.year, first.month, first.day):
        raise fail(f"--start {start!r}: give a date (local standard time) without a time or zone")
    with Progress(TextColumn(f"[bold]{sequence} {meter}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task(sequence, total=1.0)
        hours = simulate_hours(days, first.date(), seed=seed, climate=climate, sequence=sequence, step=step,
                               progress=lambda f: bar.update(task, completed=f))
    try:
        with out.open("w", newline="", encoding="utf-8") as handle:
            hours.write_csv(handle, kind)
    except OSError as err:
        raise fail(f"{out}: cannot write it ({err.strerror or err})") from None
    offset = hours.utc_offset
    zone = "UTC" if offset == 0 else f"Etc/GMT{-int(offset):+d}" if offset == int(offset) else None
    hint = f"; fit it with --tz {zone} (the building's standard time)" if zone else ""
    err_console.print(f"{out}: {len(hours.ts)} hours, {float(hours.energy(kind).sum()):.1f} kWh of "
                      f"{meter}{hint}", markup=False, highlight=False)


def _cosimulate(building: Building, programs: Path | None, days: float, step: float,
                progress: Callable[[float], None]) -> Kpis:
    """openbms's schedules and programs (the demo site's, or those at ``programs``) running ``building``."""
    from openbms.control.programs import ProgramError
    from openbms.errors import ConfigError
    from openbms.sim.building.cosim import cosimulate, load_control

    try:
        site, loaded = load_control(programs)
    except ConfigError as err:
        raise fail(f"the site does not load: {err}") from None
    except (ProgramError, ValueError, OSError) as err:
        raise fail(str(err)) from None
    try:
        return cosimulate(site, loaded, building, days * 86400.0, step=step, progress=progress)
    except ValueError as err:
        raise fail(f"cannot co-simulate: {err}") from None


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
    mqtt: str | None = typer.Option(
        None, "--mqtt", metavar="HOST:PORT",
        help="Also publish the zones' CO2 and people counters to this MQTT broker."),
    modbus: int | None = typer.Option(
        None, "--modbus", metavar="PORT", min=0, max=65535,
        help="Also serve the meters and the supply fan's drive over Modbus TCP on 127.0.0.1:PORT "
             "(0: a free port; unit 1 electricity, 2 gas, 3 the drive)."),
    thermostats: int | None = typer.Option(
        None, "--thermostats", metavar="PORT", min=0, max=65535,
        help="Also serve three zones' thermostats as a vendor's REST API on 127.0.0.1:PORT (0: a free "
             "port); the secrets from $OPENBMS_DEMO_THERMOSTAT_SECRET and $OPENBMS_DEMO_WEBHOOK_SECRET."),
) -> None:
    """Serve the emulated office over BACnet/IP in live mode until Ctrl-C (with --mqtt, --modbus and
    --thermostats, its other faces too)."""
    import asyncio
    import sys

    from openbms.sim.building.live import demo_emulator, parse_start
    from openbms.sim.building.live import serve as serve_live

    try:
        first = parse_start(start)
    except ValueError:
        raise fail(f"--start {start!r} is not a date such as 2025-04-07 or 2025-04-07T06:00") from None
    broker = None
    if mqtt is not None:
        host, _, mqtt_port = mqtt.rpartition(":")
        if not host or not mqtt_port.isdigit() or not 0 < int(mqtt_port) < 65536:
            raise fail(f"--mqtt: expected HOST:PORT such as 127.0.0.1:1883, not {mqtt!r}", code=2)
        broker = (host, int(mqtt_port))
    account = None
    if thermostats is not None:
        from openbms.sim.building.rest import account_from_env

        try:
            account = account_from_env(thermostats)
        except ValueError as err:
            raise fail(f"--thermostats: {err}", code=2) from None
    try:
        emulator = demo_emulator(speed, subnet, port, first, seed,
                                 None if sequence == "none" else sequence, climate, mqtt=broker,
                                 modbus=modbus, thermostats=account)
    except ValueError as err:
        raise fail(str(err), code=2) from None
    sensors = f"; CO2 and people counters to MQTT {mqtt}" if broker else ""
    sensors += "; meters and the fan's drive over Modbus TCP" if modbus is not None else ""
    sensors += "; zone thermostats over REST" if account is not None else ""
    err_console.print(f"serving the emulated office over BACnet/IP at ×{speed:g} "
                      f"({len(emulator.face.devices) if emulator.face else 0} devices{sensors}); "
                      "Ctrl-C stops")
    try:
        asyncio.run(serve_live(emulator, sys.stdout))
    except OSError as err:
        raise fail(f"cannot bind the devices on {subnet}.x:{port}: {err}") from None


def register(app: typer.Typer) -> None:
    """Add ``sim`` (and its ``fault`` commands, ``openbms.cli.sim_faults``)."""
    from openbms.cli.sim_faults import fault_app

    sim_app.add_typer(fault_app, name="fault")
    app.add_typer(sim_app, name="sim")
