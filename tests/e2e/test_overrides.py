"""Overrides in a real headless Chromium against the demo building (issue 14, item 2).

With a point held by a person, the overview counts it and names it on its
equipment, the Overrides page lists it with who, why and until when, and its
release from that page (with a reason) clears it everywhere. Waits are
Playwright's auto-waiting expectations; nothing asserts a duration.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import Demo, admin_api, shoot, sign_in

pytestmark = [pytest.mark.service, pytest.mark.slow]

SITE = "demo"
POINT = f"{SITE}/ahu-1/sat-sp"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect




def test_an_override_shows_on_the_overview_and_in_the_list_and_its_release_clears_it(
        demo: Demo, page: Any) -> None:
    expect = _expect()
    email = demo.users["admin"][0]
    sign_in(page, demo, path=f"/sites/{SITE}")
    count = page.locator("a[data-overrides]")
    expect(count).to_have_attribute("data-overrides", "0")

    # Made through the API while the overview is open: the count follows it live (no reload).
    with admin_api(demo) as api:
        r = api.post(f"/api/v1/sites/{SITE}/points/ahu-1/sat-sp/commands",
                     json={"value": 15, "priority": 8, "duration_s": 3600, "reason": "e2e: supply air trial"})
        assert r.status_code == 201, r.text
        assert r.json()["status"] in ("completed", "executing"), r.text
    expect(count).to_have_attribute("data-overrides", "1")
    expect(count).to_have_accessible_name("1 point overridden")
    ahu = page.locator(".equip-list li").filter(
        has=page.get_by_role("link", name=re.compile("Air handling unit 1")))
    # (Its state dot may say "in alarm", which outranks "overridden": the mark is what shows the override.)
    expect(ahu.locator("[data-override-priority='8']")).to_have_attribute(
        "title",
        re.compile(rf"^Overridden at priority 8 by {re.escape(email)} until .+ \(e2e: supply air trial\)$"))
    shoot(page, "overview-overridden")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Overrides").click()
    expect(page.get_by_role("heading", name="Overrides", level=1)).to_be_visible()
    row = page.locator("table.overrides tbody tr").filter(has=page.get_by_role("rowheader", name=POINT))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("8 in effect")
    expect(row).to_contain_text("15.0 °C")
    expect(row).to_contain_text(f"{email} (operator)")
    expect(row).to_contain_text("e2e: supply air trial")
    expect(page.get_by_role("status").filter(has_text="overridden")).to_have_text("1 point overridden")
    shoot(page, "overrides")

    row.get_by_role("button", name=f"Release {POINT} at priority 8").click()
    form = page.get_by_role("form", name=f"Release {POINT} at priority 8")
    form.get_by_role("button", name="Release").click()
    expect(form.get_by_role("alert")).to_contain_text("Say why")  # a release needs a reason
    form.get_by_label("Reason").fill("e2e: trial over")
    form.get_by_role("button", name="Release").click()
    # Released at once; the write to the device may wait for the point's minimum interval.
    expect(page.get_by_role("status").filter(has_text="Released")).to_contain_text(
        f"Released {POINT} at priority 8")
    expect(row).to_have_count(0)
    expect(page.get_by_text("No point is overridden.")).to_be_visible()

    with admin_api(demo) as api:
        array = api.get(f"/api/v1/sites/{SITE}/points/ahu-1/sat-sp/priority-array").json()
        assert array["slots"][7]["value"] is None
        newest = api.get(f"/api/v1/sites/{SITE}/commands", params={"point": POINT, "limit": 1}).json()
        release = newest["items"][0]
        assert release["release"] is True and release["reason"] == "e2e: trial over"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Overview").click()
    expect(count).to_have_attribute("data-overrides", "0")
    expect(ahu.locator("[data-override-priority]")).to_have_count(0)


def test_the_equipment_page_marks_an_override_made_elsewhere_live_and_unmarks_its_release(
        demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}/equipment/ahu-1")
    row = page.locator("table.points tbody tr").filter(
        has=page.get_by_role("rowheader", name=re.compile(r"(^|\s)sat-sp(\s|$)")))
    expect(row).to_have_count(1)
    mark = row.locator("[data-override-priority]")
    expect(mark).to_have_count(0)

    # Made through the API while the page is open: the mark follows it without a reload.
    with admin_api(demo) as api:
        r = api.post(f"/api/v1/sites/{SITE}/points/ahu-1/sat-sp/commands",
                     json={"value": 16, "priority": 8, "duration_s": 3600, "reason": "e2e: live mark"})
        assert r.status_code == 201, r.text
    expect(mark).to_have_attribute("data-override-priority", "8")
    expect(mark).to_have_attribute("title", re.compile(r"\(e2e: live mark\)$"))

    with admin_api(demo) as api:
        r = api.post(f"/api/v1/sites/{SITE}/points/ahu-1/sat-sp/release",
                     json={"priority": 8, "reason": "e2e: live mark over"})
        assert r.status_code == 201, r.text
    expect(mark).to_have_count(0)
