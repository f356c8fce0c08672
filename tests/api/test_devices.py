"""Devices over real HTTP: the driver health of the devices that serve a site's points."""

# ruff: noqa: F811  (the live fixture is imported, then named as a parameter)
from __future__ import annotations

import asyncio
import time

from tests.api.live import Live, live  # noqa: F401


async def test_devices_of_a_site_with_their_health(live: Live):
    deadline = time.monotonic() + 10
    while True:
        r = await live.get("viewer", "/api/v1/sites/hq/devices")
        assert r.status_code == 200, r.text
        devices = r.json()["items"]
        if all(d["state"] == "ok" and d["reads"] > 0 for d in devices) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert [d["id"] for d in devices] == ["sim://ahu-1", "sim://vav-1"]
    ahu = devices[0]
    assert ahu["driver"] == "sim" and ahu["device"] == "ahu-1" and ahu["points"] == 3
    assert ahu["state"] == "ok" and ahu["last_ok"] > 0 and ahu["reads"] > 0
    assert ahu["errors"] == 0 and ahu["last_error"] is None and ahu["unit_mismatches"] == []
    lab = await live.get("labviewer", "/api/v1/sites/lab/devices")
    assert [d["id"] for d in lab.json()["items"]] == ["sim://fc-1"]
    page = await live.get("admin", "/api/v1/sites/hq/devices", params={"limit": 1})
    assert len(page.json()["items"]) == 1 and page.json()["next_cursor"]


async def test_devices_of_a_site_not_granted_are_404_like_an_unknown_site(live: Live):
    hidden = await live.get("viewer", "/api/v1/sites/lab/devices")
    missing = await live.get("viewer", "/api/v1/sites/annex/devices")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == {
        **missing.json(),
        "detail": "no site 'lab'",
        "instance": "/api/v1/sites/lab/devices",
    }
    assert (await live.get("labviewer", "/api/v1/sites/hq/devices")).status_code == 404
    assert (await live.get("anonymous", "/api/v1/sites/hq/devices")).status_code == 401
