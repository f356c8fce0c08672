"""Trend annotations over HTTP: a point's alarm events and overrides over a range (issue 14, item 4)."""

from __future__ import annotations

import asyncio

from tests.api.live import live  # noqa: F401  (the fixture)

HQ = "/api/v1/sites/hq"


async def _annotations(live, user, **params):  # noqa: F811
    r = await live.get(user, f"{HQ}/annotations", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _alarm_raised(live):  # noqa: F811
    for _ in range(600):  # the sensor reads 29 °C against a 26 °C limit from its first poll
        r = await live.get("operator", f"{HQ}/alarms")
        active = [a for a in r.json()["items"] if a["id"].startswith("zone-hot")]
        if active:
            return active[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the zone-hot alarm was never raised")


async def test_an_override_its_release_and_an_alarm_with_its_acknowledgement_are_annotations(live):  # noqa: F811
    alarm = await _alarm_raised(live)
    r = await live.post("operator", f"{HQ}/alarms/{alarm['id']}/ack", json={"note": "window open"})
    assert r.status_code == 200, r.text
    r = await live.post("operator", f"{HQ}/points/vav-1/zone-sp/commands",
                        json={"value": 24, "reason": "meeting"})
    assert r.status_code == 201, r.text
    r = await live.post("operator", f"{HQ}/points/vav-1/zone-sp/release", json={"reason": "done"})
    assert r.status_code == 201, r.text

    body = await _annotations(live, "viewer", points="vav-1/zone-temp,vav-1/zone-sp")
    got = [(a["point"], a["kind"], a["action"]) for a in body["annotations"]]
    assert got == [
        ("hq/vav-1/zone-temp", "alarm", "raised"),
        ("hq/vav-1/zone-temp", "alarm", "acknowledged"),
        ("hq/vav-1/zone-sp", "override", "start"),
        ("hq/vav-1/zone-sp", "override", "release"),
    ]
    ack, start = body["annotations"][1], body["annotations"][2]
    assert (ack["who"], ack["detail"]) == ("operator@example.com", "window open")
    assert (start["who"], start["detail"], start["title"]) == (
        "operator@example.com", "meeting", "Overridden to 24 at priority 8")
    assert body["truncated"] is False
    ts = [a["ts"] for a in body["annotations"]]
    assert ts == sorted(ts) and body["since"] <= ts[0] and ts[-1] < body["until"]

    # Only the points asked: the setpoint alone has its override, not the sensor's alarm.
    body = await _annotations(live, "viewer", points="vav-1/zone-sp")
    assert {a["point"] for a in body["annotations"]} == {"hq/vav-1/zone-sp"}
    # A range that ends before it all holds nothing.
    body = await _annotations(live, "viewer", points="vav-1/zone-sp", until=str(ts[0] - 1))
    assert body["annotations"] == []


async def test_a_timed_override_that_expires_is_annotated_as_expired(live):  # noqa: F811
    r = await live.post("operator", f"{HQ}/points/ahu-1/sat-sp/commands",
                        json={"value": 15, "duration_s": 0.2, "reason": "test"})
    assert r.status_code == 201, r.text
    for _ in range(600):
        body = await _annotations(live, "viewer", points="ahu-1/sat-sp")
        if len(body["annotations"]) == 2:
            break
        await asyncio.sleep(0.05)
    assert [a["action"] for a in body["annotations"]] == ["start", "expiry"]
    assert "(timed)" in body["annotations"][0]["title"]
    # A range that opens after the override was given still has its expiry.
    start, expiry = (a["ts"] for a in body["annotations"])
    body = await _annotations(live, "viewer", points="ahu-1/sat-sp", since=str(start + (expiry - start) / 2))
    assert [a["action"] for a in body["annotations"]] == ["expiry"]


async def test_bad_requests_say_what_is_wrong(live):  # noqa: F811
    r = await live.get("viewer", f"{HQ}/annotations", params={"points": "vav-1/nope"})
    assert r.status_code == 404
    r = await live.get("viewer", f"{HQ}/annotations", params={"points": "vav-1/zone-sp", "since": "soon"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "since"]
    r = await live.get("viewer", f"{HQ}/annotations",
                       params={"points": "vav-1/zone-sp", "since": "2030-01-02", "until": "2030-01-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "since"]
    r = await live.get("labviewer", f"{HQ}/annotations", params={"points": "vav-1/zone-sp"})
    assert r.status_code == 404  # a site not granted is not told apart from one that does not exist
