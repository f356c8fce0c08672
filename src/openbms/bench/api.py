"""``api``: REST latency under 50 concurrent clients, and WebSocket fan-out to 100 clients.

A runtime serves the API on a free loopback port, with one generated site
(``bench``: 10 simulated devices × 100 points, every one a sine wave polled
every second, so 1 000 points change every second) and one point with a day
of one-minute history written before the start. The load runs in a second
process (spawned), so that the server has its own core of the two, as a
browser or a script would be elsewhere.

* ``api.current_values_p95_ms``: ``GET /api/v1/sites/bench/points?limit=100``
  (a page of points with their current values), 50 clients each sending the
  next request as soon as the last one answered (saturation), for a fixed
  time; ``…_paced_…``: the same 50 clients each once a second (a dashboard).
  ``…_server_cpu_ms``: the server process's CPU per request (polling included).
  The saturating load comes from ``wrk`` (Debian's package), the usual HTTP
  load generator: written in C, it leaves the second core to the server's
  other work instead of spending it on Python HTTP clients. Without ``wrk`` on
  the PATH, 50 httpx clients in a second process make it (a note says so on
  stderr); they then take a core themselves and bound the figures.
* ``api.history_day_p95_ms``: ``GET /api/v1/sites/bench/history`` of one point
  over the last 24 h, raw, the same two ways.
* ``ws.fanout_msgs_per_s``: 100 WebSocket clients each subscribed to the
  1 000 changing points; the samples (``[point, ts, value, status]``, one per
  point update) all clients received per second over a fixed window.
  ``ws.fanout_frames_per_s`` counts the WebSocket messages carrying them.

Where an endpoint is missing (404/405), ``GET /api/v1/sites/bench`` is
measured instead and a note goes to stderr; stdout only has figures.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from openbms.bench import Figure
from openbms.model.sample import OK, Sample

SITE = "bench"
DEVICES = 10
POINTS_PER_DEVICE = 100
POLL = 1.0
TREND = f"{SITE}/trend/oat"
HTTP_CLIENTS = 50
PACED_PERIOD = 1.0  # the paced variant: each client once a second, as a dashboard refreshing
WS_CLIENTS = 100
EMAIL = "bench@example.com"
PASSWORD = "bench password 1234"


def _site_yaml() -> str:
    lines = [f"site: {{id: {SITE}, name: Benchmark, timezone: UTC}}",
             f"drivers:\n  sim: {{poll_interval: {POLL}}}", "equipment:"]
    for d in range(DEVICES):
        lines += [f"  - id: dev-{d:02d}", "    type: ahu", "    points:"]
        for p in range(POINTS_PER_DEVICE):
            period = 30 + (d * POINTS_PER_DEVICE + p) % 97
            lines.append(f'      - {{name: p{p:03d}, unit: degC, binding: '
                         f'"sim://dev-{d:02d}/p{p:03d}?wave=sine&min=10&max=30&period={period}"}}')
    lines += ["  - id: trend", "    type: weather", "    points:",
              '      - {name: oat, unit: degC, binding: "sim://trend/oat?wave=constant&value=12"}']
    return "\n".join(lines) + "\n"


async def _write_history(path: Path, now: float) -> None:
    """A day of one-minute samples of the trend point, before the runtime opens the store."""
    from openbms.historian.sqlite import SQLiteHistorian

    historian = SQLiteHistorian(path)
    await historian.start()
    start = now - 86400
    historian.ingest([Sample(TREND, start + i * 60, 12.0 + (i % 1440) / 360, OK) for i in range(1440)])
    await historian.wait_backlog(0)
    await historian.stop()


def _p95(values: list[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(len(ordered) * 0.95) - 1)]


# ---------------------------------------------------------------------- the load (child process)


async def _http_load(url: str, token: str, path: str, clients: int, seconds: float,
                     period: float | None) -> dict[str, Any]:
    """Each client: a request, its answer, then the next at once (``period`` None) or a period later."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    errors = 0

    async def client(k: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as c:
            await c.get(path)  # connect, warm up
            start = time.perf_counter() + (period or 0) * k / clients  # spread the paced clients
            end = start + seconds
            n = 0
            while (due := start + n * period if period else time.perf_counter()) < end:
                if due > time.perf_counter():
                    await asyncio.sleep(due - time.perf_counter())
                t0 = time.perf_counter()
                n += 1
                r = await c.get(path)
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    errors += 1

    await asyncio.gather(*(client(k) for k in range(clients)))
    return {"latencies": latencies, "errors": errors}


async def _ws_load(url: str, token: str, clients: int, warmup: float, seconds: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    counting = False
    samples = frames = 0
    ready = 0
    all_ready = asyncio.Event()

    async def client() -> None:
        nonlocal samples, frames, ready
        async with connect(f"{url}?token={token}", max_size=None) as ws:
            await ws.send(json.dumps({"type": "subscribe", "points": [f"{SITE}/dev-*"]}))
            ready += 1
            if ready == clients:
                all_ready.set()
            async for raw in ws:
                msg = json.loads(raw)
                if counting and msg["type"] == "samples" and not msg.get("snapshot"):
                    samples += len(msg["samples"])
                    frames += 1

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    await all_ready.wait()
    await asyncio.sleep(warmup)
    counting = True
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    counting = False
    elapsed = time.perf_counter() - t0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"samples_per_s": samples / elapsed, "frames_per_s": frames / elapsed}


_WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("openbms %d %d %.3f %.3f %d\\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
    + summary.errors.status))
end
"""


async def _wrk_load(wrk: str, folder: Path, url: str, token: str, path: str, clients: int,
                    seconds: float) -> dict[str, Any]:
    """``clients`` connections back to back for ``seconds`` (after a 1 s warm-up), by wrk."""
    script = folder / "report.lua"
    script.write_text(_WRK_REPORT)
    report: list[str] = []
    cpu = 0.0
    for duration in (1, max(1, round(seconds))):
        cpu = time.process_time()
        proc = await asyncio.create_subprocess_exec(
            wrk, "-t1", f"-c{clients}", f"-d{duration}s", "--timeout", "10s", "-s", str(script),
            "-H", f"Authorization: Bearer {token}", url + path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        report = [line for line in out.decode().splitlines() if line.startswith("openbms ")]
        if proc.returncode != 0 or not report:
            raise RuntimeError(f"wrk failed ({proc.returncode}): {err.decode().strip() or out.decode()}")
        cpu = time.process_time() - cpu
    requests, micros, p50, p95, errors = report[-1].split()[1:]
    return {"requests": int(requests), "seconds": int(micros) / 1e6, "p50": float(p50), "p95": float(p95),
            "errors": int(errors), "cpu": cpu}


def _child(kind: str, *args: Any) -> dict[str, Any]:
    """Entry point of the load process."""
    if kind == "http":
        return asyncio.run(_http_load(*args))
    return asyncio.run(_ws_load(*args))


# ---------------------------------------------------------------------- the server (this process)


async def _login(url: str) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        r = await c.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
        r.raise_for_status()
        return str(r.json()["access_token"])


async def _pick(url: str, token: str, wanted: str, fallback: str, what: str) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"}) as c:
        status = (await c.get(wanted)).status_code
    if status == 200:
        return wanted
    print(f"note: {what}: GET {wanted.split('?')[0]} answered {status}; measured GET {fallback} instead",
          file=sys.stderr)
    return fallback


async def _bench(folder: Path, quick: bool) -> list[Figure]:
    from openbms.api.auth.passwords import Passwords
    from openbms.api.server import serve
    from openbms.config import load_sites
    from openbms.db.accounts import create_user
    from openbms.service.runtime import Runtime, freeze_startup_objects

    sites = folder / "sites"
    sites.mkdir()
    (sites / f"{SITE}.yaml").write_text(_site_yaml())
    data = folder / "data"
    data.mkdir()
    now = time.time()
    await _write_history(data / "history.db", now)
    runtime = Runtime(load_sites(sites), data, api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    freeze_startup_objects()  # as openbms run does
    seconds = 3.0 if quick else 10.0
    loop = asyncio.get_running_loop()
    errors = 0
    try:
        assert runtime.state is not None  # open once started
        create_user(runtime.state, EMAIL, Passwords().hash(PASSWORD), grants={SITE: "viewer"})
        url = runtime.api.url
        token = await _login(url)
        for _ in range(600):  # until every point has a value
            if len(runtime.cache) >= DEVICES * POINTS_PER_DEVICE:
                break
            await asyncio.sleep(0.1)
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 86400))
        current = await _pick(url, token, f"/api/v1/sites/{SITE}/points?limit=100", f"/api/v1/sites/{SITE}",
                              "current values")
        history = await _pick(url, token, f"/api/v1/sites/{SITE}/history?points={TREND}&since={since}"
                              "&rollup=raw", f"/api/v1/sites/{SITE}", "history")
        figures: list[Figure] = []
        wrk = shutil.which("wrk")
        if wrk is None:
            print("note: wrk is not on the PATH (apt-get install wrk): the saturating load comes from "
                  "httpx clients, which take a core of their own", file=sys.stderr)
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            for name, path in (("current_values", current), ("history_day", history)):
                for mode, period in (("", None), ("_paced", PACED_PERIOD)):
                    cpu = time.process_time()
                    if wrk is not None and period is None:
                        got = await _wrk_load(wrk, folder, url, token, path, HTTP_CLIENTS, seconds)
                        cpu = got["cpu"]
                        n, p95, p50, rps = (got["requests"], got["p95"], got["p50"],
                                            got["requests"] / got["seconds"])
                    else:
                        got = await loop.run_in_executor(pool, _child, "http", url, token, path, HTTP_CLIENTS,
                                                         seconds, period)
                        cpu = time.process_time() - cpu
                        lat = got["latencies"]
                        n, p95, p50, rps = len(lat), _p95(lat), statistics.median(lat), len(lat) / seconds
                    figures += [(f"api.{name}{mode}_p95_ms", round(p95, 1), "ms"),
                                (f"api.{name}{mode}_p50_ms", round(p50, 1), "ms"),
                                (f"api.{name}{mode}_rps", round(rps), "1/s")]
                    if not mode:
                        figures.append((f"api.{name}_server_cpu_ms", round(cpu * 1000 / max(n, 1), 2), "ms"))
                    errors += got["errors"]
            ws_url = url.replace("http", "ws", 1) + "/api/v1/ws"
            cpu = time.process_time()
            fan = await loop.run_in_executor(pool, _child, "ws", ws_url, token, WS_CLIENTS, 3.0, seconds)
            cpu = time.process_time() - cpu
        coalesced = sum(s.get("dropped", 0) for name, s in runtime.bus.stats().subscribers.items()
                        if name.startswith("ws:"))
    finally:
        await runtime.stop()
    return [
        *figures,
        ("api.errors", errors, "1"),
        ("ws.fanout_msgs_per_s", round(fan["samples_per_s"]), "1/s"),
        ("ws.fanout_frames_per_s", round(fan["frames_per_s"]), "1/s"),
        ("ws.fanout_coalesced", coalesced, "1"),
        ("ws.fanout_server_cpu_pct", round(cpu * 100 / (seconds + 3.0)), "%"),
    ]


def run(quick: bool = False) -> Iterator[Figure]:
    """Figures: REST p95 (current values, a day of history) under 50 clients, WebSocket fan-out to 100."""
    with tempfile.TemporaryDirectory(prefix="openbms-bench-") as tmp:
        yield from asyncio.run(_bench(Path(tmp), quick))
