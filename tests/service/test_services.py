"""The services the API is typed against, as the Runtime implements them (openbms.service.protocols)."""

from __future__ import annotations

import asyncio

from tests.fixtures.waiting import eventually

from openbms.config import load_sites
from openbms.model import Point
from openbms.model.site import SiteConfig
from openbms.runtime.clock import ManualClock
from openbms.service.protocols import Services
from openbms.service.runtime import Runtime

SITE = """\
site: {id: t, timezone: Europe/London}
drivers:
  sim: {poll_interval: 1}
equipment:
  - id: ahu
    points:
      - {name: sat, unit: degC, binding: "sim://ahu/sat?wave=constant&value=14"}
      - {name: occ, kind: bool, writable: true, relinquish_default: false, binding: "sim://ahu/occ?wave=constant&value=0"}
      - {name: fan, kind: bool, writable: true, relinquish_default: false, binding: "sim://ahu/fan?wave=constant&value=0"}
schedules:
  - id: occupancy
    kind: bool
    default: true
    priority: 12
    targets: [t/ahu/occ, t/ahu/fan]
"""

# Monday 2026-11-30 12:00 in London.
NOON = 1_764_504_000.0


async def _runtime(tmp_path) -> Runtime:
    (tmp_path / "site.yaml").write_text(SITE)
    rt = Runtime(load_sites(tmp_path), tmp_path / "data", clock=ManualClock(NOON))
    await rt.start()
    return rt


def _add_point(name: str):
    def change(cfg: SiteConfig) -> SiteConfig:
        ahu = cfg.equipment[0]
        point = Point(name=name, unit="degC", binding=f"sim://ahu/{name}?wave=constant&value=1")
        ahu = ahu.model_copy(update={"points": (*ahu.points, point)})
        return cfg.model_copy(update={"equipment": (ahu,)})
    return change


async def test_concurrent_changes_of_one_site_both_apply(tmp_path):
    rt = await _runtime(tmp_path)
    services: Services = rt  # the Runtime is what the API is typed against
    try:
        async def slow_add(cfg: SiteConfig) -> SiteConfig:
            await asyncio.sleep(0.05)  # another change starts meanwhile: it must wait, not read this cfg
            return _add_point("rat")(cfg)

        await asyncio.gather(services.change_site("t", slow_add),
                             services.change_site("t", _add_point("mat")))
        cfg = services.site("t")
        assert cfg is not None
        assert [p.name for p in cfg.equipment[0].points] == ["sat", "occ", "fan", "rat", "mat"]
    finally:
        await rt.stop()


async def test_a_refused_change_changes_nothing(tmp_path):
    rt = await _runtime(tmp_path)
    try:
        before = (tmp_path / "site.yaml").read_text()

        def broken(cfg: SiteConfig) -> SiteConfig:
            raise ValueError("the caller's own check failed")

        try:
            await rt.change_site("t", broken)
        except ValueError:
            pass
        else:
            raise AssertionError("the change's error must reach the caller")
        assert (tmp_path / "site.yaml").read_text() == before
        # and the lock is free again: the next change applies
        await rt.change_site("t", _add_point("rat"))
        assert [p.name for p in rt.sites[0].equipment[0].points][-1] == "rat"
    finally:
        await rt.stop()


async def test_a_schedule_change_releases_the_slots_it_no_longer_writes_whoever_makes_it(tmp_path):
    rt = await _runtime(tmp_path)
    try:
        await eventually(lambda: rt.commands.slots("t/ahu/occ")[11] is not None
                         and rt.commands.slots("t/ahu/fan")[11] is not None, "the schedule wrote both")
        # Not through the API: a change of the site as a whole (as `apply_site` from any caller).
        cfg = rt.sites[0]
        (schedule,) = cfg.schedules
        await rt.apply_site(cfg.model_copy(update={"schedules": (
            schedule.model_copy(update={"targets": ("t/ahu/occ",)}),)}))
        await eventually(lambda: rt.commands.slots("t/ahu/fan")[11] is None, "fan's slot released")
        assert rt.commands.slots("t/ahu/occ")[11] is not None  # still written by the schedule
        released = await rt.commands.recent("t", point="t/ahu/fan")
        assert released[0].release and released[0].requested_by == "schedule:occupancy"

        await rt.apply_site(rt.sites[0].model_copy(update={"schedules": ()}))
        await eventually(lambda: rt.commands.slots("t/ahu/occ")[11] is None, "occ's slot released")
    finally:
        await rt.stop()


async def test_stored_commands_page_by_site_and_cursor(tmp_path):
    rt = await _runtime(tmp_path)
    try:
        for value in (True, False, True):
            await rt.commands.command("t/ahu/fan", value, 8, requested_by="op", reason="test")
        mine = await rt.commands.recent("t", point="t/ahu/fan", limit=2)
        assert [c.value for c in mine if c.priority == 8] == [True, False]
        older = await rt.commands.recent("t", point="t/ahu/fan", after=(mine[-1].created_at, mine[-1].id))
        assert older and all((c.created_at, c.id) < (mine[-1].created_at, mine[-1].id) for c in older)
        assert await rt.commands.recent("other") == []
        found = await rt.commands.find(mine[0].id)
        assert found is not None and found.value is True
        assert await rt.commands.find("no-such-command") is None
    finally:
        await rt.stop()


async def test_site_devices_name_the_points_each_device_serves(tmp_path):
    rt = await _runtime(tmp_path)
    try:
        await eventually(lambda: rt.site_devices("t") and rt.site_devices("t")[0].health.state == "ok",
                         "the device answered")
        (device,) = rt.site_devices("t")
        assert device.id.startswith("sim://")
        assert set(device.points) == {"t/ahu/sat", "t/ahu/occ", "t/ahu/fan"}
        assert rt.site_devices("other") == []
    finally:
        await rt.stop()


async def test_overrides_are_the_slots_people_hold_and_say_which_one_wins(tmp_path):
    rt = await _runtime(tmp_path)
    services: Services = rt
    try:
        await eventually(lambda: rt.commands.slots("t/ahu/fan")[11] is not None, "the schedule wrote fan")
        # The schedule's slot is the building's own control: no override.
        assert services.commands.overrides("t") == [] and services.commands.override("t/ahu/fan") is None
        before = services.commands.version
        await services.commands.command("t/ahu/fan", True, 8, requested_by="ann", reason="hot")
        await services.commands.command("t/ahu/fan", False, 10, source="api", requested_by="bms", reason="x")
        await services.commands.command("t/ahu/occ", True, 9, source="logic", requested_by="program:p")
        assert services.commands.version != before  # caches of the arrays renew
        held = services.commands.overrides("t")
        assert [(o.command.point, o.command.priority, o.command.requested_by, o.winning) for o in held] == [
            ("t/ahu/fan", 8, "ann", True), ("t/ahu/fan", 10, "bms", False)]
        winner = services.commands.override("t/ahu/fan")
        assert winner is not None and winner.priority == 8 and winner.reason == "hot"
        assert services.commands.override("t/ahu/occ") is None  # logic wins there
        assert services.commands.override("t/ahu/sat") is None  # read-only: no array
        assert services.commands.overrides("other") == []

        await services.commands.release("t/ahu/fan", 8, requested_by="ann", reason="done")
        winner = services.commands.override("t/ahu/fan")
        assert winner is not None and winner.priority == 10  # the API's slot wins now
        assert [o.winning for o in services.commands.overrides("t")] == [True]
    finally:
        await rt.stop()


async def test_a_schedule_slot_that_cannot_be_released_does_not_undo_the_applied_change(tmp_path, caplog):
    rt = await _runtime(tmp_path)
    try:
        await eventually(lambda: rt.commands.slots("t/ahu/fan")[11] is not None, "the schedule wrote fan")

        async def failing_release(*args, **kwargs):  # the state database refusing the write (disk full)
            raise RuntimeError("disk full")

        rt.commands.release = failing_release  # type: ignore[method-assign]
        cfg = rt.sites[0]
        (schedule,) = cfg.schedules
        applied = await rt.change_site("t", lambda c: c.model_copy(update={"schedules": (
            schedule.model_copy(update={"targets": ("t/ahu/occ",)}),)}))
        assert applied.schedules[0].targets == ("t/ahu/occ",)  # applied, and said so
        assert "was not released" in caplog.text
    finally:
        await rt.stop()
