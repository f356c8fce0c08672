"""Words and numbers (issue 14, item 6), as an operator reads them in headless Chromium.

Against the live demo building (fixtures of ``conftest.py``): the command dialog
names the point by its display name, writes °C (not degC), pre-fills the value
rounded to the point's precision (a BACnet REAL reads back 23.799999237060547),
its "Now" follows the point after a command, and a refusal is shown beside the
value field it concerns; the overrides list names points by their display names.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.e2e.conftest import Demo, admin_api, shoot, sign_in

pytestmark = [pytest.mark.service, pytest.mark.slow]

SITE = "demo"
ZONE = "vav-c1"
POINT = "occ-htg-sp"
PID = f"{SITE}/{ZONE}/{POINT}"
PATH = f"/api/v1/sites/{SITE}/points/{ZONE}/{POINT}"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _api_value_near(demo: Demo, target: float) -> None:
    """The point's value once the API reads ``target`` back from the device (polled), else fail."""
    deadline = time.monotonic() + 30
    with admin_api(demo) as api:
        while True:
            value = api.get(PATH).json()["value"]
            if isinstance(value, float) and abs(value - target) < 1e-3:
                return
            assert time.monotonic() < deadline, f"{PID} never read {target} back (last {value!r})"
            time.sleep(0.2)


def test_the_command_dialog_speaks_in_display_names_rounded_values_and_symbols(demo: Demo, page: Any) -> None:
    expect = _expect()
    with admin_api(demo) as api:
        r = api.post(f"{PATH}/commands", json={"value": 23.8, "priority": 8, "reason": "e2e: words"})
        assert r.status_code == 201, r.text
        info = api.get(PATH).json()
        assert (info["display_name"], info["precision"]) == ("Occupied heating setpoint", 1)
    _api_value_near(demo, 23.8)  # read back from the device's REAL: 23.799999237060547
    try:
        sign_in(page, demo, path=f"/sites/{SITE}/equipment/{ZONE}")
        table = page.locator("table.points")
        named = re.compile(r"^Occupied heating setpoint occ-htg-sp")
        expect(table.get_by_role("rowheader", name=named)).to_be_visible()
        expect(table).to_contain_text("°C")
        expect(table).not_to_contain_text("degC")
        page.get_by_role("button", name=f"Command {POINT}").click()
        dialog = page.get_by_role("dialog", name=f"Command {PID}")
        expect(dialog.get_by_role("heading", name="Command Occupied heating setpoint")).to_be_visible()
        value = dialog.get_by_label("Value (°C)")
        expect(value).to_have_value("23.8")
        now = dialog.get_by_test_id("cmd-now")
        expect(now).to_contain_text("23.8 °C")
        expect(dialog.get_by_text("Between 15.0 and 24.0 °C")).to_be_visible()

        # A refusal (above the point's maximum) is beside the value field, and the field says so.
        value.fill("40")
        dialog.get_by_label("Reason", exact=True).fill("e2e: too warm")
        dialog.get_by_role("button", name="Send command").click()
        error = dialog.locator("#cmd-value-error")
        expect(error).to_contain_text("above the point's maximum")
        expect(value).to_have_attribute("aria-invalid", "true")
        expect(value).to_have_attribute("aria-describedby", "cmd-value-error cmd-value-hint")
        expect(dialog.get_by_role("status")).to_have_count(0)  # nothing was commanded
        shoot(page, "command-refused")

        # A command that completes: "Now" follows the point without closing the dialog.
        value.fill("22.5")
        dialog.get_by_role("button", name="Send command").click()
        expect(dialog.get_by_role("status")).to_contain_text("completed")
        expect(error).to_have_count(0)
        expect(now).to_contain_text("22.5 °C")
    finally:
        with admin_api(demo) as api:
            api.post(f"{PATH}/release", json={"priority": 8, "reason": "e2e: words done"})


def test_the_overrides_list_names_points_by_their_display_names(demo: Demo, page: Any) -> None:
    expect = _expect()
    with admin_api(demo) as api:
        r = api.post(f"{PATH}/commands", json={"value": 21.5, "priority": 8, "reason": "e2e: names"})
        assert r.status_code == 201, r.text
    try:
        sign_in(page, demo, path=f"/sites/{SITE}/overrides")
        row = page.locator("table.overrides tbody tr").filter(has=page.get_by_role("rowheader", name=PID))
        expect(row.get_by_role("link", name="Occupied heating setpoint")).to_be_visible()
        expect(row).to_contain_text("21.5 °C")
    finally:
        with admin_api(demo) as api:
            api.post(f"{PATH}/release", json={"priority": 8, "reason": "e2e: names done"})
