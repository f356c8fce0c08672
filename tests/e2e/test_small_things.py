"""The operator's small things (issue 14), as a user sees them in headless Chromium.

Against the live demo building (fixtures of ``conftest.py``): an unknown
equipment URL says "Not found"; the alarm console shows an acknowledgement's
note on the alarm and says when shelved alarms are hidden; the Overview's
alarms tile has a name that says what it counts; Escape in the command dialog
gives the focus back to its button; Command buttons wait while the live
connection is down.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import Demo, shoot, sign_in

pytestmark = [pytest.mark.service, pytest.mark.slow]

SITE = "demo"
ZONE = "vav-c1"
POINT = "occ-htg-sp"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def test_an_unknown_equipment_url_says_not_found(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}/equipment/no-such-box")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("no-such-box")
    page.get_by_role("link", name=f"Back to {SITE}").click()
    expect(page).to_have_url(re.compile(rf"#/sites/{SITE}$"))


def test_an_acknowledgement_note_shows_on_the_alarm_and_hidden_shelved_alarms_are_told(
        demo: Demo, page: Any) -> None:
    from openbms.sim.building.faults import ChillerTrip

    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}/alarms")
    expect(page.get_by_role("heading", name="Alarms")).to_be_visible()
    trip = ChillerTrip("ch-1")
    demo.call(demo.building.inject, trip)
    name = "Chiller 1 tripped"
    try:
        alarm = page.locator("li.alarm", has_text=name)
        expect(alarm).to_be_visible()
        alarm.get_by_role("button", name=f"Acknowledge {name}").click()
        dialog = page.get_by_role("dialog", name="Acknowledge 1 alarm")
        dialog.get_by_label("Note (optional)").fill("e2e: chiller reset requested")
        dialog.get_by_role("button", name="Acknowledge").click()
        expect(alarm).to_contain_text("Active, acknowledged")
        # The note is on the alarm itself, not only in the History tab.
        expect(alarm.get_by_test_id("ack-note")).to_contain_text("e2e: chiller reset requested")

        alarm.get_by_role("button", name=f"Shelve {name}").click()
        dialog = page.get_by_role("dialog", name="Shelve alarm")
        dialog.get_by_label("Reason").fill("e2e: crew on it")
        dialog.get_by_role("button", name="Shelve").click()
        expect(alarm).to_have_count(0)
        hint = page.get_by_test_id("alarms-hidden")
        expect(hint).to_contain_text(re.compile(r"\d+ shelved alarms? (is|are) hidden"))
        shoot(page, "alarms-shelved-hidden")
        hint.get_by_role("button", name="Show shelved alarms").click()
        expect(alarm).to_be_visible()
        expect(alarm.locator(".tag", has_text="shelved")).to_be_visible()
        alarm.get_by_role("button", name=f"Unshelve {name}").click()
        expect(alarm.locator(".tag", has_text="shelved")).to_have_count(0)
    finally:
        demo.call(demo.building.clear, trip)


def test_the_overview_alarms_tile_is_named_for_what_it_counts(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}")
    tile = page.get_by_role("link", name=re.compile(r"^\d+ active alarms?(, \d+ unacknowledged)?$"))
    expect(tile).to_be_visible()
    expect(tile).to_have_attribute("href", re.compile(rf"/sites/{SITE}/alarms$"))


def test_escape_in_the_command_dialog_gives_the_focus_back_to_its_button(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}/equipment/{ZONE}")
    button = page.get_by_role("button", name=f"Command {POINT}")
    button.click()
    dialog = page.get_by_role("dialog", name=f"Command {SITE}/{ZONE}/{POINT}")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(button).to_be_focused()


def test_command_buttons_wait_while_the_live_connection_is_down(demo: Demo, page: Any) -> None:
    expect = _expect()
    link: dict[str, Any] = {"down": False, "sockets": []}

    def route(ws: Any) -> None:
        if link["down"]:
            ws.close()
            return
        ws.connect_to_server()
        link["sockets"].append(ws)

    page.route_web_socket(re.compile(r"/api/v1/ws"), route)
    sign_in(page, demo, path=f"/sites/{SITE}/equipment/{ZONE}")
    button = page.get_by_role("button", name=f"Command {POINT}")
    expect(button).to_be_enabled()
    # An open dialog waits too.
    button.click()
    dialog = page.get_by_role("dialog", name=f"Command {SITE}/{ZONE}/{POINT}")
    expect(dialog.get_by_role("button", name="Send command")).to_be_enabled()

    link["down"] = True
    for ws in link["sockets"]:
        ws.close()
    expect(dialog.get_by_role("button", name="Send command")).to_be_disabled()
    expect(dialog).to_contain_text("live connection is down")
    dialog.get_by_role("button", name="Close").click()
    expect(button).to_be_disabled()
    expect(page.get_by_text("Commands are unavailable while the live connection is down.")).to_be_visible()

    link["down"] = False
    page.get_by_role("button", name=re.compile("^Retry now")).click()
    expect(button).to_be_enabled()
    expect(page.get_by_text("Commands are unavailable while the live connection is down.")).to_have_count(0)


def test_a_holiday_calendar_is_edited_on_the_schedules_page(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}/schedules")
    calendar = page.locator("details", has_text="England and Wales bank holidays")
    calendar.locator("summary").click()
    form = calendar.get_by_role("form", name="Edit calendar England and Wales bank holidays")
    first = form.get_by_role("group", name=re.compile("^Entry 1"))
    expect(first.get_by_label("Country")).to_have_value("GB-ENG")

    form.get_by_label("New entry").select_option(label="A date")
    form.get_by_role("button", name="Add entry").click()
    added = form.get_by_role("group", name=re.compile("^Entry 2"))
    form.get_by_role("button", name="Save calendar").click()
    # Checked before it is sent: the problem beside its field.
    expect(added.get_by_role("alert")).to_have_text("Enter a date, as YYYY-MM-DD.")
    expect(added.get_by_label("Date")).to_have_attribute("aria-invalid", "true")
    added.get_by_label("Date").fill("2026-12-24")
    form.get_by_role("button", name="Save calendar").click()
    expect(form.get_by_role("status")).to_have_text("Saved.")
    expect(calendar.locator("summary")).to_contain_text("2 entries)")
    shoot(page, "calendar-editor")

    # What only the server knows comes back beside its field.
    country = first.get_by_label("Country")
    country.fill("XX")
    form.get_by_role("button", name="Save calendar").click()
    expect(first.get_by_role("alert")).to_contain_text("XX")
    country.fill("GB-ENG")
    form.get_by_role("button", name="Remove entry 2").click()
    form.get_by_role("button", name="Save calendar").click()
    expect(form.get_by_role("status")).to_have_text("Saved.")
    expect(calendar.locator("summary")).to_contain_text("1 entry)")
