"""A site built in code (no site file) has schedules like any other: the API lists and edits them."""

from __future__ import annotations

import httpx

from openbms.api.auth.passwords import Passwords
from openbms.api.server import serve
from openbms.config import load_site
from openbms.db.accounts import create_user
from openbms.model.site import DriverSettings, Equipment, Point, Site, SiteConfig
from openbms.service.runtime import Runtime
from tests.fixtures.waiting import eventually

PASSWORD = "correct horse battery"
SCHEDULES = "/api/v1/sites/hq/schedules"


def _site() -> SiteConfig:
    fan = Point(name="fan-cmd", kind="bool", writable=True, relinquish_default=False,
                binding="sim://ahu-1/fan-cmd?wave=constant&value=0&kind=bool")
    return SiteConfig(site=Site(id="hq", timezone="Europe/London"),
                      drivers={"sim": DriverSettings(poll_interval=0.2)},
                      equipment=(Equipment(id="ahu-1", type="ahu", points=(fan,)),))


async def test_a_site_built_in_code_gets_its_schedules_listed_and_edited(tmp_path):
    runtime = Runtime([_site()], tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        create_user(runtime.state, "fm@example.com", Passwords().hash(PASSWORD),
                    grants={"hq": "facility_manager"})
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
            r = await client.post("/api/v1/auth/login",
                                  json={"email": "fm@example.com", "password": PASSWORD})
            assert r.status_code == 200, r.text
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

            r = await client.get(SCHEDULES)
            assert r.status_code == 200, r.text
            assert r.json()["items"] == []

            body = {"kind": "bool", "default": True, "targets": ["hq/ahu-1/fan-cmd"]}
            r = await client.put(f"{SCHEDULES}/occupancy", json=body)
            assert r.status_code == 201, r.text
            assert r.json()["schedule"]["site"] == "hq"
            assert [v["schedule"]["id"] for v in (await client.get(SCHEDULES)).json()["items"]] == [
                "occupancy"]

        (schedule,) = runtime.sites[0].schedules
        assert schedule.id == "occupancy" and schedule.targets == ("hq/ahu-1/fan-cmd",)
        # The change went where a site without a file is kept, and reads back as a site file.
        assert load_site(tmp_path / "data" / "hq.yaml").schedules == (schedule,)
        # And it runs: the schedule's default holds the fan on at its priority.
        arbiter = runtime.arbiter
        assert arbiter is not None
        await eventually(lambda: arbiter.effective("hq/ahu-1/fan-cmd") is True,
                         "the schedule's value to win the fan's priority array")
    finally:
        await runtime.stop()
