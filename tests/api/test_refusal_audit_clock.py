"""A refusal's audit row says first and last on the building's clock, as its ts (issue 14 review)."""

# ruff: noqa: F811  (the building fixture is imported, then named as a parameter)
from __future__ import annotations

from openbms.db import audit_entries
from openbms.db.accounts import create_user
from tests.api.live import PASSWORD, password_hash
from tests.api.test_clock import T0, Building, building  # noqa: F401


async def test_a_refusals_first_and_last_are_on_the_clock_of_its_ts(building: Building):
    create_user(building.runtime.state, "lab@example.com", password_hash(), grants={"lab": "viewer"})
    r = await building.client.post("/api/v1/auth/login",
                                   json={"email": "lab@example.com", "password": PASSWORD})
    lab = {"Authorization": f"Bearer {r.json()['access_token']}"}
    await building.clock.advance(300)
    assert (await building.client.get("/api/v1/sites/hq/points", headers=lab)).status_code == 404
    await building.clock.advance(5)
    assert (await building.client.get("/api/v1/sites/hq/points", headers=lab)).status_code == 404
    await building.runtime.api.app.state.refusals.flush(building.runtime.api.app.state.openbms)
    (row,) = audit_entries(building.runtime.state, action="access.denied")
    assert (row["ts"], row["details"]["first"], row["details"]["last"]) == (T0 + 300, T0 + 300, T0 + 305)
    assert row["details"]["count"] == 2
