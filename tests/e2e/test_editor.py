"""The visual logic editor in a real headless Chromium against the demo building (issue 20).

An economiser sequence is built from the palette by dragging (no JSON
typed): two points as inputs, a compare block, the economiser enable as an
output. The block's unconnected input is shown as a problem on its node and
Deploy stays disabled; wired, the program validates, is replayed over
yesterday and run dry on the live inputs, is deployed with its
diff and a note, shows live values on its wires and commands the emulated
air handler's economiser at its priority; the compare block's output is
held from the side panel (seen held on its node, wire and list), the enable
and the emulated outdoor-air damper follow, and it is released; a second
deploy is rolled back from the page. A viewer sees the canvas but cannot edit. Waits are
Playwright's auto-waiting expectations; nothing asserts a duration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, Demo, admin_api, shoot, sign_in

pytestmark = [pytest.mark.service, pytest.mark.slow]

SITE = "demo"
PROGRAM = "e2e-econ"
BASE = f"/api/v1/sites/{SITE}/programs/{PROGRAM}"
ENABLE = "demo/ahu-1/econ-enable"
DAMPER = "demo/ahu-1/oa-damper"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _drop_point(page: Any, query: str, point: str, at: tuple[int, int]) -> None:
    """Search the palette's points and drag one onto the canvas as an input."""
    page.get_by_label("Search points").fill(query)
    item = page.locator(f'.palette__item[data-point="{point}"]')
    item.drag_to(page.locator(".editor__canvas"), target_position={"x": at[0], "y": at[1]})


def _wire(page: Any, source: str, target: str) -> None:
    """Drag from an output port to an input port."""
    page.locator(f'.react-flow__handle[data-port="{source}"]').drag_to(
        page.locator(f'.react-flow__handle[data-port="{target}"]'))


def _deploy(page: Any, note: str) -> None:
    expect = _expect()
    page.get_by_role("button", name="Deploy…").click()
    dialog = page.get_by_role("dialog", name=re.compile("Deploy "))
    expect(dialog).to_be_visible()
    dialog.get_by_label("Note (why)").fill(note)
    dialog.get_by_role("button", name="Save and deploy").click()
    expect(page.get_by_role("status").filter(has_text=re.compile(r"Version \d+ deployed\."))).to_be_visible()


def _point(api: Any, point: str) -> dict[str, Any]:
    equip, name = point.split("/")[1:]
    r = api.get(f"/api/v1/sites/{SITE}/points/{equip}/{name}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _slot(api: Any, point: str, priority: int) -> Any:
    return _point(api, point)["priority_array"][priority - 1]


def _damper(api: Any) -> float:
    return float(_point(api, DAMPER)["value"])


def _until(page: Any, what: str, ok: Callable[[], bool], tries: int = 240) -> None:
    """Poll ``ok`` (bounded only to stop a broken run; nothing asserts how long it took)."""
    for _ in range(tries):
        if ok():
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"never: {what}")


#: °C outdoors while a block's output is overridden: economiser weather (cooler than the return air).
MILD = 10.0


class _OutdoorAirAt:
    """The emulator's weather with the outdoor dry bulb held at ``t_out`` (humidity kept below
    saturation); everything else (the sun, the wind) as ``inner`` has it."""

    def __init__(self, t_out: float, inner: Any) -> None:
        self.t_out = t_out
        self.inner = inner
        self.latitude, self.longitude = inner.latitude, inner.longitude
        self.utc_offset, self.annual_mean = inner.utc_offset, inner.annual_mean

    def at(self, t: float) -> Any:
        from openbms.sim.building.weather import humidity_ratio, relative_humidity

        ws = self.inner.at(t)
        w = min(ws.w_out, humidity_ratio(self.t_out - 2.0))
        return ws._replace(t_out=self.t_out, w_out=w, rh=float(relative_humidity(self.t_out, w)))


def _override_a_block_output_and_see_the_damper_follow(demo: Demo, page: Any) -> None:
    """Commissioning from the side panel: the compare block's output held off, then released.

    The emulated air handler's fan is held on and the outdoor air is 10 °C (the
    emulator's weather, so the day the test runs does not decide; its sensor stays
    good): the program enables the economiser and the damper opens above its
    minimum; the block's output held false, the enable the program writes turns
    false and the damper closes to its minimum; released, the program enables it
    again (the controller reads true; how far the damper reopens is the economiser's
    own sequence, left to the emulator's tests).

    Not a failed-sensor fault, as this test once used: the emulator flags a failed
    sensor's BACnet object as unreliable, the driver reports its samples ``fault``,
    and the program's compare block then has an unknown input, so released it
    computes no value and the program releases its slot (issue 20: whether the
    enable came back depended on whether the fault flag had arrived yet).
    """
    expect = _expect()
    weather = demo.building.weather
    demo.call(setattr, demo.building, "weather", _OutdoorAirAt(MILD, weather))
    try:
        with admin_api(demo) as api:
            r = api.post(f"/api/v1/sites/{SITE}/points/ahu-1/fan-cmd/commands",
                         json={"value": True, "priority": 8, "duration_s": 3600, "reason": "e2e: fan on"})
            assert r.status_code == 201, r.text
            oa_min = float(_point(api, "demo/ahu-1/oa-min")["value"])
            _until(page, f"the outdoor-air sensor reads {MILD:g} °C, good",
                   lambda: (oat := _point(api, "demo/ahu-1/oat"))["status"] == "ok"
                   and abs(float(oat["value"]) - MILD) < 0.5)
            _until(page, "the program enables the economiser", lambda: _slot(api, ENABLE, 9) is True)
            _until(page, "the economiser opens the damper above its minimum",
                   lambda: _damper(api) > oa_min + 5)

            page.locator('.ed-node[data-node="compare"]').click()
            outs = page.locator(".editor__outs")
            expect(outs.locator('li[data-port="compare.out"]')).to_contain_text("out = On")
            page.get_by_role("button", name="Override compare.out…").click()
            form = page.get_by_role("form", name="Override compare.out")
            form.get_by_label("Value (true or false)").select_option("false")
            form.get_by_label("For (minutes)").fill("30")
            form.get_by_role("button", name="Hold").click()
            expect(form.get_by_role("alert")).to_contain_text("Reason: say why")  # a reason is required
            form.get_by_label("Reason").fill("e2e: commissioning the economiser")
            form.get_by_role("button", name="Hold").click()

            held = page.get_by_role("list", name="Held overrides")
            expect(held).to_contain_text(f"Held at Off by {demo.users['admin'][0]} until")
            expect(held).to_contain_text("(e2e: commissioning the economiser)")
            expect(page.locator('.ed-node[data-node="compare"]')).to_have_class(re.compile("ed-node--held"))
            expect(page.locator(".react-flow__edge.ed-edge--held")).to_have_count(1)
            shoot(page, "editor-override")
            listed = api.get(f"{BASE}/overrides").json()
            assert [(o["port"], o["kind"], o["value"]) for o in listed] == [
                ("compare.out", "block", False)], listed

            # The enable the program writes follows the held output, and the emulated damper follows it.
            _until(page, "the program writes the held value", lambda: _slot(api, ENABLE, 9) is False)
            _until(page, "the damper closes to its minimum", lambda: abs(_damper(api) - oa_min) < 1.0)

            page.get_by_role("button", name="Release compare.out").click()
            expect(held).to_have_count(0)
            expect(page.locator('.ed-node[data-node="compare"]')).not_to_have_class(re.compile("ed-node--held"))
            expect(page.locator(".react-flow__edge.ed-edge--held")).to_have_count(0)
            assert api.get(f"{BASE}/overrides").json() == []
            _until(page, "the program enables the economiser again", lambda: _slot(api, ENABLE, 9) is True)
            _until(page, "the controller is enabled again", lambda: _point(api, ENABLE)["value"] is True)
            audit = api.get("/api/v1/audit", params={"target": f"{SITE}/{PROGRAM}"})
            assert audit.status_code == 200, audit.text
            actions = [row["action"] for row in audit.json()["items"]]
            assert "program.override" in actions and "program.release" in actions, actions
    finally:
        with admin_api(demo) as api:
            api.post(f"/api/v1/sites/{SITE}/points/ahu-1/fan-cmd/release",
                     json={"priority": 8, "reason": "e2e: done"})
        demo.call(setattr, demo.building, "weather", weather)


def test_build_an_economiser_by_drag_and_drop_validate_deploy_see_live_values_and_roll_back(
        demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}/programs")
    page.get_by_text("New program").click()
    page.get_by_label("Id", exact=True).fill(PROGRAM)
    page.get_by_label("Name", exact=True).fill("E2E economiser")
    page.get_by_role("button", name="Create and open the editor").click()
    expect(page.get_by_role("heading", name="Visual editor")).to_be_visible()

    _drop_point(page, "ahu-1/oat", "demo/ahu-1/oat", (40, 60))
    _drop_point(page, "ahu-1/rat", "demo/ahu-1/rat", (40, 300))
    page.get_by_label("Search blocks").fill("compare")
    page.locator('.palette__item[data-kind="compare"]').drag_to(
        page.locator(".editor__canvas"), target_position={"x": 260, "y": 60})
    page.get_by_label("Search points").fill("econ-enable")
    page.get_by_role("button", name=f"Add {ENABLE} as an output").click()
    for node in ("oat", "rat", "compare", "econ-enable"):
        expect(page.locator(f'.ed-node[data-node="{node}"]')).to_be_visible()

    # The compare block's input a is not wired, nor is the output: both are shown, Deploy is off.
    _wire(page, "rat.value", "compare.b")
    compare = page.locator('.ed-node[data-node="compare"]')
    expect(compare).to_have_class(re.compile("ed-node--invalid"))
    problems = page.locator(".editor__issues")
    expect(problems).to_contain_text("required input 'a' is not wired")
    expect(problems).to_contain_text("is not wired: nothing would be written")
    expect(page.get_by_role("button", name="Deploy…")).to_be_disabled()
    shoot(page, "editor-unconnected-input")

    _wire(page, "oat.value", "compare.a")
    _wire(page, "compare.out", "econ-enable.value")
    compare.click()
    page.get_by_label("op", exact=True).select_option("lt")
    page.locator('.ed-node[data-node="econ-enable"]').click()
    priority = page.get_by_label("Priority (1–16)")
    priority.fill("9")
    priority.press("Tab")
    expect(page.locator(".editor__status")).to_have_text("Valid: no problems found.")
    expect(compare).not_to_have_class(re.compile("ed-node--invalid"))
    expect(page.get_by_role("button", name="Deploy…")).to_be_enabled()

    # Test before deploying: yesterday replayed (computed beside recorded), then a dry run live.
    page.get_by_text("Test before deploying").click()
    page.get_by_role("button", name="Replay yesterday").click()
    expect(page.get_by_role("figure", name="Replay of econ-enable: computed beside recorded")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="The wires show: Replay at")).to_be_visible()
    page.get_by_role("button", name="Dry run live").click()
    expect(page.get_by_role("status").filter(has_text="The wires show: Dry run")).to_be_visible()
    expect(page.locator(".react-flow__edge-text").first).to_be_visible()
    shoot(page, "editor-dry-run")
    page.get_by_role("button", name="Stop the dry run").click()
    expect(page.get_by_role("status").filter(has_text="The wires show:")).to_have_count(0)

    page.get_by_role("button", name="Deploy…").click()
    dialog = page.get_by_role("dialog", name=re.compile("Deploy "))
    expect(dialog).to_contain_text("Added block “compare”: compare.")
    expect(dialog).to_contain_text("Added wire oat → compare.a.")
    dialog.get_by_role("button", name="Cancel").click()
    _deploy(page, "e2e: economiser from the palette")
    with admin_api(demo) as api:
        first = api.get(BASE).json()
        assert first["active_version"] is not None
        doc = first["program"]
        assert [b["block"] for b in doc["blocks"]] == ["compare"]
        assert doc["blocks"][0]["params"]["op"] == "lt"
        assert {(w["from"], w["to"]) for w in doc["wires"]} == {
            ("oat", "compare.a"), ("rat", "compare.b"), ("compare.out", "econ-enable")}
        assert doc["outputs"] == [{"id": "econ-enable", "point": ENABLE, "priority": 9,
                                   "release_when_none": True}], doc["outputs"]

    # Live: the editor shows the deployed version, with values on its wires.
    expect(page.locator(".react-flow__edge-text").first).to_be_visible()
    expect(page.locator('.ed-node[data-node="oat"] .ed-node__live')).to_be_visible()
    shoot(page, "editor-live")

    # The air handler's economiser enable holds the program's command at priority 9, and the
    # emulated controller follows: the value polled from the device is the program's.
    with admin_api(demo) as api:
        for _ in range(60):  # bounded: the engine writes on its first run after the deploy
            if _slot(api, ENABLE, 9) is not None:
                break
            page.wait_for_timeout(500)
        assert isinstance(_slot(api, ENABLE, 9), bool)
        for _ in range(60):  # bounded: the next poll of the device reads the written value back
            point = _point(api, ENABLE)
            if point["value"] == point["effective"] == point["priority_array"][8]:
                break
            page.wait_for_timeout(500)
        assert point["value"] == point["effective"] == point["priority_array"][8], point

    # Commissioning: the output's point commanded from its node, through the command dialog.
    page.locator('.ed-node[data-node="econ-enable"]').click()
    page.get_by_role("button", name="Override the output…").click()
    command = page.get_by_role("dialog", name=f"Command {ENABLE}")
    expect(command).to_be_visible()
    command.get_by_role("button", name="Close").click()
    expect(command).to_have_count(0)

    _override_a_block_output_and_see_the_damper_follow(demo, page)

    # A second version deployed, then rolled back from the page: the first runs again.
    page.locator('.ed-node[data-node="compare"]').click()
    page.get_by_label("op", exact=True).select_option("gt")
    expect(page.locator(".editor__status")).to_have_text("Valid: no problems found.")
    _deploy(page, "e2e: the other way round")
    with admin_api(demo) as api:
        second = api.get(BASE).json()["active_version"]
        assert second != first["active_version"]
    page.get_by_role("button", name="Roll back").click()
    rollback = page.get_by_role("dialog", name=re.compile("Roll back"))
    rollback.get_by_label("Reason").fill("e2e: back to the first")
    rollback.get_by_role("button", name="Roll back").click()
    expect(page.get_by_role("status").filter(has_text="Rolled back")).to_be_visible()
    with admin_api(demo) as api:
        assert api.get(BASE).json()["active_version"] == first["active_version"]
        r = api.post(f"{BASE}/disable", json={"reason": "e2e: done"})
        assert r.status_code == 200, r.text


def test_the_editor_opened_and_closed_without_a_change_asks_nothing(demo: Demo, page: Any) -> None:
    expect = _expect()
    asked: list[str] = []
    page.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    # The central plant's file lists its layout in another order than the canvas writes it.
    sign_in(page, demo, path=f"/sites/{SITE}/programs/central-plant")
    page.get_by_role("button", name="Open the visual editor").click()
    expect(page.locator(".ed-node").first).to_be_visible()
    expect(page.locator(".editor__status")).to_have_text("Valid: no problems found.")
    page.get_by_role("button", name="Close the visual editor").click()
    expect(page.get_by_role("heading", name="Graph")).to_be_visible()
    assert asked == []


def test_a_viewer_sees_the_canvas_but_cannot_edit(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, who="viewer", path=f"/sites/{SITE}/programs/ahu-1-supervisory")
    page.get_by_role("button", name="Open on the canvas").click()
    expect(page.get_by_role("heading", name="Visual editor (read only)")).to_be_visible()
    expect(page.locator('.ed-node[data-node="econ-ok"]')).to_be_visible()
    expect(page.get_by_role("complementary", name="Palette")).to_have_count(0)
    expect(page.get_by_role("button", name="Deploy…")).to_have_count(0)
    expect(page.locator(".react-flow__node.draggable")).to_have_count(0)
    expect(page.locator(".react-flow__handle.connectable")).to_have_count(0)
    page.locator('.ed-node[data-node="sat-reset"]').click()
    expect(page.locator("#ed-param-x1")).to_be_disabled()
    # Overriding a block's output needs programs:deploy: a viewer is offered none.
    expect(page.get_by_role("button", name=re.compile("^Override"))).to_have_count(0)


def test_apply_the_vav_template_to_every_vav_box_review_save_and_deploy(demo: Demo, page: Any) -> None:
    expect = _expect()
    template = json.loads((ROOT / "examples/demo/programs/templates/vav-setpoints.json").read_text())
    with admin_api(demo) as api:
        r = api.put(f"/api/v1/sites/{SITE}/program-templates/vav-setpoints",
                    json={"equipment_type": template["equipment_type"], "program": template["program"],
                          "name": template["name"]})
        assert r.status_code in (200, 201), r.text
        boxes = sorted(e["id"] for e in api.get(f"/api/v1/sites/{SITE}/equipment").json()["items"]
                       if e["id"].startswith("vav-"))
    assert len(boxes) == 15

    sign_in(page, demo, path=f"/sites/{SITE}/programs")
    page.get_by_role("button", name="Apply VAV occupied setpoints").click()
    region = page.get_by_role("region", name="Apply VAV occupied setpoints")
    expect(region.get_by_label("Brick class")).to_have_value("VAV")
    region.get_by_role("button", name="Review").click()
    table = region.get_by_role("table")
    expect(table.get_by_role("row")).to_have_count(16)  # the header and one row per box
    expect(table).not_to_contain_text("has no point")
    region.get_by_role("button", name="Save 15 programs").click()
    expect(table).to_contain_text("saved as v1")
    region.get_by_label("Reason").fill("e2e: one sequence for every box")
    region.get_by_role("button", name="Deploy 15 programs").click()
    expect(region.get_by_role("status")).to_have_text("15 programs deployed.")
    shoot(page, "editor-template-applied")
    with admin_api(demo) as api:
        for box in boxes:
            detail = api.get(f"/api/v1/sites/{SITE}/programs/vav-setpoints-{box}").json()
            assert detail["active_version"] == 1, (box, detail["active_version"])
            points = {o["point"] for o in detail["program"]["outputs"]}
            assert points == {f"demo/{box}/occ-htg-sp", f"demo/{box}/occ-clg-sp"}, points
