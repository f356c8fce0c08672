"""An openbms child process for the bridge tests: one site with an MQTT bridge, fed samples.

``python -m tests.integration.mqtt_bridge_child DATA PORT POINTS PERIOD [FORMAT]`` builds the site's
services through the ``Assembly`` (the bridge, its link and its outbox in ``DATA``), then every
``PERIOD`` seconds publishes one sample of each of ``POINTS`` points (100 a device) on the bus,
waits until the outbox has them on disk, and prints ``queued TS`` (the samples' time): what
printed is what the outbox guarantees. It prints ``ready`` once the bridge runs and stops
gracefully on SIGTERM; a test kills it with SIGKILL to crash it. ``FORMAT`` is the per-device
batches' (``json``, the default, or ``sparkplug``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from openbms.model.sample import Sample
from openbms.model.site import SiteConfig
from openbms.runtime.clock import WallClock
from openbms.service.assembly import Assembly

PER_DEVICE = 100


def bridge_site(port: int, points: int, **bridge: object) -> SiteConfig:
    """Site ``hq``: equipment ``eq-K`` of 100 points ``pN`` each, on devices ``sim:dev-K``."""
    equipment = [
        {"id": f"eq-{k}", "type": "sensor",
         "points": [{"name": f"p{i}", "unit": "degC", "binding": f"sim://dev-{k}/p{i}"}
                    for i in range(k * PER_DEVICE, min(points, (k + 1) * PER_DEVICE))]}
        for k in range((points + PER_DEVICE - 1) // PER_DEVICE)]
    return SiteConfig.model_validate({
        "site": {"id": "hq", "timezone": "UTC"},
        "mqtt": {"port": port, "timeout": 2, "bridge": {"per_point": False, "per_device": True,
                                                         **bridge}},
        "equipment": equipment})


def point_ids(site: SiteConfig) -> list[str]:
    return [pid for pid, _e, _p in site.points()]


async def main(data: Path, port: int, points: int, period: float, fmt: str = "json") -> None:
    clock = WallClock()
    site = bridge_site(port, points, format=fmt)
    assembly = Assembly([site], clock, data_dir=data)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await assembly.start_site_services(None)
    bridge = assembly.bridges["hq"]
    ids = point_ids(site)
    print("ready", flush=True)
    value = 0
    try:
        while not stop.is_set():
            ts = clock.now()
            value += 1
            assembly.bus.publish([Sample(pid, ts, float(value)) for pid in ids])
            await bridge.link.outbox.flush()
            print(f"queued {ts!r}", flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), period)
    finally:
        await assembly.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
                     *sys.argv[5:6]))
