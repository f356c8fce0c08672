"""Live mode: the emulated building stepped in real time (or faster) and served over BACnet/IP.

``LiveEmulator`` keeps a ``Building``'s time on a clock: an
``AcceleratedClock`` (real time × ``speed``; ``--speed 60`` is one simulated
minute per real second) by default, or any ``Clock`` the openbms runtime
shares (a ``ManualClock`` in tests). Before each step it applies the
network's writes, after catching up it publishes the present values
(``BuildingFace``). Supervisory control comes from outside over BACnet; a
built-in sequence can run as the controllers' local program instead.

``python -m openbms.sim.building.live`` (and ``openbms sim serve``) serve it
until Ctrl-C or SIGTERM, printing one ``device GROUP INSTANCE ADDRESS NAME``
line per device, with ``--mqtt HOST:PORT`` an ``mqtt HOST:PORT TOPICS`` line (the
zones' CO2 and people counters, ``MqttSensors``), with ``--modbus PORT`` a
``modbus HOST:PORT UNIT=DEVICE…`` line (the meters and the fan's drive,
``ModbusFace``), with ``--thermostats PORT`` a ``rest URL DEVICE=ZONE…`` line
(``BuildingThermostats``), a ``clock START ANCHOR SPEED`` line, then ``ready``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TextIO

from openbms.runtime.clock import Clock
from openbms.sim.bacnet import DEVICE_PORT
from openbms.sim.building.bacnet import BuildingFace, describe
from openbms.sim.building.baseline import SEQUENCES
from openbms.sim.building.building import MAX_STEP, Building
from openbms.sim.building.modbus import MODBUS_UNITS, ModbusFace
from openbms.sim.building.mqtt import MqttSensors
from openbms.sim.building.rest import BuildingThermostats, ThermostatAccount, account_from_env
from openbms.sim.building.weather import CLIMATES, Climate, SyntheticWeather

__all__ = ["LIVE_CLIMATES", "AcceleratedClock", "LiveEmulator", "demo_emulator", "main", "serve"]

_log = logging.getLogger(__name__)

#: London-like weather for the demo site (Europe/London, UK bank holidays): mean 11.3 °C,
#: January about 4.5 °C and July 18 °C, cloudier than the inland presets.
LONDON = Climate("temperate maritime (4A, London-like)", 51.51, -0.13, 0.0, 11.3, 6.8, 4.0,
                 front_sigma=3.0, dew_depression=3.5, cloudiness=0.6)

#: Climates ``serve`` offers: London (the demo's) and the synthetic-weather presets.
LIVE_CLIMATES: dict[str, Climate] = {"london": LONDON, **CLIMATES}


class AcceleratedClock:
    """Simulated time that runs ``speed`` times faster than the wall clock.

    ``now()`` is ``start + speed × (wall − anchor)``: two processes given the
    same ``start``, ``anchor`` and ``speed`` share one clock. ``sleep`` sleeps
    ``seconds / speed`` of real time. ``source`` is the wall clock (injectable).
    """

    def __init__(self, start: float, speed: float = 1.0, anchor: float | None = None,
                 source: Callable[[], float] = time.time) -> None:
        if not speed > 0 or not math.isfinite(speed):
            raise ValueError(f"speed must be a positive number, not {speed!r}")
        self.start, self.speed, self._source = float(start), float(speed), source
        self.anchor = source() if anchor is None else float(anchor)

    def now(self) -> float:
        return self.start + self.speed * (self._source() - self.anchor)

    def monotonic(self) -> float:
        return self.now()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class LiveEmulator:
    """Steps a building to follow a clock, with its BACnet face (if any) in step.

    ``step`` is the simulated seconds between updates (default: one real
    second's worth, 1–60 s). The building starts at the clock's time: a clock
    more than ``max_lag`` seconds ahead of the building is refused rather than
    caught up step by step.
    """

    def __init__(self, building: Building, clock: Clock | None = None, *, speed: float = 1.0,
                 step: float | None = None, face: BuildingFace | None = None,
                 sequence: Callable[[Building], None] | None = None, max_lag: float = 86400.0,
                 mqtt: tuple[str, int] | None = None, modbus: ModbusFace | None = None,
                 thermostats: BuildingThermostats | None = None) -> None:
        self.building = building
        self.clock: Clock = clock or AcceleratedClock(building.timestamp, speed)
        rate = getattr(self.clock, "speed", speed)
        self.step = float(step) if step is not None else min(MAX_STEP, max(1.0, rate))
        if not self.step > 0:
            raise ValueError("step must be positive")
        self.face = face
        self.sequence = sequence
        self.max_lag = max_lag
        self.steps = 0
        #: The zones' CO2 and people counters published to this broker (``mqtt=(host, port)``).
        self.sensors = MqttSensors(building, self.clock, *mqtt) if mqtt is not None else None
        #: The meters and the fan's drive over Modbus TCP, and the zones' REST thermostats. A face
        #: that cannot listen (its port taken) is dropped at start, and says why (``unavailable``).
        self.modbus = modbus
        self.thermostats = thermostats
        self.unavailable: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    # --- stepping -------------------------------------------------------------------------------

    def advance_to(self, when: float) -> int:
        """Step the building up to ``when`` (POSIX seconds), then publish; the steps taken."""
        b = self.building
        lag = when - b.timestamp
        if lag > self.max_lag:
            raise RuntimeError(f"the clock is {lag / 3600:.1f} h ahead of the building: start the "
                               "building at the clock's time")
        # Whole steps only: the building stays on a grid of ``step`` seconds, at most one step
        # behind the clock, so a run is the same whatever the timing of the wake-ups.
        taken = 0
        for _ in range(max(0, math.floor(lag / self.step + 1e-9))):
            dt = self.step
            if self.face is not None:
                if self.sequence is not None:
                    self.face.run_sequence(self.sequence)
                self.face.apply_writes()
            elif self.sequence is not None:
                self.sequence(b)
            b.step(dt)
            taken += 1
        self.steps += taken
        if self.face is not None:
            self.face.publish()
        if taken:
            if self.modbus is not None:
                self.modbus.publish()
            if self.thermostats is not None:
                self.thermostats.publish()
        return taken

    async def run(self) -> None:
        """Follow the clock until cancelled: sleep until the next step is due, then catch up."""
        while True:
            due = self.building.timestamp + self.step
            await self.clock.sleep(due - self.clock.now())
            self.advance_to(self.clock.now())
            await asyncio.sleep(0)  # let the devices answer between steps, even when catching up

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the devices (if any) and start stepping in the background."""
        if self._task is not None:
            return
        if self.face is not None:
            self.face.start()
            try:
                await self.face.bound()
            except OSError:
                self.face.stop()
                raise
        await self._start_faces()
        self._task = asyncio.create_task(self.run(), name="openbms-live-emulator")
        if self.sensors is not None:
            self.sensors.start()  # connects (and reconnects) by itself: a broker may come later

    async def _start_faces(self) -> None:
        """Start the Modbus and REST faces; one that cannot listen is logged, noted in
        ``unavailable`` and dropped, and the building runs on without it."""
        if self.modbus is not None:
            self.modbus.publish()
            try:
                await self.modbus.start()
            except OSError as err:
                self.unavailable["modbus"] = str(err)
                _log.warning("the emulator's Modbus devices did not start: %s", err)
                self.modbus = None
        if self.thermostats is not None:
            self.thermostats.publish()
            try:
                await self.thermostats.start()
            except OSError as err:
                self.unavailable["rest"] = str(err)
                _log.warning("the emulator's REST thermostats did not start: %s", err)
                self.thermostats = None

    async def stop(self) -> None:
        """Stop stepping and publishing, and close the devices' sockets."""
        if self.sensors is not None:
            await self.sensors.stop()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.thermostats is not None:
            await self.thermostats.stop()
        if self.modbus is not None:
            await self.modbus.stop()
        if self.face is not None:
            self.face.stop()

    async def __aenter__(self) -> LiveEmulator:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()


def demo_emulator(speed: float = 60.0, subnet: str = "127.0.20", port: int = DEVICE_PORT,
                  start: datetime | None = None, seed: int = 0, sequence: str | None = None,
                  climate: str = "london", anchor: float | None = None,
                  mqtt: tuple[str, int] | None = None, modbus: int | None = None,
                  thermostats: ThermostatAccount | None = None) -> LiveEmulator:
    """The demo building (default office, London-like weather) served on ``subnet``, at ``speed``.

    ``start`` is the building's local standard time (naive) or an aware
    datetime; default now. ``sequence`` is ``None`` (supervisory control
    comes over BACnet), ``"baseline"`` or ``"improved"``. ``mqtt`` is a
    broker's ``(host, port)`` the zones' CO2 and people counters are
    published to (``MqttSensors``); None: no MQTT sensors. ``modbus`` is the
    loopback port of the meters' and the fan drive's Modbus TCP server (0: a
    free one; None: none); ``thermostats`` the vendor account and port of the
    zones' REST thermostats (None: none). Use as
    ``async with demo_emulator() as emu:``; ``emu.clock`` is the simulated clock.
    """
    if sequence is not None and sequence not in SEQUENCES:
        raise ValueError(f"unknown sequence {sequence!r}: expected one of {', '.join(SEQUENCES)}")
    if climate not in LIVE_CLIMATES:
        raise ValueError(f"unknown climate {climate!r}: expected one of {', '.join(LIVE_CLIMATES)}")
    building = Building(weather=SyntheticWeather(seed, LIVE_CLIMATES[climate]),
                        start=start or datetime.now(UTC), seed=seed)
    face = BuildingFace(building, subnet=subnet, port=port)
    clock = AcceleratedClock(building.timestamp, speed, anchor)
    return LiveEmulator(building, clock, face=face,
                        sequence=SEQUENCES[sequence]() if sequence else None, mqtt=mqtt,
                        modbus=ModbusFace(building, port=modbus) if modbus is not None else None,
                        thermostats=BuildingThermostats(
                            building, client_id=thermostats.client_id,
                            client_secret=thermostats.client_secret,
                            webhook_secret=thermostats.webhook_secret, port=thermostats.port)
                        if thermostats is not None else None)


async def serve(emulator: LiveEmulator, out: TextIO | None = None, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set), printing the devices; stop cleanly."""
    import signal

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            signals.append(sig)
    try:
        async with emulator:
            if out is not None and emulator.face is not None:
                for group, instance, address, name, _count in describe(emulator.face):
                    print(f"device {group} {instance} {address} {name}", file=out)
            if out is not None and emulator.sensors is not None:
                s = emulator.sensors
                print(f"mqtt {s.host}:{s.port} {s.prefix}/zone-ZONE/co2 {s.prefix}/zone-ZONE/occupancy",
                      file=out)
            if out is not None:
                for face, why in emulator.unavailable.items():
                    print(f"unavailable {face} {why}", file=out)
            if out is not None and emulator.modbus is not None:
                m = emulator.modbus
                units = " ".join(f"{unit}={name}" for unit, (name, _profile) in MODBUS_UNITS.items())
                print(f"modbus {m.host}:{m.port} {units}", file=out)
            if out is not None and emulator.thermostats is not None:
                t = emulator.thermostats
                print(f"rest {t.url} " + " ".join(f"{vid}={zone}" for vid, zone in t.zones.items()),
                      file=out)
            if out is not None and emulator.face is not None:
                clock = emulator.clock
                if isinstance(clock, AcceleratedClock):
                    print(f"clock {clock.start:.3f} {clock.anchor:.6f} {clock.speed:g}", file=out)
                print("ready", file=out, flush=True)
            await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def parse_start(text: str | None) -> datetime | None:
    """``--start``: a date or date-time in the building's local standard time, or None for now."""
    if not text or text == "now":
        return None
    return datetime.fromisoformat(text)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m openbms.sim.building.live``: serve the demo building until interrupted."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Serve the emulated building over BACnet/IP, live.")
    parser.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    parser.add_argument("--subnet", default="127.0.20", help="devices at SUBNET.1, .2, …")
    parser.add_argument("--port", type=int, default=DEVICE_PORT)
    parser.add_argument("--start", default=None,
                        help="local standard time, e.g. 2025-04-07T06:00 (default now)")
    parser.add_argument("--anchor", type=float, default=None,
                        help="wall-clock POSIX time at which the building is at --start (default now)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sequence", default="none", choices=("none", *SEQUENCES))
    parser.add_argument("--climate", default="london", choices=tuple(LIVE_CLIMATES))
    parser.add_argument("--mqtt", default=None, metavar="HOST:PORT",
                        help="publish the zones' CO2 and occupancy sensors to this MQTT broker")
    parser.add_argument("--modbus", type=int, default=None, metavar="PORT",
                        help="serve the meters and the fan's drive over Modbus TCP on 127.0.0.1:PORT "
                             "(0: a free port)")
    parser.add_argument("--thermostats", type=int, default=None, metavar="PORT",
                        help="serve the zones' REST thermostats on 127.0.0.1:PORT (0: a free port); "
                             "secrets from $OPENBMS_DEMO_THERMOSTAT_SECRET and $OPENBMS_DEMO_WEBHOOK_SECRET")
    args = parser.parse_args(argv)
    for name in ("modbus", "thermostats"):
        port = getattr(args, name)
        if port is not None and not 0 <= port < 65536:
            parser.error(f"--{name}: expected a port from 0 to 65535, not {port}")
    account = None
    if args.thermostats is not None:
        try:
            account = account_from_env(args.thermostats)
        except ValueError as err:
            parser.error(f"--thermostats: {err}")
    mqtt = None
    if args.mqtt:
        host, _, port = args.mqtt.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            parser.error(f"--mqtt: expected HOST:PORT such as 127.0.0.1:1883, not {args.mqtt!r}")
        mqtt = (host, int(port))
    emulator = demo_emulator(args.speed, args.subnet, args.port, parse_start(args.start), args.seed,
                             None if args.sequence == "none" else args.sequence, args.climate, args.anchor,
                             mqtt, args.modbus, account)
    asyncio.run(serve(emulator, sys.stdout))


if __name__ == "__main__":
    main()
