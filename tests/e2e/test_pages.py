"""The dashboard's point explorer, logic program and admin pages in headless Chromium.

Against the live demo building (fixtures of ``conftest.py``): find a zone
temperature and chart it; draw the demo AHU program and validate an edited
version; as admin create a user and an API token and find both in the audit
log (the energy page is tests/e2e/test_energy.py's). Each page is saved as
screenshots at phone and desktop widths.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.e2e.conftest import Demo, shoot, sign_in

pytestmark = [pytest.mark.service, pytest.mark.slow]

SITE = "demo"
PROGRAM = "ahu-1-supervisory"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def test_the_point_explorer_finds_a_zone_temperature_and_charts_it(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path="/points")
    expect(page.get_by_role("heading", name="Point explorer")).to_be_visible()
    page.get_by_label("Text").fill("zone-temp equip:vav-c1")
    page.get_by_label("Site").select_option(SITE)
    page.get_by_role("button", name="Search").click()
    row = page.locator("table.points tbody tr").filter(
        has=page.get_by_role("link", name=f"{SITE}/vav-c1/zone-temp", exact=True))
    expect(row).to_have_count(1)
    expect(row.locator(".value")).to_have_text(re.compile(r"\d+\.\d °C"))
    row.get_by_role("checkbox", name=f"Chart {SITE}/vav-c1/zone-temp").check()
    expect(page.get_by_role("img", name="Trend of vav-c1/zone-temp")).to_be_visible()
    expect(page.locator(".chart canvas").first).to_be_visible()
    expect(page.get_by_role("button", name="Export CSV")).to_be_enabled()
    # A tag search across sites: the demo's zone temperatures carry temp and zone.
    page.get_by_label("Text").fill("")
    page.get_by_label("Tags").fill("zone temp")
    page.get_by_label("Site").select_option("")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name=re.compile(r"^\d+ points"))).to_be_visible()
    shoot(page, "points")


def test_the_program_page_draws_the_ahu_program_and_validates_an_edit(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, path=f"/sites/{SITE}/programs")
    page.get_by_role("link", name=re.compile("^AHU 1: supply-air temperature")).click()
    expect(page.get_by_role("heading", name="Graph")).to_be_visible()
    graph = page.locator("svg.program-graph")
    for node in ("oat", "sat-reset", "econ-ok", "sat-sp", "econ-enable"):
        expect(graph.locator(f"g[data-node='{node}']")).to_have_count(1)
    expect(graph.locator("g.wire")).to_have_count(9)
    # Live values on the wires (the engine runs the program, the inputs come over the WebSocket).
    expect(graph.locator(".wire__value").first).to_have_text(re.compile(r"\S"))
    expect(page.get_by_role("heading", name="Versions")).to_be_visible()
    expect(page.get_by_role("button", name="Roll back")).to_be_visible()

    editor = page.get_by_label(re.compile("^Program JSON"))
    doc = json.loads(editor.input_value())
    doc["inputs"][0]["point"] = f"{SITE}/ahu-1/no-such-point"
    editor.fill(json.dumps(doc, indent=2))
    page.get_by_role("button", name="Validate").click()
    issues = page.locator("#prog-issues")
    expect(issues.get_by_role("listitem").first).to_contain_text("Input “oat”")
    expect(issues).to_contain_text("no-such-point")
    # Broken JSON is reported in words without asking the server.
    editor.fill("{ not json")
    page.get_by_role("button", name="Validate").click()
    expect(issues).to_contain_text("not valid JSON")
    shoot(page, "program")


def test_a_viewer_sees_programs_without_edit_or_deploy(demo: Demo, page: Any) -> None:
    expect = _expect()
    sign_in(page, demo, who="viewer", path=f"/sites/{SITE}/programs/{PROGRAM}")
    expect(page.get_by_role("heading", name="Graph")).to_be_visible()
    expect(page.get_by_role("button", name="Validate")).to_have_count(0)
    expect(page.get_by_role("button", name="Roll back")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Deploy"))).to_have_count(0)
    page.goto(f"{demo.url}/#/admin/users")
    expect(page.get_by_text("Not yours to see")).to_be_visible()
    page.goto(f"{demo.url}/#/admin/audit")
    expect(page.get_by_text("Not yours to see")).to_be_visible()


def test_an_admin_creates_a_user_and_a_token_and_finds_them_in_the_audit_log(demo: Demo, page: Any) -> None:
    expect = _expect()
    email = "new.operator@e2e.openbms.local"
    sign_in(page, demo, path="/admin/users")
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    page.get_by_text("New user").click()
    form = page.get_by_role("form", name="New user")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Name").fill("Nora Operator")
    form.get_by_label("Password").fill("short")
    form.get_by_label("Role").select_option("operator")
    form.get_by_label("On site").select_option(SITE)
    form.get_by_role("button", name="Create user").click()
    # Refused in plain words beside the field (or at the top for the whole form).
    expect(form.get_by_role("alert").first).to_be_visible()
    form.get_by_label("Password").fill("a-long-enough-password-1")
    form.get_by_role("button", name="Create user").click()
    expect(page.get_by_text(f"User {email} created.")).to_be_visible()
    header = page.get_by_role("rowheader", name=re.compile(re.escape(email)))
    row = page.locator("table.users tbody tr").filter(has=header)
    expect(row.get_by_label(f"Role of {email} on {SITE}")).to_have_value("operator")
    shoot(page, "users")

    page.goto(f"{demo.url}/#/admin/tokens")
    page.get_by_label("Token name").fill("e2e export")
    page.get_by_role("button", name="Create token").click()
    shown = page.get_by_label("New token")
    expect(shown).to_have_value(re.compile(r"^obms_"))
    secret = shown.input_value()
    expect(page.get_by_text("it will not be shown again")).to_be_visible()
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    expect(page.locator("table.tokens").get_by_role("rowheader", name="e2e export")).to_be_visible()
    shoot(page, "tokens")
    # Shown once: after a reload the secret is gone; only its prefix is listed.
    page.reload()
    expect(page.locator("table.tokens").get_by_role("rowheader", name="e2e export")).to_be_visible()
    expect(page.locator("#new-token")).to_have_count(0)
    assert secret not in page.content()

    page.goto(f"{demo.url}/#/admin/audit")
    log = page.locator("table.audit")
    expect(log.get_by_role("row").filter(has_text="user.create").filter(has_text=email)).to_have_count(1)
    expect(log.get_by_role("row").filter(has_text="token.create").first).to_be_visible()
    page.get_by_label("Action").fill("token.*")
    page.get_by_role("button", name="Filter").click()
    expect(log.get_by_role("row").filter(has_text="user.create")).to_have_count(0)
    expect(log.get_by_role("row").filter(has_text="token.create").first).to_be_visible()
    shoot(page, "audit")
