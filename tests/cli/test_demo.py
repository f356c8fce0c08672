"""`openbms demo` from nothing: the emulated building, openbms and the API, live within seconds; and
`openbms sim fault` against it (tests/cli/test_sim_fault.py's check, in the same demo process)."""

from __future__ import annotations

import asyncio
import time

from tests.cli.test_sim_fault import check_a_fault_injected_from_the_cli_trips_the_chiller
from tests.fixtures.demo_process import demo_process


async def test_the_demo_brings_up_a_live_building_whose_faults_the_cli_injects_and_clears(tmp_path):
    async with demo_process(tmp_path / "demo", status_every=2, stop_within=120) as demo:
        client = demo.api
        assert (await client.get("/")).status_code == 200  # the dashboard (or how to build it)
        seen: dict[str, set] = {}

        async def zone_temps() -> bool:
            r = await client.get("/api/v1/sites/demo/points", params={"tag": "zone", "limit": 50})
            assert r.status_code == 200, r.text
            for p in r.json()["items"]:
                if p.get("value") is not None:
                    seen.setdefault(p["id"], set()).add(p["value"])
            return any(len(v) > 1 for v in seen.values())

        changed = False
        while not changed and time.monotonic() - demo.started < 120:
            changed = await zone_temps()
            if not changed:
                await asyncio.sleep(1)
        assert changed, seen  # values change live (the issue asks within 30 s of start)
        elapsed = time.monotonic() - demo.started
        print(f"demo: values changing in the API {elapsed:.1f} s after start")
        await check_a_fault_injected_from_the_cli_trips_the_chiller(demo, tmp_path / "demo")
    assert demo.proc.returncode == 0, demo.output
    assert "stopped cleanly" in demo.output
