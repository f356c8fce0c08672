"""The runtime runs a site file's schedules and alarms through the arbiter and the state database."""

from __future__ import annotations

import datetime as dt
import sqlite3

from tests.fixtures.waiting import eventually

from openbms.config import load_sites
from openbms.model import parse_binding
from openbms.runtime.clock import ManualClock
from openbms.service.runtime import Runtime

SITE = """\
site: {id: t, timezone: Europe/London}
drivers:
  sim: {poll_interval: 1}
equipment:
  - id: ahu
    points:
      - {name: sat, unit: degC, binding: "sim://ahu/sat?wave=constant&value=35"}
      - name: occ
        kind: bool
        writable: true
        relinquish_default: false
        binding: "sim://ahu/occ?wave=constant&value=0&kind=bool"
schedules:
  - id: occupancy
    kind: bool
    default: false
    priority: 12
    targets: [t/ahu/occ]
    weekly:
      monday: [{time: "07:00", value: true}, {time: "19:00", value: false}]
alarms:
  - {id: sat-high, type: high, point: t/ahu/sat, limit: 30, deadband: 1, on_delay_s: 5}
"""

# Monday 2026-11-30 06:59:00 in London (UTC in winter).
START = dt.datetime(2026, 11, 30, 6, 59, tzinfo=dt.UTC).timestamp()


def occ_array(rt: Runtime) -> list:
    assert rt.arbiter is not None
    return rt.arbiter.priority_array("t/ahu/occ")


async def test_schedules_command_through_the_arbiter_and_alarms_are_kept_across_a_restart(tmp_path):
    (tmp_path / "site.yaml").write_text(SITE)
    sites = load_sites(tmp_path)
    clock = ManualClock(START)
    rt = Runtime(sites, tmp_path / "data", clock=clock)
    events = rt.bus.subscribe_events("alarm")
    await rt.start()
    try:
        await eventually(lambda: occ_array(rt)[11] is False, "the schedule's value at start")
        for _ in range(70):  # across 07:00, polling every second
            await clock.advance(1)
        await eventually(lambda: occ_array(rt)[11] is True, "07:00 occupied")
        sim = rt.drivers["sim"]
        occ = parse_binding("sim://ahu/occ?wave=constant&value=0&kind=bool")
        assert sim.priority_array(occ)[15] is True  # written to the device
        await eventually(lambda: rt.alarms["t"].engine.get("sat-high").state == "active-unacked",
                         "the high alarm")
    finally:
        await rt.stop()
    got = []
    while events._queue:
        got.append(await events.get())
    assert [(t, p["action"], p["site"]) for t, p in got] == [("alarm", "raise", "t")]
    db = sqlite3.connect(tmp_path / "data" / "state.db")
    rows = db.execute("SELECT action, to_state, site_id FROM alarm_events").fetchall()
    commands = db.execute("SELECT source, requested_by, value, status FROM commands "
                          "ORDER BY created_at").fetchall()
    db.close()
    assert rows == [("raise", "active-unacked", "t")]
    assert commands[-1] == ("schedule", "schedule:occupancy", "true", "completed")

    # Restart: the alarm is still active and is not raised a second time.
    rt2 = Runtime(load_sites(tmp_path), tmp_path / "data", clock=clock)
    await rt2.start()
    try:
        assert rt2.alarms["t"].engine.get("sat-high").state == "active-unacked"
        assert occ_array(rt2)[11] is True  # the schedule's command was restored too
        for _ in range(10):
            await clock.advance(1)
    finally:
        await rt2.stop()
    db = sqlite3.connect(tmp_path / "data" / "state.db")
    assert db.execute("SELECT count(*) FROM alarm_events").fetchone()[0] == 1
    db.close()


async def test_the_example_site_deploys_its_programs_once_and_they_command_through_the_arbiter(tmp_path):
    import shutil
    from pathlib import Path

    examples = Path(__file__).parents[2] / "src" / "openbms" / "examples"
    shutil.copytree(examples / "office", tmp_path / "office")
    clock = ManualClock(START)
    rt = Runtime(load_sites(tmp_path / "office"), tmp_path / "data", clock=clock)
    await rt.start()
    try:
        assert rt.programs is not None
        assert sorted(rt.programs.loaded()) == ["ahu-1-control", "chw-plant-control", "hw-plant-control"]
        for _ in range(30):
            await clock.advance(1)
        await eventually(lambda: any(c is not None and str(c.source) == "logic"
                                     for p in rt.arbiter.controlled()
                                     for c in rt.arbiter.slots(p)), "a program's command")
    finally:
        await rt.stop()
    rt2 = Runtime(load_sites(tmp_path / "office"), tmp_path / "data", clock=clock)
    await rt2.start()
    try:
        assert rt2.program_store is not None
        assert [p.latest_version for p in rt2.program_store.list()] == [1, 1, 1]  # unchanged files
    finally:
        await rt2.stop()
