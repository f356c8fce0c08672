"""Command/response over MQTT: the round trip of a write, request to response.

A Mosquitto started on a free loopback port, an openbms runtime with its API
(one site on the ``sim`` driver, ``mqtt: commands: enabled``) and an operator's
API token. One MQTT v5 client sends ``write`` requests one after the other
(each waits for its answer), alternating two values, so every request goes
through the whole path: broker → the site's connection → the API's handler
(sign-in, permission, rate limit) → the arbiter → the device write → the
command and audit rows → the response through the broker. Figures:

- ``mqtt.command_rtt_p50_ms`` / ``mqtt.command_rtt_p99_ms``: that round trip
  (target p99 ≤ 20 ms on 2 cores).

The client runs in the same process and event loop as the server (it is one
small coroutine waiting for each answer). ``openbms bench mqtt`` calls
``figures``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from openbms.bench import Figure

__all__ = ["figures", "run"]

MOSQUITTO = Path(os.environ.get("OPENBMS_MOSQUITTO", "/usr/sbin/mosquitto"))

_SITE = """\
site: {{id: bench, name: Command bench, timezone: UTC}}
drivers:
  sim: {{poll_interval: 5}}
mqtt:
  host: 127.0.0.1
  port: {port}
  bridge: {{enabled: false}}
  commands: {{enabled: true}}
equipment:
  - id: ahu-1
    type: ahu
    points:
      - name: sat-sp
        unit: degC
        writable: true
        relinquish_default: 13
        limits: {{min: 10, max: 18}}
        binding: "sim://ahu-1/sat-sp?wave=constant&value=13"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _mosquitto(folder: Path) -> Iterator[int]:
    """A throw-away Mosquitto on a free loopback port (its port)."""
    if not MOSQUITTO.exists():
        raise RuntimeError(f"no Mosquitto at {MOSQUITTO}: apt-get install mosquitto (or set "
                           "OPENBMS_MOSQUITTO)")
    port = _free_port()
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                      "log_dest none\nset_tcp_nodelay true\n" + ("user root\n" if os.geteuid() == 0 else ""))
    proc = subprocess.Popen([str(MOSQUITTO), "-c", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not listen on 127.0.0.1:{port}") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _round_trips(folder: Path, port: int, count: int) -> list[float]:
    from openbms.api.server import serve
    from openbms.config import load_sites
    from openbms.db.accounts import create_api_token, create_user
    from openbms.service.runtime import Runtime

    sites = folder / "sites"
    sites.mkdir()
    (sites / "bench.yaml").write_text(_SITE.format(port=port))
    runtime = Runtime(load_sites(sites), folder / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        assert runtime.state is not None
        user = create_user(runtime.state, "bench@example.com", "-", grants={"bench": "operator"})
        token = create_api_token(runtime.state, user["id"], "bench")[0]
        api = runtime.api.app.state.openbms
        api.limiter.reset()
        props = [("authorization", f"Bearer {token}")]
        times: list[float] = []
        async with runtime.command_links.client("bench") as client:
            for i in range(count + 20):  # the first 20 warm the caches (sign-in, SQLite pages)
                if i % 50 == 0:
                    api.limiter.reset()  # the per-user write rate limit is not what is measured
                body = json.dumps({"id": f"b-{i}", "point": "ahu-1/sat-sp", "value": 12 + i % 2})
                start = time.perf_counter()
                answer = json.loads(await client.ask("write", body.encode(), user_properties=props))
                elapsed = time.perf_counter() - start
                if not answer.get("ok"):
                    raise RuntimeError(f"the write was refused: {answer.get('error')}")
                if i >= 20:
                    times.append(elapsed)
        return times
    finally:
        await runtime.stop()


def figures(quick: bool = False) -> Iterator[Figure]:
    """``mqtt.command_rtt_p50_ms`` and ``mqtt.command_rtt_p99_ms``."""
    folder = Path(tempfile.mkdtemp(prefix="openbms-bench-cmd-"))
    try:
        with _mosquitto(folder) as port:
            times = asyncio.run(_round_trips(folder, port, 200 if quick else 2000))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    yield ("mqtt.command_rtt_p50_ms", round(cuts[49] * 1000, 2), "ms")
    yield ("mqtt.command_rtt_p99_ms", round(cuts[98] * 1000, 2), "ms")


def run(quick: bool = False) -> Iterator[Figure]:
    """The same figures (for ``openbms bench``'s loader)."""
    yield from figures(quick)
