"""The emulated building's faults from the dashboard, in a real headless Chromium (issue 14, item 9).

An admin injects a chiller trip from the Users page's "Emulated building
faults" section: the building's chiller trips (its alarm point is set and the
ch-1-trip alarm raises); clearing it from the same row repairs it. A value out
of range is refused beside its field. A viewer sees no such section. Waits are
Playwright's auto-waiting expectations; nothing asserts a duration.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from openbms.sim.building import ChillerTrip
from openbms.sim.building.fault_catalogue import BuildingFaults
from tests.e2e.conftest import Demo, shoot, sign_in

pytestmark = [pytest.mark.service, pytest.mark.slow]


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def faults(demo: Demo) -> Any:
    """The building's fault catalogue handed to the runtime, as ``openbms demo`` does."""
    control = BuildingFaults(demo.building)
    demo.runtime.faults = control
    yield control
    demo.call(lambda: [control.clear(f.id) for f in control.faults() if f.active])


def test_an_admin_trips_the_chiller_from_the_dashboard_and_clears_it(
        demo: Demo, page: Any, faults: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path="/admin/users")
    section = page.get_by_role("region", name="Emulated building faults")
    expect(section).to_be_visible()
    section.get_by_label("Kind").select_option("chiller-trip")
    row = section.locator("table.faults tr").filter(has_text="chiller-trip:ch-1")
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Inject Chiller 1 tripped").click()
    expect(section.get_by_role("status")).to_contain_text("Injected: Chiller 1 tripped")
    expect(row.locator(".tag")).to_have_text("active")
    assert demo.call(lambda: list(demo.building.faults)) == [ChillerTrip("ch-1")]
    assert demo.call(lambda: demo.building.get("ch-1/alarm")) is True

    # The alarm raises (once the driver has read the chiller's alarm point): the Alarms page names it.
    _until_alarm(demo, "ch-1-trip", "active-unacked")
    alarms = page.context.new_page()
    alarms.goto(f"{demo.url}/#/sites/demo/alarms")
    expect(alarms.get_by_text("Chiller 1 tripped", exact=True)).to_be_visible()
    alarms.close()

    shoot(page, "admin-faults")
    row.get_by_role("button", name="Clear Chiller 1 tripped").click()
    expect(section.get_by_role("status")).to_contain_text("Cleared: Chiller 1 tripped")
    expect(row.locator(".tag")).to_have_count(0)
    assert demo.call(lambda: list(demo.building.faults)) == []
    assert demo.call(lambda: demo.building.get("ch-1/alarm")) is False


def _until_alarm(demo: Demo, alarm: str, state: str) -> None:
    """Wait until the API says ``alarm`` is in ``state`` (the bound only stops a broken test hanging)."""
    with httpx.Client(base_url=demo.url, timeout=30) as client:
        email, password = demo.users["admin"]
        r = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        seen = None
        for _ in range(480):
            seen = client.get(f"/api/v1/sites/demo/alarms/{alarm}").json().get("state")
            if seen == state:
                return
            time.sleep(0.25)
    raise AssertionError(f"alarm {alarm} stayed {seen!r}, not {state!r}")


def test_a_value_out_of_range_is_refused_beside_its_field(demo: Demo, page: Any, faults: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path="/admin/users")
    section = page.get_by_role("region", name="Emulated building faults")
    section.get_by_label("Kind").select_option("stuck-damper")
    field = section.get_by_label("position for AHU 1 outdoor-air damper stuck, %")
    field.fill("150")
    section.get_by_role("button", name="Inject AHU 1 outdoor-air damper stuck").click()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(section.get_by_role("alert")).to_contain_text("must be from 0 to 100 %, not 150")
    assert demo.call(lambda: list(demo.building.faults)) == []


def test_a_viewer_sees_no_faults(demo: Demo, page: Any, faults: Any) -> None:
    expect = _expect()
    sign_in(page, demo, who="viewer", path="/admin/users")
    expect(page.get_by_role("alert")).to_contain_text("Not yours to see")
    expect(page.get_by_role("region", name="Emulated building faults")).to_have_count(0)
