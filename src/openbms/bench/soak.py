"""``soak``: the accelerated demo under a day's use for hours; does anything grow but the history?

``openbms bench soak --hours H`` starts ``openbms demo`` in a child process
(the emulated building over BACnet on loopback and openbms with its API, the
building's clock at ×24, so two hours are two building days) and, from this
process, uses it as a site's people and screens would:

* 5 dashboards: a page of points with their values and a day of one point's
  history, every 5 s each;
* 5 WebSocket clients subscribed to every point of the site (reconnecting
  if dropped);
* an operator: a timed override of a zone setpoint every 20 s (10 building
  minutes, so most expire by themselves), every third one released by hand;
* an alarm console: the active alarms every 30 s, each unacknowledged one
  acknowledged.

Every ``--hours``/120 (at least 10 s) it samples the server process's
resident memory, its data folder's files, and ``/api/v1/health`` (samples
stored and backlog, and the event loop's lag where the health answer has it).

Figures (stdout, ``name value unit``): duration; resident memory at the end
of the warm-up (the first 20 % of the run, at most 15 min) and at the end,
and its growth per hour fitted over the rest (least squares, so a single
garbage-collection step does not decide it), and that of its anonymous part
alone (resident memory less file-backed pages: the historian maps up to 256 MB
of its database for reads, and those pages are the history, not a leak); the
history database's growth
per hour and bytes per stored sample (the growth that is the history
itself); the WAL's largest size; event-loop lag p99 and max (of the health
answers' figures); requests, HTTP errors, WebSocket messages and
reconnections, commands and their failures, alarms acknowledged; and
error/traceback lines in the server's output, while it ran and while it
stopped (and a stop that did not exit 0). A run with errors still
prints its figures; the first few errors go to stderr.

This is not in ``bench all``: it is a test of hours, run on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openbms.bench import Figure
from openbms.bench.child import Child

SITE = "demo"
SPEED = 24.0
EMAIL = "soak@example.com"
PASSWORD = "soak password 1234"
DASHBOARDS = 5
DASHBOARD_PERIOD = 5.0
WS_CLIENTS = 5
COMMAND_PERIOD = 20.0
ALARM_PERIOD = 30.0
OVERRIDE_S = 600.0  # building seconds: at ×24, 25 real seconds
@dataclass
class _Tally:
    """What the clients and the sampler saw."""

    requests: int = 0
    http_errors: int = 0
    ws_messages: int = 0
    ws_reconnects: int = 0
    commands: int = 0
    command_failures: int = 0
    acks: int = 0
    notes: list[str] = field(default_factory=list)
    # (elapsed s, rss bytes, history db bytes, wal bytes, stored samples, lag p99 ms, lag max ms,
    #  anonymous rss bytes: the process's own memory, without the mapped database pages)
    rows: list[tuple[float, int, int, int, int, float | None, float | None, int]] = field(
        default_factory=list)

    def note(self, text: str) -> None:
        if len(self.notes) < 20:
            self.notes.append(text)


class _Server(Child):
    """``openbms demo`` in a child process: its address, and its output read by a thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        super().__init__(
            [sys.executable, "-m", "openbms.cli", "demo", "--no-browser", "--port", "0",
             "-d", str(folder), "--speed", f"{SPEED:g}", "--status-every", "60"],
            env={"OPENBMS_ADMIN_EMAIL": EMAIL, "OPENBMS_ADMIN_PASSWORD": PASSWORD},
            context=30, keep_errors=200, grace=90.0)

    async def url(self, within: float = 180.0) -> str:
        try:
            line = await self.line("Dashboard: ", time.monotonic() + within)
        except RuntimeError:
            raise RuntimeError("the demo did not start:\n" + "".join(self.lines[-40:])) from None
        return line.split()[1].rstrip("/")


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _lag(health: dict[str, Any]) -> tuple[float | None, float | None]:
    """The event loop's lag (p99, max in ms) from a health answer, where it reports one."""
    for name, comp in health.get("components", {}).items():
        if "loop" not in name or not isinstance(comp, dict):
            continue
        p99 = next((v for k, v in comp.items() if "p99" in k and isinstance(v, int | float)), None)
        top = next((v for k, v in comp.items() if "max" in k and isinstance(v, int | float)), None)
        scale = 1000.0 if any(k.endswith("_s") for k in comp) else 1.0
        return (None if p99 is None else p99 * scale), (None if top is None else top * scale)
    return None, None


def _slope_per_hour(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (seconds), per hour; NaN with fewer than 3 points."""
    if len(xs) < 3:
        return math.nan
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return math.nan
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 3600


async def _soak(folder: Path, seconds: float) -> list[Figure]:
    import httpx
    import psutil
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from websockets.asyncio.client import connect

    server = _Server(folder / "demo")
    tally = _Tally()
    stop = asyncio.Event()
    try:
        url = await server.url()
        async with httpx.AsyncClient(base_url=url, timeout=120) as c:  # the first answers wait on start-up
            r = await c.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
            r.raise_for_status()
            access = r.json()["access_token"]
            r = await c.post("/api/v1/tokens", json={"name": "soak"},
                             headers={"Authorization": f"Bearer {access}"})
            r.raise_for_status()
            token = r.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        # Idle connections are not reused past 2 s: uvicorn closes them after 5 s, and a request sent
        # on one just as it closes fails with a ReadError (18 of the 20 errors the first 2-hour run noted).
        api = httpx.AsyncClient(base_url=url, timeout=30, headers=headers,
                                limits=httpx.Limits(max_connections=20, keepalive_expiry=2.0))

        async def call(method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
            """The answer's JSON, or None with the failure counted and noted."""
            tally.requests += 1
            try:
                r = await api.request(method, path, json=body, params=params)
            except httpx.HTTPError as err:
                tally.http_errors += 1
                tally.note(f"{method} {path}: {type(err).__name__}: {err}")
                return None
            if r.status_code >= 300:
                tally.http_errors += 1
                tally.note(f"{method} {path}: {r.status_code} {r.text[:200]}")
                return None
            return r.json()

        def get(path: str, **params: Any) -> Any:
            return call("GET", path, **params)

        def post(path: str, body: dict[str, Any]) -> Any:
            return call("POST", path, body)

        points = (await get(f"/api/v1/sites/{SITE}/points", limit=500)) or {"items": []}
        items = points.get("items", [])
        trend = next((p["id"] for p in items if p["id"].endswith("/oa-t") or p["id"].endswith("/oat")),
                     items[0]["id"] if items else f"{SITE}/none")
        # Zone setpoints, commanded within the demo's limits (heating 15-24 °C, cooling 21-30 °C).
        setpoints = [(p["id"], (19.0, 22.0) if p["name"] == "occ-htg-sp" else (23.0, 26.0))
                     for p in items if p.get("writable") and p["name"] in ("occ-htg-sp", "occ-clg-sp")]
        if not setpoints:
            raise RuntimeError(f"the demo site has no zone setpoint to command ({len(items)} points)")

        async def dashboard(k: int) -> None:
            await asyncio.sleep(DASHBOARD_PERIOD * k / DASHBOARDS)
            while not stop.is_set():
                await get(f"/api/v1/sites/{SITE}/points", limit=100)
                await get(f"/api/v1/sites/{SITE}/history", points=trend)
                await _wait(stop, DASHBOARD_PERIOD)

        async def websocket() -> None:
            ws_url = url.replace("http", "ws", 1) + f"/api/v1/ws?token={token}"
            first = True
            while not stop.is_set():
                if not first:
                    tally.ws_reconnects += 1
                    await _wait(stop, 1.0)
                first = False
                try:
                    async with connect(ws_url, max_size=None) as ws:
                        await ws.send(json.dumps({"type": "subscribe", "points": [f"{SITE}/*"],
                                                  "alarms": True, "commands": True}))
                        while not stop.is_set():
                            try:
                                await asyncio.wait_for(ws.recv(), 1.0)
                            except TimeoutError:
                                continue
                            tally.ws_messages += 1
                except Exception as err:  # a dropped connection is counted and retried, as a browser would
                    if not stop.is_set():
                        tally.note(f"websocket: {type(err).__name__}: {err}")

        async def operator() -> None:
            rng = random.Random(0)
            n = 0
            while not stop.is_set():
                await _wait(stop, COMMAND_PERIOD)
                if stop.is_set():
                    break
                pid, (low, high) = rng.choice(setpoints)
                base = f"/api/v1/sites/{SITE}/points/{pid.split('/', 1)[1]}"
                n += 1
                if n % 3 == 0:
                    got = await post(base + "/release", {"reason": "soak: release"})
                else:
                    value = round(rng.uniform(low, high), 1)
                    got = await post(base + "/commands", {"value": value, "duration_s": OVERRIDE_S,
                                                          "reason": "soak: timed override"})
                if got is not None:
                    tally.commands += 1
                    if got.get("status") == "failed":
                        tally.command_failures += 1
                        tally.note(f"command failed: {got.get('error')}")

        async def console() -> None:
            while not stop.is_set():
                await _wait(stop, ALARM_PERIOD)
                page = await get(f"/api/v1/sites/{SITE}/alarms", limit=200)
                for alarm in (page or {}).get("items", []):
                    if alarm.get("state") == "active-unacked" and await post(
                            f"/api/v1/sites/{SITE}/alarms/{alarm['id']}/ack", {"note": "soak: seen"}):
                        tally.acks += 1

        proc = psutil.Process(server.proc.pid)
        history_db = folder / "demo" / "data" / "history.db"
        every = max(10.0, seconds / 120)
        started = time.monotonic()
        tasks = [asyncio.create_task(dashboard(k)) for k in range(DASHBOARDS)]
        tasks += [asyncio.create_task(websocket()) for _ in range(WS_CLIENTS)]
        tasks += [asyncio.create_task(operator()), asyncio.create_task(console())]
        progress = Progress(TextColumn("soak"), BarColumn(), TextColumn("{task.description}"),
                            TimeRemainingColumn(), transient=True, console=_stderr_console())
        with progress:
            bar = progress.add_task("", total=seconds)
            while (elapsed := time.monotonic() - started) < seconds:
                if server.proc.poll() is not None:
                    tally.note(f"the server stopped by itself (exit {server.proc.returncode})")
                    break
                health = await get("/api/v1/health") or {}
                stored = int(health.get("components", {}).get("historian", {}).get("stored", 0) or 0)
                p99, top = _lag(health)
                mem = proc.memory_info()
                rss = mem.rss
                tally.rows.append((elapsed, rss, _file_size(history_db),
                                   _file_size(history_db.with_name("history.db-wal")), stored, p99, top,
                                   rss - getattr(mem, "shared", 0)))
                progress.update(bar, completed=elapsed,
                                description=f"RSS {rss / 2**20:.0f} MB · {stored:,} stored · "
                                            f"{tally.requests:,} requests · {tally.http_errors} errors")
                await _wait(stop, min(every, seconds - elapsed))
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await api.aclose()
    finally:
        stop.set()
        code = server.stop()
    if code not in (0, None):
        tally.note(f"the server exited with {code}")
    for line in tally.notes + server.errors:
        print(f"note: {line}", file=sys.stderr)
    return _figures(tally, server.error_lines, server.stopping_error_lines + (code not in (0, None)))


def _figures(t: _Tally, server_errors: int, stopping_errors: int) -> list[Figure]:
    rows = t.rows
    duration = rows[-1][0] if rows else 0.0
    warm = min(duration * 0.2, 900.0)
    after = [r for r in rows if r[0] >= warm] or rows
    xs = [r[0] for r in after]
    lags = [r[5] for r in after if r[5] is not None]
    tops = [r[6] for r in after if r[6] is not None]
    stored = rows[-1][4] - after[0][4] if rows else 0
    db_growth = after[-1][2] - after[0][2] if after else 0
    figures: list[Figure] = [
        ("soak.hours", round(duration / 3600, 3), "h"),
        ("soak.building_hours", round(duration * SPEED / 3600, 1), "h"),
        ("soak.rss_after_warmup_mb", round(after[0][1] / 2**20, 1) if after else math.nan, "MB"),
        ("soak.rss_end_mb", round(rows[-1][1] / 2**20, 1) if rows else math.nan, "MB"),
        ("soak.rss_growth_mb_per_h", round(_slope_per_hour(xs, [r[1] / 2**20 for r in after]), 2), "MB/h"),
        ("soak.rss_anon_growth_mb_per_h", round(_slope_per_hour(xs, [r[7] / 2**20 for r in after]), 2),
         "MB/h"),
        ("soak.history_growth_mb_per_h", round(_slope_per_hour(xs, [r[2] / 2**20 for r in after]), 2),
         "MB/h"),
        ("soak.history_bytes_per_sample", round(db_growth / stored, 1) if stored > 0 else math.nan, "B"),
        ("soak.wal_max_mb", round(max((r[3] for r in rows), default=0) / 2**20, 1), "MB"),
        ("soak.samples_stored", rows[-1][4] if rows else 0, "1"),
        ("soak.loop_lag_p99_ms", round(max(lags), 1) if lags else math.nan, "ms"),
        ("soak.loop_lag_max_ms", round(max(tops), 1) if tops else math.nan, "ms"),
        ("soak.requests", t.requests, "1"),
        ("soak.http_errors", t.http_errors, "1"),
        ("soak.ws_messages", t.ws_messages, "1"),
        ("soak.ws_reconnects", t.ws_reconnects, "1"),
        ("soak.commands", t.commands, "1"),
        ("soak.command_failures", t.command_failures, "1"),
        ("soak.alarms_acknowledged", t.acks, "1"),
        ("soak.server_error_lines", server_errors, "1"),
        ("soak.server_stop_error_lines", stopping_errors, "1"),
    ]
    return figures


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max(0.0, seconds))


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(file=sys.stderr)


def run(quick: bool = False, hours: float | None = None) -> Iterator[Figure]:
    """Figures of a soak of ``hours`` (default 1, or 3 minutes with ``quick``)."""
    seconds = hours * 3600 if hours is not None else (180.0 if quick else 3600.0)
    with tempfile.TemporaryDirectory(prefix="openbms-soak-") as tmp:
        yield from asyncio.run(_soak(Path(tmp), seconds))
