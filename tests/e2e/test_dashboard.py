"""The dashboard in a real headless Chromium against the live demo building (issue 7's acceptance).

Each test names what an operator does and checks it end to end: through the
browser, the API and the runtime, down to the emulated BACnet device. Waits
are Playwright's auto-waiting expectations; nothing asserts a duration.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import WAIT_MS, Demo, shoot, sign_in

pytestmark = [pytest.mark.service, pytest.mark.slow]

SITE = "demo"
ZONE = "vav-c1"
SCHEDULE = "ahu-1-occupancy"  # an on/off schedule of the demo


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _row(page: Any, point: str) -> Any:
    """The live point table's row of ``point``."""
    return page.locator("table.points tbody tr").filter(
        has=page.get_by_role("rowheader", name=re.compile(rf"(^|\s){re.escape(point)}(\s|$)")))


def _slot_value(pv: Any) -> Any:
    """The value of a bacpypes3 PriorityValue (None when the slot is empty)."""
    if getattr(pv, "null", None) is not None:
        return None
    for choice in ("real", "double", "unsigned", "integer", "boolean", "enumerated"):
        value = getattr(pv, choice, None)
        if value is not None:
            return value
    return None


def _device_slot(demo: Demo, point: str, priority: int) -> Any:
    """Slot ``priority`` of ``point``'s priority array, read from the emulated BACnet device itself."""

    def read() -> Any:
        device, oid = demo.emulator.face.object_of(point)
        return _slot_value(device.objects.get(oid).priorityArray[priority - 1])

    return demo.call(read)


def _device_priority(demo: Demo, point_id: str, priority: int) -> int:
    """The slot of the device's priority array an openbms command at ``priority`` lands in.

    In ``passthrough`` mode each openbms slot goes to the device's same slot;
    in ``effective`` mode (the default) openbms arbitrates and writes the
    winner at the point's configured device priority.
    """
    site = point_id.split("/")[0]
    cfg = next(s for s in demo.runtime.sites if s.site.id == site)
    point = next(p for pid, _e, p in cfg.points() if pid == point_id)
    return priority if point.command.mode == "passthrough" else point.command.priority


def _eventually(check: Any, what: str, page: Any) -> None:
    """Poll ``check()`` (via the page's clock, so no sleeping in the test) until it holds."""
    for _ in range(WAIT_MS // 250):
        if check():
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"gave up waiting for {what}")


def test_sign_in_lands_on_the_sites_the_user_may_see(demo: Demo, page: Any) -> None:
    expect = _expect()
    page.goto(f"{demo.url}/")
    # Signed out: sent to sign-in.
    expect(page.get_by_role("heading", name="Sign in to openbms")).to_be_visible()
    shoot(page, "sign-in")
    page.get_by_label("E-mail").fill(demo.users["admin"][0])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Password").fill(demo.users["admin"][1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sites")).to_be_visible()
    expect(page.get_by_role("link", name="Demo office (emulated building)")).to_be_visible()
    expect(page.get_by_role("link", name="Headquarters")).to_be_visible()
    shoot(page, "sites")


def test_site_overview_shows_live_values(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}")
    expect(page.locator("section.tiles[data-live='yes']")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("VAV box with reheat, zone C1"))).to_be_visible()
    shoot(page, "overview")


def test_zone_temperature_updates_live_on_the_equipment_page(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}/equipment/{ZONE}")
    row = _row(page, "zone-temp")
    expect(row.locator(".value")).to_have_text(re.compile(r"\d+\.\d °C"))
    updated = row.locator("time")
    expect(updated).to_have_attribute("datetime", re.compile(r"\d{4}-"))
    first = updated.get_attribute("datetime")
    # No reload: the next poll of the emulated device arrives over the WebSocket.
    expect(updated).not_to_have_attribute("datetime", first or "")
    expect(row.locator(".value")).to_have_text(re.compile(r"\d+\.\d °C"))
    expect(row.locator(".value--stale")).to_have_count(0)
    shoot(page, "equipment")


def test_override_a_zone_setpoint_for_ten_minutes_then_release(demo: Demo, page: Any) -> None:
    expect = _expect()
    point, device_point = "occ-htg-sp", "vav-c1/occ-heat-sp"
    sign_in(page, demo, path=f"/sites/{SITE}/equipment/{ZONE}")
    page.get_by_role("button", name=f"Command {point}").click()
    dialog = page.get_by_role("dialog", name=f"Command {SITE}/{ZONE}/{point}")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Value (°C)").fill("23.5")
    dialog.get_by_label("Priority", exact=True).select_option("8")
    dialog.get_by_label("For", exact=True).select_option(label="10 minutes")
    dialog.get_by_label("Reason", exact=True).fill("e2e: hot call in zone C1")
    dialog.get_by_role("button", name="Send command").click()
    progress = dialog.get_by_role("status")
    expect(progress).to_contain_text("completed")
    expect(progress).to_contain_text("until")

    # It reached the emulated BACnet device: its priority array holds 23.5 in the slot openbms
    # writes (8 in passthrough mode, the point's device priority in effective mode), and wins.
    slot = _device_priority(demo, f"{SITE}/{ZONE}/{point}", 8)
    _eventually(lambda: _device_slot(demo, device_point, slot) == pytest.approx(23.5),
                f"slot {slot} = 23.5 on the device", page)
    assert demo.call(demo.emulator.face.effective, device_point) == pytest.approx(23.5)
    # And the dialog's priority array shows it winning at 8, with its expiry.
    slot8 = dialog.locator("tr.row--active")
    expect(slot8.locator("td").nth(0)).to_have_text("8")
    expect(slot8.locator("td").nth(1)).to_have_text("23.5 °C")
    expect(slot8).to_contain_text("e2e: hot call in zone C1")
    expect(dialog.get_by_text(re.compile(r"Effective value 23\.5 °C from priority 8"))).to_be_visible()
    shoot(page, "command-dialog")

    dialog.get_by_role("radio", name="Release").check()
    dialog.get_by_label("Reason", exact=True).fill("e2e: back to normal")
    dialog.get_by_role("button", name="Release").click()
    expect(progress).to_contain_text("release")
    expect(progress).to_contain_text("completed")
    _eventually(lambda: _device_slot(demo, device_point, slot) != pytest.approx(23.5),
                "the override gone from the device", page)
    expect(dialog.locator("tr", has_text="e2e: hot call")).to_have_count(0)


def test_acknowledge_an_alarm_raised_by_an_injected_fault(demo: Demo, page: Any) -> None:
    from openbms.sim.building.faults import ChillerTrip

    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}/alarms")
    expect(page.get_by_role("heading", name="Alarms")).to_be_visible()
    trip = ChillerTrip("ch-1")
    demo.call(demo.building.inject, trip)
    try:
        alarm = page.locator("li.alarm", has_text="Chiller 1 tripped")
        expect(alarm).to_be_visible()  # arrives live: no reload
        expect(alarm).to_contain_text("Active, unacknowledged")
        expect(alarm.locator(".tag--new")).to_be_visible()
        shoot(page, "alarms")
        alarm.get_by_role("button", name="Acknowledge Chiller 1 tripped").click()
        dialog = page.get_by_role("dialog", name="Acknowledge 1 alarm")
        dialog.get_by_label("Note (optional)").fill("e2e: chiller reset requested")
        dialog.get_by_role("button", name="Acknowledge").click()
        expect(alarm).to_contain_text("Active, acknowledged")
        expect(alarm).to_contain_text(f"acknowledged by {demo.users['admin'][0]}")
        expect(alarm.get_by_role("button", name="Acknowledge Chiller 1 tripped")).to_have_count(0)
    finally:
        demo.call(demo.building.clear, trip)


def test_edit_a_schedule_and_see_the_next_transitions_change(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}/schedules")
    expect(page.get_by_role("heading", name="Schedules")).to_be_visible()
    shoot(page, "schedules")
    page.locator(f"a[href='#/sites/{SITE}/schedules/{SCHEDULE}']").click()
    expect(page.get_by_role("heading", name="What happens tomorrow")).to_be_visible()
    upcoming = page.get_by_role("list", name="Changes in the next 48 hours")
    tomorrow = page.locator("aside.preview")
    expect(upcoming).to_be_visible()
    expect(tomorrow).not_to_contain_text("12:44")
    monday = page.get_by_label(re.compile(r"^Monday event \d+ time$"))
    expect(monday.first).to_be_visible()
    new = f"Monday event {monday.count() + 1}"

    # A bad time is refused beside its field before anything is sent.
    page.get_by_role("button", name="Add an event on Monday").click()
    page.get_by_label(f"{new} time").fill("25:00")
    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_label(f"{new} time")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text(re.compile("Enter a time from 00:00")).first).to_be_visible()

    # Off at 12:44 on Monday, copied to every day (so whatever day tomorrow is on the emulator's clock).
    page.get_by_label(f"{new} time").fill("12:44")
    page.get_by_label(f"{new} value").select_option(label="Off")
    page.get_by_label("Copy Monday to", exact=True).select_option(label="every day")
    page.get_by_role("button", name="Copy Monday to the days chosen").click()
    expect(page.get_by_text(re.compile(r"\d+ unsaved changes?"))).to_be_visible()

    # A problem only the server finds (a target that is no point) comes back as problem+json
    # and is shown beside the field.
    targets = page.get_by_label("Target points (one per line)")
    targets.fill("demo/ahu-1/fan-cmd\ndemo/ahu-1/no-such-point")
    page.get_by_role("button", name="Save schedule").click()
    expect(targets).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-targets-error")).to_contain_text("no-such-point")
    targets.fill("demo/ahu-1/fan-cmd")

    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    # Saved in time order: after the morning's start, the new event comes second.
    expect(monday.nth(1)).to_have_value("12:44")
    expect(upcoming).to_contain_text("12:44")
    expect(tomorrow).to_contain_text(re.compile(r"12:44\s*→\s*off"))
    shoot(page, "schedule-editor")

    # The runtime runs the new schedule: its transitions come from the saved site file.
    view = demo.run(_transitions(demo, SCHEDULE))
    assert any(t.endswith("12:44") for t in view), view

    # An exception for a date, with its own events, saved and shown.
    page.get_by_role("button", name="Add exception").click()
    page.get_by_label("Name", exact=True).last.fill("e2e open day")
    page.get_by_label("Exception 2 event 1 value").select_option(label="On")
    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    expect(page.get_by_role("group", name=re.compile("Exception 2: e2e open day"))).to_be_visible()
    expect(tomorrow).to_contain_text(re.compile(r"exception “e2e open day”"))


async def _transitions(demo: Demo, schedule_id: str) -> list[str]:
    """The local times of the schedule's changes in the next 48 hours, as the runtime computes them."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from openbms.control.schedules import transitions

    cfg = next(s for s in demo.runtime.sites if s.site.id == SITE)
    schedule = next(s for s in cfg.schedules if s.id == schedule_id)
    now = demo.runtime.clock.now()
    tz = ZoneInfo(schedule.timezone or cfg.site.timezone)
    return [datetime.fromtimestamp(t.ts, tz).strftime("%H:%M")
            for t in transitions(schedule, now, now + 48 * 3600, cfg.calendars, timezone=tz.key)]


def test_a_viewer_sees_no_command_dialog_and_no_other_site(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, who="viewer")
    # One site granted: the sites page opens it directly.
    expect(page.get_by_role("heading", name="Demo office (emulated building)")).to_be_visible()
    page.goto(f"{demo.url}/#/sites")
    expect(page.get_by_role("heading", name="Demo office (emulated building)")).to_be_visible()
    page.goto(f"{demo.url}/#/sites/{SITE}/equipment/{ZONE}")
    expect(_row(page, "zone-temp").locator(".value")).to_have_text(re.compile(r"\d"))
    expect(page.get_by_role("button", name=re.compile("^Command"))).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)
    shoot(page, "equipment-viewer")
    page.goto(f"{demo.url}/#/sites/{SITE}/alarms")
    expect(page.get_by_role("heading", name="Alarms")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Acknowledge"))).to_have_count(0)
    # The other site is not there for them: not listed, and its pages answer "not found".
    page.goto(f"{demo.url}/#/sites/hq")
    expect(page.get_by_text("Not found, or not yours to see.").first).to_be_visible()
    expect(page.get_by_text("Headquarters")).to_have_count(0)
    sites = page.evaluate(
        """async () => {
            const t = JSON.parse(localStorage.getItem('openbms.session'));
            const r = await fetch('/api/v1/sites', {headers: {Authorization: 'Bearer ' + t.access_token}});
            return (await r.json()).items.map(s => s.id);
        }""")
    assert sites == [SITE]
    # The schedules are read-only for them.
    page.goto(f"{demo.url}/#/sites/{SITE}/schedules/zones-occupied")
    expect(page.get_by_text("You may look at this schedule")).to_be_visible()
    expect(page.get_by_role("button", name="Save schedule")).to_have_count(0)


PAGES = [
    ("energy", f"/sites/{SITE}/energy", "Energy"),
    ("programs", f"/sites/{SITE}/programs", "Logic programs"),
    ("devices", f"/sites/{SITE}/devices", "Devices"),
    ("users", "/admin/users", "Users"),
    ("tokens", "/admin/tokens", "API tokens"),
    ("audit", "/admin/audit", "Audit log"),
    ("ahu", f"/sites/{SITE}/equipment/ahu-1", "Air handling unit 1"),
]


@pytest.mark.parametrize(("name", "path", "heading"), PAGES, ids=[p[0] for p in PAGES])
def test_every_page_renders_at_phone_and_desktop_widths(demo: Demo, page: Any, name: str, path: str,
                                                        heading: str) -> None:
    expect = _expect()
    sign_in(page, demo, path=path)
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_text("Loading…")).to_have_count(0)
    shoot(page, name)
