"""NaN, infinities and absurd magnitudes never reach a limit, a default, an interval, a device or the audit.

Issue 12, item 1: ``{"limits": {"min": NaN, "max": NaN}}`` switched the write limits off
(every comparison with NaN is false), and commands of ±1e300 then completed. The
bodies are sent as raw JSON text, because JSON has no NaN: clients that write it
(Python's json module, for one) write ``NaN`` and ``Infinity`` literally.
"""

# ruff: noqa: F811  (the live fixture is imported, then named as a parameter)
from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from openbms.config import load_site
from openbms.db.schema import audit_log
from tests.api.live import Live, live  # noqa: F401

POINT = "/api/v1/sites/hq/points/ahu-1/sat-sp"
HEADERS = {"Content-Type": "application/json"}


async def patch_raw(live: Live, user: str, path: str, text: str) -> httpx.Response:
    return await live.clients[user].patch(path, content=text, headers=HEADERS)


async def post_raw(live: Live, user: str, path: str, text: str) -> httpx.Response:
    return await live.clients[user].post(path, content=text, headers=HEADERS)


def audit(live: Live, action: str) -> list[dict[str, Any]]:
    with live.runtime.state.connect() as conn:
        rows = conn.execute(sa.select(audit_log).where(audit_log.c.action == action)
                            .order_by(audit_log.c.id)).mappings()
        return [dict(r) for r in rows]


def problem(r: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.parametrize("body", [
    '{"limits": {"min": NaN, "max": NaN}, "relinquish_default": NaN}',
    '{"limits": {"min": 10, "max": NaN}}',
    '{"limits": {"min": 10, "max": Infinity}}',
    '{"limits": {"min": -Infinity}}',
    '{"relinquish_default": Infinity}',
    '{"relinquish_default": NaN}',
    '{"poll": Infinity}',
    '{"poll": NaN}',
    '{"limits": {"min": 10, "max": 18, "min_interval": Infinity}}',
    '{"history": {"deadband": NaN}}',
    '{"command": {"tolerance": Infinity}}',
])
async def test_a_point_change_with_nan_or_infinity_is_refused_and_nothing_changes(live: Live, body: str):
    before = (live.folder / "hq.yaml").read_text()
    found = problem(await patch_raw(live, "fm", POINT, body))
    assert found["errors"], found
    assert all(e["loc"][0] == "body" for e in found["errors"])
    assert (live.folder / "hq.yaml").read_text() == before
    r = await live.get("viewer", POINT)
    assert r.status_code == 200 and r.json()["limits"] == {
        "min": 10.0, "max": 18.0, "min_interval": None, "min_on": None, "min_off": None}
    assert r.json()["relinquish_default"] == 13


@pytest.mark.parametrize(("body", "field"), [
    ({"limits": {"min": -1e300, "max": 1e300}}, "limits"),
    ({"limits": {"max": 2e9}}, "limits"),
    ({"relinquish_default": -1e300}, "relinquish_default"),
    ({"poll": 1e12}, "poll"),
    ({"limits": {"min": 10, "max": 18, "min_interval": 1e12}}, "limits"),
])
async def test_a_point_change_outside_sane_bounds_is_refused_naming_the_field(
        live: Live, body: dict[str, Any], field: str):
    before = (live.folder / "hq.yaml").read_text()
    found = problem(await live.patch("fm", POINT, json=body))
    assert any(e["loc"][:2] == ["body", field] for e in found["errors"]), found
    assert (live.folder / "hq.yaml").read_text() == before


async def test_a_created_point_with_nan_limits_is_refused(live: Live):
    body = ('{"equipment": "ahu-1", "name": "fuzz", "writable": true, "binding": "sim://ahu-1/fuzz",'
            ' "limits": {"min": NaN, "max": NaN}, "relinquish_default": NaN}')
    problem(await post_raw(live, "fm", "/api/v1/sites/hq/points", body))
    assert "fuzz" not in (live.folder / "hq.yaml").read_text()


async def test_a_space_area_of_infinity_is_refused_not_stored_as_null(live: Live):
    found = problem(await patch_raw(live, "fm", "/api/v1/sites/hq/spaces/zone-1", '{"area_m2": Infinity}'))
    assert found["errors"][0]["loc"][:2] == ["body", "area_m2"]
    found = problem(await post_raw(live, "fm", "/api/v1/sites/hq/spaces",
                                   '{"id": "zone-9", "area_m2": NaN}'))
    assert found["errors"][0]["loc"][:2] == ["body", "area_m2"]
    assert "zone-9" not in (live.folder / "hq.yaml").read_text()


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
async def test_a_command_of_nan_or_infinity_is_refused(live: Live, value: str):
    r = await post_raw(live, "operator", "/api/v1/sites/hq/points/vav-1/zone-sp/commands",
                       f'{{"value": {value}, "reason": "fuzz"}}')
    problem(r)
    arr = (await live.get("viewer", "/api/v1/sites/hq/points/vav-1/zone-sp/priority-array")).json()
    assert arr["active_priority"] is None and arr["effective"] == 22


async def test_a_huge_command_is_refused_even_on_a_point_without_limits(live: Live):
    # A writable number point without min/max: only the absolute bound stands between 1e300 and the device.
    r = await live.patch("fm", POINT, json={"limits": None})
    assert r.status_code == 200, r.text
    for value in (1e300, -1e300, 10**30):
        r = await live.post("operator", POINT + "/commands", json={"value": value, "reason": "fuzz"})
        body = problem(r)
        assert "out of bounds: expected a number from -1e+09 to 1e+09" in body["detail"], body
    arr = (await live.get("viewer", POINT + "/priority-array")).json()
    assert arr["active_priority"] is None and arr["effective"] == 13
    refused = audit(live, "command.write")
    assert len(refused) == 3 and all(row["details"]["refused"] for row in refused)
    assert [row["details"]["value"] for row in refused] == [1e300, -1e300, 10**30]
    # An ordinary command still works.
    r = await live.post("operator", POINT + "/commands", json={"value": 1e6, "reason": "ok"})
    assert r.status_code == 201 and r.json()["status"] == "completed", r.text


async def test_a_schedule_value_beyond_the_bounds_is_refused(live: Live):
    body = {"kind": "number", "default": 1e300, "targets": ["hq/vav-1/zone-sp"]}
    found = problem(await live.put("fm", "/api/v1/sites/hq/schedules/fuzz", json=body))
    assert any(e["loc"][:2] == ["body", "default"] for e in found["errors"]), found
    found = problem(await live.clients["fm"].put(
        "/api/v1/sites/hq/schedules/fuzz", headers=HEADERS,
        content='{"kind": "number", "default": NaN, "targets": ["hq/vav-1/zone-sp"]}'))
    assert any(e["loc"][:2] == ["body", "default"] for e in found["errors"]), found
    assert "fuzz" not in (live.folder / "hq.yaml").read_text()


async def test_the_yaml_never_holds_nan_after_api_edits(live: Live):
    for body in ('{"limits": {"min": NaN, "max": NaN}}', '{"relinquish_default": NaN}', '{"poll": Infinity}'):
        await patch_raw(live, "fm", POINT, body)
    text = (live.folder / "hq.yaml").read_text()
    assert ".nan" not in text and ".inf" not in text
    load_site(live.folder / "hq.yaml")
