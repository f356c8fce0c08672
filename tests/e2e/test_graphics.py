"""Equipment graphics and floor plans in a real headless Chromium against the demo building (issue 14).

The acceptance test of "New: equipment graphics": the supply fan commanded at
priority 8 through the dialog its value on the AHU's graphic opens shows as
overridden on the graphic, on the overview (its override count) and in the
Overrides list; released from that list, its marker leaves the graphic. Then
the floor plan of floor 1 (every zone with its temperature, coloured against
its band, linked to its equipment) and the layout an integrator adjusts,
saves and resets. Screenshots at desktop and phone widths. Waits are
Playwright's auto-waiting expectations; nothing asserts a duration.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import DESKTOP, PHONE, SCREENSHOTS, Demo, admin_api, shoot, sign_in

pytestmark = [pytest.mark.service, pytest.mark.slow]

SITE = "demo"
FAN_CMD = f"{SITE}/ahu-1/fan-cmd"
FLOOR_1_ZONES = {"zone-c1": "vav-c1", "zone-n1": "vav-n1", "zone-e1": "vav-e1", "zone-s1": "vav-s1",
                 "zone-w1": "vav-w1"}


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def test_a_fan_commanded_on_the_ahu_graphic_shows_overridden_everywhere_and_its_release_clears_it(
        demo: Demo, page: Any) -> None:
    expect = _expect()
    email = demo.users["admin"][0]
    sign_in(page, demo, path=f"/sites/{SITE}/equipment/ahu-1")
    drawing = page.get_by_role("group", name="Graphic of Air handling unit 1")
    expect(drawing).to_be_visible()
    fan_line = drawing.locator(f"[data-point='{FAN_CMD}']")
    mark = fan_line.locator("[data-override-priority]")
    expect(mark).to_have_count(0)
    # Live values in place: the supply air temperature beside its sensor, with its unit.
    supply_air = drawing.locator("[data-element='supply-air'] .value").first
    expect(supply_air).to_have_text(re.compile(r"-?\d+\.\d °C"))

    fan_line.get_by_role("button", name="Command Supply fan command").click()
    dialog = page.get_by_role("dialog", name=f"Command {FAN_CMD}")
    expect(dialog).to_be_visible()
    dialog.get_by_label(re.compile("^Value")).select_option("true")
    dialog.get_by_label("Priority", exact=True).select_option("8")
    dialog.get_by_label("For", exact=True).select_option(label="1 hour")
    dialog.get_by_label("Reason", exact=True).fill("e2e: fan on from the graphic")
    dialog.get_by_role("button", name="Send command").click()
    # Held at once; the write to the fan may wait for its minimum off time.
    expect(dialog.get_by_role("status")).to_contain_text("at priority 8")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)

    expect(mark).to_have_attribute("data-override-priority", "8")
    expect(mark).to_have_attribute("title", re.compile(
        rf"^Overridden at priority 8 by {re.escape(email)} until .+ \(e2e: fan on from the graphic\)$"))
    shoot(page, "graphic-ahu-overridden")

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Overview").click()
    expect(page.locator("a[data-overrides]")).to_have_attribute("data-overrides", "1")

    nav.get_by_role("link", name="Overrides").click()
    release = page.get_by_role("button", name=f"Release {FAN_CMD} at priority 8")
    expect(release).to_have_count(1)
    release.click()
    form = page.get_by_role("form", name=f"Release {FAN_CMD} at priority 8")
    form.get_by_label("Reason").fill("e2e: fan back to its schedule")
    form.get_by_role("button", name="Release").click()
    expect(page.get_by_role("status").filter(has_text="Released")).to_contain_text(
        f"Released {FAN_CMD} at priority 8")

    # Back to the graphic (a route change, not a page load): the marker is gone.
    page.evaluate(f"location.hash = '#/sites/{SITE}/equipment/ahu-1'")
    expect(fan_line.get_by_role("button", name="Command Supply fan command")).to_be_visible()
    expect(mark).to_have_count(0)
    with admin_api(demo) as api:
        array = api.get(f"/api/v1/sites/{SITE}/points/ahu-1/fan-cmd/priority-array").json()
        assert array["slots"][7]["value"] is None


def test_the_floor_plan_shows_every_zone_of_floor_1_with_its_temperature(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}/plans/floor-1")
    plan = page.get_by_role("group", name="Floor plan of Floor 1")
    expect(plan).to_be_visible()
    zones = plan.locator("g.zone")
    expect(zones).to_have_count(len(FLOOR_1_ZONES))
    for zone, equip in FLOOR_1_ZONES.items():
        z = plan.locator(f"g.zone[data-zone='{zone}']")
        expect(z.locator(".plan__temp .value")).to_have_text(re.compile(r"-?\d+\.\d °C"))
        # Coloured against its band once it has a value (never the grey of no value).
        expect(z).to_have_attribute("data-tone", re.compile("^(cold|ok|hot)$"))
        expect(z.get_by_role("link")).to_have_attribute("href", f"#/sites/{SITE}/equipment/{equip}")
    expect(page.get_by_role("navigation", name="Floor plans").get_by_role("link")).to_have_count(3)
    shoot(page, "floor-plan")

    plan.locator("g.zone[data-zone='zone-c1']").get_by_role("link").click()
    expect(page.get_by_role("group", name=re.compile("^Graphic of "))).to_be_visible()
    shoot(page, "graphic-vav")


def test_an_integrator_moves_the_supply_fan_saves_the_layout_and_resets_it(demo: Demo, page: Any) -> None:
    expect = _expect()
    path = f"/api/v1/sites/{SITE}/equipment/ahu-1/graphic"
    with admin_api(demo) as api:
        generated = api.get(path).json()
    fan = next(e for e in generated["elements"] if e["id"] == "supply-fan")

    sign_in(page, demo, path=f"/sites/{SITE}/equipment/ahu-1")
    page.get_by_role("button", name="Adjust layout").click()
    mover = page.get_by_role("button", name="Move Supply fan (arrow keys)")
    # A drag to the right, then three steps down by the keyboard.
    box = mover.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    mover.focus()
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    page.get_by_role("button", name="Save layout").click()
    expect(page.get_by_text("Layout saved by an integrator.")).to_be_visible()
    shoot(page, "graphic-ahu-layout-saved")

    with admin_api(demo) as api:
        saved = api.get(path).json()
    moved = next(e for e in saved["elements"] if e["id"] == "supply-fan")
    assert saved["saved"] is True
    assert moved["x"] > fan["x"]
    assert moved["y"] == fan["y"] + 30
    # Elements not moved keep their generated places.
    others = {e["id"]: (e["x"], e["y"]) for e in saved["elements"] if e["id"] != "supply-fan"}
    assert others == {e["id"]: (e["x"], e["y"]) for e in generated["elements"] if e["id"] != "supply-fan"}

    page.get_by_role("button", name="Adjust layout").click()
    page.get_by_role("button", name="Reset").click()
    expect(page.get_by_role("button", name="Adjust layout")).to_be_visible()
    expect(page.get_by_text("Layout saved by an integrator.")).to_have_count(0)
    with admin_api(demo) as api:
        reset = api.get(path).json()
    assert reset["saved"] is False
    assert next(e for e in reset["elements"] if e["id"] == "supply-fan")["x"] == fan["x"]


def test_a_viewer_sees_the_graphic_without_command_or_layout_buttons(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, who="viewer", path=f"/sites/{SITE}/equipment/ahu-1")
    drawing = page.get_by_role("group", name="Graphic of Air handling unit 1")
    expect(drawing.locator(f"[data-point='{FAN_CMD}'] .value")).to_be_visible()
    expect(drawing.get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("button", name="Adjust layout")).to_have_count(0)


#: Every template of the demo: the equipment, its graphic's name, and a kind each must draw.
DRAWINGS = (("ahu-1", "fan"), ("vav-c1", "zone"), ("chiller-plant", "chiller"), ("boiler-plant", "boiler"),
            ("meters", "meter"))


def _shoot_drawing(page: Any, name: str) -> None:
    """The page at desktop and phone widths, clipped to the drawing's card (artifacts/screenshots/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size or DESKTOP
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(100)  # let the layout settle; not an assertion
        card = page.locator(".graphic-wrap, .plan-wrap").first
        card.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"))
    page.set_viewport_size(before)


def test_every_drawing_reads_in_light_and_dark(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}/equipment/ahu-1")
    for theme in ("light", "dark"):
        if theme == "dark":
            page.get_by_role("button", name="Dark").click()
        expect(page.locator("html")).to_have_attribute("data-theme", theme)
        for equip, kind in DRAWINGS:
            page.evaluate(f"location.hash = '#/sites/{SITE}/equipment/{equip}'")
            drawing = page.get_by_role("group", name=re.compile("^Graphic of "))
            expect(drawing.locator(f"[data-kind='{kind}']").first).to_be_visible()
            # Live values in place (not the dash of a value not known yet).
            expect(drawing.locator(".graphic__line .value").first).to_have_text(re.compile(r"\w"))
            _shoot_drawing(page, f"graphic-{equip}-{theme}")
        page.evaluate(f"location.hash = '#/sites/{SITE}/plans/floor-1'")
        plan = page.get_by_role("group", name="Floor plan of Floor 1")
        expect(plan.locator("g.zone")).to_have_count(len(FLOOR_1_ZONES))
        # A zone's name without its floor's, so a narrow perimeter's fits; the full name as its title.
        west = plan.locator("g.zone[data-zone='zone-w1']").get_by_role("link")
        expect(west).to_have_text("West perimeter")
        expect(west).to_have_attribute("title", "Floor 1 west perimeter")
        _shoot_drawing(page, f"floor-plan-{theme}")
    # The text follows the theme: light on the dark surface.
    colour = page.locator(".plan__zone").first.evaluate("e => getComputedStyle(e).color")
    assert colour != "rgb(26, 29, 35)", colour
