"""One clock in the browser, and marks on trends (issue 14, items 1 and 4): the demo at 1200× real time.

After 30 real seconds the building is 10 hours ahead of the wall. The AHU's
24-hour trend must hold those building-hours of data — measured by
the chart's data span, not its pixels — with its x axis the 24 hours up to the
server's now, and follow live data as the building's clock runs on. When the
dashboard measured ranges with the browser's clock (``Date.now()``), the
window ended at the wall's time and held only the building's first seconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e import conftest
from tests.e2e.conftest import Demo, _check_services, running_demo, sign_in

#: Building seconds per real second: 30 real seconds are 10 building hours. (At 3600× the demo's
#: polls, every 10 building seconds, leave its event loop no time to answer: devices go offline.)
FAST = 1200.0
#: Building hours to let pass, and the least the trend must then hold.
PASSED, HELD = 10, 8
HOUR = 3600.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo building at 1200× (this module's own: the shared one runs at 10×)."""
    _check_services()
    shared_speed = conftest.SPEED
    conftest.SPEED = FAST  # read by running_demo when it starts the emulator
    try:
        with running_demo(tmp_path_factory.mktemp("e2e-fast-demo")) as running:
            conftest.SPEED = shared_speed
            yield running
            # Back to the shared demo's pace before stopping: at 1200× the polls, due every few
            # real milliseconds, keep the loop too busy to stop within running_demo's bound.
            running.call(_slow_down, running.emulator.clock, shared_speed)
    finally:
        conftest.SPEED = shared_speed


def _slow_down(clock: Any, speed: float) -> None:
    """Run ``clock`` (an AcceleratedClock) at ``speed`` from now on, without a jump in its time."""
    now = clock.now()
    clock.anchor = clock._source()
    clock.start, clock.speed = now, speed


def _attr(chart: Any, name: str) -> float:
    value = chart.get_attribute(name)
    return float(value) if value not in (None, "") else float("nan")


def test_an_override_made_now_is_marked_on_the_trend_with_who_and_why(demo: Demo, page: Any) -> None:
    """Issue 14, item 4: alarm and override annotations on trends. An override and its release,
    made through the API while the AHU's trend of its supply-air setpoint is open, are marked on
    the chart (a focusable mark titled with what happened) and listed under it. First in the module:
    after the test below has run the demo at 1200× for half a minute, its loop is too busy to serve
    a page load in time."""
    from playwright.sync_api import expect

    point = "ahu-1/sat-sp"
    sign_in(page, demo, path="/sites/demo/equipment/ahu-1")
    expect(page.get_by_role("heading", name="Air handling unit 1")).to_be_visible()
    # The equipment page charts the points chosen last time on it (kept in the browser).
    page.evaluate("(ids) => localStorage.setItem('openbms.trend.demo/ahu-1', JSON.stringify(ids))",
                  [f"demo/{point}"])
    page.reload()
    chart = page.locator(".chart[data-range-until]")
    expect(chart).to_have_count(1)
    marks = page.get_by_role("list", name="Alarms and overrides in this range")
    with conftest.admin_api(demo) as api:
        r = api.post(f"/api/v1/sites/demo/points/{point}/commands",
                     json={"value": 14, "priority": 8, "reason": "e2e: trend mark"})
        assert r.status_code == 201, r.text
        # The relative range follows the building's clock: its next fetch holds the override.
        started = marks.get_by_role("listitem").filter(has_text="Overridden to 14 at priority 8")
        expect(started).to_have_count(1)
        expect(marks).to_contain_text("e2e: trend mark")
        handle = page.locator(".chart-mark--override").first
        expect(handle).to_have_attribute(
            "title", re.compile(r"Overridden to 14 at priority 8 by .+: e2e: trend mark"))
        handle.focus()
        expect(handle).to_be_focused()
        r = api.post(f"/api/v1/sites/demo/points/{point}/release",
                     json={"priority": 8, "reason": "e2e: done"})
        assert r.status_code == 201, r.text
    expect(marks.get_by_role("listitem").filter(has_text="Override released at priority 8")).to_have_count(1)
    expect(page.locator(".chart-mark--override")).to_have_count(2)
    conftest.shoot(page, "trend-override-marks")


def test_a_24h_trend_of_the_fast_demo_holds_the_building_hours_that_passed(demo: Demo, page: Any) -> None:
    from playwright.sync_api import expect

    clock = demo.emulator.clock
    started = clock.start  # the building's time when the demo started
    sign_in(page, demo, path="/sites/demo/equipment/ahu-1")
    expect(page.get_by_role("heading", name="Air handling unit 1")).to_be_visible()
    page.get_by_role("combobox", name="Range", exact=True).select_option("24h")
    # Let the building hours pass (30 real seconds); the page keeps following.
    while clock.now() - started < PASSED * HOUR:
        page.wait_for_timeout(500)
    chart = page.locator(".chart[data-range-until]")
    expect(chart).to_have_count(1)
    # The trend refetches as the server's clock moves; wait for one that spans HELD hours or more
    # and ends where the building's clock is now (a refetch made before the last hours passed ends
    # a little earlier: on a loaded machine that was 9.9 of the 10 hours).
    page.wait_for_function(
        """([held, end]) => {
            const c = document.querySelector('.chart[data-span-to]');
            return c && Number(c.dataset.spanTo) - Number(c.dataset.spanFrom) >= held * 3600
                && Number(c.dataset.rangeUntil) >= end;
        }""",
        arg=[HELD, started + PASSED * HOUR],
        timeout=60_000,
    )
    since, until = _attr(chart, "data-range-since"), _attr(chart, "data-range-until")
    span_from, span_to = _attr(chart, "data-span-from"), _attr(chart, "data-span-to")
    assert until - since == 24 * HOUR  # the x axis is the range asked for
    assert span_to - span_from >= HELD * HOUR  # the building hours that passed, not its first seconds
    assert span_from >= started - HOUR  # no data before the building started
    assert until >= started + PASSED * HOUR  # the window ends at the building's time, not the wall's
    page.get_by_text("following live").wait_for()
    # Following live: the window's end moves on with the building's clock.
    first_until = until
    page.wait_for_function(
        "(t) => Number(document.querySelector('.chart[data-range-until]').dataset.rangeUntil) > t",
        arg=first_until,
        timeout=30_000,
    )
    conftest.shoot(page, "trend-24h-fast-demo")
    assert chart.count() == 1


