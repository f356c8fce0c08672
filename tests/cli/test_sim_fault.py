"""`openbms sim fault` against a running `openbms demo`: a fault injected from the command line trips the
emulated chiller (its status and power fall, its alarm raises), and clearing it repairs the chiller.

The check against a running demo is run by tests/cli/test_demo.py inside its demo process (one `openbms
demo` started for both: each start and stop costs half a minute of CI); the rest runs without a demo."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.fixtures.demo_process import DemoProcess
from typer.testing import CliRunner

from openbms.cli.main import app

runner = CliRunner()
CHILLER = "/api/v1/sites/demo/points/chiller-plant"


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 120.0) -> None:
    """Return once ``check()`` is true (a generous bound only stops a broken test from hanging)."""
    for _ in range(int(within / 0.25)):
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"gave up waiting for {what} after {within:g} s")


def fault(*args: str, demo: Path, url: str) -> Any:
    """``openbms sim fault ARGS`` signed in as the demo's admin (from the demo folder's login)."""
    env = {"OPENBMS_ADMIN_EMAIL": None, "OPENBMS_ADMIN_PASSWORD": None, "OPENBMS_TOKEN": None,
           "COLUMNS": "200"}
    return runner.invoke(app, ["sim", "fault", *args, "--url", url, "-d", str(demo)], env=env)


async def check_a_fault_injected_from_the_cli_trips_the_chiller(process: DemoProcess, demo: Path) -> None:
    """Inject a chiller trip with `openbms sim fault` into the running demo ``process`` (its folder
    ``demo``): the chiller stops, its alarm raises; clearing it repairs the chiller and the alarm returns.
    Called by tests/cli/test_demo.py, which starts the one demo process both use."""
    url, client = process.url, process.api

    async def value(name: str) -> Any:
        r = await client.get(f"{CHILLER}/{name}")
        assert r.status_code == 200, r.text
        return r.json().get("value")

    async def alarm_state() -> str:
        r = await client.get("/api/v1/sites/demo/alarms/ch-1-trip")
        assert r.status_code == 200, r.text
        return str(r.json()["state"])

    # Run chiller 1 whatever the season: its pump and it held on by an operator.
    for name in ("chwp-1-en", "ch-1-en"):
        r = await client.post(f"{CHILLER}/{name}/commands",
                              json={"value": True, "priority": 8, "reason": "fault test"})
        assert r.status_code == 201, r.text

    async def running() -> bool:
        return await value("ch-1-status") is True

    await until(running, "chiller 1 running")
    assert await value("ch-1-alarm") is False and await alarm_state() == "normal"

    listed = fault("list", "--kind", "chiller-trip", demo=demo, url=url)
    assert listed.exit_code == 0, listed.output
    assert "chiller-trip:ch-1" in listed.output and "0 active" in listed.output

    injected = fault("inject", "chiller-trip:ch-1", demo=demo, url=url)
    assert injected.exit_code == 0, injected.output
    assert "injected chiller-trip:ch-1" in injected.output

    async def tripped() -> bool:  # the physics: the chiller stops and draws nothing
        return (await value("ch-1-status") is False and await value("ch-1-kw") == 0
                and await value("ch-1-alarm") is True)

    await until(tripped, "chiller 1 tripped")

    async def alarmed() -> bool:
        return await alarm_state() == "active-unacked"

    await until(alarmed, "the ch-1-trip alarm")
    active = fault("list", "--active", demo=demo, url=url)
    assert active.exit_code == 0 and "1 faults, 1 active" in active.output

    cleared = fault("clear", "--all", demo=demo, url=url)
    assert cleared.exit_code == 0, cleared.output
    assert "cleared chiller-trip:ch-1" in cleared.output

    async def repaired() -> bool:
        return await value("ch-1-alarm") is False and await value("ch-1-status") is True

    await until(repaired, "chiller 1 repaired")

    async def returned() -> bool:
        return await alarm_state() == "returned-unacked"

    await until(returned, "the alarm returned to normal")

    unknown = fault("inject", "chiller-trip:ch-9", demo=demo, url=url)
    assert unknown.exit_code == 1
    assert "no fault 'chiller-trip:ch-9'" in " ".join(unknown.output.split())
    bad = fault("inject", "stuck-damper:ahu-1", "150", demo=demo, url=url)
    assert bad.exit_code == 1
    assert "must be from 0 to 100 %, not 150" in " ".join(bad.output.split())


def test_without_a_running_demo_the_cli_says_so(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo-login").write_text("admin@demo.openbms.local\nsecret\n")
    result = fault("list", demo=tmp_path, url="http://127.0.0.1:9")
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "cannot reach openbms at http://127.0.0.1:9" in said and "is 'openbms demo' running?" in said


def test_without_a_login_the_cli_says_how_to_give_one(tmp_path):
    result = fault("list", demo=tmp_path, url="http://127.0.0.1:9")
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "no login to sign in with: give --token" in said and "OPENBMS_ADMIN_EMAIL" in said


def test_clear_needs_faults_or_all(tmp_path):
    result = fault("clear", demo=tmp_path, url="http://127.0.0.1:9")
    assert result.exit_code == 2 and "give the faults to clear, or --all" in " ".join(result.output.split())
