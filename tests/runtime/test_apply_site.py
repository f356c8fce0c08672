"""Changing a running site's configuration: written to its file, applied to everything running."""

from __future__ import annotations

import pytest
from tests.fixtures.waiting import eventually

from openbms.config import load_site, load_sites
from openbms.errors import ConfigError, OpenBMSError
from openbms.model import DriverSettings, Point
from openbms.runtime.clock import ManualClock
from openbms.service.runtime import Runtime

SITE = """\
# a comment that an API change will not keep
site: {id: t, timezone: Europe/London}
drivers:
  sim: {poll_interval: 1}
equipment:
  - id: ahu
    points:
      - {name: sat, unit: degC, binding: "sim://ahu/sat?wave=constant&value=14"}
      - name: sp
        unit: degC
        writable: true
        relinquish_default: 13
        limits: {min: 10, max: 18}
        binding: "sim://ahu/sp?wave=constant&value=13"
alarms:
  - {id: sat-high, type: high, point: t/ahu/sat, limit: 30}
"""


async def test_a_changed_site_is_written_checked_and_applied_keeping_priority_arrays(tmp_path):
    (tmp_path / "site.yaml").write_text(SITE)
    clock = ManualClock(1_780_000_000.0)
    rt = Runtime(load_sites(tmp_path), tmp_path / "data", clock=clock)
    await rt.start()
    try:
        assert rt.arbiter is not None
        await rt.arbiter.command("t/ahu/sp", 15, 8)
        (cfg,) = rt.sites
        ahu = cfg.equipment[0]
        new_point = Point(name="rat", unit="degC", binding="sim://ahu/rat?wave=constant&value=21")
        sp = ahu.points[1].model_copy(update={"limits": ahu.points[1].limits.model_copy(
            update={"max": 20})})
        changed = cfg.model_copy(update={"equipment": (ahu.model_copy(update={
            "points": (ahu.points[0], sp, new_point)}),)})
        await rt.apply_site(changed)

        on_disk = load_site(tmp_path / "site.yaml")
        assert [p.name for p in on_disk.equipment[0].points] == ["sat", "sp", "rat"]
        assert on_disk.equipment[0].points[1].limits.max == 20
        assert [a.id for a in on_disk.alarms] == ["sat-high"]  # the rest of the file is kept
        assert "a comment" in (tmp_path / "site.yaml.bak").read_text()
        for _ in range(3):
            await clock.advance(1)
        await eventually(lambda: rt.cache.get("t/ahu/rat") is not None, "the new point polled")
        assert rt.arbiter.priority_array("t/ahu/sp")[7] == 15  # kept across the change
        await rt.arbiter.command("t/ahu/sp", 19, 8)  # the new limit is in force
        assert rt.alarms["t"].engine.points == frozenset({"t/ahu/sat"})
    finally:
        await rt.stop()


async def test_a_bad_change_says_where_and_changes_nothing(tmp_path):
    (tmp_path / "site.yaml").write_text(SITE)
    rt = Runtime(load_sites(tmp_path), tmp_path / "data", clock=ManualClock(1_780_000_000.0))
    await rt.start()
    try:
        (cfg,) = rt.sites
        ahu = cfg.equipment[0]
        bad = Point(name="sat", unit="degC", binding="sim://ahu/x")  # a second 'sat'
        changed = cfg.model_copy(update={"equipment": (ahu.model_copy(update={
            "points": (*ahu.points, bad)}),)})
        with pytest.raises(ConfigError) as info:
            await rt.apply_site(changed)
        assert "duplicate point name 'sat'" in str(info.value)
        assert str(tmp_path / "site.yaml") in str(info.value)
        assert (tmp_path / "site.yaml").read_text() == SITE
        assert rt.sites[0] is cfg
    finally:
        await rt.stop()


async def test_a_change_that_cannot_be_applied_puts_back_the_file_and_the_running_site(tmp_path):
    (tmp_path / "site.yaml").write_text(SITE)
    rt = Runtime(load_sites(tmp_path), tmp_path / "data", clock=ManualClock(1_780_000_000.0))
    await rt.start()
    try:
        (cfg,) = rt.sites
        ahu = cfg.equipment[0]
        # Valid on paper, but its driver cannot start: no such interface address.
        bacnet = Point(name="rat", unit="degC", binding="bacnet://1001/analog-input,1")
        changed = cfg.model_copy(update={
            "drivers": {**cfg.drivers, "bacnet": DriverSettings(address="192.0.2.250/24:47809")},
            "equipment": (ahu.model_copy(update={"points": (*ahu.points, bacnet)}),)})
        with pytest.raises(OpenBMSError, match="the previous configuration was restored"):
            await rt.apply_site(changed)
        assert load_site(tmp_path / "site.yaml").equipment[0].points[-1].name == "sp"
        assert rt.sites[0] is cfg
        assert rt.manager is not None and "t/ahu/rat" not in rt.manager._by_point
        assert rt.arbiter is not None and "t/ahu/sp" in rt.arbiter.controlled()
    finally:
        await rt.stop()
