"""The openbms process: ordered start, graceful stop on SIGTERM with history flushed."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys

import httpx
import pytest
import sqlalchemy as sa
from tests.fixtures.waiting import eventually

from openbms.api.server import serve
from openbms.config import load_sites
from openbms.control.commands import CommandStore
from openbms.db import open_state
from openbms.db.schema import program_versions
from openbms.runtime.clock import ManualClock
from openbms.service.runtime import Runtime

FAST_SITE = """\
site: {id: t, timezone: Europe/Paris}
drivers:
  sim: {poll_interval: 0.2}
equipment:
  - id: ahu
    points:
      - {name: sat, unit: degC, binding: "sim://ahu/sat?wave=ramp&min=10&max=20&period=60"}
      - {name: fan, kind: bool, binding: "sim://ahu/fan?wave=square&period=2&kind=bool"}
      - {name: nohist, binding: "sim://ahu/nohist", history: {enabled: false}}
"""


async def test_runtime_polls_into_cache_and_history_and_stops_in_order(tmp_path):
    (tmp_path / "site.yaml").write_text(FAST_SITE)
    sites = load_sites(tmp_path)
    clock = ManualClock(1_700_000_000.0)
    rt = Runtime(sites, tmp_path / "data", clock=clock)
    await rt.start()
    for _ in range(10):
        await clock.advance(0.2)
    assert rt.cache.get("t/ahu/sat") is not None
    st = rt.status()
    assert st.points == 3 and st.devices == 1 and st.samples >= 30
    await rt.stop()
    await rt.stop()  # twice is harmless
    db = sqlite3.connect(tmp_path / "data" / "history.db")
    points = {p for (p,) in db.execute("SELECT point FROM series")}
    count = db.execute("SELECT count(*) FROM history").fetchone()[0]
    db.close()
    assert points == {"t/ahu/sat", "t/ahu/fan"}  # history disabled for 'off'
    assert count >= 20
    state = sqlite3.connect(tmp_path / "data" / "state.db")
    assert state.execute("SELECT count(*) FROM points").fetchone()[0] == 3
    state.close()


async def test_run_forever_reports_its_status_once_started_not_a_tick_later(tmp_path):
    # `openbms demo --status-every 60` told the dashboard's address a minute after it was up.
    (tmp_path / "site.yaml").write_text(FAST_SITE)
    rt = Runtime(load_sites(tmp_path), tmp_path / "data")
    seen = []

    def on_tick(status):
        seen.append(status)
        rt.request_stop()

    await asyncio.wait_for(rt.run_forever(on_tick=on_tick, tick=3600), 60)  # the bound only stops a hang
    assert len(seen) == 1 and seen[0].points == 3


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["sigterm", "sighup"])
def test_sigterm_stops_openbms_run_cleanly_with_everything_flushed(tmp_path, stop):
    """SIGTERM, and SIGHUP (the terminal closed), stop it cleanly."""
    (tmp_path / "site.yaml").write_text(FAST_SITE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "openbms.cli", "run", "-d", str(tmp_path), "--status-every", "0.3",
         "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    lines = []
    answered: list[dict] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Dashboard: "):
                base = line.split()[1].rstrip("/")
                health = httpx.get(f"{base}/api/v1/health", timeout=10)
                assert health.status_code == 200, health.text
                answered.append(health.json())
            if " stored" in line and not line.split(" stored")[0].endswith(" 0"):
                break
        proc.send_signal(stop)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert answered, output  # the API answered while the site ran
    assert "stopped cleanly" in output
    data = tmp_path / "data"
    db = sqlite3.connect(data / "history.db")
    db.execute("ATTACH DATABASE ? AS ib", (str(data / "history.db.inbox"),))
    assert db.execute("SELECT count(*) FROM history").fetchone()[0] > 0
    assert db.execute("SELECT count(*) FROM ib.inbox").fetchone()[0] == 0  # all merged at stop
    db.close()
    # The lock went with the process: another owner can open the history.
    import fcntl

    with open(data / "history.db.lock", "rb+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_bad_site_file_starts_nothing_and_says_why(tmp_path):
    (tmp_path / "site.yaml").write_text("site: {id: t}\nequipment:\n  - id: a\n    typo: 1\n")
    result = subprocess.run([sys.executable, "-m", "openbms.cli", "run", "-d", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "site.yaml:4:5: unknown key 'typo'" in result.stdout
    assert "nothing started" in result.stderr
    assert not (tmp_path / "data").exists()


async def test_api_settings_that_are_wrong_in_the_environment_stop_the_start_with_a_message(tmp_path,
                                                                                         monkeypatch):
    import pytest

    from openbms.errors import OpenBMSError

    monkeypatch.setenv("OPENBMS_TRUSTED_PROXIES", "not-an-address")
    (tmp_path / "site.yaml").write_text(FAST_SITE)
    rt = Runtime(load_sites(tmp_path), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    with pytest.raises(OpenBMSError, match=r"the API cannot start.*not-an-address"):
        await rt.start()
    await rt.stop()


def _site_with_program(folder, site: str, *, listed: bool = True, oat: bool = True) -> None:
    """A site whose program ``hold`` commands its ``oat`` (12) to ``sp`` at priority 10.

    ``listed=False``: the site file does not name the program (as one deployed through
    the API); ``oat=False``: the point the program reads is gone from the site.
    """
    import json

    (folder / f"{site}.yaml").write_text(
        f"site: {{id: {site}, timezone: UTC}}\n"
        "drivers:\n  sim: {poll_interval: 1}\n"
        "equipment:\n  - id: ahu\n    points:\n"
        + ('      - {name: oat, unit: degC, binding: "sim://ahu/oat?value=12"}\n' if oat else "")
        + "      - {name: sp, unit: degC, writable: true, limits: {min: 10, max: 30}, relinquish_default: 20,"
        ' binding: "sim://ahu/sp"}\n'
        + (f"programs:\n  - {site}-hold.json\n" if listed else ""))
    (folder / f"{site}-hold.json").write_text(json.dumps({
        "id": "hold", "site": site, "name": "hold", "period_s": 10,
        "inputs": [{"id": "oat", "point": f"{site}/ahu/oat"}],
        "blocks": [], "outputs": [{"id": "sp", "point": f"{site}/ahu/sp", "priority": 10}],
        "wires": [{"from": "oat", "to": "sp"}]}))


async def test_two_sites_may_each_have_a_program_of_the_same_id(tmp_path):
    _site_with_program(tmp_path, "a")
    _site_with_program(tmp_path, "b")
    clock = ManualClock(1_700_000_000.0)
    rt = Runtime(load_sites(tmp_path), tmp_path / "data", clock=clock)
    await rt.start()
    try:
        status = rt.programs.status()
        assert {"a/hold", "b/hold"} <= set(status), status
    finally:
        await rt.stop()


SP = "a/ahu/sp"


async def _hold_runs_then_stops(tmp_path, clock: ManualClock) -> None:
    """A first run: the program ``hold`` commands 12 at priority 10; the command table keeps it."""
    _site_with_program(tmp_path, "a")
    rt = Runtime(load_sites(tmp_path), tmp_path / "data", clock=clock)
    await rt.start()
    try:
        for _ in range(600):  # the program's first write goes through background tasks: real time too
            if rt.arbiter.priority_array(SP)[9] == 12:
                break
            await clock.advance(1)
            await asyncio.sleep(0.02)
        assert rt.arbiter.priority_array(SP)[9] == 12
    finally:
        await rt.stop()


async def _restart_finds_hold_failed_and_released(tmp_path, clock: ManualClock, why: str) -> None:
    rt = Runtime(load_sites(tmp_path), tmp_path / "data", clock=clock)
    await rt.start()
    try:
        await eventually(lambda: rt.arbiter.priority_array(SP)[9] is None,
                         "the slot of the program that does not run released")
        assert rt.arbiter.effective(SP) == 20
        status = rt.program_status("hold", "a")
        assert status is not None and status.state == "failed" and status.version == 1
        assert status.last_error.startswith("not started: ") and why in status.last_error
        assert not rt.programs.is_loaded("hold", "a")
        await rt.arbiter.flush()
        state = open_state(rt.state_url)
        try:  # the release is kept: the next start restores nothing into the slot
            held = [c for c in CommandStore(state).holding() if c.point == SP and c.priority == 10]
        finally:
            state.dispose()
        assert len(held) == 1 and held[0].release and held[0].requested_by == "program:hold"
        assert "does not run" in held[0].reason
        await _the_api_shows_hold_failed(rt, why)
    finally:
        await rt.stop()


async def _the_api_shows_hold_failed(rt: Runtime, why: str) -> None:
    from openbms.api import create_app
    from openbms.api.auth.passwords import Passwords
    from openbms.api.settings import ApiSettings
    from openbms.db.accounts import create_user

    create_user(rt.state, "viewer@example.com", Passwords().hash("viewer password 1"), grants={"a": "viewer"})
    app = create_app(rt, settings=ApiSettings(secret_key="a test key of thirty-two bytes!!"))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=transport, base_url="http://openbms") as client:
        r = await client.post("/api/v1/auth/login",
                              json={"email": "viewer@example.com", "password": "viewer password 1"})
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        listed = (await client.get("/api/v1/sites/a/programs")).json()["items"]
        one = await client.get("/api/v1/sites/a/programs/hold")
    assert [p["status"]["state"] for p in listed if p["id"] == "hold"] == ["failed"], listed
    if why == "period_s":  # the stored document itself fails the limits: said so, not "not found"
        assert one.status_code == 409 and "period_s" in one.json()["detail"], one.text
    else:
        assert one.status_code == 200, one.text
        assert one.json()["status"]["state"] == "failed" and why in one.json()["status"]["last_error"]
        assert one.json()["values"] is None


async def test_a_program_the_limits_now_refuse_releases_its_restored_slot_and_shows_failed(tmp_path):
    clock = ManualClock(1_700_000_000.0)
    await _hold_runs_then_stops(tmp_path, clock)
    # As if saved (through the API) before the limits existed: the stored version now fails them.
    _site_with_program(tmp_path, "a", listed=False)
    state = open_state(f"sqlite:///{tmp_path / 'data' / 'state.db'}")
    with state.begin() as conn:
        definition = conn.execute(sa.select(program_versions.c.definition)).scalar_one()
        conn.execute(program_versions.update().values(definition={**definition, "period_s": 0.000001}))
    state.dispose()
    await _restart_finds_hold_failed_and_released(tmp_path, clock, "period_s")


async def test_a_program_that_no_longer_validates_releases_its_restored_slot_and_shows_failed(tmp_path):
    clock = ManualClock(1_700_000_000.0)
    await _hold_runs_then_stops(tmp_path, clock)
    _site_with_program(tmp_path, "a", listed=False, oat=False)  # the point it reads is gone
    await _restart_finds_hold_failed_and_released(tmp_path, clock, "a/ahu/oat")


def test_an_api_address_without_a_front_to_serve_it_is_refused_at_once(tmp_path):
    # The service layer does not import the API: whoever starts the process hands it the front.
    with pytest.raises(ValueError, match="api_front"):
        Runtime([], tmp_path / "data", api=("127.0.0.1", 0))
