"""A schedule or calendar change the site file's check refuses is the problem a site change gets.

Both go through ``helpers.change_site``: a change that leaves the site
configuration invalid is a 422 listing every problem in the site's terms
(no line, column or server path: the caller never wrote that YAML), and a
removal the site refuses is a 409. Here the file check refuses every binding
(the drivers this process knows are narrowed to one the site does not use),
so the same problems come whatever the change.
"""

# ruff: noqa: F811  (the live fixture is imported, then named as a parameter)
from __future__ import annotations

from typing import Any

import httpx
import pytest

from openbms.config import loader
from tests.api.live import Live, live  # noqa: F401

SCHEDULE = {"kind": "number", "default": None, "targets": ["hq/vav-1/zone-sp"],
            "weekly": {"monday": [{"time": "08:00", "value": 21}]}}


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    body.pop("instance", None)
    return body


async def test_schedule_and_calendar_changes_refused_by_the_site_check_answer_as_site_changes_do(
    live: Live, monkeypatch: pytest.MonkeyPatch
):
    r = await live.put("fm", "/api/v1/sites/hq/calendars/spare", json={"name": "Spare", "entries": []})
    assert r.status_code == 201, r.text
    r = await live.post("fm", "/api/v1/sites/hq/spaces", json={"id": "room-9", "kind": "room"})
    assert r.status_code == 201, r.text
    monkeypatch.setattr(loader, "default_drivers", lambda: ("bacnet",))
    site = problem(await live.patch("fm", "/api/v1/sites/hq/equipment/ahu-1", json={"name": "AHU"}), 422)
    assert site["detail"].startswith("the change makes the site configuration invalid: ")
    errors = site["errors"]
    assert errors and all(e["type"] == "config_error" and e["loc"] == ["body"] for e in errors)
    assert not any("line" in e["msg"] or "hq.yaml" in e["msg"] for e in errors)
    for changed in (
        await live.put("fm", "/api/v1/sites/hq/schedules/heating", json=SCHEDULE),
        await live.put("fm", "/api/v1/sites/hq/calendars/spare", json={"name": "Spare 2", "entries": []}),
    ):
        assert problem(changed, 422) == site
    removal = problem(await live.delete("fm", "/api/v1/sites/hq/spaces/room-9"), 409)
    assert removal["detail"].startswith("still in use: ")
    for removed in (
        await live.delete("fm", "/api/v1/sites/hq/schedules/ahu-occupancy"),
        await live.delete("fm", "/api/v1/sites/hq/calendars/spare"),
    ):
        assert problem(removed, 409) == removal
    monkeypatch.undo()
    # Nothing changed: the schedule and the calendar are as they were.
    assert (await live.get("viewer", "/api/v1/sites/hq/schedules/heating")).status_code == 404
    assert (await live.get("viewer", "/api/v1/sites/hq/schedules/ahu-occupancy")).status_code == 200
    assert (await live.get("viewer", "/api/v1/sites/hq/calendars/spare")).json()["name"] == "Spare"
