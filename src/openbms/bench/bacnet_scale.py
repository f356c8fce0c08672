"""``bacnet --devices N --points P``: one openbms polling N routed BACnet devices of P points each.

The issue's sizing question (one instance, 1 000 devices, 100 000 points)
answered end to end, as a site would run it::

    fleet processes (python -m openbms.sim.bacnet_fleet), up to 250 devices each
      router 127.a.b.1:port1 ── network 10: devices at MAC 1..125 ── network 11: …
      router 127.a.b.2:port2 ── network 12 …                       ── network 13: …
           ▲ BACnet/IP on loopback, ReadPropertyMultiple in 480-byte APDUs (MS/TP-sized)
    openbms run (a child process): the generated site, SQLite historian, alarms,
      schedules, API on a free loopback port
           ▲ HTTP: this process, as a dashboard would

The site has every point (``analog-input,1..P`` of every device, with its unit),
the BACnet driver with a ``devices:`` entry per device as ``network:mac`` and a
``routers:`` entry per network, polling (``cov: false``) every ``POLL_INTERVAL``
seconds; one high-limit alarm per device on its ``ai-1`` (every 100th device's
limit below the value, so a few are active) and a schedule holding the
setpoint (``analog-value,1``) of the first few devices, so the alarm and
control engines run.

Figures (one ``name value unit`` line each):

* ``bacnet.scale_points``: the points the server polls (its health);
* ``bacnet.scale_first_cycle_s``: from starting ``openbms run`` (loading the
  site included) until every point has had a value (a status other than
  ``offline`` in the points list); the manager runs the first round of polls
  at once, as fast as the driver's requests in flight allow;
* ``bacnet.scale_cycle_s``: a steady full cycle, ``points`` divided by the
  samples the server published per second (``/metrics``
  ``openbms_bus_published_total``) over ``STEADY_CYCLES`` poll intervals from
  the second round on (one interval after polling began, when the polls are
  spread over the interval); the poll interval when polling keeps up, more
  when it does not;
* ``bacnet.scale_client_cpu_ms_per_point``: the server's CPU (user + system,
  /proc) over that window per sample published;
* ``bacnet.scale_rss_mb``: the server's resident memory, the most seen during
  that window (after the first cycle);
* ``bacnet.scale_api_points_p95_ms``: GET of a page of 100 points (with their
  values) during that window, one request after the other;
* ``bacnet.scale_loop_lag_max_ms``: the largest event-loop lag the server
  reported (``openbms_event_loop_lag_max_seconds`` in ``/metrics``, the same
  figure as health's ``event_loop.lag_max_s``: the worst wake-up of the last
  minute), read every 5 s from the API's start to the end, first cycle included.

``quick`` caps the size at 40 devices of 20 points and polls every 3 s.
Nothing is asserted: a missed target shows in the figures, and the server's
error lines, offline devices and failed requests go to stderr as notes.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openbms.bench import Figure
from openbms.bench.child import Child

__all__ = ["Layout", "plan", "run", "write_site"]

SITE = "scale"
EMAIL = "bench@example.com"
PASSWORD = "bench password 1234"
#: Seconds between polls of a device: a full cycle of 100 000 points fits well within it (see
#: docs/benchmarks.md for the measured cycle at a shorter interval).
POLL_INTERVAL = 60.0
QUICK_INTERVAL = 3.0
STEADY_CYCLES = 2
PER_PROCESS = 250
QUICK_MAX = (40, 20)
SCHEDULED = 4  # devices whose setpoint a schedule holds
FIRST_INSTANCE = 100_001
FIRST_NETWORK = 10
API_PERIOD = 0.25
HEALTH_PERIOD = 5.0  # seconds between reads of the event loop's lag (/metrics)
START_TIMEOUT = 900.0  # the fleets build 25 000 bacpypes3 objects each (about a minute of CPU)
@dataclass(frozen=True, slots=True)
class FleetPlan:
    """One fleet process: its router's address and its networks' device instances."""

    ip: str
    port: int
    router_instance: int
    networks: tuple[int, ...]
    per_network: int
    first: int

    def devices(self) -> Iterator[tuple[int, int, int]]:
        """(instance, network, mac) of each of its devices."""
        instance = self.first
        for network in self.networks:
            for mac in range(1, self.per_network + 1):
                yield instance, network, mac
                instance += 1


@dataclass(frozen=True, slots=True)
class Layout:
    """Where every device is: the fleets, and the points of each device."""

    fleets: tuple[FleetPlan, ...]
    points: int
    interval: float
    alarmed: int | None = None  # devices with an alarm rule on their ai-1, from the first; None: all

    def devices(self) -> list[tuple[int, int, int]]:
        return [d for f in self.fleets for d in f.devices()]

    def point_count(self) -> int:
        """The site's points: every device's analog inputs and the scheduled setpoints."""
        devices = len(self.devices())
        return devices * self.points + min(SCHEDULED, devices)


def _free_udp_port(ip: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def plan(devices: int, points: int, interval: float, subnet: str | None = None,
         alarmed: int | None = None) -> Layout:
    """``devices`` in fleets of at most 250, each on two networks (one when its count is odd)."""
    if devices < 1 or points < 1:
        raise ValueError(f"--devices {devices} --points {points}: expected at least 1 of each")
    subnet = subnet or f"127.{random.randint(40, 250)}.{random.randint(1, 250)}"
    fleets: list[FleetPlan] = []
    left, network, first = devices, FIRST_NETWORK, FIRST_INSTANCE
    while left > 0:
        here = min(PER_PROCESS, left)
        nets = 2 if here % 2 == 0 else 1
        ip = f"{subnet}.{len(fleets) + 1}"
        fleets.append(FleetPlan(ip, _free_udp_port(), 4_000_000 + len(fleets),
                                tuple(range(network, network + nets)), here // nets, first))
        network += nets
        first += here
        left -= here
    return Layout(tuple(fleets), points, interval, alarmed)


def write_site(folder: Path, layout: Layout) -> Path:
    """The site file of ``layout`` in ``folder`` (returned): every point, alarms and a schedule."""
    devices = layout.devices()
    lines = [
        "# Generated by openbms bench bacnet --devices: devices behind BACnet routers, polled.",
        f"site: {{id: {SITE}, name: BACnet scale benchmark, timezone: UTC}}",
        "drivers:",
        "  bacnet:",
        f"    address: 127.0.0.1/8:{_free_udp_port()}",
        "    cov: false",
        f"    poll_interval: {layout.interval:g}",
        "    timeout: 10",
        "    devices:",
        *(f'      "{i}": "{n}:{m}"' for i, n, m in devices),
        "    routers:",
        *(f'      {n}: "{f.ip}:{f.port}"' for f in layout.fleets for n in f.networks),
        "equipment:",
    ]
    scheduled = [i for i, _, _ in devices[:SCHEDULED]]
    for i, _, _ in devices:
        lines.append(f"  - id: dev-{i}")
        lines.append("    points:")
        lines += [f'      - {{name: ai-{k}, unit: degC, binding: "bacnet://{i}/analog-input,{k}"}}'
                  for k in range(1, layout.points + 1)]
        if i in scheduled:
            lines.append(f'      - {{name: sp, unit: degC, writable: true, limits: {{min: 10, max: 30}}, '
                         f'binding: "bacnet://{i}/analog-value,1"}}')
    if layout.alarmed != 0:
        lines.append("alarms:")
    for n, (i, _, _) in enumerate(devices[:layout.alarmed]):
        limit = 0.5 if n % 100 == 99 else 50  # ai-1 reads 1.0: every 100th device's alarm is active
        lines.append(f"  - {{id: dev-{i}-ai-1-high, type: high, point: {SITE}/dev-{i}/ai-1, "
                     f"limit: {limit}, deadband: 0.5, priority: 100}}")
    if scheduled:
        targets = ", ".join(f"{SITE}/dev-{i}/sp" for i in scheduled)
        day = '[{time: "00:00", value: 21.5}]'
        lines += ["schedules:", "  - id: setpoints", "    name: Zone setpoints", "    kind: number",
                  "    default: 21.5", "    priority: 14", f"    targets: [{targets}]", "    weekly:",
                  *(f"      {d}: {day}" for d in ("monday", "tuesday", "wednesday", "thursday",
                                                    "friday", "saturday", "sunday"))]
    path = folder / "site.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------ child processes

def _fleet(f: FleetPlan, points: int) -> Child:
    return Child([sys.executable, "-m", "openbms.sim.bacnet_fleet", "--ip", f.ip, "--port", str(f.port),
                   "--networks", ",".join(map(str, f.networks)), "--per-network", str(f.per_network),
                   "--points", str(points), "--first", str(f.first),
                   "--router-instance", str(f.router_instance)])


# ------------------------------------------------------------------ the measurement

def _metric(metrics: str, name: str) -> float | None:
    """A metric without labels from the Prometheus text; None when it is not there (or NaN)."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            value = float(line.split()[1])
            return None if math.isnan(value) else value
    return None


def _p95(values: list[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


async def _measure(layout: Layout, folder: Path, notes: list[str]) -> list[Figure]:
    import httpx
    import psutil

    fleets = [_fleet(f, layout.points) for f in layout.fleets]
    _say(f"{len(layout.devices())} devices x {layout.points} points in {len(fleets)} fleet processes: "
         "starting (each builds its devices' objects: about a minute per 250 x 100)")
    server: Child | None = None
    try:
        deadline = time.monotonic() + START_TIMEOUT
        for child in fleets:
            await child.line("serving", deadline)
        site = write_site(folder, layout)
        _say("devices serving; starting openbms run on the generated site")
        started = time.monotonic()
        server = Child([sys.executable, "-m", "openbms.cli", "run", "-d", str(site.parent), "--port", "0",
                         "--status-every", "3600"],
                        env={"OPENBMS_ADMIN_EMAIL": EMAIL, "OPENBMS_ADMIN_PASSWORD": PASSWORD})
        url = (await server.line("Dashboard: ", started + START_TIMEOUT)).split()[1].rstrip("/")
        up = time.monotonic()
        proc = psutil.Process(server.proc.pid)
        async with httpx.AsyncClient(base_url=url, timeout=120) as c:
            r = await c.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
            r.raise_for_status()
            r = await c.post("/api/v1/tokens", json={"name": "bench"},
                             headers={"Authorization": f"Bearer {r.json()['access_token']}"})
            r.raise_for_status()
            token = r.json()["token"]
        api = httpx.AsyncClient(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"},
                                limits=httpx.Limits(max_connections=4, keepalive_expiry=2.0))
        lags: list[float] = []
        stop = asyncio.Event()

        async def watch() -> None:
            # /metrics, not /api/v1/health: a health answer counts every point of the site.
            while not stop.is_set():
                try:
                    r = await api.get("/metrics")
                except httpx.HTTPError as err:
                    notes.append(f"metrics: {type(err).__name__}: {err}")
                else:
                    top = _metric(r.text, "openbms_event_loop_lag_max_seconds")
                    if top is not None:
                        lags.append(top * 1000)
                await _wait(stop, HEALTH_PERIOD)

        watcher = asyncio.create_task(watch())
        try:
            _say(f"openbms up after {time.monotonic() - started:.0f} s; waiting for every device's "
                 "first answer")
            first = await _first_cycle(api, layout.point_count(), started, notes)
            # The first round runs at once; the polls are spread over the interval from the
            # second round on, which starts one interval after polling began: measure from there.
            settle = max(0.0, up + layout.interval - time.monotonic())
            _say(f"first cycle done after {first:.0f} s; measuring {STEADY_CYCLES} poll intervals "
                 f"({STEADY_CYCLES * layout.interval:g} s) from the second round, in {settle:.0f} s")
            await asyncio.sleep(settle)
            figures = await _steady(api, proc, layout, notes)
            health = (await api.get("/api/v1/health")).json()
        finally:
            stop.set()
            await watcher
            await api.aclose()
        points = health.get("components", {}).get("drivers", {}).get("points", math.nan)
        return [
            ("bacnet.scale_points", points, "1"),
            ("bacnet.scale_first_cycle_s", round(first, 1), "s"),
            *figures,
            ("bacnet.scale_loop_lag_max_ms", round(max(lags), 1) if lags else math.nan, "ms"),
        ]
    finally:
        if server is not None:
            code = server.stop()
            if code not in (0, None):
                notes.append(f"openbms run exited with {code}")
            if server.error_lines:
                notes.append(f"openbms run printed {server.error_lines} error lines:")
                notes += server.errors
        for child in fleets:
            child.stop()
            if child.error_lines:
                notes.append(f"a fleet printed {child.error_lines} error lines:")
                notes += child.errors[:20]


async def _first_cycle(api: Any, points: int, started: float, notes: list[str]) -> float:
    """Seconds from ``started`` until every point has had a value (a status other than offline).

    Read from the points list, a page of 1 000 at a time, in id order, which is about the order
    the driver manager's first round reaches the devices in: the first page still missing a value is asked
    for again every second, the next one once it is complete (one page a second, about 1 % of
    the server: a sweep of every page each second took more than half of its loop). The
    devices API would tell it per device, but it parses every binding of the site per request.
    """
    cursors: list[str | None] = [None]  # where each page starts, as they are found
    complete: list[bool] = []
    valued: set[str] = set()
    offline: set[str] = set()
    k = 0
    while True:
        if k == len(cursors):  # past the last page: back to the first one still missing a value
            if False not in complete:
                if len(valued) < points:
                    notes.append(f"the points list has {len(valued)} points, not {points}")
                    return math.nan
                if offline:
                    notes.append(f"the points of {len(offline)} devices were marked offline before "
                                 "every point had a value")
                return time.monotonic() - started
            k = complete.index(False)
        cursor = cursors[k]
        r = await api.get(f"/api/v1/sites/{SITE}/points",
                          params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
        r.raise_for_status()
        page = r.json()
        for item in page["items"]:
            if item["status"] not in (None, "offline"):
                valued.add(item["id"])
            elif item["status"] == "offline":
                offline.add(item["equipment"])
        done = all(item["id"] in valued for item in page["items"])
        if k == len(complete):
            complete.append(done)
        else:
            complete[k] = done
        if page.get("next_cursor") and k + 1 == len(cursors):
            cursors.append(page["next_cursor"])
        if done:
            k += 1
            continue
        if time.monotonic() - started > START_TIMEOUT:
            notes.append(f"the first cycle did not end within {START_TIMEOUT:g} s: {len(valued)} of "
                         f"{points} points had a value; the points of {len(offline)} devices were "
                         "marked offline")
            return math.nan
        await asyncio.sleep(1.0)


async def _steady(api: Any, proc: Any, layout: Layout, notes: list[str]) -> list[Figure]:
    """Cycle time, CPU per point, RSS and the points page's p95 over ``STEADY_CYCLES`` poll intervals."""
    async def published() -> int:
        r = await api.get("/metrics")
        r.raise_for_status()
        n = _metric(r.text, "openbms_bus_published_total")
        if n is None:
            raise RuntimeError("/metrics has no openbms_bus_published_total")
        return int(n)

    window = STEADY_CYCLES * layout.interval
    n0, t0 = await published(), time.monotonic()
    cpu = proc.cpu_times()
    c0 = cpu.user + cpu.system
    rss: list[int] = []
    latencies: list[float] = []
    errors = 0
    while (elapsed := time.monotonic() - t0) < window:
        sent = time.perf_counter()
        try:
            r = await api.get(f"/api/v1/sites/{SITE}/points", params={"limit": 100})
            r.raise_for_status()
        except Exception as err:  # counted and noted; the benchmark goes on
            errors += 1
            if errors <= 5:
                notes.append(f"points page: {type(err).__name__}: {err}")
        else:
            latencies.append((time.perf_counter() - sent) * 1000)
        rss.append(proc.memory_info().rss)
        await asyncio.sleep(min(API_PERIOD, max(0.0, window - elapsed)))
    cpu = proc.cpu_times()
    c1, t1 = cpu.user + cpu.system, time.monotonic()
    n1 = await published()
    samples = n1 - n0
    points = layout.point_count()
    if errors:
        notes.append(f"{errors} of {errors + len(latencies)} points pages failed")
    return [
        ("bacnet.scale_cycle_s", round((t1 - t0) * points / samples, 1) if samples > 0 else math.nan, "s"),
        ("bacnet.scale_client_cpu_ms_per_point",
         round((c1 - c0) * 1000 / samples, 4) if samples > 0 else math.nan, "ms"),
        ("bacnet.scale_rss_mb", round(max(rss) / 2**20, 1) if rss else math.nan, "MB"),
        ("bacnet.scale_api_points_p95_ms", round(_p95(latencies), 1), "ms"),
    ]


def _say(text: str) -> None:
    """Progress on stderr (stdout has the figures only)."""
    print(f"bench bacnet: {text}", file=sys.stderr, flush=True)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def run(devices: int, points: int = 100, quick: bool = False, interval: float | None = None,
        alarmed: int | None = None) -> Iterator[Figure]:
    """Figures of ``devices`` × ``points`` polled by a whole openbms (40 × 20 at most with ``quick``).

    ``interval`` (seconds between polls) and ``alarmed`` (how many devices have an alarm rule;
    default all) are for looking into a figure from Python; the command line uses the defaults.
    """
    if quick:
        devices, points = min(devices, QUICK_MAX[0]), min(points, QUICK_MAX[1])
    layout = plan(devices, points, interval or (QUICK_INTERVAL if quick else POLL_INTERVAL),
                  alarmed=alarmed)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="openbms-bacnet-scale-") as tmp:
        try:
            figures = asyncio.run(_measure(layout, Path(tmp), notes))
        finally:
            for note in notes:
                print(f"note: {note}", file=sys.stderr)
    yield from figures
