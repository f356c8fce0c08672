"""Logic programs in a real headless Chromium against the demo building (issue 14, item 7).

Deploying an older version is confirmed in a dialog that names the version,
what runs now, and will not go without a reason (kept in the audit log);
"Save and deploy" pressed twice on one document makes one version and
deploys it once. Waits are Playwright's auto-waiting expectations; nothing
asserts a duration.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Demo, admin_api, shoot, sign_in

pytestmark = [pytest.mark.service, pytest.mark.slow]

SITE = "demo"
PROGRAM = "optimal-start"
BASE = f"/api/v1/sites/{SITE}/programs/{PROGRAM}"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect




def _deploy_audit(api: httpx.Client) -> list[dict[str, Any]]:
    """The program's deployments, newest first."""
    r = api.get("/api/v1/audit", params={"action": "program.deploy", "target": f"{SITE}/{PROGRAM}",
                                         "limit": 200})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_deploying_an_older_version_asks_for_a_reason_and_save_and_deploy_twice_makes_one_version(
        demo: Demo, page: Any) -> None:
    expect = _expect()
    with admin_api(demo) as api:
        current = api.get(BASE).json()
        old = current["active_version"]
        document = current["program"]
        changed = {**document, "description": "e2e: a newer version"}
        saved = api.put(BASE, json={"program": changed, "comment": "e2e newer"})
        assert saved.status_code == 201, saved.text
        newer = saved.json()["version"]
        r = api.post(f"{BASE}/deploy", json={"version": newer, "reason": "e2e: newer first"})
        assert r.status_code == 200, r.text

    sign_in(page, demo, path=f"/sites/{SITE}/programs/{PROGRAM}")
    page.get_by_role("button", name=f"Deploy version {old}").click()
    dialog = page.get_by_role("dialog", name=re.compile(rf"Deploy version {old} of "))
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Now running: v{newer}")
    expect(dialog).to_contain_text(f"Version {old} is older than the deployed version {newer}")
    dialog.get_by_role("button", name=f"Deploy v{old}").click()  # no reason given
    expect(dialog.get_by_role("alert")).to_contain_text("Say why")
    with admin_api(demo) as api:
        assert api.get(BASE).json()["active_version"] == newer  # nothing deployed without a reason
    shoot(page, "program-deploy-confirm")
    dialog.get_by_label("Reason").fill("e2e: back to the known-good version")
    dialog.get_by_role("button", name=f"Deploy v{old}").click()
    expect(page.get_by_role("status").filter(has_text=f"Version {old} deployed.")).to_be_visible()
    with admin_api(demo) as api:
        assert api.get(BASE).json()["active_version"] == old
        assert _deploy_audit(api)[0]["details"] == {"version": old,
                                                    "reason": "e2e: back to the known-good version"}
        before = len(api.get(f"{BASE}/versions").json()["items"])

    # Save and deploy a new document, twice: one new version, deployed once.
    edited = {**document, "description": "e2e: saved and deployed"}
    page.get_by_label(re.compile("Program JSON")).fill(json.dumps(edited, indent=2))
    page.get_by_label("Why (kept with the version)").fill("e2e: save and deploy")
    page.get_by_role("button", name="Save and deploy").click()
    dialog = page.get_by_role("dialog", name=re.compile(r"Deploy version \d+ of "))
    expect(dialog.get_by_label("Reason")).to_have_value("e2e: save and deploy")
    dialog.get_by_role("button", name=re.compile(r"Deploy v\d+")).click()
    expect(page.get_by_role("status").filter(has_text="deployed.")).to_be_visible()
    with admin_api(demo) as api:
        after = api.get(BASE).json()
        assert after["active_version"] == after["latest_version"] == newer + 1
        deploys = len(_deploy_audit(api))

    page.get_by_label(re.compile("Program JSON")).fill(json.dumps(edited, indent=2))
    page.get_by_role("button", name="Save and deploy").click()
    note = f"No new version: version {newer + 1} holds this program already."
    expect(page.get_by_text(note)).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    with admin_api(demo) as api:
        assert len(api.get(f"{BASE}/versions").json()["items"]) == before + 1
        assert len(_deploy_audit(api)) == deploys
        assert api.get(BASE).json()["active_version"] == newer + 1
