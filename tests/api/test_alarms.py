"""Alarms over HTTP: the active list, acknowledgement, notes, shelving and the stored history."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from openbms.db.schema import audit_log
from tests.api.live import live  # noqa: F401  (the fixture)
from tests.fixtures.waiting import eventually

ALARMS = "/api/v1/sites/hq/alarms"


async def _raised(live) -> dict:  # noqa: F811
    """zone-temp is 29, above zone-hot's limit of 26: wait until the alarm is raised."""
    engine = live.runtime.alarms["hq"].engine
    await eventually(lambda: engine.get("zone-hot").state != "normal", "zone-hot to be raised")
    r = await live.get("viewer", ALARMS)
    assert r.status_code == 200, r.text
    (alarm,) = r.json()["items"]
    return alarm


async def _history(live, **params) -> list[dict]:  # noqa: F811
    r = await live.get("viewer", f"{ALARMS}/history", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _audit(live, action: str) -> list[dict]:  # noqa: F811
    with live.runtime.state.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(audit_log).where(audit_log.c.action == action)
                                              .order_by(audit_log.c.id)).mappings()]


async def test_a_raised_alarm_is_listed_acknowledged_with_a_note_and_in_the_history(live):  # noqa: F811
    alarm = await _raised(live)
    assert alarm["id"] == "zone-hot" and alarm["site"] == "hq" and alarm["point"] == "hq/vav-1/zone-temp"
    assert alarm["state"] == "active-unacked" and alarm["alarm_class"] == "comfort" and alarm["value"] == 29
    assert alarm["history"][0]["action"] == "raise"
    # The running site's alarm engine words it with the point's display name, precision and unit.
    assert alarm["message"] == "zone-hot: Zone temperature is 29.0 °C, above the limit 26.0 °C", alarm

    comfort = (await live.get("viewer", ALARMS, params={"class": "comfort"})).json()["items"]
    assert comfort[0]["id"] == "zone-hot"
    assert (await live.get("viewer", ALARMS, params={"class": "critical"})).json()["items"] == []
    assert (await live.get("viewer", ALARMS, params={"state": "active-acked"})).json()["items"] == []
    assert len((await live.get("viewer", ALARMS, params={"priority": 100})).json()["items"]) == 1
    assert (await live.get("viewer", ALARMS, params={"max_priority": 50})).json()["items"] == []
    assert (await live.get("viewer", ALARMS, params={"state": "bogus"})).status_code == 422

    r = await live.post("operator", f"{ALARMS}/zone-hot/ack", json={"note": "checking the VAV"})
    assert r.status_code == 200, r.text
    acked = r.json()
    assert acked["state"] == "active-acked" and acked["acked_by"] == "operator@example.com"
    assert acked["history"][-1] == {**acked["history"][-1], "action": "ack", "who": "operator@example.com",
                                    "note": "checking the VAV"}
    r = await live.post("operator", f"{ALARMS}/zone-hot/ack", json={})
    assert r.status_code == 409 and "nothing to acknowledge" in r.json()["detail"]
    assert (await live.get("viewer", f"{ALARMS}/zone-hot")).json()["state"] == "active-acked"

    async def stored() -> list[str]:
        return [e["action"] for e in await _history(live, alarm_id="zone-hot")]

    for _ in range(200):
        if await stored() == ["ack", "raise"]:
            break
        await asyncio.sleep(0.05)
    events = await _history(live, alarm_id="zone-hot")
    assert [e["action"] for e in events] == ["ack", "raise"]
    assert events[0]["who"] == "operator@example.com" and events[0]["note"] == "checking the VAV"
    assert events[1]["from_state"] == "normal" and events[1]["to_state"] == "active-unacked"
    assert events[1]["value"] == 29
    page = (await live.get("viewer", f"{ALARMS}/history", params={"limit": 1})).json()
    assert [e["action"] for e in page["items"]] == ["ack"]
    rest = (await live.get("viewer", f"{ALARMS}/history", params={"cursor": page["next_cursor"]})).json()
    assert [e["action"] for e in rest["items"]] == ["raise"] and rest["next_cursor"] is None
    assert [e["action"] for e in await _history(live, action="raise")] == ["raise"]

    (entry,) = _audit(live, "alarm.ack")
    assert entry["actor"] == "operator@example.com" and entry["target"] == "hq/zone-hot"
    assert entry["details"]["note"] == "checking the VAV"


async def test_notes_shelving_and_unshelving(live):  # noqa: F811
    await _raised(live)
    r = await live.post("operator", f"{ALARMS}/zone-hot/notes", json={"note": "sensor looks fine"})
    assert r.status_code == 201, r.text
    assert r.json()["notes"][-1]["text"] == "sensor looks fine"
    assert r.json()["notes"][-1]["who"] == "operator@example.com"

    before = time.time()
    r = await live.post("operator", f"{ALARMS}/zone-hot/shelve",
                        json={"duration_s": 3600, "reason": "damper being replaced"})
    assert r.status_code == 200, r.text
    shelved = r.json()
    assert shelved["shelved"] is True and shelved["shelved_by"] == "operator@example.com"
    assert shelved["shelve_reason"] == "damper being replaced"
    assert shelved["shelved_until"] == pytest.approx(before + 3600, abs=30)
    listed = (await live.get("viewer", ALARMS, params={"shelved": "true"})).json()["items"]
    assert listed[0]["id"] == "zone-hot"
    assert (await live.get("viewer", ALARMS, params={"shelved": "false"})).json()["items"] == []

    r = await live.post("operator", f"{ALARMS}/zone-hot/shelve",
                        json={"until": time.time() + 8 * 86400, "reason": "too long"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "until"]
    assert "at most" in r.json()["errors"][0]["msg"]
    r = await live.post("operator", f"{ALARMS}/zone-hot/shelve",
                        json={"until": time.time() - 1, "reason": "x"})
    assert r.status_code == 422
    r = await live.post("operator", f"{ALARMS}/zone-hot/shelve",
                        json={"until": time.time() + 60, "duration_s": 60, "reason": "both"})
    assert r.status_code == 422

    r = await live.post("operator", f"{ALARMS}/zone-hot/unshelve", json={"note": "done"})
    assert r.status_code == 200, r.text
    assert r.json()["shelved"] is False and r.json()["shelved_until"] is None
    assert [t["action"] for t in r.json()["history"]][-3:] == ["shelve", "unshelve", "reannunciate"]
    assert (await live.post("operator", f"{ALARMS}/zone-hot/unshelve")).status_code == 409
    assert [e["details"]["reason"] for e in _audit(live, "alarm.shelve")] == ["damper being replaced"]
    assert len(_audit(live, "alarm.unshelve")) == 1 and len(_audit(live, "alarm.note")) == 1


async def test_bulk_acknowledgement_reports_each_alarm(live):  # noqa: F811
    await _raised(live)
    r = await live.post("fm", f"{ALARMS}/ack", json={"ids": ["zone-hot", "no-such"], "note": "all seen"})
    assert r.status_code == 200, r.text
    ok, missing = r.json()["results"]
    assert ok == {"id": "zone-hot", "acknowledged": True, "state": "active-acked", "error": None}
    assert missing["acknowledged"] is False and "no-such" in missing["error"]
    assert (await live.post("fm", f"{ALARMS}/ack", json={"ids": []})).status_code == 422


async def test_viewers_only_read_and_other_sites_stay_hidden(live):  # noqa: F811
    await _raised(live)
    for path, body in ((f"{ALARMS}/zone-hot/ack", {}), (f"{ALARMS}/zone-hot/notes", {"note": "x"}),
                       (f"{ALARMS}/zone-hot/shelve", {"duration_s": 60, "reason": "x"}),
                       (f"{ALARMS}/zone-hot/unshelve", {}), (f"{ALARMS}/ack", {"ids": ["zone-hot"]})):
        assert (await live.post("viewer", path, json=body)).status_code == 403, path
        r = await live.post("labviewer", path, json=body)
        assert r.status_code == 404 and r.json()["detail"] == "no site 'hq'", path
    for path in (ALARMS, f"{ALARMS}/zone-hot", f"{ALARMS}/history"):
        assert (await live.get("labviewer", path)).status_code == 404
    assert (await live.get("viewer", f"{ALARMS}/zone-hot")).json()["state"] == "active-unacked"
    # lab has no alarm rules: an empty list, and no alarm to find.
    lab = (await live.get("labviewer", "/api/v1/sites/lab/alarms")).json()
    assert lab == {"items": [], "next_cursor": None}
    assert (await live.get("labviewer", "/api/v1/sites/lab/alarms/zone-hot")).status_code == 404
    assert (await live.get("viewer", f"{ALARMS}/nope")).status_code == 404
    assert (await live.post("operator", f"{ALARMS}/nope/ack")).status_code == 404


async def test_normal_alarms_can_be_listed_and_shelved_before_they_fire(live):  # noqa: F811
    r = await live.get("viewer", ALARMS, params={"include_normal": "true", "limit": 1})
    assert r.status_code == 200
    assert [a["id"] for a in r.json()["items"]] == ["zone-hot"]
